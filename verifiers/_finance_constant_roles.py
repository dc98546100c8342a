"""Rule 1 for documented constants and counts: each is traced only in the role that documents it.

Provenance lets a calculation use numbers no input states: 1 for growth factors and wholes, 2
for halves and semiannual periods, 12 months, 365 days, 100 for percentages, z-values...
Read as "any of these, anywhere", they are a hostile candidate's free parameters:
`371 - 268 + 1`, `(371 - 268) * 2` or `1000 * 0.05 * 12` each traced every operand and came
out VERIFIED with a number no analyst would sign. So a constant passes only where its role shows:

- 1 is a factor or divisor that changes nothing, a numerator (1 / x), an exponent, or a whole
  beside a rate: `1 + r`, `1 - t`, `B / A - 1` (the other side a ratio, a percent, or built only
  from such), or beside a count (`n - 1`); beside an amount (`103 + 1`) it is a fudge;
- 2 and 0.5 are exponents of a growth factor (`(1 + r) ** 2`, a second period), or where the
  inputs speak of variance, deviation or two periods (squares, square roots); or halves and
  doublings where they speak of half-years ("semiannual", "twice a year", "six months"),
  convexity, durations or basis points;
- 4, 12, 52 and 360/365/252 convert between years and quarters, months, weeks or days where the
  inputs name that period; as the result's last step, x 12 (4, 52) needs a question that asks
  for a year's figure and / 12 one that asks for a month's (a quarter's, a week's);
- 100 and 10,000 turn a ratio into a percentage or basis points, or a stated percentage into a
  fraction: the other side is a rate; `103 / 100` of an amount is no conversion;
- z-values stand where the inputs speak of confidence or value at risk, e where they compound
  continuously, pi where they speak of a normal distribution.

A second use at the result's last step is held too. A constant applied to the result that the
calculation already used inside (`r / 12` then `pv * 12`; a convexity's `0.5` then `/ 2`) is a
second conversion of one period, refused; and a small number the question states (1, 2, 0.5, 4, 12,
52: "Year 2", "a 1-day VaR") applied to the result is that input only where the calculation uses
it nowhere else and does not add it: used once inside and again on the result, or added to it,
it is held to the constant's roles above. A question's own numbers are accepted anywhere else,
so this is what stops `price * 2` where "2 years" was the exponent. On FinanceMath dev it left
the gold programs' coverage where it was and cut the traced fudges that verify from 59 of 429
to 19 (2026-12-08). The cost is a true second use at the end: an annual figure summed from
monthly ones computed with `r / 12` (`payment * 12`) is UNVERIFIED, not guessed at.

A count of values (`len(xs)`, or an average's 2) divides, multiplies or is taken 1 from; added to
an amount it is a constant in disguise (`+ len([1])`), and a result that is a sum over its count
answers only a question that asks for an average. An average's count and a question's span were traced as
counts before this rule; the scale factors (1,000...) are the scale rule's (a conversion's unit).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace

from ponder.verifiers._calc_expr import Expr, Op, Opaque, Operand, evaluate, unwrap
from ponder.verifiers._finance_provenance import Trace
from ponder.verifiers._finance_question import asking_sentence

CellRef = tuple[int, int, int]
_PERIOD_WORDS: dict[float, tuple[str, re.Pattern[str]]] = {
    4.0: ("quarters", re.compile(r"\bquarter", re.I)),
    12.0: ("months", re.compile(r"\bmonth", re.I)),
    52.0: ("weeks", re.compile(r"\bweek", re.I)),
}
"""A time constant's period, and the words by which the inputs name it."""
_DAYS = re.compile(
    r"\bday|\bdaily\b|\bmonth|\bquarter|\d+\s*/\s*36[05]\b|\bcollection\s+period|\bturnover|\breceivable"
    r"|\bpayable|\binventor",
    re.I,
)
"""A day count's inputs: days, or periods counted in days (months and quarters under 30/360,
collection and payment periods, turnover in days)."""
_HALVES = (
    r"\bsemi[- ]?annual|\bhalf[- ]?(?:a[- ])?year|\bsix[- ]months?\b|\b6[- ]months?\b|\btwice\b|\bbi-?annual"
    r"|\bhalf\b|\bbasis[- ]points?\b|\bbps\b"
)
"""Words for half-years, halves and a basis point's two shifts: `_HALF_YEAR` and `_HALF_ROOT` share them."""
_HALF_YEAR = re.compile(_HALVES + r"|\bmid[- ]?year\b|\bsemester|\bconvexity|\bduration", re.I)
"""Inputs under which a calculation may halve or double: semiannual coupons and compounding, the
half of a convexity adjustment, the two shifts of a central difference (effective duration, the
price value of a basis point)."""
_SQUARED = re.compile(
    r"\bvarian|\bdeviation|\bvolatil|\bsquare|\broot\b|\bsigma\b|\bcovarian|\bcorrelat|\br-squared"
    r"|\btwo\b|\b2[- ]year|\bsharpe|\brisk\b",
    re.I,
)
"""Inputs under which a calculation may square, take a square root or double inside its
formula (risk measures, two periods, a variance's cross term); the result itself is held to
`_HALF_ROOT`."""
_HALF_ROOT = re.compile(_HALVES + r"|\bdouble", re.I)
"""The words under which the result itself may be halved or doubled (its last operation): a
semiannual payment, half of something the question names, a basis point's two shifts."""
_AVERAGE = re.compile(r"\baverage|\bmean\b|\bmidpoint|\bmid-point", re.I)
"""A question whose answer may be a sum over its count."""
_YEARLY = re.compile(r"\bannual|\byear|\bper\s+annum\b|\byearly\b|\bp\.a\.", re.I)
_FACTOR = re.compile(r"\bfactor\b|\bgross\b|\bwealth\s+relative|\b1\s*\+|\bone\s+plus\b", re.I)
"""A question that asks for a growth factor, where 1 added to a rate is the answer's last step."""
_Z = re.compile(
    r"\bconfiden|\bvalue[- ]at[- ]risk|\bVaR\b|\bz[- ]?(?:score|value|statistic)|\bstandard\s+normal"
    r"|\bsignifican|\b(?:one|two)[- ]tailed|\bpercentile|\binterval|\bprobabilit|\bshortfall",
    re.I,
)
_SPECIAL: dict[float, tuple[str, re.Pattern[str]]] = {
    math.e: ("e, for continuous compounding", re.compile(r"\bcontinuous|\bexponential|\blog", re.I)),
    math.pi: ("pi, for a normal density", re.compile(r"\bnormal|\bdensity|\bdistribut", re.I)),
}
_TIME_CONSTANTS = {**_PERIOD_WORDS, **{d: ("days", _DAYS) for d in (360.0, 365.0, 252.0)}}
"""Every time constant with its period and the words that name it."""
_Z_VALUES = (1.645, 1.65, 1.96, 2.326, 2.33, 2.576, 2.58)
_PERCENT_FACTORS = (100.0, 10000.0)


@dataclass(frozen=True, slots=True)
class _Place:
    """Where an operand sits: its parent operation, its index there, whether in an exponent."""

    operand: Operand
    parent: Op | None
    index: int
    exponent: bool
    at_root: bool = False
    """The parent is the calculation's last operation (under a presentation wrapper)."""


@dataclass(frozen=True, slots=True)
class _Inputs:
    traces: Mapping[int, Trace]
    text: str
    percent_cells: frozenset[CellRef]
    question: str = ""
    has_rate: bool = False
    """The calculation divides by a non-constant or uses a percent somewhere: it has a ratio or
    a rate for 100 to scale (`(b - a) * 100 / a` as well as `(b - a) / a * 100`)."""


def misused_constants(
    expr: Expr,
    traces: Mapping[int, Trace],
    inputs_text: str,
    percent_cells: set[CellRef] | None = None,
    stated: set[float] | None = None,
    *,
    question: str = "",
    stated_text: str = "",
) -> dict[int, Trace]:
    """Operands (by id) traced as constants or counts that play no documented role here, each
    with its untraced reason; empty when every one is where it belongs.

    Args:
        inputs_text: the question and the tables' words, which may justify a constant.
        percent_cells: the cells that state rates (a 100 may turn them into fractions).
        stated: the numbers the question and text state; a constant of 100 or more that one of
            them states is that input (10,000 units is no basis-point factor).
        question: the question alone, which must justify the result's own last step.
        stated_text: the question and paragraphs, where a small number a paragraph states
            counts as an input only with its unit ("2 years", not "Note 2").
    """
    inputs = _Inputs(traces, inputs_text, frozenset(percent_cells or ()), question)
    inputs = replace(inputs, has_rate=_has_rate(expr, inputs))
    out: dict[int, Trace] = {}
    places = list(_placed(expr, None, 0, False, unwrap(expr)))
    for place in places:
        trace = traces.get(id(place.operand))
        value = place.operand.value
        if trace is None or value is None or place.parent is None:
            continue
        small = any(math.isclose(abs(value), c) for c in _SMALL)
        again = place.at_root and _used_elsewhere(place, places)
        if trace.kind == "constant":
            if abs(value) >= 100 and any(math.isclose(abs(value), v, rel_tol=1e-9) for v in stated or ()):
                continue  # "10,000 units": the stated number, read first as the constant it equals
            if trace.cells and not place.at_root:
                continue  # a cell states it ("Price/FFO | 12x"); only the result's last step is held
            why = _constant_misuse(abs(value), place, inputs) or (_reapplied(place) if again else None)
        elif trace.kind == "text" and small and trace.how == "as written":
            if _counted(abs(value), stated_text):
                continue  # "2 years", "12 months": an input with its unit, not a bare 2
            why = _constant_misuse(abs(value), place, inputs)
        elif trace.kind == "count":
            why = _count_misuse(place, inputs)
        elif (
            trace.kind == "question" and small and place.at_root and (again or place.parent.op in ("+", "-"))
        ):
            why = _constant_misuse(abs(value), place, inputs)  # "Year 2" reused on the result
        else:
            continue
        if why:
            out[id(place.operand)] = Trace("untraced", f"untraced operand {value:g} ({why})")
    return out


def _placed(node: Expr, parent: Op | None, index: int, exponent: bool, root: Expr) -> Iterator[_Place]:
    """Every operand under `node` with its place; `root` is the calculation's last operation."""
    if isinstance(node, Operand):
        yield _Place(node, parent, index, exponent, parent is root)
    elif isinstance(node, Op):
        for i, arg in enumerate(node.args):
            yield from _placed(arg, node, i, exponent or (node.op == "**" and i == 1), root)
    elif isinstance(node, Opaque):
        for part in node.parts:
            yield from _placed(part, None, 0, exponent, root)


def _used_elsewhere(place: _Place, places: list[_Place]) -> bool:
    """Whether another operand of the calculation has the same value."""
    value = place.operand.value
    return value is not None and any(
        p.operand is not place.operand
        and p.operand.value is not None
        and math.isclose(p.operand.value, value)
        for p in places
    )


def _reapplied(place: _Place) -> str | None:
    """A period or half constant the calculation used inside, applied again to its result."""
    assert place.parent is not None
    value = abs(place.operand.value or 0.0)
    if place.parent.op not in ("*", "/") or not any(math.isclose(value, c) for c in _REAPPLIED):
        return None
    return f"{value:g} is used inside the calculation and again on its result: a second conversion"


_REAPPLIED = (2.0, 0.5, 4.0, 12.0, 52.0)
"""Constants whose second use on the result converts one period twice (halves, quarters, months, weeks)."""


def _siblings(place: _Place) -> list[Expr]:
    assert place.parent is not None
    return [a for i, a in enumerate(place.parent.args) if i != place.index]


def _constant_misuse(value: float, place: _Place, inputs: _Inputs) -> str | None:
    assert place.parent is not None
    op, text = place.parent.op, inputs.text
    scales = op in ("*", "/", "//")
    if place.exponent:
        if not (math.isclose(value, 2.0) or math.isclose(value, 0.5)):
            return None
        if _SQUARED.search(text) or _HALF_YEAR.search(text) or _growth(place.parent.args[0], inputs):
            return None  # a variance, a volatility's root; (1 + r) ** 2, a second period discounted
        return "a square or a square root where the inputs name no variance, deviation or two periods"
    if math.isclose(value, 1.0):
        if place.at_root and op == "+" and not _FACTOR.search(text):
            return "1 added to the result: the question asks for no growth factor (1 + r)"
        if op in ("+", "-", "sum"):
            others = _siblings(place)
            if all(_rate_like(o, inputs) or _count(o, inputs) for o in others):
                return None  # 1 + r, B / A - 1; n - 1 (a sample variance), n + 1 periods
            amount = evaluate(others[0]) if len(others) == 1 else None
            shown = f" {amount:g}" if amount is not None else ""
            return f"1 is a whole beside a rate (1 + r, B / A - 1); here it is added to the amount{shown}"
        return None
    if math.isclose(value, 2.0) or math.isclose(value, 0.5):
        if scales and place.at_root and not _HALF_ROOT.search(inputs.question):
            return "the result halved or doubled where the question names no half-year or half"
        if scales and not (_HALF_YEAR.search(text) or _SQUARED.search(text)):
            return "a half or a doubling where the inputs name no half-year (semiannual, six months)"
        return None  # also 2 w1 w2 s1 s2 rho, a portfolio variance's cross term
    if scales and any(math.isclose(value, p) for p in _PERCENT_FACTORS):
        if inputs.has_rate or (op == "/" and place.index == 0):
            return None
        what = "a percentage" if math.isclose(value, 100.0) else "basis points"
        return f"turns a ratio into {what} or back; here it scales an amount"
    if scales and any(math.isclose(value, z) for z in _Z_VALUES) and not _Z.search(text):
        return "a z-value where the inputs name no confidence level or value at risk"
    special = next((s for c, s in _SPECIAL.items() if math.isclose(value, c)), None)
    if special is not None and not special[1].search(text):
        return f"{special[0]}, which the inputs do not call for"
    period = next((p for c, p in _TIME_CONSTANTS.items() if math.isclose(value, c)), None)
    if period is not None and scales and not period[1].search(inputs.question if place.at_root else text):
        where = "the question does" if place.at_root else "the inputs do"
        return f"a conversion into {period[0]}, which {where} not mention"
    if period is not None and scales and place.at_root and value in _PERIOD_WORDS:
        return _conversion_asked(value, op, place.index, inputs.question)
    return None


_SMALL = (1.0, 2.0, 0.5, 4.0, 12.0, 52.0)
"""Documented constants a report's paragraphs also state all the time ("Note 1", "Level 2",
"(12)"): read from there they keep a constant's roles. One the question states ("a dividend of
$2", "Year 2") is that input."""


def _counted(value: float, text: str) -> bool:
    """Whether the text states `value` as a count of something ("2 years", "12 months", "1 share")
    rather than bare, in a reference, a list number or a footnote."""
    number = f"{value:g}"
    return bool(re.search(rf"(?<![\w.,(])\$?{re.escape(number)}\s+(?!%|percent)[a-z]", text, re.I))


def _conversion_asked(value: float, op: str, index: int, question: str) -> str | None:
    """The result's last step converts between years and months (quarters, weeks): x 12 makes
    a monthly figure annual, so the asking sentence must ask for a year's; / 12 makes an annual
    figure monthly, so it must ask for a month's."""
    asking = asking_sentence(question)
    name, smaller = _PERIOD_WORDS[value]
    if op == "*" or (op == "/" and index == 0):
        if _YEARLY.search(asking):
            return None
        return f"x {value:g} makes {name} into a year's figure; the question does not ask for one"
    if smaller.search(asking):
        return None
    return f"/ {value:g} makes a year's figure into {name}; the question does not ask for one"


def _count_misuse(place: _Place, inputs: _Inputs) -> str | None:
    """A count added to or taken from an amount: the number of values is no amount."""
    assert place.parent is not None
    if place.at_root and place.parent.op == "/" and place.index == 1 and not _AVERAGE.search(inputs.question):
        return "the result is a sum over its count, an average, and the question asks for none"
    if place.parent.op not in ("+", "-", "sum"):
        return None
    if all(_rate_like(o, inputs) or _count(o, inputs) or _constant(o, inputs) for o in _siblings(place)):
        return None
    return "a count of values added to an amount"


def _has_rate(expr: Expr, inputs: _Inputs) -> bool:
    if isinstance(expr, Operand):
        trace = inputs.traces.get(id(expr))
        return trace is not None and trace.kind not in ("constant", "count") and _rate_like(expr, inputs)
    if isinstance(expr, Op):
        if expr.op == "/" and len(expr.args) == 2 and not _all_constant(expr.args[1], inputs):
            return True
        return any(_has_rate(a, inputs) for a in expr.args)
    return isinstance(expr, Opaque) and any(_has_rate(p, inputs) for p in expr.parts)


def _all_constant(expr: Expr, inputs: _Inputs) -> bool:
    if isinstance(expr, Operand):
        trace = inputs.traces.get(id(expr))
        return trace is not None and trace.kind in ("constant", "count")
    return isinstance(expr, Op) and all(_all_constant(a, inputs) for a in expr.args)


def _count(expr: Expr, inputs: _Inputs) -> bool:
    """A count of values (`len(xs)`), which 1 may be taken from or added to."""
    trace = inputs.traces.get(id(unwrap(expr)))
    return trace is not None and trace.kind == "count"


def _constant(expr: Expr, inputs: _Inputs) -> bool:
    trace = inputs.traces.get(id(unwrap(expr)))
    return trace is not None and trace.kind == "constant"


def _growth(expr: Expr, inputs: _Inputs) -> bool:
    """A growth factor: 1 + r, or a stated rate written as one (3.7% as 1.037)."""
    expr = unwrap(expr)
    if isinstance(expr, Op):
        return expr.op in ("+", "-") and _rate_like(expr, inputs)
    trace = inputs.traces.get(id(expr))
    return trace is not None and "growth" in trace.how.lower()


def _rate_like(expr: Expr, inputs: _Inputs) -> bool:
    """A ratio, a percent or fraction, or built only from such (and constants): what 1 is the
    whole of and 100 scales. An amount (a cell of millions, a price) is not."""
    expr = unwrap(expr)
    if isinstance(expr, Operand):
        trace = inputs.traces.get(id(expr))
        if trace is None or expr.value is None:
            return False
        if trace.kind in ("constant", "count"):
            return abs(expr.value) <= 1  # 0.5, 1; a scale factor (1,000) or a count is no rate
        if trace.kind == "cell" and any(ref in inputs.percent_cells for ref in trace.cells):
            return True
        how = trace.how.lower()
        return abs(expr.value) < 1 or "percent" in how or "fraction" in how or "basis" in how
    if isinstance(expr, Op):
        if expr.op == "/" and len(expr.args) == 2:
            # a ratio of two inputs; over a constant or a count (an average) it is what it divides
            return not _all_constant(expr.args[1], inputs) or _rate_like(expr.args[0], inputs)
        if expr.op == "**":
            return _rate_like(expr.args[0], inputs)
        return all(_rate_like(a, inputs) for a in expr.args)
    return False
