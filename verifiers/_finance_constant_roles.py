"""Rule 1 for documented constants: each is traced only in the role that documents it.

Provenance lets a calculation use numbers no input states: 1 for growth factors and wholes, 2
for halves and semiannual periods, 12 months, 365 days... Read as "any of these, anywhere", they
are a hostile candidate's free parameters: `371 - 268 + 1`, `(371 - 268) * 2` or `1000 * 0.05 * 12`
each traced every operand and came out VERIFIED with a number no analyst would sign. So a
constant passes only where its role shows:

- 1 is a factor or divisor that changes nothing, a numerator (1 / x), an exponent, or a whole
  beside a rate: `1 + r`, `1 - t`, `B / A - 1` (the other side a ratio, a percent as a fraction,
  or built only from such); beside an amount (`103 + 1`) it is a fudge;
- 2 and 0.5 are exponents of a growth factor (`(1 + r) ** 2`, a second period), or where the
  inputs speak of variance, deviation or two periods (squares, square roots); or halves and
  doublings where they speak of half-years ("semiannual", "twice a year", "six months"),
  convexity, durations or basis points;
- 4, 12, 52 and 360/365/252 convert between years and quarters, months, weeks or days where the
  inputs name that period.

An average's count and a question's span are counts, not constants, and were traced as such
before this rule; 0, 100, 10,000 and the scale factors are judged by the operation and scale
rules (a percentage's x 100, a conversion's unit).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping

from ponder.verifiers._calc_expr import Expr, Op, Opaque, Operand, evaluate, unwrap
from ponder.verifiers._finance_provenance import Trace

_PERIOD_WORDS: dict[float, tuple[str, re.Pattern[str]]] = {
    4.0: ("quarters", re.compile(r"\bquarter", re.I)),
    12.0: ("months", re.compile(r"\bmonth", re.I)),
    52.0: ("weeks", re.compile(r"\bweek", re.I)),
}
"""A time constant's period, and the words by which the inputs name it."""
_HALF_YEAR = re.compile(
    r"\bsemi[- ]?annual|\bhalf[- ]?(?:a[- ])?year|\bsix[- ]months?\b|\b6[- ]months?\b|\btwice\b|\bbi-?annual"
    r"|\bhalf\b|\bmid[- ]?year\b|\bsemester|\bconvexity|\bduration|\bbasis[- ]points?\b|\bbps\b",
    re.I,
)
"""Inputs under which a calculation may halve or double: semiannual coupons and compounding, the
half of a convexity adjustment, the two shifts of a central difference (effective duration, the
price value of a basis point)."""
_SQUARED = re.compile(
    r"\bvarian|\bdeviation|\bvolatil|\bsquare|\broot\b|\bsigma\b|\bcovarian|\bcorrelat|\br-squared"
    r"|\btwo\b|\b2[- ]year|\bsharpe|\brisk\b",
    re.I,
)
"""Inputs under which a calculation may square or take a square root (risk measures, two periods)."""
_DAYS = re.compile(
    r"\bday|\bdaily\b|\bmonth|\bquarter|\d+\s*/\s*36[05]\b|\bcollection\s+period|\bturnover|\breceivable"
    r"|\bpayable|\binventor",
    re.I,
)
"""A day count's inputs: days, or periods counted in days (months and quarters under 30/360,
collection and payment periods, turnover in days)."""


def misused_constants(expr: Expr, traces: Mapping[int, Trace], inputs_text: str) -> dict[int, Trace]:
    """Operands (by id) traced as constants that play no documented role here, each with its
    untraced reason; empty when every constant is where it belongs."""
    out: dict[int, Trace] = {}
    for operand, parent, index, exponent in _placed(expr, None, 0, False):
        trace = traces.get(id(operand))
        if trace is None or trace.kind != "constant" or operand.value is None:
            continue
        why = _misuse(abs(operand.value), parent, index, exponent, traces, inputs_text)
        if why:
            out[id(operand)] = Trace("untraced", f"untraced operand {operand.value:g} ({why})")
    return out


def _placed(
    node: Expr, parent: Op | None, index: int, exponent: bool
) -> Iterator[tuple[Operand, Op | None, int, bool]]:
    """Every operand with its parent operation, its place among the parent's arguments and
    whether it sits in an exponent."""
    if isinstance(node, Operand):
        yield node, parent, index, exponent
    elif isinstance(node, Op):
        for i, arg in enumerate(node.args):
            yield from _placed(arg, node, i, exponent or (node.op == "**" and i == 1))
    elif isinstance(node, Opaque):
        for part in node.parts:
            yield from _placed(part, None, 0, exponent)


def _misuse(
    value: float, parent: Op | None, index: int, exponent: bool, traces: Mapping[int, Trace], text: str
) -> str | None:
    if exponent and (math.isclose(value, 2.0) or math.isclose(value, 0.5)):
        if _SQUARED.search(text) or _HALF_YEAR.search(text):
            return None
        if parent is not None and _growth(parent.args[0], traces):
            return None  # (1 + r) ** 2: a rate compounded, or a second period discounted
        return "a square or a square root where the inputs name no variance, deviation or two periods"
    if exponent or parent is None:
        return None
    op = parent.op
    if math.isclose(value, 1.0):
        if op in ("*", "/", "//", "round", "max", "min", "abs") or (op == "/" and index == 0):
            return None
        if op in ("+", "-") and len(parent.args) == 2:
            other = parent.args[1 - index]
            if _rate_like(other, traces) or _count(other, traces):
                return None  # 1 + r, B / A - 1; n - 1 (a sample variance), n + 1 periods
            amount = evaluate(other)
            shown = f" {amount:g}" if amount is not None else ""
            return f"1 is a whole beside a rate (1 + r, B / A - 1); here it is added to the amount{shown}"
        return None
    if math.isclose(value, 2.0) or math.isclose(value, 0.5):
        if _HALF_YEAR.search(text) or _SQUARED.search(text):
            return None  # also 2 w1 w2 s1 s2 rho, a portfolio variance's cross term
        if op in ("*", "/", "//"):
            return "a half or a doubling where the inputs name no half-year (semiannual, six months)"
        return None
    words = {**_PERIOD_WORDS, **{d: ("days", _DAYS) for d in (360.0, 365.0, 252.0)}}
    period = next((p for c, p in words.items() if math.isclose(value, c)), None)
    if period is not None and op in ("*", "/", "//") and not period[1].search(text):
        return f"a conversion into {period[0]}, which the inputs do not mention"
    return None


def _count(expr: Expr, traces: Mapping[int, Trace]) -> bool:
    """A count of values (`len(xs)`), which 1 may be taken from or added to."""
    trace = traces.get(id(unwrap(expr)))
    return trace is not None and trace.kind == "count"


def _growth(expr: Expr, traces: Mapping[int, Trace]) -> bool:
    """A growth factor: 1 + r, or a stated rate written as one (3.7% as 1.037)."""
    expr = unwrap(expr)
    if isinstance(expr, Op):
        return expr.op in ("+", "-") and _rate_like(expr, traces)
    trace = traces.get(id(expr))
    return trace is not None and "growth" in trace.how.lower()


def _rate_like(expr: Expr, traces: Mapping[int, Trace]) -> bool:
    """A ratio, a percent or fraction, or built only from such (and constants): what 1 is the
    whole of. An amount (a cell of millions, a price) is not."""
    expr = unwrap(expr)
    if isinstance(expr, Operand):
        trace = traces.get(id(expr))
        if trace is None or expr.value is None:
            return False
        if trace.kind in ("constant", "count"):
            return abs(expr.value) <= 1  # 0.5, 1; a scale factor (1,000) or a count is no rate
        how = trace.how.lower()
        return abs(expr.value) < 1 or "percent" in how or "fraction" in how or "basis" in how
    if isinstance(expr, Op):
        if expr.op == "/":
            return True
        if expr.op == "**":
            return _rate_like(expr.args[0], traces)
        return all(_rate_like(a, traces) for a in expr.args)
    return False
