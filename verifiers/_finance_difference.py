"""The operation rule's difference form: a change is the later period minus the earlier, and a
difference between two line items of one period is the first named minus the second.

The hardest of the checked forms, because the same subtraction can be written with its sides as
periods, as items, with a blank cell as 0, or with negative cells differenced on their magnitudes;
`_finance_operation` also uses it for the numerator of a percentage change.
"""

from __future__ import annotations

from typing import Any

from ponder.verifiers._calc_expr import Expr, Op, evaluate, unwrap
from ponder.verifiers._finance_question import Question
from ponder.verifiers._finance_terms import (
    Context,
    Term,
    constant,
    negated,
    term_items,
    term_years,
    terms,
    verdict,
)


def check_difference(expr: Expr, ctx: Context, question: Question) -> dict[str, Any] | None:
    """None when `expr` is later-minus-earlier (or first-named-minus-second), else the failure.

    A top-level `L - R` is read by its sides: the same line item on both sides is a change
    between periods; two items of the same periods are a difference between items; a side that
    is the constant 0 stands for a blank ("—") cell of the other endpoint period.
    """
    core = unwrap(expr)
    value = evaluate(core)
    if value is not None and abs(value) < 1e-12:
        return None  # a zero change has no direction to get wrong
    if isinstance(core, Op) and core.op == "-" and len(core.args) == 2:
        left, right = terms(core.args[0], ctx), terms(core.args[1], ctx)
        zero_left = not left and constant(core.args[0], ctx) == 0
        zero_right = not right and constant(core.args[1], ctx) == 0
        if (zero_left or zero_right) and (left or right):
            return _zero_side(left or right, zero_left, question)
        l_items, r_items = term_items(left), term_items(right)
        l_years, r_years = term_years(left), term_years(right)
        if left and right and l_items != r_items and l_items & r_items:
            return verdict("fail", "the two sides of the difference share a line item")
        if left and right and l_items != r_items and l_years == r_years:
            return _item_order(left + [negated(t) for t in right], ctx, question)
        if left and right and l_items == r_items:
            return _period_order(terms(core, ctx), question)
    ts = terms(core, ctx)
    if len(ts) < 2:
        return verdict("fail", "the question asks for a difference; the calculation is not one")
    if len({max(t.years) for t in ts if t.years}) >= 2:
        return _period_order(ts, question)
    return _item_order(ts, ctx, question)


def _endpoints(ts: list[Term], question: Question) -> tuple[int, int] | None:
    latest = {max(t.years) for t in ts if t.years}
    if len(question.years) >= 2 and min(question.years) in latest and max(question.years) in latest:
        return max(question.years), min(question.years)
    if len(latest) >= 2:
        return max(latest), min(latest)
    return None


def _period_order(ts: list[Term], question: Question) -> dict[str, Any] | None:
    """Later minus earlier, in the cells' own signs; for amounts shown negative in both periods
    (costs, allowances in parentheses) the change is taken on their magnitudes."""
    ends = _endpoints(ts, question)
    if ends is None:
        return verdict("fail", "the difference's two sides are not two periods the table names")
    late, early = ends
    at = [t for t in ts if t.years and max(t.years) in ends]
    negative = bool(at) and all(t.negative for t in at)
    sign = -1 if negative else 1
    w_late = sum(sign * t.cell_weight for t in at if max(t.years) == late)
    w_early = sum(sign * t.cell_weight for t in at if max(t.years) == early)
    if w_late > 0 > w_early:
        return None
    how = " on the magnitudes of amounts shown negative" if negative else ""
    if w_late < 0 < w_early:
        return verdict(
            "fail",
            f"the question asks for the change from {early} to {late} ({late} − {early}{how}); "
            f"the calculation computes {early} − {late}",
        )
    return verdict(
        "fail",
        f"the question asks for the change from {early} to {late}; the calculation is not {late} − {early}",
    )


def _zero_side(ts: list[Term], zero_left: bool, question: Question) -> dict[str, Any] | None:
    """`0 - x` / `x - 0`: the 0 is the blank cell of the other endpoint period."""
    years = term_years(ts)
    if len(question.years) < 2 or not years:
        return verdict(
            "fail", "a difference with 0 on one side: the question names no two periods to order it by"
        )
    late, early = max(question.years), min(question.years)
    period = max(years)
    if (zero_left and period == early) or (not zero_left and period == late):
        return None
    return verdict(
        "fail", f"the question asks for the change from {early} to {late}; the calculation reverses it"
    )


def _item_order(ts: list[Term], ctx: Context, question: Question) -> dict[str, Any] | None:
    items = sorted({i for t in ts for i in t.items})
    if len(items) < 2:
        return verdict("fail", "the difference's two sides are not two periods or two items the table names")
    first, second = sorted(items[:2], key=lambda i: _position(i, items, ctx, question))
    w_first = sum(t.cell_weight for t in ts if first in t.items)
    w_second = sum(t.cell_weight for t in ts if second in t.items)
    if w_first > 0 > w_second:
        return None
    return verdict(
        "fail",
        f"the question asks for {ctx.label_of(first)} − {ctx.label_of(second)}; "
        "the calculation does not take them in that order",
    )


def _position(item: tuple[int, int], items: list[tuple[int, int]], ctx: Context, question: Question) -> int:
    """Where the question first names an item, by the words only its label has."""
    own = ctx.label_words(item)
    others = {w for i in items if i != item for w in ctx.label_words(i)}
    distinct = [w for w in own if w not in others] or own
    return min((question.positions[w] for w in distinct if w in question.positions), default=10**6)
