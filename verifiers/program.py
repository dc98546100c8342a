"""Check an answer that is a program: run it, then judge the number it returned (program-aided, PAL).

A model can write any number after "Answer:"; a program's return value is a number the model had
to compute. So for a chain whose answer is Python source defining ``solution()``, this verifier

1. runs the source in the sandbox through the program-of-thought harness that the finance
   verifier uses (`_pot_harness.py`: the untrusted code runs in a process that never holds the
   record's nonce, under the integrity audit hook, with its stdout sent nowhere), followed by a
   step of ponder's own that calls ``solution()`` and records what it returned;
2. fails the chain when the program raised, timed out or returned something other than a
   number (a bool, a string, ``None``): such a program gives no answer, whatever its text claims;
3. hands the judge (by default `MathVerifier`) a copy of the chain whose answer is the executed
   value, written out by `number_text`, so with a reference the comparison is the math
   verifier's, and without one the gate stays "unknown" exactly as for a written answer.

Only the program text travels to the sandbox: the question's reference stays on the host, so no
program can read it, and what it prints cannot become the answer.

Example:
    ```python
    verifier = ProgramVerifier(sandbox)
    task = VerifyTask(kind="math", question="...", inputs={"reference": "5"})
    program = "def solution():\\n    return 2 + 3\\n"
    [result] = await verifier.score(task, [Chain(steps=(program,), terminal=True, answer=program)])
    program_evidence(result.evidence)["executed"]  # 5; gate "pass"
    ```
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.types import Limits
from ponder.verifiers.answers import extract_code, number_text
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.finance import FinanceVerifier
from ponder.verifiers.math import MathVerifier
from ponder.verifiers.types import Chain, Evidence, StepScore, VerifyTask

__all__ = ["DEFAULT_LIMITS", "Execution", "ProgramEvidence", "ProgramVerifier", "program_evidence"]

DEFAULT_LIMITS = Limits(timeout_s=5.0, memory_mb=512)
"""A word problem's arithmetic runs in milliseconds; a program that loops forever costs this much."""
RESULT_KEY = "solution()"
"""The name under which the harness records what ``solution()`` returned."""
CALL_STEP = f'globals()["{RESULT_KEY}"] = solution()'
"""ponder's own second step. The harness calls ``solution()`` by itself only when the program
does not call it; a program ending in ``print(solution())`` would otherwise record nothing."""
MAX_STDOUT_EVIDENCE = 500


@dataclass(frozen=True, slots=True)
class Execution:
    """What running one program gave: its number, or why there is none."""

    value: int | float | None
    """What ``solution()`` returned; None when the program gave no number."""
    error: str | None = None
    """Why there is no number, for the model (a traceback tail, a timeout, the wrong type)."""
    stdout: str = ""


class ProgramEvidence(Evidence, total=False):
    """The run of the program, beside the judge's own evidence on the executed value."""

    executed: int | float | None
    """The number ``solution()`` returned (None: the program gave none)."""
    error: str | None
    stdout: str
    """What the program printed (the tail): shown for the audit, never read as an answer."""


class ProgramVerifier(BaseVerifier):
    """Outcome verifier for answers that are programs: the executed value is what gets judged.

    Args:
        sandbox: Where the programs run.
        judge: Judges a chain whose answer is the executed value; default `MathVerifier()`,
            which compares it with `task.inputs["reference"]` (gate "unknown" without one).
        limits: Limits for one program's run; default `DEFAULT_LIMITS` (5 s, 512 MB).
        python: The interpreter inside the sandbox; None = the finance verifier's choice (the
            sandbox's own `python` attribute, else "python3").
    """

    name = "program"
    step_level = False

    def __init__(
        self,
        sandbox: BaseSandbox,
        *,
        judge: BaseVerifier | None = None,
        limits: Limits | None = None,
        python: str | None = None,
    ) -> None:
        self.judge = judge or MathVerifier()
        # The finance verifier owns the harness call (nonce, integrity source, reading the record)
        # and a cache shared by identical programs; a program is a calculation over no tables.
        self._harness = FinanceVerifier(sandbox, limits=limits or DEFAULT_LIMITS, python=python)

    @property
    def runs(self) -> int:
        """Sandbox runs made (identical programs share one)."""
        return self._harness.runs

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        finished = [i for i, chain in enumerate(chains) if chain.terminal]
        executions = await asyncio.gather(*(self.execute(_program_of(chains[i])) for i in finished))
        runs = dict(zip(finished, executions, strict=True))
        valued = [(i, value) for i, run in runs.items() if (value := run.value) is not None]
        judged = await self.judge.score(task, [replace(chains[i], answer=number_text(v)) for i, v in valued])
        verdicts = dict(zip((i for i, _ in valued), judged, strict=True))
        return [_score(runs.get(i), verdicts.get(i)) for i in range(len(chains))]

    async def execute(self, program: str) -> Execution:
        """Run `program` in the sandbox and read what its ``solution()`` returned."""
        if not program.strip():
            return Execution(None, "no program: reply with a ```python block that defines solution()")
        run = await self._harness.execute([], [], [program, CALL_STEP])
        stdout = "".join(s.get("stdout") or "" for s in run.steps)[-MAX_STDOUT_EVIDENCE:]
        if run.error is not None:
            return Execution(None, f"the program failed:\n{run.error}", stdout)
        returned = [s["values"][RESULT_KEY] for s in run.steps if RESULT_KEY in s.get("values", {})]
        value = returned[-1] if returned else None
        if isinstance(value, bool) or not isinstance(value, int | float):
            got = "nothing a number can be read from" if value is None else repr(value)
            return Execution(None, f"solution() must return a number; it returned {got}", stdout)
        return Execution(value, None, stdout)


def program_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """The program verifier's own evidence, whether it ran alone or inside a `Composite` (a PRM)."""
    nested = evidence.get("verifiers", {}).get(ProgramVerifier.name, {}).get("evidence")
    return nested if isinstance(nested, dict) else evidence


def _program_of(chain: Chain) -> str:
    """The chain's program: its answer (the last code block), else the last block of its text."""
    if chain.answer is not None:
        return chain.answer
    return extract_code("\n\n".join(chain.steps)) or ""


def _score(run: Execution | None, verdict: StepScore | None) -> StepScore:
    if run is None:
        return StepScore(score=0.5, evidence={"reason": "partial chain: programs are run when finished"})
    if verdict is None:
        error = run.error or "the program gave no number"
        evidence = ProgramEvidence(
            executed=None, error=error, stdout=run.stdout, reason="the program gave no number", feedback=error
        )
        return StepScore(score=0.0, gate="fail", evidence=evidence)
    merged = ProgramEvidence(**verdict.evidence)  # the judge's findings on the value (answer, reference)
    merged["executed"], merged["error"], merged["stdout"] = run.value, None, run.stdout
    return StepScore(score=verdict.score, gate=verdict.gate, evidence=merged)
