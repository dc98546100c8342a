"""`pal` and `pal_sc`: solve suites (GSM8K) through the program mode of the solve workflow.

Program-aided answers against chain-of-thought ones, at the same budget and the same N:

- ``greedy``: one chain of thought at temperature 0, the reference every row is paired with;
- ``self_consistency``: N chains of thought, majority vote over their written answers;
- ``pal``: one program at temperature 0; the answer is what its ``solution()`` returned;
- ``pal_sc``: N programs drawn in one request (as self_consistency draws its chains), each run in
  the sandbox, majority vote over the executed values (`ponder.plugin.solve.vote`).

``pal_sc``'s row is also paired with ``self_consistency``'s (`TEXT_TWIN`): that McNemar test is
the one that says whether voting over executed values beats voting over written answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ponder.graph.types import SearchConfig
from ponder.plugin.bench.datasets import BenchDataError, BenchItem, get_suite
from ponder.plugin.runtime import Runtime
from ponder.plugin.solve.workflow import solve_question

if TYPE_CHECKING:
    from ponder.plugin.bench.runner import Attempt, BenchPlan

GREEDY = "pal"
SELF_CONSISTENCY = "pal_sc"
SEARCH: dict[str, str] = {GREEDY: "greedy", SELF_CONSISTENCY: "self_consistency"}
"""The graph strategy that draws each bench strategy's programs."""
TEXT_TWIN: dict[str, str] = {SELF_CONSISTENCY: "self_consistency"}
"""The chain-of-thought strategy each row is also compared with (greedy is every row's reference)."""


async def solve_pal(item: BenchItem, rt: Runtime, config: SearchConfig, plan: BenchPlan) -> Attempt:
    """One word problem in program mode, without the reference (the checker judges afterwards).

    Raises:
        BenchDataError: `item` is not from a solve suite (tables and code have their own workflows).
    """
    from ponder.plugin.bench.runner import Attempt  # the runner registers this workflow

    if get_suite(item.suite).workflow != "solve":
        raise BenchDataError(
            f"{GREEDY} and {SELF_CONSISTENCY} answer word problems with programs; "
            f"run them with --suite gsm8k (got {item.suite})"
        )
    outcome = await solve_question(item.question, rt, config, program=True)
    return Attempt(outcome.answer, outcome.result.status, outcome.verified, outcome.result)


__all__ = ["GREEDY", "SEARCH", "SELF_CONSISTENCY", "TEXT_TWIN", "solve_pal"]
