"""Tree export: JSON round-trip, the documented schema matches what is written, the HTML viewer
is self-contained and embeds the same tree."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
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
    checks = {"guard": "accepted", "canaries_planned": 2, "canaries_found": 2, "violations": []}
    return StepScore(score=0.9 if last[-1] in "13" else 0.4, evidence={"why": ["a", 1], "integrity": checks})


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


# A minimal DOM, just what the viewer uses, so its script can run under node without a browser.
DOM_SHIM = r"""
class El {
  constructor(tag) { this.tag = tag; this.children = []; this.parent = null; this.classes = new Set();
    this.dataset = {}; this.style = {}; this.listeners = {}; this.text = ""; this.id = "";
    const self = this;
    this.classList = { add: c => self.classes.add(c), remove: c => self.classes.delete(c),
      contains: c => self.classes.has(c),
      toggle: (c, on) => { const want = on === undefined ? !self.classes.has(c) : on;
                           want ? self.classes.add(c) : self.classes.delete(c); return want; } }; }
  set className(v) { this.classes = new Set(v.split(" ").filter(Boolean)); }
  get className() { return [...this.classes].join(" "); }
  set textContent(v) { this.text = v; this.children = []; }
  get textContent() { return this.text + this.children.map(c => c.textContent).join(""); }
  appendChild(c) { c.parent = this; this.children.push(c); return c; }
  replaceChildren() { this.children = []; this.text = ""; }
  addEventListener(kind, fn) { (this.listeners[kind] = this.listeners[kind] || []).push(fn); }
  click() { for (const fn of this.listeners.click || []) fn({ stopPropagation() {} }); }
  all() { return this.children.flatMap(c => [c, ...c.all()]); }
  matches(sel) { return sel.startsWith(".") ? this.classes.has(sel.slice(1)) : this.tag === sel; }
  querySelector(sel) { return this.all().find(e => e.matches(sel)) || null; }
}
const byId = {};
for (const id of ["ponder-data", "status", "summary", "tree", "detail", "expand", "collapse", "path"]) {
  byId[id] = new El("div"); byId[id].id = id;
}
byId["ponder-data"].text = DATA_TEXT;
const lis = () => byId.tree.all().filter(e => e.tag === "li");
global.document = {
  getElementById: id => byId[id],
  createElement: tag => new El(tag),
  querySelectorAll: sel => (sel === "#tree li" ? lis() : []),
  querySelector: sel => {
    const m = sel.match(/li\[data-id="(.+)"\] > \.node/);
    const li = lis().find(e => e.dataset.id === m[1]);
    return li ? li.children.find(c => c.classes.has("node")) : null;
  },
};
"""

DOM_CHECKS = r"""
const out = {};
const label = li => li.children.find(c => c.classes.has("node"));
out.items = lis().length;
out.chosen = lis().filter(li => label(li).classes.has("chosen")).map(li => li.dataset.id);
out.pruned = lis().filter(li => label(li).classes.has("pruned")).map(li => li.dataset.id);
out.detail = byId.detail.children[0].textContent;
out.integrity = byId.detail.textContent;
const target = lis().find(li => li.dataset.id === "n1");
label(target).click();
out.clicked = byId.detail.children[0].textContent;
out.clickedEvidence = byId.detail.textContent.includes("bad step") || byId.detail.textContent.includes("why");
out.colour = label(target).children.find(c => c.classes.has("score")).style.background;
const root = lis()[0];
root.children[0].children[0].click();
out.collapsed = root.classes.has("collapsed");
byId.expand.click();
out.expanded = lis().every(li => !li.classes.has("collapsed"));
out.status = byId.status.textContent;
console.log(JSON.stringify(out));
"""


def test_viewer_script_builds_the_tree_and_shows_evidence(result: SearchResult, tmp_path: Path) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the viewer's script is checked only where node runs")
    html = write_report(result, tmp_path)["html"].read_text(encoding="utf-8")
    data_text = re.search(r'type="application/json">(.*?)</script>', html, re.S).group(1)  # type: ignore[union-attr]
    app = re.findall(r"<script>(.*?)</script>", html, re.S)[0]
    script = f"const DATA_TEXT = {json.dumps(data_text)};\n{DOM_SHIM}\n{app}\n{DOM_CHECKS}"
    (tmp_path / "viewer_test.js").write_text(script, encoding="utf-8")
    proc = subprocess.run(
        [node, str(tmp_path / "viewer_test.js")], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    tree = result.tree
    assert out["items"] == len(tree["nodes"])
    assert out["chosen"] == tree["chosen_path"]
    assert out["pruned"] == [n["id"] for n in tree["nodes"] if n["pruned"]]
    assert out["detail"].startswith(tree["chosen_path"][-1])  # the chosen answer is shown first
    assert out["clicked"].startswith("n1") and out["clickedEvidence"]
    assert out["colour"].startswith("hsl(")
    assert out["collapsed"] and out["expanded"]
    assert out["status"] == result.status.replace("_", " ")
    # A verified node's integrity checks get their own section, not only the raw evidence JSON.
    assert "integrity checks" in out["integrity"] and "hidden tests found: 2 / 2" in out["integrity"]
    assert "patch guard: accepted" in out["integrity"] and "violations: none" in out["integrity"]
