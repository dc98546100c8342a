"""Rule 3 for a question answered from its own text: the calculation has the form it asks for.

Where the calculation reads table cells, `_finance_operation` checks the question's form by the
cells' periods and line items. A word problem ("Revenue rose from $12,000 to $15,000. What was
the change?") has no cells, and before this module only the sign of its differences was read,
so `15000 + 12000` passed as a change and `(15000 - 12000) / 15000` as a percentage change.

Here the structure is checked alone, without periods: a change is a subtraction, and so is a
difference ("how much more did A earn than B?", "the difference between..."), a percentage
change divides a difference by the value it subtracts (or is a ratio less 1), an average is a sum
over its count, a ratio is a division ("the ratio of debt to equity": the debt over the equity,
where the question states each right after its name). The direction stays the sign rule's
(`_finance_direction`).

A word problem uses these words for its inputs as often as for its answer ("a dividend growth
rate of 10%... what is the share's value?"), and its "growth rate" or "effect of this change" may
be a formula's result (Gordon growth, duration and convexity), so a calculation is held to a
form only where the question leaves no doubt: the form is named in the sentence that asks (the
last one with "what", "how much", "calculate"...), a change or percentage change has its two
ends stated ("from $12,000 ... to $15,000"), and the calculation combines two to four stated
numbers. Elsewhere the other rules decide, as before.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from ponder.verifiers._calc_expr import Expr, Op, Opaque, evaluate, operands, unwrap
from ponder.verifiers._finance_provenance import averaged_count
from ponder.verifiers._finance_question import asking_sentence, named_ratio
from ponder.verifiers._finance_terms import Context, constant, strip_percent, verdict
from ponder.verifiers._numbers import numbers_in

MAX_INPUTS = 4
"""A calculation over more stated numbers than this is a formula, not the question's form."""
_NUM = r"[-−]?[$€£¥]?\s*\d[\d,]*(?:\.\d+)?\s*(?:%|percent|million|billion|thousand)?"
_ENDS = re.compile(rf"\bfrom\s+(?:\S+\s+){{0,3}}?({_NUM}).{{0,80}}?\bto\s+(?:\S+\s+){{0,3}}?({_NUM})", re.I)
"""A change's two ends stated: "from $12,000 in 2022 to $15,000", "from 4.5% to 5.2%"."""


def asked_form(question: str, form_of: Callable[[str], str | None]) -> str | None:
    """The form the asking sentence names (`form_of` reads one), where a change states its ends."""
    form = form_of(asking_sentence(question))
    if form in ("change", "percentage change") and not _ENDS.search(question):
        return None
    return form if form in ("average", "change", "difference", "percentage change", "ratio") else None


def check_text_form(
    form: str, expr: Expr, ctx: Context, question: str, question_span: int, *, percent_answer: bool
) -> dict[str, Any] | None:
    """The verdict on a simple calculation over stated numbers under the question's form; None
    when the calculation is not simple enough to be held to it."""
    inputs = {o.value for o in operands(expr) if not ctx.is_constant(o)}
    if not 2 <= len(inputs) <= MAX_INPUTS:
        return None
    if isinstance(unwrap(expr), Opaque):
        return verdict(
            "fail", f"the question asks for a {form}; the calculation's structure cannot be checked"
        )
    core = strip_percent(expr, ctx)
    if form == "change" and percent_answer and isinstance(core, Op) and core.op == "/":
        form = "percentage change"
    checks: dict[str, Callable[[Expr], str | None]] = {
        "change": lambda e: _subtraction(e, "a change"),
        "difference": lambda e: _subtraction(e, "a difference"),
        "percentage change": lambda e: _percentage_change(e, ctx),
        "average": lambda e: _average(e, ctx, question_span),
        "ratio": lambda e: _division(e) or _ratio_order(e, question),
    }
    failure = checks[form](core)
    if failure:
        return verdict("fail", failure)
    order = _from_to(form, core, question, ctx)
    if order is False:
        return verdict("fail", "a change from one stated value to another is the second less the first")
    # `ordered`: the stated ends confirm the direction, so a negative change (a fall) needs no sign rule
    return verdict("pass", f"the calculation has the form of a {form}", ordered=order is True)


def _from_to(form: str, core: Expr, question: str, ctx: Context) -> bool | None:
    """A change from A to B is B − A (and its percentage (B − A) / A or B / A − 1). True when the
    compared sides are B and A, the stated ends (in either scale: 4.5% as 4.5 or 0.045); False
    when they are A and B; None when they are not the ends (the sign rule then judges the
    direction)."""
    ends = _ENDS.search(question)
    if form not in ("change", "percentage change") or ends is None:
        return None
    compared = _compared(form, core, ctx)
    if compared is None:
        return None
    start, end = (_stated(ends.group(k)) for k in (1, 2))
    left, right = (evaluate(a) for a in compared)
    if start is None or end is None or left is None or right is None or _same(start, end):
        return None
    if _same(left, end) and _same(right, start):
        return True
    if _same(left, start) and _same(right, end):
        return False
    return None


def _compared(form: str, core: Expr, ctx: Context) -> tuple[Expr, Expr] | None:
    """The later and earlier sides as the calculation puts them: B and A of B − A, of (B − A) / A,
    and of the ratio forms B / A − 1 and B / A x 100 − 100."""
    if not isinstance(core, Op) or len(core.args) != 2:
        return None
    ratio = _ratio_less_whole(core, ctx) if form == "percentage change" else None
    if ratio is not None and len(ratio.args) == 2:
        return ratio.args[0], ratio.args[1]
    difference = unwrap(core.args[0]) if form == "percentage change" else core
    if isinstance(difference, Op) and difference.op == "-" and len(difference.args) == 2:
        return difference.args[0], difference.args[1]
    return None


def _stated(text: str) -> float | None:
    numbers = numbers_in(text)
    return numbers[0] if numbers else None


def _same(value: float, stated: float) -> bool:
    return any(math.isclose(abs(value), abs(stated) * k, rel_tol=1e-9) for k in (1.0, 0.01))


def _subtraction(core: Expr, what: str) -> str | None:
    if isinstance(core, Op) and core.op == "abs":
        core = unwrap(core.args[0])
    if isinstance(core, Op) and core.op == "-" and len(core.args) == 2:
        return None
    return f"the question asks for {what}; the calculation is not a subtraction ({_op_name(core)})"


def _percentage_change(core: Expr, ctx: Context) -> str | None:
    """(B − A) / A, or B / A − 1: the base is the value the difference starts from."""
    if isinstance(core, Op) and core.op == "/" and len(core.args) == 2:
        numerator, base = unwrap(core.args[0]), unwrap(core.args[1])
        if isinstance(numerator, Op) and numerator.op == "-" and len(numerator.args) == 2:
            start, base_value = evaluate(numerator.args[1]), evaluate(base)
            if start is not None and base_value is not None and math.isclose(start, base_value, rel_tol=1e-9):
                return None
            return "a percentage change divides the difference by the value it starts from, not another"
    if _ratio_less_whole(core, ctx) is not None:
        return None  # B / A - 1, or B / A x 100 - 100
    return (
        "the question asks for a percentage change, (later − earlier) / earlier; the calculation is not one"
    )


def _ratio_less_whole(core: Expr, ctx: Context) -> Op | None:
    """The ratio B / A of a growth written B / A − 1 (or B / A x 100 − 100), else None."""
    if not (isinstance(core, Op) and core.op == "-" and len(core.args) == 2):
        return None
    whole = constant(core.args[1], ctx)
    if whole not in (1, 100):
        return None
    ratio = unwrap(core.args[0]) if whole == 1 else strip_percent(core.args[0], ctx)
    return ratio if isinstance(ratio, Op) and ratio.op == "/" else None


def _average(core: Expr, ctx: Context, span: int) -> str | None:
    if isinstance(core, Op) and core.op == "mean" and len(core.args) >= 2:
        return None
    if isinstance(core, Op) and core.op == "/" and len(core.args) == 2:
        count = constant(core.args[1], ctx)
        summed = averaged_count(unwrap(core.args[0]))
        if count is not None and summed >= 2 and any(math.isclose(count, n) for n in {summed, span} - {0}):
            return None
    return "the question asks for an average; the calculation is not a sum of the values over their count"


def _division(core: Expr) -> str | None:
    if isinstance(core, Op) and core.op == "/" and len(core.args) == 2:
        return None
    return f"the question asks for a ratio; the calculation is not a division ({_op_name(core)})"


def _ratio_order(core: Expr, question: str) -> str | None:
    """ "The ratio of A to B" is A / B, where the question states A and B right after their names
    ("debt of $400 and equity of $800"); unchecked where it does not."""
    named = named_ratio(question)
    if named is None or not isinstance(core, Op):
        return None
    top, bottom = (_value_after(name, question[: named.start]) for name in (named.top, named.bottom))
    num, den = (evaluate(a) for a in core.args)
    if None in (top, bottom, num, den) or _same(top or 0.0, bottom or 0.0):
        return None
    if _same(num or 0.0, bottom or 0.0) and _same(den or 0.0, top or 0.0):
        return (
            f"the ratio of {named.top} to {named.bottom} divides the first by the second; "
            "the calculation divides the second by the first"
        )
    return None


def _value_after(name: str, text: str) -> float | None:
    """The number stated right after `name` in `text` ("equity of $800"), if exactly one is."""
    found = re.findall(rf"\b{re.escape(name.strip())}\s+(?:of|was|is|at|were|are|:)?\s*({_NUM})", text, re.I)
    return _stated(found[0]) if len(found) == 1 else None


def _op_name(core: Expr) -> str:
    names = {"+": "a sum", "*": "a product", "/": "a division", "-": "a subtraction"}
    return names.get(core.op, core.op) if isinstance(core, Op) else "a single value"
