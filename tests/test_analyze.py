"""`ponder analyze`: loading tables, the workflow's verdicts and audit trail, and the command.

The model is scripted here so each test states exactly which calculation is proposed; the
calculations really run (subprocess sandbox) and the real finance verifier judges them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from ponder.graph.testing import Context, ScriptedBackend
from ponder.graph.types import Budget, SearchConfig
from ponder.plugin.analyze import cli as cli_analyze
from ponder.plugin.analyze.tables import (
    DataLoadError,
    guess_scale,
    load_paragraphs,
    load_tables,
    tatqa_record,
)
from ponder.plugin.analyze.workflow import AnalyzeOutcome, AnalyzeRequest, analyze, format_audit
from ponder.plugin.runtime import open_runtime
from ponder.plugin.settings import PonderSettings
from ponder.sandbox import LocalSandbox
from tests._cli import command_app

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")
TENK = Path(__file__).resolve().parent.parent / "examples" / "tenk_table.csv"
QUESTION = "What was the change in revenue from FY2022 to FY2023?"
GOOD_CODE = "```python\nrev = t0.iloc[0, 1]\nprev = t0.iloc[0, 2]\nchange = rev - prev\n```"


def test_csv_cells_are_parsed_numbers_and_the_scale_is_read_from_the_header() -> None:
    [table] = load_tables(TENK)
    assert table["columns"] == ["Line item (in millions)", "FY2023", "FY2022", "FY2021"]
    assert table["rows"][0] == ["Revenue", 4512, 3987, 3601]
    assert table["rows"][1][1] == -2706  # "(2,706)" is negative
    assert guess_scale([table], []) == "million"


def test_json_excel_and_tatqa_shapes(tmp_path: Path) -> None:
    rows = tmp_path / "rows.json"
    rows.write_text(json.dumps([{"item": "Revenue", "2023": "$ 1,200"}, {"item": "Costs", "2023": "(300)"}]))
    assert load_tables(rows)[0]["rows"] == [["Revenue", 1200], ["Costs", -300]]

    many = tmp_path / "many.json"
    many.write_text(json.dumps({"tables": [{"name": "a", "columns": ["x"], "rows": [["1.5%"]]}]}))
    assert load_tables(many) == [{"name": "a", "columns": ["x"], "rows": [[1.5]]}]

    book = tmp_path / "book.xlsx"
    with pd.ExcelWriter(book) as writer:
        pd.DataFrame({"item": ["Revenue"], "2023": [10]}).to_excel(writer, sheet_name="income", index=False)
        pd.DataFrame({"item": ["Cash"], "2023": [4.5]}).to_excel(writer, sheet_name="balance", index=False)
    tables = load_tables(book)
    assert [t["name"] for t in tables] == ["income", "balance"]
    assert tables[1]["rows"] == [["Cash", 4.5]]

    record = {"question": "q?", "table": [["", "2019"], ["Sales", "1,000"]], "paragraphs": ["in thousands"]}
    (tmp_path / "rec.json").write_text(json.dumps(record))
    assert load_tables(tmp_path / "rec.json")[0]["rows"] == [["", 2019], ["Sales", 1000]]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        pytest.param("missing.csv", None, "does not exist", id="missing"),
        pytest.param("data.parquet", "x", "unknown data type '.parquet'", id="suffix"),
        pytest.param("empty.csv", "a,b\n", "holds no table rows", id="empty"),
        pytest.param("bad.json", '{"x": 1}', "is not a table", id="json-shape"),
    ],
)
def test_bad_data_files_are_one_line_errors(
    tmp_path: Path, name: str, content: str | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_text(content)
    with pytest.raises(DataLoadError, match=message) as info:
        load_tables(path)
    assert "\n" not in str(info.value) and str(path.stem) in str(info.value)


def test_paragraphs_from_text_and_json(tmp_path: Path) -> None:
    (tmp_path / "p.txt").write_text("First para\nstill first.\n\nSecond.\n")
    (tmp_path / "p.json").write_text(json.dumps(["a", {"text": "b"}]))
    assert load_paragraphs(tmp_path / "p.txt") == ["First para\nstill first.", "Second."]
    assert load_paragraphs(tmp_path / "p.json") == ["a", "b"]


def test_tatqa_record_carries_gold_as_reference_not_as_hint() -> None:
    record = {
        "question": "What is the change?",
        "answer": 2140,
        "scale": "million",
        "table": [["", "2019", "2018"], ["", "€m", "€m"], ["Income", "433", "685"]],
        "paragraphs": [],
    }
    question, inputs = tatqa_record(record)
    assert question == "What is the change?"
    assert inputs["reference"] == 2140 and inputs["reference_scale"] == "million"
    assert inputs["scale_hint"] == "million"  # from the "€m" header, not from the gold answer
    assert "reference" not in tatqa_record(record, with_reference=False)[1]


async def _analyze(policy: Any, reference: Any = None, **config: Any) -> AnalyzeOutcome:
    request = AnalyzeRequest(QUESTION, load_tables(TENK), reference=reference)
    cfg = SearchConfig(**{"strategy": "greedy", "budget": Budget(max_expansions=4), **config})
    async with (
        LocalSandbox() as sandbox,
        open_runtime(PonderSettings(), backend=ScriptedBackend(policy), sandbox=sandbox) as rt,
    ):
        return await analyze(request, rt, cfg)


def _two_steps(code: str, answer: str) -> Any:
    return lambda ctx: code if not ctx.steps else f"Answer: {answer}"


async def test_executed_traced_answer_is_verified_with_a_complete_audit_trail() -> None:
    outcome = await _analyze(_two_steps(GOOD_CODE, "525 million"))
    assert outcome.status == "verified" and outcome.verified
    s = outcome.summary()
    assert (s["value"], s["scale"]) == (525, "million")
    assert s["trace"]["source"] == "step 1: change"
    first, last = s["audit"]
    assert first["code"].startswith("rev = t0.iloc[0, 1]")
    assert first["values"] == {"rev": 4512, "prev": 3987, "change": 525}
    assert {(c["row"], c["column"], c["value"]) for c in first["cells_used"]} == {
        ("Revenue", "FY2023", 4512),
        ("Revenue", "FY2022", 3987),
    }
    assert last["text"] == "Answer: 525 million" and last["gate"] == "pass" and last["score"] == 1.0
    text = "\n".join(format_audit(outcome))
    assert "status: VERIFIED" in text and "used t0[0][1]: Revenue / FY2023 = 4512" in text


@pytest.mark.parametrize(
    ("policy", "reference", "reason"),
    [
        pytest.param(lambda ctx: "Answer: 600 million", None, "untraced number", id="typed-not-computed"),
        pytest.param(_two_steps(GOOD_CODE, "530 million"), None, "untraced number", id="misreported"),
        pytest.param(
            _two_steps("```python\nx = t0.iloc[0, 1] - t0.iloc[1, 1]\n```", "1806 million"),
            525,
            "not the cells asked for",
            id="computed-but-wrong",
        ),
        pytest.param(
            _two_steps("```python\nx = t0.iloc[99, 1]\n```", "4512 million"),
            None,
            "calculation error",
            id="error",
        ),
    ],
)
async def test_a_wrong_number_is_never_verified(policy: Any, reference: Any, reason: str) -> None:
    outcome = await _analyze(policy, reference, strategy="refine", refine_rounds=1)
    assert outcome.status == "unverified" and not outcome.verified
    assert outcome.reason.startswith(reason)
    assert "status: UNVERIFIED" in "\n".join(format_audit(outcome))
    assert not outcome.summary()["verified"]


@pytest.fixture
def scripted_cli(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command with a scripted model and the subprocess sandbox (its flags and output are under test)."""
    import ponder.backends

    def policy(ctx: Context) -> str:
        return GOOD_CODE if not ctx.steps else "Answer: 525 million"

    monkeypatch.setattr(ponder.backends, "make_backend", lambda settings: ScriptedBackend(policy))
    monkeypatch.setenv("PONDER_SANDBOX_KIND", "local")
    monkeypatch.setenv("PONDER_SEARCH_STRATEGY", "greedy")


def _cli() -> typer.Typer:
    return command_app(cli_analyze)


def test_command_prints_json_and_exits_0_when_verified(scripted_cli: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _cli(),
        ["analyze", "--data", str(TENK), "--question", QUESTION, "--json", "-q", "--report", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["status"] == "verified" and out["answer"] == "525 million" and out["strategy"] == "greedy"
    assert out["audit"][0]["values"]["change"] == 525
    assert (tmp_path / "tree.json").is_file()


def test_command_exits_1_when_the_answer_does_not_match_the_reference(scripted_cli: None) -> None:
    result = CliRunner().invoke(
        _cli(), ["analyze", "--data", str(TENK), "--question", QUESTION, "--reference", "600", "-q"]
    )
    assert result.exit_code == 1, result.output
    assert "status: UNVERIFIED — wrong answer" in result.stdout
    assert "VERIFIED —" not in result.stdout.replace("UNVERIFIED —", "")


def test_command_bad_input_is_exit_2(scripted_cli: None, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        _cli(), ["analyze", "--data", str(tmp_path / "x.csv"), "--question", "q", "-q"]
    )
    assert result.exit_code == 2 and "does not exist" in " ".join(result.output.split())
