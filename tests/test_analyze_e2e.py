"""`ponder analyze` end to end: a shared TAT-QA record, the real Docker sandbox, the embedded model.

The model is not expected to be right (135M parameters); what is asserted is the contract: a
verification status, a complete audit trail, and never "verified" for a number that is not the
record's gold answer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ponder.graph.testing import ScriptedBackend
from ponder.graph.types import Budget, SearchConfig
from ponder.plugin import cli_analyze
from ponder.plugin.analyze import AnalyzeOutcome, AnalyzeRequest, analyze
from ponder.plugin.runtime import open_runtime
from ponder.plugin.settings import PonderSettings
from ponder.plugin.tables import tatqa_record
from ponder.sandbox import SandboxSettings, open_sandbox
from ponder.sandbox.base import BaseSandbox
from ponder.verifiers.finance import compare_answer
from tests._cli import command_app
from tests._datasets import load

pytestmark = pytest.mark.docker
TENK = Path(__file__).resolve().parent.parent / "examples" / "tenk_table.csv"
AUDIT_KEYS = {"step", "text", "code", "values", "stdout", "error", "cells_used", "score", "gate"}


@pytest.fixture(scope="module")
def record() -> dict[str, Any]:
    """'Difference between the average investment income and average financing costs' = 2140 million."""
    return next(
        r for r in load("tatqa_arith_dev.jsonl") if r["uid"] == "10e936a6-8d76-4bbe-b058-86f12091b447"
    )


@pytest.fixture
async def docker_sandbox() -> AsyncIterator[BaseSandbox]:
    async with open_sandbox(SandboxSettings(kind="docker", pool_size=1)) as sandbox:
        yield sandbox


def _request(record: dict[str, Any]) -> AnalyzeRequest:
    question, inputs = tatqa_record(record)
    return AnalyzeRequest(
        question,
        inputs["tables"],
        inputs["paragraphs"],
        scale=inputs.get("scale_hint"),
        reference=inputs["reference"],
        reference_scale=inputs["reference_scale"],
    )


async def _run(
    backend: Any, sandbox: BaseSandbox, request: AnalyzeRequest, config: SearchConfig
) -> AnalyzeOutcome:
    async with open_runtime(PonderSettings(), backend=backend, sandbox=sandbox) as rt:
        return await analyze(request, rt, config)


def _is_gold(outcome: AnalyzeOutcome, record: dict[str, Any]) -> bool:
    return compare_answer(
        outcome.answer or "", record["answer"], rel_tol=0.01, abs_tol=0.01, gold_scale=record["scale"]
    )


def _assert_complete_audit(outcome: AnalyzeOutcome) -> None:
    summary = outcome.summary()
    assert summary["status"] in ("verified", "unverified", "no_answer") and summary["reason"]
    chosen = [n for n in outcome.result.tree["chosen_path"] if n != outcome.result.tree["root"]]
    assert len(summary["audit"]) == len(chosen)
    for step in summary["audit"]:
        assert set(step) == AUDIT_KEYS
    json.dumps(summary)


AVERAGES = (
    "```python\ninvestment = (t0.iloc[3, 1] + t0.iloc[3, 2]) / 2\n"
    "financing = (t0.iloc[4, 1] + t0.iloc[4, 2]) / 2\ndifference = investment {op} financing\n```"
)


@pytest.mark.parametrize(
    ("op", "answer", "status"), [("-", "2140", "verified"), ("+", "-1022", "unverified")]
)
async def test_tatqa_record_in_docker_verifies_only_the_gold_number(
    record: dict[str, Any], docker_sandbox: BaseSandbox, op: str, answer: str, status: str
) -> None:
    code = AVERAGES.format(op=op)
    backend = ScriptedBackend(lambda ctx: code if not ctx.steps else f"Answer: {answer} million")
    config = SearchConfig(
        strategy="greedy", max_step_tokens=400, budget=Budget(max_expansions=3)
    )  # 1 char = 1 token
    outcome = await _run(backend, docker_sandbox, _request(record), config)
    assert outcome.status == status
    assert outcome.verified == _is_gold(outcome, record)
    _assert_complete_audit(outcome)
    first = outcome.audit()[0]
    assert first["values"]["difference"] == float(answer)
    assert {c["row"] for c in first["cells_used"]} == {"Investment income", "Financing costs"}
    if status == "unverified":
        assert outcome.reason.startswith("wrong answer")


@pytest.mark.model
async def test_embedded_model_on_a_tatqa_record(
    record: dict[str, Any], docker_sandbox: BaseSandbox, engine_backend: Any
) -> None:
    config = SearchConfig(
        strategy="refine", refine_rounds=1, max_step_tokens=64, budget=Budget(max_expansions=3)
    )
    outcome = await _run(engine_backend, docker_sandbox, _request(record), config)
    _assert_complete_audit(outcome)
    assert outcome.result.spend.expansions <= 3 + 1
    assert not outcome.verified or _is_gold(outcome, record)  # zero error tolerance
    if outcome.status == "unverified":
        assert outcome.reason and "VERIFIED" not in outcome.reason


@pytest.mark.model
def test_command_with_the_embedded_model_and_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_SANDBOX_KIND", "docker")
    monkeypatch.setenv("PONDER_SANDBOX_POOL_SIZE", "1")
    monkeypatch.setenv("PONDER_BACKEND_N_CTX", "4096")
    root = command_app(cli_analyze)
    args = [
        "analyze",
        "--data",
        str(TENK),
        "--question",
        "What was the change in net income from FY2022 to FY2023?",
    ]
    result = CliRunner().invoke(root, [*args, "--json", "-q", "--max-expansions", "3", "--max-seconds", "90"])
    assert result.exit_code in (0, 1), result.output
    out = json.loads(result.stdout)
    assert (result.exit_code == 0) == (out["status"] == "verified")
    if out["status"] == "verified":  # a verified answer is the executed change, 371 - 268
        assert out["value"] == pytest.approx(103) and out["trace"]
    assert all(set(step) >= {"code", "values", "cells_used"} for step in out["audit"])
