"""Check a financial answer by re-running its calculations and tracing its number to the data.

A model can state any number with confidence; what makes a finance answer trustworthy is that
the number came out of an executed calculation over the given tables (or is a given cell), in
the right scale, with the right sign. So this verifier:

1. runs the ```python blocks of the chain's steps in the sandbox, cumulatively, with the tables
   bound as pandas DataFrames `t0, t1, ...` (and `tables`) and the text as `paragraphs`,
   recording each step's new values and the table cells its code used;
2. parses the final "Answer: <value> <unit>" and traces its number to an executed value or an
   input cell (else gate fail, reason "untraced number");
3. checks invariants: answer-level ones gate (a share lies within 0-100%, a period-over-period
   change has the direction of the two values it came from); table-level ones (components sum
   to a stated total, assets = liabilities + equity) gate only when the calculation used a cell
   they cover, since a table that does not add up makes any number from it suspect;
4. compares with `inputs["reference"]` when one is given (`compare_answer`: tolerance, scale
   and sign).

How the answer is traced (step 2, and the answer-level invariants of step 3) is `_finance_trace`;
the rules are `_finance_rules`; this module runs the steps and gives the verdict.

Example:
    ```python
    task = VerifyTask(kind="finance", question="What was the change in revenue?", inputs={
        "tables": [{"name": "income", "columns": ["", "2019", "2018"],
                    "rows": [["Revenue", "1,200", "1,000"]]}], "paragraphs": []})
    chain = Chain(steps=("```python\\nchange = 1200 - 1000\\n```", "Answer: 200 million"),
                  terminal=True)
    [result] = await FinanceVerifier(sandbox).score(task, [chain])  # gate "pass"
    ```
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import secrets
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.errors import SandboxError
from ponder.sandbox.runner import INTEGRITY_SOURCE
from ponder.sandbox.types import ExecResult, Limits
from ponder.verifiers._finance_calc import analyse
from ponder.verifiers._finance_rules import RULE_REASONS, check_rules
from ponder.verifiers._finance_trace import (
    AMOUNT_SCALES,
    answer_expr,
    answer_invariants,
    evidence_of_steps,
    trace_answer,
)
from ponder.verifiers._numbers import SCALES, compare_answer, parse_amount
from ponder.verifiers._table_checks import check_tables, index_cells
from ponder.verifiers.answers import extract_after_answer, python_blocks
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.errors import VerifierError
from ponder.verifiers.types import Chain, Evidence, StepScore, VerifyTask

__all__ = ["FinanceVerifier", "compare_answer"]

HARNESS = Path(__file__).with_name("_pot_harness.py")
DEFAULT_LIMITS = Limits(timeout_s=20.0, memory_mb=768)
"""pandas alone takes ~1 s and ~100 MB to import; the rest is the model's arithmetic."""
CACHE_SIZE = 256


@dataclass(frozen=True, slots=True)
class HarnessRun:
    """One run of the program-of-thought harness: each step's recorded values, or why it stopped."""

    steps: list[dict[str, Any]]
    error: str | None
    raw: ExecResult | None


class FinanceEvidence(Evidence, total=False):
    """The audit trail of one calculation: each step's run, how the answer traces to it, and
    every rule and invariant checked, each with its reason."""

    steps: list[dict[str, Any]]
    """Each step: {step, code, values, stdout, error, cells_used}."""
    answer: dict[str, Any] | None
    """{text, value, scale} as read from the answer line; None when there is none."""
    trace: dict[str, Any] | None
    """Which executed value (or cell) the answer is."""
    rules: list[dict[str, Any]]
    operands: list[dict[str, Any]]
    derivation: dict[str, Any]
    invariants: list[dict[str, Any]]
    reference: dict[str, Any]
    """{value, scale, match} when a reference answer was given."""


class FinanceVerifier(BaseVerifier):
    """Outcome verifier for table-and-text finance questions (program-of-thought answers).

    Reads `task.inputs`: `tables` ([{"name", "columns", "rows"}]), `paragraphs` ([str]),
    optionally `scale_hint` (the tables' scale, e.g. "million"), `reference` and
    `reference_scale` (the gold answer, when known).

    Args:
        sandbox: Where the steps' code runs.
        limits: Limits for one chain's run; default 20 s, 768 MB.
        rel_tol: Relative tolerance of the reference comparison.
        abs_tol: Absolute tolerance of the reference comparison, in the reference's units.
        python: The interpreter inside the sandbox (needs pandas); `None` = the sandbox's own
            `python` attribute when it has one (LocalSandbox: the host interpreter), else
            "python3" (the Docker image's).
    """

    name = "finance"
    step_level = False

    def __init__(
        self,
        sandbox: BaseSandbox,
        *,
        limits: Limits | None = None,
        rel_tol: float = 0.01,
        abs_tol: float = 0.01,
        python: str | None = None,
    ) -> None:
        self.sandbox = sandbox
        self.python = python or str(getattr(sandbox, "python", None) or "python3")
        self.limits = limits or DEFAULT_LIMITS
        self.rel_tol = rel_tol
        self.abs_tol = abs_tol
        self.runs = 0
        """Sandbox runs made (chains whose steps contain code; repeats come from the cache)."""
        self._cache: OrderedDict[str, HarnessRun] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[HarnessRun]] = {}

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        tables = _tables(task)
        paragraphs = [str(p) for p in task.inputs.get("paragraphs") or []]
        return list(await asyncio.gather(*(self._one(task, tables, paragraphs, c) for c in chains)))

    async def _one(
        self, task: VerifyTask, tables: list[dict[str, Any]], paragraphs: list[str], chain: Chain
    ) -> StepScore:
        if not chain.terminal:
            return StepScore(
                score=0.5, evidence={"reason": "partial chain: calculations are checked at the end"}
            )
        codes = ["\n".join(python_blocks(step)) for step in chain.steps]
        run = await self.execute(tables, paragraphs, codes) if any(c.strip() for c in codes) else None
        cells = index_cells(tables)
        steps_evidence = evidence_of_steps(codes, run.steps if run is not None else [], cells)
        evidence: FinanceEvidence = {"steps": steps_evidence}
        if run is not None and run.error is not None:
            return _fail(evidence, "calculation error", f"a calculation raised an error:\n{run.error}", 0.0)

        answer_text = chain.answer or extract_after_answer(chain.steps[-1] if chain.steps else "")
        raw_hint = task.inputs.get("scale_hint")
        hint = str(raw_hint) if raw_hint is not None and str(raw_hint) in SCALES else None
        if hint == "percent":
            hint = ""
        written = parse_amount(answer_text or "")
        amount = parse_amount(answer_text or "", default_scale=hint if hint in AMOUNT_SCALES else "")
        evidence["answer"] = (
            {"text": answer_text, "value": amount.value, "scale": amount.scale} if amount else None
        )
        if amount is None or written is None:
            return _fail(evidence, "no answer", "end with a line 'Answer: <value> <unit>'", 0.0)

        executed = [
            (s["step"], name, float(v))
            for s in reversed(steps_evidence)
            for name, v in reversed(s["values"].items())
            if isinstance(v, int | float) and not isinstance(v, bool)
        ]
        trace = trace_answer(written, executed, cells, paragraphs, hint)
        evidence["trace"] = trace
        if trace is None:
            return _fail(
                evidence,
                "untraced number",
                f"the answer {answer_text} matches no executed calculation or table cell; compute it in a "
                "```python block from the table values or the question's numbers",
                0.1,
            )
        calc = analyse(codes, tables, run.steps if run is not None else [])
        if calc.table_writes:
            return _fail(
                evidence,
                "table modified",
                f"the calculation writes to the input table ({calc.table_writes[0]}); read the values, "
                "do not change them",
                0.0,
            )
        if calc.mismatches:
            return _fail(
                evidence,
                "calculation not followed",
                f"the code does not compute what it reads as ({calc.mismatches[0]}); write the arithmetic "
                "plainly on the table values",
                0.1,
            )
        expr = answer_expr(trace, calc, cells)
        rules, operand_audit = check_rules(
            question=task.question,
            expr=expr,
            answer=written,
            tables=tables,
            paragraphs=paragraphs,
            cells=cells,
            hint=hint,
            traced_value=trace["value"],
            conditions=calc.conditions,
        )
        evidence["rules"] = rules
        evidence["operands"] = operand_audit
        evidence["derivation"] = {
            "program": hashlib.sha256("\n".join(c.strip() for c in codes).encode()).hexdigest()[:16],
            "value": amount.units,
        }
        failed = next((r for r in rules if r["status"] == "fail"), None)
        if failed is not None:
            return _fail(evidence, RULE_REASONS[failed["rule"]], failed["detail"], 0.3)

        used = {where for s in steps_evidence for where in s["cells_used"]}
        used |= {o["cell"] for o in operand_audit if o.get("cell")}
        invariants = check_tables(tables, cells)
        invariants += answer_invariants(task.question, amount, cells, used)
        evidence["invariants"] = invariants
        broken = [
            inv
            for inv in invariants
            if inv["status"] == "fail"
            and inv.get("gating", True)
            and (inv["scope"] == "answer" or used & set(inv.get("cells", [])))
        ]
        if broken:
            return _fail(evidence, "invariant failed", f"invariant failed: {broken[0]['detail']}", 0.2)

        reference = task.inputs.get("reference")
        if reference is not None:
            ok = compare_answer(
                answer_text or "",
                reference if isinstance(reference, int | float) else str(reference),
                rel_tol=self.rel_tol,
                abs_tol=self.abs_tol,
                scale=amount.scale,
                gold_scale=task.inputs.get("reference_scale"),
            )
            evidence["reference"] = {
                "value": reference,
                "scale": task.inputs.get("reference_scale"),
                "match": ok,
            }
            if not ok:
                return _fail(evidence, "wrong answer", f"the answer {answer_text} is not correct", 0.0)
        return StepScore(score=1.0, gate="pass", evidence=evidence)

    async def execute(
        self, tables: list[dict[str, Any]], paragraphs: list[str], codes: list[str]
    ) -> HarnessRun:
        """Run the steps once per distinct (data, code): siblings that differ only in prose or
        in the stated answer share one run. Public because `ProgramVerifier` runs word problems'
        programs through the same harness (a calculation over no tables)."""
        key = hashlib.sha256(json.dumps([tables, paragraphs, codes], sort_keys=True).encode()).hexdigest()
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        if key in self._inflight:
            return await asyncio.shield(self._inflight[key])
        self._inflight[key] = asyncio.ensure_future(self._run(tables, paragraphs, codes))
        try:
            run = await asyncio.shield(self._inflight[key])
        finally:
            self._inflight.pop(key, None)
        if run.raw is None or not (run.raw.timed_out or run.raw.oom_killed):
            self._cache[key] = run
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return run

    async def _run(self, tables: list[dict[str, Any]], paragraphs: list[str], codes: list[str]) -> HarnessRun:
        nonce = f"PONDER-{secrets.token_hex(8)}:"
        payload = {"nonce": nonce, "tables": tables, "paragraphs": paragraphs, "steps": codes}
        files = {
            "ponder_pot.json": json.dumps(payload),
            "ponder_pot_harness.py": HARNESS.read_text(),
            "ponder_integrity.py": INTEGRITY_SOURCE,  # the audit hook the harness puts over step code
        }
        self.runs += 1
        try:
            raw = await self.sandbox.run(files, [self.python, "ponder_pot_harness.py"], self.limits)
        except SandboxError as exc:
            raise VerifierError(
                f"finance verifier: the sandbox could not run the calculations: {exc}"
            ) from exc
        line = next((ln for ln in reversed(raw.stdout.splitlines()) if ln.startswith(nonce)), None)
        if line is None:
            why = "timed out" if raw.timed_out else "ran out of memory" if raw.oom_killed else "crashed"
            tail = (raw.stderr or raw.stdout).strip()[-800:]
            return HarnessRun(
                steps=[], error=f"the calculation {why} (exit {raw.exit_code}): {tail}", raw=raw
            )
        steps = json.loads(line[len(nonce) :])["steps"]
        error = next((s["error"] for s in steps if s["error"]), None)
        return HarnessRun(steps=steps, error=error, raw=raw)


def _tables(task: VerifyTask) -> list[dict[str, Any]]:
    tables = task.inputs.get("tables") or []
    if not isinstance(tables, list) or not all(isinstance(t, dict) and "rows" in t for t in tables):
        raise VerifierError(
            'finance verifier: task.inputs["tables"] must be a list of {"name", "columns", "rows"} dicts'
        )
    return [
        {"name": str(t.get("name", f"t{i}")), "columns": list(t.get("columns") or []), "rows": t["rows"]}
        for i, t in enumerate(tables)
    ]


def _fail(evidence: FinanceEvidence, reason: str, feedback: str, score: float) -> StepScore:
    evidence["reason"] = reason
    evidence["feedback"] = feedback
    return StepScore(score=score, gate="fail", evidence=evidence)
