"""Budget arithmetic: what is left, and which limit (if any) is spent.

Limits are checked before each batch is sent, and a batch is sized to what is left, so a
search overshoots a limit by at most the one batch in flight (tokens, seconds) and never
overshoots the expansion limit.
"""

from __future__ import annotations

from ponder.graph.state import FrontierItem
from ponder.graph.types import Budget, Spend


def exhausted(budget: Budget, spend: Spend) -> str | None:
    """The name of the first spent limit ("expansions", "tokens", "seconds"), or None."""
    if budget.max_expansions is not None and spend.expansions >= budget.max_expansions:
        return "expansions"
    if budget.max_tokens is not None and spend.tokens_generated >= budget.max_tokens:
        return "tokens"
    if budget.max_seconds is not None and spend.seconds >= budget.max_seconds:
        return "seconds"
    return None


def expansions_left(budget: Budget, spend: Spend) -> int | None:
    return None if budget.max_expansions is None else max(0, budget.max_expansions - spend.expansions)


def tokens_left(budget: Budget, spend: Spend) -> int | None:
    return None if budget.max_tokens is None else max(0, budget.max_tokens - spend.tokens_generated)


def trim_frontier(frontier: list[FrontierItem], left: int | None) -> list[FrontierItem]:
    """Cut a planned batch so that the expansion budget is never exceeded (`left` None = no limit)."""
    if left is None:
        return frontier
    out: list[FrontierItem] = []
    for item in frontier:
        k = min(item["k"], left)
        if k <= 0:
            break
        out.append({**item, "k": k})
        left -= k
    return out
