"""Verifier quality: AUROC at separating correct from incorrect candidates, one row per verifier.

Execution verifiers (target >= 0.99) on the dev data, gold against perturbed:
  - CodeVerifier, HumanEvalFix: canonical fix vs the buggy function, tests run in the sandbox.
  - FinanceVerifier with the gold reference, TAT-QA / FinanceMath: the gold calculation and
    answer vs the same with a wrong scale (TAT-QA), a flipped sign or a 5% error.
  - FinanceVerifier without a reference, TAT-QA: the gold calculation's answer vs a number
    5% off that no calculation produced (what tracing alone catches).
  - MathVerifier, GSM8K: the gold solution vs an off-by-one final answer.
FinanceVerifier rules rows, TAT-QA / FinanceMath, no reference (targets: precision >= 0.99,
coverage >= 0.85): the gold derivation as a program and four constructed wrong chains per record
(another cell, a number from nowhere, the right value in the wrong scale, a difference reversed;
tests/_finance_chains.py), each stating what its program computes. Verified precision is the
share of VERIFIED chains that are right; coverage the share of gold chains VERIFIED; the share of
each wrong kind left UNVERIFIED is printed beside them. A fifth kind, `fudged` (the gold result
+ 1, x 2, / 2, x 12, rounded to tens: what a hostile chain writes with every operand traced), is
printed too, with the precision it gives when counted ("precision with fudged chains").
The PRM rows (embedded model) come from `_bench_prm.py` unless `--skip-prm`.

Run: `python benchmarks/bench_verifiers.py [--local] [--skip-prm] [--prm-items N]`
(`--local` runs code in the subprocess sandbox instead of Docker).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests._datasets: the shared loaders

from _bench_prm import auroc, prm_rows

from ponder.sandbox import BaseSandbox, LocalSandbox, SandboxSettings, open_sandbox
from ponder.verifiers import (
    BaseVerifier,
    Chain,
    CodeVerifier,
    FinanceVerifier,
    MathVerifier,
    VerifyTask,
)
from tests._datasets import (
    financemath_task,
    humanevalfix_source,
    humanevalfix_task,
    load,
    tatqa_code,
    tatqa_task,
    tatqa_unit,
)
from tests._finance_chains import ISSUE_KINDS, WRONG_KINDS
from tests._finance_chains import financemath_cases as rule_financemath_cases
from tests._finance_chains import tatqa_cases as rule_tatqa_cases

TARGET = 0.99
COVERAGE_TARGET = 0.85
WRONG_SCALE = {
    "": "million",
    "thousand": "million",
    "million": "billion",
    "billion": "million",
    "percent": "",
}

Case = tuple[VerifyTask, list[Chain], list[bool]]
"""One task, its candidates, and which candidates are correct."""


def _done(*steps: str, answer: str | None = None) -> Chain:
    return Chain(steps=steps, terminal=True, answer=answer)


def _py(code: str) -> str:
    return f"```python\n{code}\n```"


def humanevalfix_cases() -> list[Case]:
    cases = []
    for record in load("humanevalfix_dev.jsonl"):
        good, bad = (humanevalfix_source(record, buggy=b) for b in (False, True))
        cases.append(
            (humanevalfix_task(record), [_done(good, answer=good), _done(bad, answer=bad)], [True, False])
        )
    return cases


def tatqa_cases(*, reference: bool) -> list[Case]:
    cases = []
    for record in load("tatqa_arith_dev.jsonl"):
        gold, scale = record["answer"], record["scale"]
        # One code block for every candidate of a record: the verifier runs it once.
        # (A zero answer has no wrong variants, and its `flipped`/`off` would equal it: the answer
        # would trace to `off`, whose 1.05 no input states.)
        extra = "\nflipped = -answer\noff = answer * 1.05" if gold != 0 else ""
        code = _py(f"answer = {tatqa_code(record['derivation'])}{extra}")
        chains, labels = [_done(code, f"Answer: {gold} {tatqa_unit(scale)}")], [True]
        if reference:
            wrong = [f"{gold} {tatqa_unit(WRONG_SCALE[scale])}"] if gold != 0 else []
            wrong += [f"{-gold} {tatqa_unit(scale)}"] if gold != 0 else []
            wrong += [f"{gold * 1.05} {tatqa_unit(scale)}"] if abs(gold) * 0.05 > 0.01 else []
        else:
            code = _py(f"answer = {tatqa_code(record['derivation'])}")
            chains = [_done(code, f"Answer: {gold} {tatqa_unit(scale)}")]
            wrong = [f"{round(gold * 1.05 + 0.01, 2)} {tatqa_unit(scale)}"]
        chains += [_done(code, f"Answer: {w}") for w in wrong]
        labels += [False] * len(wrong)
        cases.append((tatqa_task(record, reference=reference), chains, labels))
    return cases


def financemath_cases() -> list[Case]:
    cases = []
    for record in load("financemath_dev.jsonl"):
        gold = record["ground_truth"]
        code = _py(record["python_solution"])
        chains, labels = [_done(code, f"Answer: {gold}")], [True]
        if gold != 0:
            chains += [_done(code, f"Answer: {-gold}"), _done(code, f"Answer: {gold * 1.05}")]
            labels += [False, False]
        cases.append((financemath_task(record), chains, labels))
    return cases


def gsm8k_cases() -> list[Case]:
    cases = []
    for record in load("gsm8k_dev.jsonl"):
        gold = record["answer"].split("####")[-1].strip()
        task = VerifyTask(kind="math", question=record["question"], inputs={"reference": gold})
        off = int(gold.replace(",", "")) + 1
        chains = [_done(record["answer"].replace("####", "Answer:")), _done(f"Answer: {off}")]
        cases.append((task, chains, [True, False]))
    return cases


async def measure(verifier: BaseVerifier, data: str, cases: list[Case]) -> dict[str, Any]:
    started = time.perf_counter()
    results = await asyncio.gather(*(verifier.score(task, chains) for task, chains, _ in cases))
    pos, neg = [], []
    for (_, _, labels), scores in zip(cases, results, strict=True):
        for label, score in zip(labels, scores, strict=True):
            (pos if label else neg).append(score.score)
    return {
        "verifier": f"{type(verifier).__name__}",
        "data": data,
        "positives": len(pos),
        "negatives": len(neg),
        "auroc": auroc(pos, neg),
        "seconds": round(time.perf_counter() - started, 1),
    }


async def exec_rows(code_sandbox: BaseSandbox, calc_sandbox: BaseSandbox) -> list[dict[str, Any]]:
    plans: list[tuple[BaseVerifier, str, Callable[[], list[Case]]]] = [
        (CodeVerifier(code_sandbox), "HumanEvalFix canonical vs buggy", humanevalfix_cases),
        (
            FinanceVerifier(calc_sandbox),
            "TAT-QA gold vs wrong scale/sign/5% (reference)",
            lambda: tatqa_cases(reference=True),
        ),
        (
            FinanceVerifier(calc_sandbox),
            "TAT-QA gold vs untraced 5%-off number (no reference)",
            lambda: tatqa_cases(reference=False),
        ),
        (
            FinanceVerifier(calc_sandbox, abs_tol=0.0),
            "FinanceMath gold vs sign/5% (reference)",
            financemath_cases,
        ),
        (MathVerifier(), "GSM8K gold vs off-by-one", gsm8k_cases),
    ]
    rows = []
    for verifier, data, cases in plans:
        rows.append(await measure(verifier, data, cases()))
        _print(rows[-1], target=TARGET)
    return rows


async def rules_rows(sandbox: BaseSandbox) -> list[dict[str, Any]]:
    """Verified precision and coverage of the finance rules, gold + constructed wrong chains."""
    rows = []
    for data, cases in (
        ("TAT-QA dev", rule_tatqa_cases(load("tatqa_arith_dev.jsonl"))),
        ("FinanceMath dev", rule_financemath_cases(load("financemath_dev.jsonl"))),
    ):
        started = time.perf_counter()
        verifier = FinanceVerifier(sandbox)
        results = await asyncio.gather(*(verifier.score(c.task, [c.chain]) for c in cases))
        passed = [r.gate == "pass" for [r] in results]
        every = [c for c, ok in zip(cases, passed, strict=True) if ok]
        verified = [c for c in every if c.kind in ("gold", *ISSUE_KINDS)]
        gold = [ok for c, ok in zip(cases, passed, strict=True) if c.kind == "gold"]
        rejected = {}
        for kind in WRONG_KINDS:
            wrong = [ok for c, ok in zip(cases, passed, strict=True) if c.kind == kind and not c.right]
            if wrong:
                rejected[kind] = (1 - sum(wrong) / len(wrong), len(wrong))
        row = {
            "data": data,
            "precision": sum(c.right for c in verified) / max(1, len(verified)),
            "precision_with_fudges": sum(c.right for c in every) / max(1, len(every)),
            "coverage": sum(gold) / len(gold),
            "verified": len(verified),
            "gold": len(gold),
            "rejected": rejected,
            "seconds": round(time.perf_counter() - started, 1),
        }
        rows.append(row)
        below_p = "" if row["precision"] >= TARGET else " BELOW TARGET"
        below_c = "" if row["coverage"] >= COVERAGE_TARGET else " BELOW TARGET"
        marks = [
            f"precision={row['precision']:.3f} (target >= {TARGET}){below_p}",
            f"coverage={row['coverage']:.3f} (target >= {COVERAGE_TARGET}){below_c}",
            f"precision with fudged chains={row['precision_with_fudges']:.3f}",
        ]
        kinds = ", ".join(f"{k} {share:.3f} of {n}" for k, (share, n) in rejected.items())
        print(
            f"FinanceVerifier  rules, {data:<15} verified={row['verified']} gold={row['gold']}  "
            f"{'  '.join(marks)}  unverified wrong: {kinds}  [{row['seconds']}s]",
            flush=True,
        )
    return rows


def _print(row: dict[str, Any], *, target: float | None) -> None:
    value = row["auroc"]
    shown = "n/a" if value is None else f"{value:.3f}"
    verdict = (
        "" if target is None else ("  ok" if value is not None and value >= target else "  BELOW TARGET")
    )
    goal = f" (target >= {target})" if target is not None else ""
    print(
        f"{row['verifier']:<16} {row['data']:<54} pos={row['positives']:<4} neg={row['negatives']:<4} "
        f"AUROC={shown}{goal}{verdict}  [{row['seconds']}s]",
        flush=True,
    )


async def main(*, local: bool) -> None:
    # The finance rows run trusted dataset code, so the faster subprocess sandbox serves.
    async with LocalSandbox() as calc_sandbox:
        await rules_rows(calc_sandbox)
        if local:
            await exec_rows(calc_sandbox, calc_sandbox)
        else:
            settings = SandboxSettings(kind="docker", pool_size=4, max_concurrency=4)
            async with open_sandbox(settings) as docker:
                await exec_rows(docker, calc_sandbox)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--local", action="store_true", help="run HumanEvalFix tests without Docker")
    parser.add_argument("--skip-prm", action="store_true", help="skip the PRM rows (they load the model)")
    parser.add_argument("--prm-items", type=int, default=20, help="problems per PRM set-up")
    args = parser.parse_args()
    print("execution verifiers: AUROC gold vs perturbed on the dev data")
    asyncio.run(main(local=args.local))
    if not args.skip_prm:
        print("process reward models (embedded SmolLM2-135M; reported as measured, no target)")
        for row in prm_rows(args.prm_items):
            _print(row, target=None)
