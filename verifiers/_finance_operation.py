"""Rule 3, operation and direction: the calculation has the formula the question's form asks for.

Checked forms (from `_finance_question.question_form`):

- change / increase / difference between periods: B − A, the later period minus the earlier
  (a cost shown negative in both periods may be differenced on its magnitudes); between two
  line items of one period: the first named minus the second;
- percentage change: (B − A) / A, or B / A − 1, optionally × 100;
- average: a sum of k values divided by k (or by the years the question spans), or a mean;
- ratio / proportion / percentage of: a division of two items; a "Total ..." row is the
  denominator, and "ratio of A to B" is A / B.

Signs are read in cell terms: a literal 2088 copied from the cell "(2,088)" is minus that cell,
so "-(5,940 + 598) / 2" is the average of two negative cells, and a difference reversed is
caught however the operands were written. A calculation whose structure the reader could not
follow (a loop) cannot be confirmed to have a checked form, so it fails those forms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ponder.verifiers._calc_expr import Expr, Op, Opaque, Operand, evaluate, operands, unwrap
from ponder.verifiers._finance_direction import check_directions
from ponder.verifiers._finance_question import NEGATIVE_ADMITTED, Question

CellRef = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Term:
    """One additive term of a calculation, with where its value came from."""

    weight: float
    """The term's coefficient as the code writes it."""
    sign: float
    """+1 when the term is its cells as stated, -1 when written as their negation."""
    items: frozenset[tuple[int, int]]
    """(table, row) of the cells inside it."""
    years: frozenset[int]
    negative: bool
    """All its cells are negative amounts."""

    @property
    def cell_weight(self) -> float:
        return self.weight * self.sign


@dataclass(slots=True)
class Context:
    """What the operation check needs to know about operands: their cells, periods and labels."""

    cell_of: Callable[[Operand], CellRef | None]
    factor_of: Callable[[Operand], float]
    years_of: Callable[[CellRef], frozenset[int]]
    label_of: Callable[[tuple[int, int]], str]
    label_words: Callable[[tuple[int, int]], list[str]]
    cell_value: Callable[[CellRef], float]
    is_constant: Callable[[Operand], bool]


def _constant(expr: Expr, ctx: Context) -> float | None:
    """The value of a sub-expression made only of constants, else None."""
    ops = list(operands(expr))
    if isinstance(expr, Opaque) or not ops or not all(ctx.is_constant(o) for o in ops):
        return None
    return evaluate(expr)


def linear(expr: Expr, ctx: Context, weight: float = 1.0) -> list[tuple[Expr, float]]:
    """The expression as a weighted sum of atoms (operands or non-linear sub-expressions)."""
    if isinstance(expr, Op):
        if expr.op in ("round", "float") and expr.args:
            return linear(expr.args[0], ctx, weight)
        if expr.op == "+":
            return linear(expr.args[0], ctx, weight) + linear(expr.args[1], ctx, weight)
        if expr.op == "-":
            return linear(expr.args[0], ctx, weight) + linear(expr.args[1], ctx, -weight)
        if expr.op == "neg":
            return linear(expr.args[0], ctx, -weight)
        if expr.op == "sum":
            return [t for a in expr.args for t in linear(a, ctx, weight)]
        if expr.op == "mean" and expr.args:
            return [t for a in expr.args for t in linear(a, ctx, weight / len(expr.args))]
        if expr.op == "*":
            for k, other in ((0, 1), (1, 0)):
                c = _constant(expr.args[k], ctx)
                if c is not None:
                    return linear(expr.args[other], ctx, weight * c)
        if expr.op == "/":
            c = _constant(expr.args[1], ctx)
            if c:
                return linear(expr.args[0], ctx, weight / c)
    return [(expr, weight)]


def terms(expr: Expr, ctx: Context) -> list[Term]:
    """The non-constant additive terms with their cells' items and periods."""
    out = []
    for atom, weight in linear(expr, ctx):
        if _constant(atom, ctx) is not None:
            continue
        cells = [(o, ctx.cell_of(o)) for o in operands(atom)]
        refs = [c for _, c in cells if c is not None]
        sign = 1.0
        if isinstance(atom, Operand) and refs:
            sign = math.copysign(1.0, ctx.factor_of(atom))
        years: frozenset[int] = frozenset().union(*(ctx.years_of(c) for c in refs)) if refs else frozenset()
        out.append(
            Term(
                weight=weight,
                sign=sign,
                items=frozenset((t, r) for t, r, _ in refs),
                years=years,
                negative=bool(refs) and all(ctx.cell_value(c) < 0 for c in refs),
            )
        )
    return out


def _strip_percent(expr: Expr, ctx: Context) -> Expr:
    """`x * 100` -> x (a fraction shown as a percentage)."""
    expr = unwrap(expr)
    if isinstance(expr, Op) and expr.op == "*":
        for k, other in ((0, 1), (1, 0)):
            if _constant(expr.args[k], ctx) == 100:
                return unwrap(expr.args[other])
    return expr


def _verdict(status: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"rule": "operation", "status": status, "detail": detail, **extra}


def _years_text(years: set[int] | frozenset[int]) -> str:
    return "/".join(str(y) for y in sorted(years)) or "?"


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
        zero_left = not left and _constant(core.args[0], ctx) == 0
        zero_right = not right and _constant(core.args[1], ctx) == 0
        if (zero_left or zero_right) and (left or right):
            return _zero_side(left or right, zero_left, question)
        l_items, r_items = _items(left), _items(right)
        l_years, r_years = _years(left), _years(right)
        if left and right and l_items != r_items and l_items & r_items:
            return _verdict("fail", "the two sides of the difference share a line item")
        if left and right and l_items != r_items and l_years == r_years:
            return _item_order(left + [_negated(t) for t in right], ctx, question)
        if left and right and l_items == r_items:
            return _period_order(terms(core, ctx), question)
    ts = terms(core, ctx)
    if len(ts) < 2:
        return _verdict("fail", "the question asks for a difference; the calculation is not one")
    if len({max(t.years) for t in ts if t.years}) >= 2:
        return _period_order(ts, question)
    return _item_order(ts, ctx, question)


def _items(ts: list[Term]) -> frozenset[tuple[int, int]]:
    return frozenset(i for t in ts for i in t.items)


def _years(ts: list[Term]) -> frozenset[int]:
    return frozenset(y for t in ts for y in t.years)


def _negated(t: Term) -> Term:
    return Term(weight=-t.weight, sign=t.sign, items=t.items, years=t.years, negative=t.negative)


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
        return _verdict("fail", "the difference's two sides are not two periods the table names")
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
        return _verdict(
            "fail",
            f"the question asks for the change from {early} to {late} ({late} − {early}{how}); "
            f"the calculation computes {early} − {late}",
        )
    return _verdict(
        "fail",
        f"the question asks for the change from {early} to {late}; the calculation is not {late} − {early}",
    )


def _zero_side(ts: list[Term], zero_left: bool, question: Question) -> dict[str, Any] | None:
    """`0 - x` / `x - 0`: the 0 is the blank cell of the other endpoint period."""
    years = _years(ts)
    if len(question.years) < 2 or not years:
        return _verdict(
            "fail", "a difference with 0 on one side: the question names no two periods to order it by"
        )
    late, early = max(question.years), min(question.years)
    period = max(years)
    if (zero_left and period == early) or (not zero_left and period == late):
        return None
    return _verdict(
        "fail", f"the question asks for the change from {early} to {late}; the calculation reverses it"
    )


def _item_order(ts: list[Term], ctx: Context, question: Question) -> dict[str, Any] | None:
    items = sorted({i for t in ts for i in t.items})
    if len(items) < 2:
        return _verdict("fail", "the difference's two sides are not two periods or two items the table names")
    first, second = sorted(items[:2], key=lambda i: _position(i, items, ctx, question))
    w_first = sum(t.cell_weight for t in ts if first in t.items)
    w_second = sum(t.cell_weight for t in ts if second in t.items)
    if w_first > 0 > w_second:
        return None
    return _verdict(
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


def check_percentage_change(expr: Expr, ctx: Context, question: Question) -> dict[str, Any] | None:
    core = _strip_percent(expr, ctx)
    if isinstance(core, Op) and core.op == "/" and len(core.args) == 2:
        numerator, base = core.args
        if check_difference(numerator, ctx, question) is None:
            num_terms = terms(numerator, ctx)
            base_terms = terms(unwrap(_abs_free(base)), ctx)
            early = min((max(t.years) for t in num_terms if t.years), default=None)
            if base_terms and all(t.years and max(t.years) == early for t in base_terms):
                return None
            if not any(t.years for t in num_terms) and base_terms:
                return None  # two items of one period: the base is the second
            return _verdict("fail", f"a percentage change divides by the earlier value ({early})")
    if isinstance(core, Op) and core.op == "-" and _constant(core.args[1], ctx) == 1:
        ratio = unwrap(core.args[0])
        if isinstance(ratio, Op) and ratio.op == "/":
            top, bottom = terms(ratio.args[0], ctx), terms(ratio.args[1], ctx)
            ordered = top and bottom and all(t.years for t in top + bottom)
            if ordered and max(max(t.years) for t in top) > max(max(t.years) for t in bottom):
                return None
    value = evaluate(core)
    if value is not None and abs(value) < 1e-12:
        return None
    return _verdict(
        "fail",
        "the question asks for a percentage change, (later − earlier) / earlier; the calculation is not one",
    )


def check_abs_difference(expr: Expr, ctx: Context, question: Question) -> dict[str, Any] | None:
    """ "The difference between A and B" (no "from ... to"): the gap between the two, as a
    non-negative number, from a subtraction of the two named sides."""
    core = unwrap(expr)
    if isinstance(core, Op) and core.op == "abs":
        core = unwrap(core.args[0])
    if not (isinstance(core, Op) and core.op == "-"):
        return _verdict("fail", "the question asks for a difference; the calculation is not a subtraction")
    value = evaluate(expr)
    left, right = terms(core.args[0], ctx), terms(core.args[1], ctx)
    if not left or not right:
        return _verdict("fail", "the question asks for the difference of two values; one side is a constant")
    if _items(left) & _items(right) and _items(left) != _items(right):
        return _verdict("fail", "the two sides of the difference share a line item")
    if value is not None and value < -1e-12:
        return _verdict(
            "fail",
            "the question asks for the difference between two values; the calculation makes it negative",
        )
    return None


def _abs_free(expr: Expr) -> Expr:
    return expr.args[0] if isinstance(expr, Op) and expr.op == "abs" else expr


def check_average(expr: Expr, ctx: Context, question: Question) -> dict[str, Any] | None:
    core = unwrap(expr)
    if isinstance(core, Op) and core.op == "mean" and len(core.args) >= 2:
        return None
    ts = terms(core, ctx)
    if len(ts) >= 2:
        weights = [abs(t.weight) for t in ts]
        signs = {math.copysign(1.0, t.cell_weight) for t in ts}
        if all(math.isclose(w, weights[0], rel_tol=1e-9) for w in weights) and len(signs) == 1:
            counts = {len(ts), question.span, len(question.years)} - {0}
            units = (1.0, 100.0, 0.01, 1e3, 1e-3)  # percent cells as fractions, a scale converted
            if any(math.isclose(weights[0] * n * u, 1.0, rel_tol=1e-6) for n in counts for u in units):
                return None
    return _verdict(
        "fail",
        "the question asks for an average; the calculation is not a sum of the values over their count",
    )


def check_ratio(expr: Expr, ctx: Context, question: Question) -> dict[str, Any] | None:
    core = _strip_percent(expr, ctx)
    if not (isinstance(core, Op) and core.op == "/" and len(core.args) == 2):
        return _verdict("fail", "the question asks for a ratio; the calculation is not a division")
    top, bottom = terms(core.args[0], ctx), terms(core.args[1], ctx)
    if not top or not bottom:
        return _verdict("fail", "the question asks for a ratio of two items; one side is a constant")
    top_items = {i for t in top for i in t.items}
    bottom_items = {i for t in bottom for i in t.items}
    is_total = {i: "total" in ctx.label_words(i) for i in top_items | bottom_items}
    if any(is_total[i] for i in top_items) and not any(is_total[i] for i in bottom_items) and bottom_items:
        return _verdict("fail", "a share of a total divides by the total; the calculation divides the total")
    return None


CHECKS = {
    "change": check_difference,
    "difference": check_abs_difference,
    "percentage change": check_percentage_change,
    "average": check_average,
    "ratio": check_ratio,
}


def check_sign(expr: Expr, ctx: Context, question: Question, negative_inputs: bool) -> dict[str, Any]:
    """For a question with no checked form: a negative result from non-negative inputs, for a
    quantity that is not a change, loss or net figure, is a subtraction taken the wrong way; and
    each difference inside it must go the way its sign admits (`_finance_direction`)."""
    direction = check_directions(expr, question.text)
    if direction is not None:
        return direction
    value = evaluate(expr)
    if (
        value is not None
        and value < 0
        and not negative_inputs
        and not NEGATIVE_ADMITTED.search(question.text)
    ):
        return _verdict(
            "fail",
            "the calculation makes a negative number from non-negative inputs, for a quantity the question "
            "does not ask as a change, loss or net figure (a subtraction reversed?)",
        )
    return _verdict(
        "n/a", "the question asks for no checked form (change, percentage change, average, ratio)"
    )


def check_operation(
    form: str | None,
    expr: Expr,
    ctx: Context,
    question: Question,
    *,
    percent_answer: bool,
    negative_inputs: bool = False,
) -> dict[str, Any]:
    """The rule's verdict for the answer's expression under the question's form."""
    if form is None:
        return check_sign(expr, ctx, question, negative_inputs)
    if isinstance(unwrap(expr), Opaque):
        reason = unwrap(expr).reason  # type: ignore[union-attr]
        return _verdict(
            "fail",
            f"the question asks for a {form}; the calculation's structure ({reason}) cannot be checked",
        )
    check = CHECKS[form]
    if form == "change" and percent_answer:
        core = _strip_percent(expr, ctx)
        if (
            isinstance(core, Op)
            and core.op in ("/", "-")
            and (core.op == "/" or _constant(core.args[1], ctx) == 1)
        ):
            check = check_percentage_change
    failure = check(expr, ctx, question)
    if failure is not None:
        return failure
    return _verdict(
        "pass",
        f"the calculation has the form of a {form}{'' if check is CHECKS[form] else ' (as a percentage)'}",
    )
