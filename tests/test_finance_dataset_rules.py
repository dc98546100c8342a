"""The four rules on every dev TAT-QA and FinanceMath record: gold derivations verify, constructed
wrong chains do not.

Each record's gold derivation runs as a program (tests/_finance_chains.py) and must be VERIFIED
without a reference; four wrong variants per record (another cell of the table, a number from
nowhere, the right value in the wrong scale, a difference reversed), each stating exactly the
number its program computes, must not be. The dataset's code is trusted, so the harness runs
in-process (`RecordingDouble`) to score ~1,000 chains in seconds; the Docker path is covered by
the e2e tests.

Measured figures are asserted at the level they were measured at, and the gold records that do
not verify are listed with the rule that stops them, so a regression names what it broke.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import pytest

from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.types import ExecResult, Limits
from ponder.verifiers import FinanceVerifier
from tests._datasets import load
from tests._finance_chains import ISSUE_KINDS, WRONG_KINDS, Case, financemath_cases, tatqa_cases


class RecordingDouble(BaseSandbox):
    """Answers the finance harness's request in this process, for trusted dataset code only.

    It keeps the harness's output contract (a nonce-prefixed `{"steps": [...]}` line with each
    step's new or changed simple values, `solution()` called when defined but not called) without
    its isolation or its fork, so ~1,000 chains score in seconds; the real harness runs in the
    other finance tests and, in Docker, in the e2e tests.
    """

    name = "recording-double"

    async def run(self, files: Any, command: Sequence[str], limits: Limits | None = None) -> ExecResult:
        data = json.loads(files["ponder_pot.json"])
        namespace: dict[str, Any] = {"__name__": "__pot__", "math": math, "paragraphs": data["paragraphs"]}
        steps = []
        for index, code in enumerate(data["steps"]):
            record: dict[str, Any] = {"step": index, "values": {}, "stdout": "", "error": None}
            steps.append(record)
            if not code.strip():
                continue
            before = dict(namespace)
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(compile(code, f"<step {index + 1}>", "exec"), namespace)
                    if callable(namespace.get("solution")) and "solution" not in before:
                        namespace["solution()"] = namespace["solution"]()
            except Exception as exc:
                record["error"] = f"{type(exc).__name__}: {exc}"
                break
            for name, value in namespace.items():
                simple = isinstance(value, int | float) and not isinstance(value, bool)
                if not name.startswith("_") and simple and (name not in before or before[name] != value):
                    record["values"][name] = value
        line = data["nonce"] + json.dumps({"steps": steps})
        return ExecResult(exit_code=0, stdout=line + "\n", stderr="", duration_s=0.0)

    async def run_tests(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError("RecordingDouble only answers the finance harness")


async def _score(cases: list[Case]) -> list[bool]:
    verifier = FinanceVerifier(RecordingDouble())
    verdicts = []
    for case in cases:
        [result] = await verifier.score(case.task, [case.chain])
        verdicts.append(result.gate == "pass")
    return verdicts


@pytest.fixture(scope="module")
def scored() -> dict[str, list[tuple[Case, bool]]]:
    out = {}
    for name, cases in (
        ("tatqa", tatqa_cases(load("tatqa_arith_dev.jsonl"))),
        ("financemath", financemath_cases(load("financemath_dev.jsonl"))),
    ):
        out[name] = list(zip(cases, asyncio.run(_score(cases)), strict=True))
    return out


def _rates(pairs: list[tuple[Case, bool]]) -> dict[str, Any]:
    gold = [ok for c, ok in pairs if c.kind == "gold"]
    wrong = {k: [ok for c, ok in pairs if c.kind == k and not c.right] for k in WRONG_KINDS}
    verified = [c for c, ok in pairs if ok and c.kind in ("gold", *ISSUE_KINDS)]
    every = [c for c, ok in pairs if ok]
    return {
        "coverage": sum(gold) / len(gold),
        "precision": sum(c.right for c in verified) / max(1, len(verified)),
        "precision_with_fudges": sum(c.right for c in every) / max(1, len(every)),
        "rejected": {k: 1 - sum(v) / len(v) for k, v in wrong.items() if v},
        "counts": {k: len(v) for k, v in wrong.items()},
    }


# Gold TAT-QA derivations that do not verify, and why (measured; see README "Verified financial analysis").
TATQA_GOLD_MISSES = 18


def test_tatqa_gold_derivations_verify_and_constructed_wrong_chains_do_not(
    scored: dict[str, list[tuple[Case, bool]]],
) -> None:
    rates = _rates(scored["tatqa"])
    print("tatqa", json.dumps(rates))
    assert rates["coverage"] >= 0.85
    assert rates["precision"] >= 0.99 and rates["precision_with_fudges"] >= 0.99
    for kind, rejected in rates["rejected"].items():
        assert rejected >= 0.99, (kind, rejected)
    assert rates["counts"]["fudged"] == 600
    assert rates["counts"]["wrong_scale"] == 150 and rates["counts"]["other_cell"] >= 140
    misses = [c.record_id for c, ok in scored["tatqa"] if c.kind == "gold" and not ok]
    assert len(misses) <= TATQA_GOLD_MISSES, misses


# FinanceMath coverage: the share of the 100 gold `python_solution` programs that verify with no
# reference. It is a floor, not a target met: these word problems name no periods or line items,
# so a difference is ordered only by the question's benefit/cost words or by its sign, and a gold
# program whose difference comes out negative, negates a value (0 - x), or feeds a difference
# into a library call (norm.cdf) is UNVERIFIED on purpose; the rest of the misses are operands
# the question does not state, and formula questions whose formula the named-formula library
# (verifiers/_finance_formulas*.py) does not hold or cannot bind (README "Verified financial
# analysis" lists them by rule). One more (validation-173, a pension expense that is its stated
# contribution) is a word problem answered with one of its own numbers, which is UNVERIFIED on
# purpose since a restated input is what a hostile chain writes (tests/test_finance_fudges.py).
FINANCEMATH_COVERAGE = 0.72


def test_financemath_gold_programs_trace_and_constructed_wrong_chains_do_not_verify(
    scored: dict[str, list[tuple[Case, bool]]],
) -> None:
    """Without periods or line items to order a calculation by, a wrong chain must still not
    verify: a difference is checked by the question's benefit/cost words or by its sign, a factor
    of 1 that a table states is that cell, and one column's cells are read one way."""
    rates = _rates(scored["financemath"])
    print("financemath", json.dumps(rates))
    assert rates["coverage"] >= FINANCEMATH_COVERAGE
    assert rates["precision"] >= 0.99
    for kind, rejected in rates["rejected"].items():
        assert rejected >= (FINANCEMATH_FUDGES_REJECTED if kind == "fudged" else 0.99), (kind, rejected)
    assert rates["counts"]["reversed"] >= 50 and rates["counts"]["other_cell"] >= 30


FINANCEMATH_FUDGES_REJECTED = 0.95
"""Measured 2026-12-08: 410 of 429 fudged FinanceMath chains (the gold result + 1, x 2, / 2,
x 12, rounded to tens) are UNVERIFIED (370 on 2026-12-04, before a number the question states
and a period constant were held to their roles when used again on the result). The 19 that
verify nudge the result with a stated number the calculation uses nowhere else ("a dividend of
$2"), which provenance must accept as an input, with a constant whose words the question holds
("6 months" for / 2), or with a number a table cell states. A floor, not a target met: README
"Verified financial analysis"."""
FINANCEMATH_MISSES_BY_RULE = {"provenance": 15, "grounding": 6, "operation": 5, "scale": 2}
"""Measured 2026-12-04; README "Verified financial analysis" explains each group. (validation-52,
`1 - norm.cdf(-z)`, now fails provenance first: a 1 beside a library call is no rate it can see.)"""


def test_gold_misses_are_reported_by_rule(scored: dict[str, list[tuple[Case, bool]]]) -> None:
    """Every gold chain that does not verify names the one rule that stopped it, with a detail,
    and the FinanceMath misses per rule stay at (or under) the measured breakdown."""
    by_rule: dict[str, Counter[str]] = {"tatqa": Counter(), "financemath": Counter()}
    verifier = FinanceVerifier(RecordingDouble())
    for name, pairs in scored.items():
        misses = [case for case, ok in pairs if case.kind == "gold" and not ok]
        results = asyncio.run(_evidence(verifier, misses))
        for case, evidence in zip(misses, results, strict=True):
            failed = [r for r in evidence.get("rules", []) if r["status"] == "fail"]
            assert failed and failed[0]["detail"], (case.record_id, evidence.get("reason"))
            by_rule[name][failed[0]["rule"]] += 1
    print(json.dumps(by_rule))
    assert sum(by_rule["tatqa"].values()) <= TATQA_GOLD_MISSES
    for rule, count in by_rule["financemath"].items():
        assert count <= FINANCEMATH_MISSES_BY_RULE[rule], (rule, count)


async def _evidence(verifier: FinanceVerifier, cases: list[Case]) -> list[dict[str, Any]]:
    out = []
    for case in cases:
        [result] = await verifier.score(case.task, [case.chain])
        out.append(result.evidence)
    return out
