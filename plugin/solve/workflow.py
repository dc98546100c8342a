"""The solve workflow: a math or word problem, searched step by step, checked against a reference.

Without a reference nothing can check the final answer, so the result is "unverified" however
confident the search was; with one, the math verifier's symbolic comparison gates every
candidate and only an equivalent answer is reported as verified.

Two modes: text (stepwise reasoning ending in "Answer: ...") and program (`program`: the model
writes a Python program, the sandbox runs it, and the answer is the number it returned, elected by
majority over executed values). The statuses mean the same in both.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from ponder.graph.types import SearchConfig, SearchEvent, SearchResult, SearchTask
from ponder.plugin.runtime import Runtime
from ponder.plugin.solve.prompts import SOLVE_FEEDBACK, solve_messages
from ponder.verifiers.types import VerifyTask

SolveMode = Literal["text", "program"]


@dataclass(slots=True)
class SolveOutcome:
    """The answer, whether it was checked, and what the search cost."""

    question: str
    reference: str | None
    result: SearchResult
    mode: SolveMode = "text"

    @property
    def answer(self) -> str | None:
        return self.result.answer

    @property
    def verified(self) -> bool:
        return self.result.verified

    @property
    def status(self) -> str:
        if self.result.answer is None:
            return "no_answer"
        if self.reference is None:
            return "unchecked"
        return "verified" if self.result.verified else "wrong"

    @property
    def detail(self) -> str:
        """Why the status is what it is, in words (the CLI and the MCP tool show it beside it)."""
        return {
            "verified": f"matches the reference {self.reference}",
            "wrong": f"does not match the reference {self.reference}",
            "unchecked": "no reference given, so the answer is not verified",
            "no_answer": self.result.reason or "the search produced no answer",
        }[self.status]

    @property
    def votes_line(self) -> str:
        """Program mode's vote in words ("21 x3, 24 x1"), as the CLI and the MCP tool print it."""
        votes = self.result.evidence.get("votes") or []
        return ", ".join(f"{v['answer']} x{v['votes']}" for v in votes) or "(no program returned a number)"

    def summary(self) -> dict[str, Any]:
        spend = self.result.spend
        out: dict[str, Any] = {
            "question": self.question,
            "answer": self.answer,
            "status": self.status,
            "verified": self.verified,
            "reference": self.reference,
            "reason": self.result.reason,
            "strategy": self.result.strategy,
            "mode": self.mode,
            "tokens": spend.tokens_generated,
            "expansions": spend.expansions,
            "seconds": round(spend.seconds, 2),
        }
        if self.mode == "program":  # how the executed values voted: [{answer, votes, verified, nodes}]
            out["votes"] = self.result.evidence.get("votes", [])
        return out


def math_check(question: str, reference: str | None) -> VerifyTask:
    """What the math verifier checks, in both modes: the answer against `reference`, when known."""
    inputs = {"reference": reference} if reference is not None else {}
    return VerifyTask(kind="math", question=question, inputs=inputs)


def build_solve_task(question: str, reference: str | None = None) -> SearchTask:
    """The search task for `question`; `reference` (when known) is what the math verifier checks."""
    return SearchTask(
        messages=solve_messages(question),
        verify=math_check(question, reference),
        answer_format="text",
        feedback_template=SOLVE_FEEDBACK,
    )


async def solve_question(
    question: str,
    rt: Runtime,
    config: SearchConfig,
    *,
    reference: str | None = None,
    on_event: Callable[[SearchEvent], None] | None = None,
    program: bool = False,
) -> SolveOutcome:
    """Search for an answer to `question`, checked against `reference` when one is given.

    With `program`, the answer is what a sandboxed program returned (`ponder.plugin.solve.program`);
    the runtime then needs a sandbox.
    """
    if program:
        from ponder.plugin.solve.program import search_program  # runs the sandbox's harness: load on use

        result = await search_program(question, rt, config, reference=reference, on_event=on_event)
        return SolveOutcome(question=question, reference=reference, result=result, mode="program")
    task = build_solve_task(question, reference)
    result = await rt.search(task, config, verifier=rt.math_verifier(), on_event=on_event)
    return SolveOutcome(question=question, reference=reference, result=result)
