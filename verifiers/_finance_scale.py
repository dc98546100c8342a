"""Rule 4, scale: the answer is stated in the unit its calculation produced.

The right digits in the wrong unit are a wrong answer ("2,140 billion" for 2,140 million; "0.53"
or a bare "52.7" when the question asks for a percentage). The rule compares the answer's
stated scale with what the calculation is:

- a percentage (the question asks for one, or the operands are percentages combined linearly)
  must carry a percent sign; a bare number is not an answer to a percentage question;
- a ratio (a division by a non-constant) is a bare number or a percentage, never "million";
- an amount is in the tables' scale (from the header, caption or text; a bare number means that
  scale), or in another scale when it is the same amount (2.14 billion = 2,140 million); when
  the tables state no scale, a stated scale must at least be one the inputs mention.
"""

from __future__ import annotations

import re
from typing import Any

from ponder.verifiers._calc_expr import Expr, Op, unwrap
from ponder.verifiers._numbers import SCALES, Amount

_AMOUNT_SCALES = ("thousand", "million", "billion")
_SCALE_MENTION = {
    "thousand": re.compile(r"thousand|'000|\b000s\b|\$\s?000", re.I),
    "million": re.compile(r"million|\bmn\b|\$m\b|€m\b|£m\b|\bm\b", re.I),
    "billion": re.compile(r"billion|\bbn\b|\$b\b", re.I),
}


def _verdict(status: str, detail: str) -> dict[str, Any]:
    return {"rule": "scale", "status": status, "detail": detail}


def is_ratio(expr: Expr, is_constant_expr: Any) -> bool:
    """A division by something other than a constant (x100 for a percentage looked through)."""
    core = unwrap(expr)
    if isinstance(core, Op) and core.op == "*":
        core = next((unwrap(a) for a in core.args if not is_constant_expr(a)), core)
    if isinstance(core, Op) and core.op == "-" and core.args and is_constant_expr(core.args[1]):
        core = unwrap(core.args[0])
    return isinstance(core, Op) and core.op == "/" and not is_constant_expr(core.args[1])


def check_scale(
    answer: Amount,
    *,
    asks_percent: bool,
    percent_operands: bool,
    ratio: bool,
    hint: str | None,
    same_amount_as: float | None,
    texts: list[str],
    converted: bool = False,
    percent_scaled: bool = False,
) -> dict[str, Any]:
    """The rule's verdict.

    Args:
        answer: The stated answer, its scale as written ("" when no unit is written).
        asks_percent: The question asks for a percentage.
        percent_operands: The operands are percentages combined linearly (a difference or
            average of rates), so the result is a percentage too.
        ratio: The calculation divides by a non-constant.
        hint: The tables' scale: a scale name, "" for plain units, None when unknown.
        same_amount_as: The traced value in the tables' scale, to accept another scale only
            for the same amount.
        texts: Headers, captions and paragraphs, where an unknown table scale may be stated.
        converted: The calculation itself multiplies or divides by a scale factor at the end, so
            its result is no longer in the tables' scale (`103 * 1000` is 103,000 thousand).
        percent_scaled: The calculation multiplies a ratio by 100 at the end: its result is a
            percentage, and 8.22 without % reads as a ratio a hundred times too large.
    """
    stated = answer.scale
    if stated == "percent":
        if asks_percent or percent_operands or ratio:
            return _verdict("pass", "a percentage, as the calculation produces")
        return _verdict("fail", "the answer is a percentage but the calculation is an amount")
    if asks_percent or percent_operands or percent_scaled:
        what = "a bare number" if not stated else f"an amount in {stated}"
        return _verdict("fail", f"{what} for a percentage: state it with %")
    if ratio:
        if stated in _AMOUNT_SCALES:
            return _verdict("fail", f"a ratio stated in {stated}")
        return _verdict("pass", "a ratio, stated as a number")
    if converted and hint in _AMOUNT_SCALES and stated in ("", hint):
        return _verdict(
            "fail",
            f"the calculation converts the tables' {hint} by a scale factor, so its result is not in "
            f"{hint}: state the scale it converts to",
        )
    if not stated:
        where = f"in {hint}, the tables' scale" if hint else "in the tables' units"
        return _verdict("pass", f"a bare amount, read {where}")
    if hint in _AMOUNT_SCALES:
        if stated == hint:
            return _verdict("pass", f"in {stated}, the tables' scale")
        if same_amount_as is not None and abs(answer.units - same_amount_as * SCALES[hint]) <= max(
            1e-9, 0.005 * abs(answer.units)
        ):
            return _verdict("pass", f"in {stated}: the same amount as {same_amount_as:g} {hint}")
        return _verdict("fail", f"the answer is in {stated} but the tables are in {hint}")
    if hint == "":
        return _verdict("fail", f"the answer is in {stated} but the tables are in plain units")
    if any(_SCALE_MENTION[stated].search(t) for t in texts if stated in _SCALE_MENTION):
        return _verdict("pass", f"in {stated}, a scale the inputs state")
    return _verdict("fail", f"the answer is in {stated} but the inputs state no scale")
