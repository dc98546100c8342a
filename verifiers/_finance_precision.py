"""Rule 3's guard on rounding: a calculation may present its value rounded, not change it.

`round(x, 2)` is presentation, and the rules read through it (`unwrap`). Rounded coarsely it is
a free parameter: `round(371 - 268, -1)` states 100 for a change of 103 and every operand still
traces. So a rounding (round, int, floor, ceil) that moves its value by more than MAX_LOSS of
it fails, and so does a rounding to tens or coarser (`round(x, -1)`) wherever the reader cannot
evaluate what it rounds; one that keeps the value within that (two decimals, a whole number of
contracts) is what analysts write.
"""

from __future__ import annotations

from ponder.verifiers._calc_expr import Expr, Op, evaluate

MAX_LOSS = 0.01
"""The share of a value a rounding may move it by: FinanceMath's own tolerance for a right answer."""
_ROUNDINGS = frozenset({"round", "int", "floor", "ceil"})


def rounding_loss(expr: Expr) -> str | None:
    """Why a rounding in `expr` changes the value it rounds, or None when none does."""
    if not isinstance(expr, Op):
        return None
    if expr.op == "round" and len(expr.args) == 2 and (evaluate(expr.args[1]) or 0) < 0:
        return "the calculation rounds to tens or coarser: round the answer for display, not the value"
    if expr.op in _ROUNDINGS and expr.args:
        before, after = evaluate(expr.args[0]), evaluate(expr)
        if before is not None and after is not None and abs(after - before) > MAX_LOSS * abs(before):
            return (
                f"the calculation rounds {before:.6g} to {after:g} ({abs(after - before) / abs(before):.1%} "
                "of it): round the answer for display, not the value"
            )
    return next((why for a in expr.args if (why := rounding_loss(a))), None)
