"""Rule 1, operand provenance: every number a calculation uses comes from somewhere named.

An operand (see `_finance_calc`) is traced, in this order, to:

1. a documented constant (100 for percentages, 12 months, 365 days, a scale factor, 1 and 2
   for growth and averages, common z-values...), or the count of the values an average divides
   by ("(a + b + c) / 3"), or the number of years the question spans ("2020-2024" = 5);
2. a number the question states (percentages also as fractions, basis points as fractions),
   or one its words state: "a basis point" (0.01 as a percent), "quarterly" (90 days of 360),
   a "2 and 20" fee scheme (2% and 20%);
3. a table cell, read by position or label, or copied as a literal equal to a cell after
   normalisation: sign (a cost shown as "(2,088)" may be written 2088), a percent cell as a
   fraction, the table's scale in plain units (4,512 million as 4512000000), one scale step
   (thousand <-> million <-> billion);
4. a number in the given text, normalised the same way.

A cell match is preferred to the text because the table is what grounding can check; a
literal equal to several cells keeps all of them as candidates and grounding picks the one the
question names. An operand found nowhere is "untraced operand 16.94" and the answer fails.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ponder.verifiers._calc_expr import Expr, Op, Operand, unwrap
from ponder.verifiers._numbers import SCALES, numbers_in, parse_cell
from ponder.verifiers._table_checks import Cell

HARD_CONSTANTS = frozenset({0.0, 100.0, 10000.0, 1000.0, 1e6, 1e9})
"""Constants that are never read as a cell: a table value equal to 100 is still "100 (percentages)"."""
CONSTANTS: dict[float, str] = {
    0.0: "0",
    1.0: "1 (a whole, growth factors)",
    2.0: "2 (averages of two, halves, semiannual periods)",
    100.0: "100 (percentages)",
    10000.0: "10,000 (basis points)",
    1000.0: "1,000 (scale factor)",
    1e6: "1,000,000 (scale factor)",
    1e9: "1,000,000,000 (scale factor)",
    12.0: "12 (months in a year)",
    4.0: "4 (quarters in a year)",
    52.0: "52 (weeks in a year)",
    360.0: "360 (days, 30/360 convention)",
    365.0: "365 (days in a year)",
    252.0: "252 (trading days in a year)",
    0.5: "0.5 (a half)",
    1.645: "1.645 (z, 95% one-sided)",
    1.65: "1.65 (z, 95% one-sided)",
    1.96: "1.96 (z, 95% two-sided)",
    2.326: "2.326 (z, 99% one-sided)",
    2.33: "2.33 (z, 99% one-sided)",
    2.576: "2.576 (z, 99% two-sided)",
    2.58: "2.58 (z, 99% two-sided)",
    math.pi: "pi",
    math.e: "e",
}
"""Numbers an analyst may use without a source, each with why."""

_WORD_NUMBERS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
    "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "thirty": 30,
    "half": 0.5, "twice": 2, "double": 2, "triple": 3, "quarter": 0.25,
}  # fmt: skip
_PHRASE_NUMBERS: tuple[tuple[re.Pattern[str], tuple[tuple[float, str], ...]], ...] = (
    # "the price value of a basis point": one basis point, the size of the shift it names.
    (
        re.compile(r"\b(?:a|one|1|per)\s+basis[- ]point\b", re.I),
        ((0.01, '"a basis point" as a percent'), (0.0001, '"a basis point" as a fraction')),
    ),
    # A quarterly reset or payment under the 30/360 convention accrues 90 of 360 days.
    (re.compile(r"\bquarterly\b", re.I), ((90.0, '"quarterly": 90 days (30/360)'),)),
)
"""Numbers a phrase states without digits, each with why."""
_FEE_SCHEME = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)\s+and\s+(\d+(?:\.\d+)?)(?![\d.])[\"'”’]?\s+fee", re.I)
"""A hedge fund's "2 and 20" fee scheme: a 2% management fee and a 20% incentive fee."""
_BOND = re.compile(r"\b(?:bonds?|debt securit(?:y|ies)|notes?|par value|face value)\b", re.I)
_NUMBER_AND_UNIT = re.compile(
    r"(?<![\w.])\(?[-−–]?\s*[$€£¥]?\s*(\d[\d,]*(?:\.\d+)?|\.\d+)\s*\)?\s*"
    r"(%|percent|basis\s+points?|bps?\b|billion|bn\b|million|mn\b|m\b|thousand|k\b)?",
    re.I,
)


@dataclass(frozen=True, slots=True)
class Trace:
    """Where one operand came from."""

    kind: str
    """"constant", "count", "question", "cell", "text", "untraced" or "opaque"."""
    where: str
    """For the audit: "t0[6][1]", "paragraph 2", "question", "100 (percentages)"."""
    cells: tuple[tuple[int, int, int], ...] = ()
    """For a cell: the candidate cells (a literal may equal several), best first."""
    factor: float = 1.0
    """operand = factor x source value (sign and normalisation), for the direction checks."""
    how: str = ""
    negative: bool = False
    """The source number is negative (a cell "(2,088)", a stated "-0.5")."""
    constant: str = ""
    """For a cell match that is also a documented constant (2, 12, 0.5...): the constant's name,
    used when no candidate cell is one the question names."""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "source": self.where}
        if self.how:
            out["normalised"] = self.how
        return out


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


class Sources:
    """Everything an operand may come from, for one task."""

    def __init__(
        self,
        cells: list[Cell],
        paragraphs: list[str],
        question: str,
        hint: str,
        percent_cells: set[tuple[int, int, int]],
        span: int = 0,
        headers: list[str] | None = None,
    ) -> None:
        self.cells = cells
        self.hint = hint
        self.percent_cells = percent_cells
        self.span = span
        self.question_numbers = text_numbers(question)
        self.stated_texts = [question, *paragraphs, *(headers or [])]
        self.bond_question = bool(_BOND.search(question))
        """A bond's price is quoted per 100 of face value, so 100 added to a coupon is its par."""
        """The texts whose numbers count as stated (for derived literals, `_finance_derived`)."""
        self.negative_sources = False
        """Whether any input number is negative (then a negative result may be right)."""
        self.text_numbers = [
            (f"paragraph {i + 1}", v, how) for i, p in enumerate(paragraphs) for v, how in text_numbers(p)
        ]
        self.text_numbers += [
            (f"table t{t} header", v, how)
            for t, header in enumerate(headers or [])
            for v, how in text_numbers(header)
        ]

    def trace(
        self,
        operand: Operand,
        *,
        divisor_of: int | None = None,
        multiplies: bool = False,
        added: bool = False,
    ) -> Trace:
        """Trace one operand; `divisor_of` is the number of values it divides when it is the
        denominator of a sum (an average's count); `multiplies` when it is a factor (or a base);
        `added` when it is a term of a sum, where a scale constant (1,000, 10,000) would be a fudge, so
        a stated input of that value is looked for first (a "Paid off borrowings $10,000" row).

        A factor of 1 changes nothing, so it is not the documented 1 of growth factors and
        wholes (`1 + r`, `1 - x`): where a table cell states 1 (an index column's "1") it is that
        cell, and grounding must accept it; only where no input states 1 is it the constant."""
        if operand.kind == "count":
            return Trace("count", f"{operand.text} = {operand.value:g} (count of values)")
        value = operand.value
        if value is None:
            return Trace("untraced", f"{operand.text} is not a number")
        if operand.kind == "read":
            where = ",".join(f"t{t}[{r}][{c}]" for t, r, c in operand.cells)
            return Trace("cell", where, operand.cells, 1.0, "read from the table", negative=value < 0)
        magnitude = abs(value)
        constant = next((why for c, why in CONSTANTS.items() if _close(magnitude, c)), "")
        identity = multiplies and _close(magnitude, 1.0)
        if identity:
            constant = ""
        stated_first = added and magnitude > 100  # 100 added is the percent-table fudge (Revenue = 100%)
        if constant and not stated_first and any(_close(magnitude, c) for c in HARD_CONSTANTS):
            return Trace("constant", constant)
        if divisor_of is not None and _close(magnitude, divisor_of):
            return Trace("count", f"{magnitude:g} (the number of values averaged)")
        if divisor_of is not None and self.span > 1 and _close(magnitude, self.span):
            return Trace("count", f"{magnitude:g} (the number of years the question spans)")
        for number, how in self.question_numbers:
            if _close(magnitude, abs(number)):
                return Trace(
                    "question",
                    "question",
                    factor=math.copysign(1.0, value * number),
                    how=how,
                    negative=number < 0,
                )
        matches = self._cell_matches(value)
        if matches:
            refs = tuple((c.table, c.row, c.col) for c, _, _ in matches)
            _, factor, how = matches[0]
            where = ",".join(f"t{t}[{r}][{c}]" for t, r, c in refs)
            negative = matches[0][0].value < 0
            return Trace("cell", where, refs, factor, how, constant=constant, negative=negative)
        if constant:
            return Trace("constant", constant)
        if identity:
            return Trace("constant", "1 (an identity factor; no input states 1)")
        for where, number, how in self.text_numbers:
            if _close(magnitude, abs(number)):
                return Trace(
                    "text", where, factor=math.copysign(1.0, value * number), how=how, negative=number < 0
                )
        return Trace("untraced", f"untraced operand {_show(value)}")

    def _cell_matches(self, value: float) -> list[tuple[Cell, float, str]]:
        """Cells the literal equals after normalisation, with literal = factor x cell."""
        out = []
        magnitude = abs(value)
        scale = SCALES.get(self.hint, 1.0) if self.hint in ("thousand", "million", "billion") else 1.0
        for cell in self.cells:
            if cell.value == 0 and magnitude != 0:
                continue
            sign = math.copysign(1.0, value) * math.copysign(1.0, cell.value)
            candidates = [(1.0, "as written")]
            if (cell.table, cell.row, cell.col) in self.percent_cells:
                candidates.append((0.01, "a percent as a fraction"))
                if cell.value and _close(magnitude, 1 + cell.value / 100):
                    out.append((cell, 1.0, "1 + a percent (a growth factor)"))
                    continue
            if scale != 1.0:
                candidates.append((scale, f"in plain units (the table is in {self.hint})"))
            candidates += [(1e-3, "one scale step up"), (1e3, "one scale step down")]
            for factor, how in candidates:
                if _close(magnitude, abs(cell.value) * factor):
                    out.append((cell, sign * factor, how))
                    break
        out.sort(key=lambda m: abs(math.log10(abs(m[1]))))  # as written first
        return out


def _show(value: float) -> str:
    return f"{value:.10g}"


def text_numbers(text: str) -> list[tuple[float, str]]:
    """Numbers a text states, with their normalised forms (5% also as 0.05; 25 bp as 0.0025)."""
    out: list[tuple[float, str]] = []
    for match in _NUMBER_AND_UNIT.finditer(text):
        number = parse_cell(match.group(1))
        if number is None:
            continue
        unit = (match.group(2) or "").lower()
        out.append((number, "a percent as written" if unit in ("%", "percent") else "as written"))
        if unit in ("%", "percent"):
            out.append((number / 100, "a percent as a fraction"))
            out += [
                (1 + number / 100, "1 + a percent (a growth factor)"),
                (1 - number / 100, "1 - a percent"),
            ]
        elif unit.startswith(("basis", "bp")):
            out += [
                (number / 100, "basis points as a percent"),
                (number / 10000, "basis points as a fraction"),
            ]
        elif unit:
            scale = {"bn": "billion", "mn": "million", "m": "million", "k": "thousand"}.get(unit, unit)
            if scale in SCALES:
                out.append((number * SCALES[scale], f"{scale} in plain units"))
                out += [(number * 1e3, "one scale step down"), (number / 1e3, "one scale step up")]
    for value in numbers_in(text):
        if not any(_close(abs(value), abs(n)) for n, _ in out):
            out.append((value, "as written"))
    for word, number in _WORD_NUMBERS.items():
        if re.search(rf"\b{word}\b", text, re.I):
            out.append((float(number), f'"{word}"'))
    for pattern, numbers in _PHRASE_NUMBERS:
        if pattern.search(text):
            out += numbers
    for match in _FEE_SCHEME.finditer(text):
        for group in (1, 2):
            out.append((float(match.group(group)) / 100, "a fee scheme's percent as a fraction"))
    return out


def _par_beside_coupon(node: Op, index: int, sources: Sources) -> bool:
    """Whether summand `index` of `node` is 100 added to a coupon the inputs state, in a question
    about a bond: its final cash flow, coupon plus par per 100 of face value. Per 100 of face, the
    coupon is its rate as written (5% pays 5), so the other summand must be a stated percent; 100
    beside anything else stays a fudge."""
    if not sources.bond_question or len(node.args) != 2:
        return False
    mine, other = node.args[index], node.args[1 - index]
    if not (isinstance(mine, Operand) and isinstance(other, Operand)):
        return False
    if not _close(abs(mine.value or 0.0), 100.0):
        return False
    trace = sources.trace(other, added=True)
    if trace.kind in ("question", "text"):
        return trace.how == "a percent as written"
    return trace.kind == "cell" and trace.how == "as written" and trace.cells[0] in sources.percent_cells


def _whole_in_percent(node: Op) -> bool:
    """Whether `node` is ``B / A * 100 - 100``: a growth in percent, as ``B / A - 1`` is one as a
    fraction. There the 100 taken away is the whole, not a fudge; after anything but a ratio
    scaled by 100 it stays one."""
    if node.op != "-" or len(node.args) != 2:
        return False
    scaled, whole = unwrap(node.args[0]), node.args[1]
    if not (isinstance(whole, Operand) and _close(whole.value or 0.0, 100.0)):
        return False
    if not (isinstance(scaled, Op) and scaled.op == "*" and len(scaled.args) == 2):
        return False
    sides = [unwrap(a) for a in scaled.args]
    hundred = [isinstance(a, Operand) and _close(a.value or 0.0, 100.0) for a in sides]
    ratio = [isinstance(a, Op) and a.op == "/" for a in sides]
    return (hundred[0] and ratio[1]) or (hundred[1] and ratio[0])


def averaged_count(expr: Expr) -> int:
    """How many values an expression adds up ("a + b + c" -> 3; "sum(xs)" -> len(xs))."""
    if isinstance(expr, Op) and expr.op in ("+", "-"):
        return averaged_count(expr.args[0]) + averaged_count(expr.args[1])
    if isinstance(expr, Op) and expr.op == "neg":
        return averaged_count(expr.args[0])
    if isinstance(expr, Op) and expr.op == "sum":
        return len(expr.args)
    return 1


def trace_all(expr: Expr, sources: Sources) -> list[tuple[Operand, Trace]]:
    """Every operand of the answer's expression with its trace; untraceable opaque parts included."""
    out: list[tuple[Operand, Trace]] = []

    def walk(
        node: Expr,
        divisor_of: int | None = None,
        added: bool = False,
        factor: bool = False,
        par: bool = False,
    ) -> None:
        if isinstance(node, Operand):
            trace = sources.trace(node, divisor_of=divisor_of, multiplies=factor, added=added)
            if par and trace.kind == "constant":
                trace = Trace("constant", "100 (a bond's par, per 100 of face value, added to its coupon)")
            elif added and trace.kind == "constant" and node.value not in (0.0, 1.0):
                # 100 or 0.5 scale and halve; added to an amount they are a fudge, not a source
                trace = Trace("untraced", f"untraced operand {_show(node.value or 0.0)} (a constant added)")
            out.append((node, trace))
        elif isinstance(node, Op):
            if node.op == "/" and len(node.args) == 2:
                walk(node.args[0])
                summed = unwrap(node.args[0])
                while isinstance(summed, Op) and summed.op == "neg":
                    summed = unwrap(summed.args[0])
                is_sum = isinstance(summed, Op) and (summed.op in ("+", "sum") or averaged_count(summed) > 2)
                # (a - b) / 2 halves a difference; only a sum over its count is an average
                walk(node.args[1], divisor_of=averaged_count(summed) if is_sum else None)
                return
            additive = node.op in ("+", "-")
            if node.op in ("*", "**") and len(node.args) == 2:
                walk(node.args[0], factor=True)
                walk(node.args[1], factor=node.op == "*")
                return
            for i, arg in enumerate(node.args[:1] if node.op == "round" else node.args):
                if i == 1 and isinstance(arg, Operand) and _whole_in_percent(node):
                    whole = Trace("constant", "100 (the whole in percent: a ratio x 100 less 100%)")
                    out.append((arg, whole))
                    continue
                walk(arg, added=additive, par=node.op == "+" and _par_beside_coupon(node, i, sources))
        else:
            if not node.traceable:
                out.append((Operand(None, node.reason, "opaque"), Trace("opaque", node.reason)))
            for part in node.parts:
                walk(part)

    walk(expr)
    return out
