"""Tree export: JSON round-trip, the documented schema matches what is written, the HTML viewer
is self-contained and embeds the same tree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from ponder.graph import (
    SearchConfig,
    SearchResult,
    Spend,
    TreeFormatError,
    load_tree,
    run_search,
    write_report,
)
from ponder.graph.export import SCHEMA_PATH
from ponder.graph.testing import ScriptedBackend, ScriptedVerifier, path_policy, text_task
from ponder.verifiers.types import Chain, StepScore

NASTY = 'what is 2+2? </script><!-- "quotes" & <b>'


def judge(chain: Chain) -> StepScore:
    last = chain.steps[-1]
    if last.endswith("2"):
        return StepScore(score=0.0, gate="fail", evidence={"feedback": "bad step </script>"})
    return StepScore(score=0.9 if last[-1] in "13" else 0.4, evidence={"why": ["a", 1]})


@pytest.fixture
async def result() -> SearchResult:
    return await run_search(
        text_task(NASTY),
        SearchConfig(strategy="beam", max_depth=3),
        backend=ScriptedBackend(path_policy(9)),
        verifier=ScriptedVerifier(judge),
    )


def test_report_round_trips_the_tree(result: SearchResult, tmp_path: Path) -> None:
    paths = write_report(result, tmp_path / "report")
    assert set(paths) == {"tree", "html"}
    assert load_tree(paths["tree"]) == result.tree
    assert result.tree["question"] == NASTY
    assert result.tree["chosen_path"][0] == "n0" and result.tree["chosen_path"][-1] == result.node_id
    assert SearchResult.model_validate_json(result.model_dump_json()) == result


def test_schema_documents_every_exported_field(result: SearchResult) -> None:
    schema = json.loads(SCHEMA_PATH.read_text())
    node_schema = schema["$defs"]["node"]
    for key in schema["required"]:
        assert key in result.tree
    for node in result.tree["nodes"]:
        assert set(node) <= set(node_schema["properties"]), "an exported node field is not documented"
        assert set(node_schema["required"]) <= set(node)
        assert node["gate"] in node_schema["properties"]["gate"]["enum"]
    assert set(schema["properties"]["spend"]["properties"]) == set(Spend.model_fields)
    assert set(result.tree) <= set(schema["properties"])
    assert all(p.get("description") for p in node_schema["properties"].values())


def test_viewer_is_self_contained_and_embeds_the_tree(result: SearchResult, tmp_path: Path) -> None:
    html = write_report(result, tmp_path)["html"].read_text(encoding="utf-8")
    assert not re.search(r"(src|href)\s*=|https?://|@import|url\(", html), "the viewer must not load anything"
    # Untrusted text ("</script>" in a question or evidence) cannot end the data block early.
    assert html.count("</script>") == 2
    data = re.search(r'<script id="ponder-data" type="application/json">(.*?)</script>', html, re.S)
    assert data is not None
    embedded = json.loads(data.group(1))
    assert embedded["tree"] == result.tree
    assert embedded["result"]["answer"] == result.answer and "tree" not in embedded["result"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param("{not json", "cannot read tree file", id="not-json"),
        pytest.param('{"schema_version": 99}', "is not a ponder tree", id="wrong-version"),
        pytest.param('{"schema_version": 1, "nodes": []}', "lacks root", id="missing-fields"),
    ],
)
def test_load_tree_rejects_what_is_not_a_tree(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "tree.json"
    path.write_text(content)
    with pytest.raises(TreeFormatError, match=message) as info:
        load_tree(path)
    assert str(path) in str(info.value)
