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

The rule is split by job: `_finance_terms` (a calculation read as weighted terms over cells),
`_finance_difference` (the change and item-difference form) and this module (the other forms,
and the verdict for a question's form).
"""

from __future__ import annotations

import math
from typing import Any

from ponder.verifiers._calc_expr import Expr, Op, Opaque, evaluate, unwrap
from ponder.verifiers._finance_difference import check_difference
from ponder.verifiers._finance_direction import check_directions
from ponder.verifiers._finance_question import NEGATIVE_ADMITTED, Question, named_ratio, words_in
from ponder.verifiers._finance_terms import Context, constant, strip_percent, term_items, terms, verdict

__all__ = ["CHECKS", "Context", "check_difference", "check_operation", "check_sign"]
"""`_finance_rules` imports the context and the verdicts from here."""


def check_percentage_change(expr: Expr, ctx: Context, question: Question) -> dict[str, Any] | None:
    core = strip_percent(expr, ctx)
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
            return verdict("fail", f"a percentage change divides by the earlier value ({early})")
    if isinstance(core, Op) and core.op == "-" and constant(core.args[1], ctx) == 1:
        ratio = unwrap(core.args[0])
        if isinstance(ratio, Op) and ratio.op == "/":
            top, bottom = terms(ratio.args[0], ctx), terms(ratio.args[1], ctx)
            ordered = top and bottom and all(t.years for t in top + bottom)
            if ordered and max(max(t.years) for t in top) > max(max(t.years) for t in bottom):
                return None
    value = evaluate(core)
    if value is not None and abs(value) < 1e-12:
        return None
    return verdict(
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
        return verdict("fail", "the question asks for a difference; the calculation is not a subtraction")
    value = evaluate(expr)
    left, right = terms(core.args[0], ctx), terms(core.args[1], ctx)
    if not left or not right:
        return verdict("fail", "the question asks for the difference of two values; one side is a constant")
    if term_items(left) & term_items(right) and term_items(left) != term_items(right):
        return verdict("fail", "the two sides of the difference share a line item")
    if value is not None and value < -1e-12:
        return verdict(
            "fail",
            "the question asks for the difference between two values; the calculation makes it negative",
        )
    return None


def _abs_free(expr: Expr) -> Expr:
    return expr.args[0] if isinstance(expr, Op) and expr.op == "abs" else expr


def check_average(expr: Expr, ctx: Context, question: Question) -> dict[str, Any] | None:
    core = unwrap(expr)
    if isinstance(core, Op) and core.op == "mean" and len(core.args) >= 2:
        return _all_periods([t for a in core.args for t in terms(a, ctx)], question)
    ts = terms(core, ctx)
    if len(ts) >= 2:
        weights = [abs(t.weight) for t in ts]
        signs = {math.copysign(1.0, t.cell_weight) for t in ts}
        if all(math.isclose(w, weights[0], rel_tol=1e-9) for w in weights) and len(signs) == 1:
            counts = {len(ts), question.span, len(question.years)} - {0}
            units = (1.0, 100.0, 0.01, 1e3, 1e-3)  # percent cells as fractions, a scale converted
            if any(math.isclose(weights[0] * n * u, 1.0, rel_tol=1e-6) for n in counts for u in units):
                return _all_periods(ts, question)
    return verdict(
        "fail",
        "the question asks for an average; the calculation is not a sum of the values over their count",
    )


def _all_periods(ts: list[Any], question: Question) -> dict[str, Any] | None:
    """An average of the periods the question names ("from FY2021 to FY2023") takes each of them
    once: two of three years over two is an average, and so is a year counted twice over four,
    but neither is the one asked for. Counted by terms, since a literal equal to two cells may be
    read as either year."""
    if len(question.years) < 2 or len(ts) == len(question.years) or not all(t.years for t in ts):
        return None
    used = frozenset().union(*(t.years for t in ts))
    if not used <= question.years:
        return None  # other periods: grounding's to judge
    left_out = ", ".join(str(y) for y in sorted(question.years - used))
    if len(ts) < len(question.years) and left_out:
        detail = f"leaves out {left_out}"
    elif len(ts) > len(question.years):
        detail = f"takes {len(ts)} values, one period more than once"
    else:
        return None  # fewer terms that span every period: changes between them ("average annual change")
    return verdict("fail", f"the question averages {len(question.years)} periods; the calculation {detail}")


def check_ratio(expr: Expr, ctx: Context, question: Question) -> dict[str, Any] | None:
    core = strip_percent(expr, ctx)
    if not (isinstance(core, Op) and core.op == "/" and len(core.args) == 2):
        return verdict("fail", "the question asks for a ratio; the calculation is not a division")
    top, bottom = terms(core.args[0], ctx), terms(core.args[1], ctx)
    if not top or not bottom:
        return verdict("fail", "the question asks for a ratio of two items; one side is a constant")
    top_items = {i for t in top for i in t.items}
    bottom_items = {i for t in bottom for i in t.items}
    is_total = {i: "total" in ctx.label_words(i) for i in top_items | bottom_items}
    if any(is_total[i] for i in top_items) and not any(is_total[i] for i in bottom_items) and bottom_items:
        return verdict("fail", "a share of a total divides by the total; the calculation divides the total")
    return _named_order(question.text, top_items, bottom_items, ctx)


def _named_order(
    question: str, top: set[tuple[int, int]], bottom: set[tuple[int, int]], ctx: Context
) -> dict[str, Any] | None:
    """ "The ratio of A to B" (or "A as a percentage of B") divides A's cells by B's: a failure
    when the calculation's numerator reads as B and its denominator as A, by their labels' words."""
    named = named_ratio(question)
    if named is None or not top or not bottom:
        return None
    a, b = (set(words_in(n)) for n in (named.top, named.bottom))
    on_top = {w for i in top for w in ctx.label_words(i)}
    below = {w for i in bottom for w in ctx.label_words(i)}
    a_top, a_below, b_top, b_below = (len(x & y) for x in (a, b) for y in (on_top, below))
    if a_below > a_top and b_top > b_below:
        return verdict(
            "fail",
            f"the question asks for {named.top} over {named.bottom}; "
            "the calculation divides the second by the first",
        )
    return None


CHECKS = {
    "change": check_difference,
    "difference": check_abs_difference,
    "percentage change": check_percentage_change,
    "average": check_average,
    "ratio": check_ratio,
}


def check_sign(
    expr: Expr, ctx: Context, question: Question, negative_inputs: bool, executed: float | None = None
) -> dict[str, Any]:
    """For a question with no checked form: a negative result from non-negative inputs, for a
    quantity that is not a change, loss or net figure, is a subtraction taken the wrong way; and
    each difference inside it must go the way its sign admits (`_finance_direction`).

    A difference of sums over sequences (`sum(c / (1 + y) ** t ...) - ...`) has sides the
    expression cannot evaluate, so `_finance_direction` cannot read its sign; the result's sign
    is still known from the run (`executed`), and a reversed difference of that kind shows there."""
    direction = check_directions(expr, question.text)
    if direction is not None:
        return direction
    value = evaluate(expr)
    if value is None:
        value = executed
    if (
        value is not None
        and value < 0
        and not negative_inputs
        and not NEGATIVE_ADMITTED.search(question.text)
    ):
        return verdict(
            "fail",
            "the calculation makes a negative number from non-negative inputs, for a quantity the question "
            "does not ask as a change, loss or net figure (a subtraction reversed?)",
        )
    return verdict(
        "n/a", "the question asks for no checked form (change, difference, percentage change, average, ratio)"
    )


def check_operation(
    form: str | None,
    expr: Expr,
    ctx: Context,
    question: Question,
    *,
    percent_answer: bool,
    negative_inputs: bool = False,
    executed: float | None = None,
) -> dict[str, Any]:
    """The rule's verdict for the answer's expression under the question's form."""
    if form is None:
        return check_sign(expr, ctx, question, negative_inputs, executed)
    if isinstance(unwrap(expr), Opaque):
        reason = unwrap(expr).reason  # type: ignore[union-attr]
        return verdict(
            "fail",
            f"the question asks for a {form}; the calculation's structure ({reason}) cannot be checked",
        )
    check = CHECKS[form]
    if form == "change" and percent_answer:
        core = strip_percent(expr, ctx)
        if (
            isinstance(core, Op)
            and core.op in ("/", "-")
            and (core.op == "/" or constant(core.args[1], ctx) == 1)
        ):
            check = check_percentage_change
    failure = check(expr, ctx, question)
    if failure is not None:
        return failure
    return verdict(
        "pass",
        f"the calculation has the form of a {form}{'' if check is CHECKS[form] else ' (as a percentage)'}",
    )
