"""Named financial formulas: a second derivation for questions that ask for a metric by name.

"What is the business's EV/EBITDA multiple?" names no line item, so question grounding (rule 2)
has nothing to match the cells against, and no checked form (rule 3) applies. An analyst checks
such an answer by knowing the formula: EV/EBITDA is (market capitalisation + debt − cash) /
EBITDA. Each formula here lists its inputs as row-label patterns; when the question names the
formula and every input binds to exactly one row of one table holding one number, the formula
is evaluated on those cells. The answer is grounded and its operation confirmed only if the
calculation's value equals that independent evaluation; a calculation that used other cells or
another formula gives another value and fails, naming the formula and what it gives.

An input is one number in its row (in a statement of several periods, the number in the one
column whose period the question names), unless its declaration says otherwise: a rate (a cell marked
% read as a fraction), a word ("Semiannually": 2 payments a year), one number per asset of a
two-asset table, a row of observations, or an optional amount that is 0 where no row holds it.

Only standard textbook definitions are here (each with the form a careful analyst would sign),
declared by family in `_finance_formulas_<family>.py`, and a formula that does not bind (an input
missing, ambiguous, or in a table with several periods) changes nothing: the other rules decide
as before.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ponder.verifiers._finance_formulas_base import FREQUENCY_WORDS, Formula
from ponder.verifiers._finance_formulas_corporate import CORPORATE
from ponder.verifiers._finance_formulas_investments import INVESTMENTS
from ponder.verifiers._finance_grounding import read_layout
from ponder.verifiers._finance_question import years_in
from ponder.verifiers._numbers import parse_cell

__all__ = ["FORMULAS", "Binding", "Formula", "bind", "formula_rules"]

FORMULAS: tuple[Formula, ...] = (*CORPORATE, *INVESTMENTS)
"""Tried in this order; the first the question names and the tables bind is used."""


@dataclass(frozen=True, slots=True)
class Binding:
    formula: Formula
    cells: dict[str, tuple[int, int, int]]
    """Input -> the (table, row, column) it was read from."""
    value: float

    def describe(self, labels: Mapping[tuple[int, int], str]) -> str:
        used = ", ".join(
            f"{name} = {labels.get(ref[:2], 'row ' + str(ref[1]))}" for name, ref in self.cells.items()
        )
        return f"{self.formula.name} = {self.formula.shown} ({used})"


def bind(question: str, tables: list[dict[str, Any]]) -> Binding | None:
    """The formula the question names, evaluated on the one row each input matches, if any."""
    periods: list[int | None] | None = None  # read once a formula is named: most questions name none
    for formula in FORMULAS:
        if not re.search(formula.named_by, question, re.I | re.S):
            continue
        inputs = _filled(formula, question)
        if inputs is None:
            continue
        if periods is None:
            periods = [_period_column(table, question) for table in tables]
        binding = _bind(formula, tables, inputs, periods)
        if binding is not None:
            return binding
    return None


def _filled(formula: Formula, question: str) -> dict[str, str] | None:
    """The input patterns with the question's placeholders filled (`Formula.fill`), or None."""
    inputs = dict(formula.inputs)
    for name, finder in formula.fill.items():
        found = re.search(finder, question, re.I | re.S)
        if found is None:
            return None
        inputs = {k: p.replace("{" + name + "}", re.escape(found.group(1))) for k, p in inputs.items()}
    return inputs


def _period_column(table: dict[str, Any], question: str) -> int | None:
    """The one column of a multi-period table whose period the question names ("at the end of
    2011" in a 2011 | 2010 statement), else None: a formula then reads that column, and only
    where the question leaves no doubt which period it means."""
    asked = set(years_in(question))
    if not asked:
        return None
    layout = read_layout(table)
    columns = [c for c, years in layout.col_years.items() if years <= asked]
    return columns[0] if len(columns) == 1 and len(layout.col_years) > 1 else None


def _bind(
    formula: Formula, tables: list[dict[str, Any]], inputs: Mapping[str, str], periods: list[int | None]
) -> Binding | None:
    cells: dict[str, tuple[int, int, int]] = {}
    values: dict[str, float] = {}
    for name, pattern in inputs.items():
        found = [
            (t, r, read)
            for t, table in enumerate(tables)
            for r, row in _rows(table)
            if row and _names(pattern, row)
            if (read := _read(formula, name, row, table, periods[t])) is not None
        ]
        if not found and name in formula.optional:
            values[name] = 0.0
            continue
        if len(found) != 1:
            return None  # missing or ambiguous: this formula cannot be checked on these tables
        t, r, read = found[0]
        keys = [name] if len(read) == 1 else [f"{name} {k}" for k in range(1, len(read) + 1)]
        for key, (c, v) in zip(keys, read, strict=True):
            cells[key], values[key] = (t, r, c), v
    try:
        value = formula.compute(values)
    except (ZeroDivisionError, ValueError, OverflowError):
        return None
    return Binding(formula, cells, value) if math.isfinite(value) else None


def _rows(table: dict[str, Any]) -> list[tuple[int, list[Any]]]:
    """The table's rows by index; a header that is itself a line item and its number (a markdown
    table whose first row is data, "| Market value of debt | $10 million |") is row -1."""
    rows = [(r, row) for r, row in enumerate(table.get("rows") or []) if isinstance(row, list)]
    columns = list(table.get("columns") or [])
    header_is_data = len(_numbers(columns)) == 1 or (len(columns) == 2 and _word_cell(columns[1]))
    return [(-1, columns), *rows] if header_is_data else rows


def _word_cell(cell: Any) -> bool:
    return any(re.fullmatch(p, str(cell).strip(), re.I) for p in FREQUENCY_WORDS)


def _label(row: list[Any]) -> str:
    label = str(row[0]).strip()
    return re.sub(r"\s+", " ", re.sub(r"\([^)]*\)", "", label)).strip()


def _names(pattern: str, row: list[Any]) -> bool:
    """The row's label matches: without its parenthetical (a unit, "(net book value)"), else whole."""
    whole = re.sub(r"\s+", " ", str(row[0])).strip()
    return bool(re.search(pattern, _label(row), re.I) or re.search(pattern, whole, re.I))


def _numbers(row: list[Any]) -> list[tuple[int, float]]:
    return [(c, v) for c, cell in enumerate(row[1:], start=1) if (v := parse_cell(cell)) is not None]


def _read(
    formula: Formula, name: str, row: list[Any], table: dict[str, Any], period: int | None = None
) -> list[tuple[int, float]] | None:
    """The input's value(s) in this row: a word the formula knows, or as many numbers as the
    formula has assets (one for a shared input), or the number in the column of the period the
    question names (`period`); None when the row holds another count."""
    if name in formula.words:
        said = [
            (c, value)
            for c, cell in enumerate(row[1:], start=1)
            for pattern, value in formula.words[name].items()
            if re.fullmatch(pattern, str(cell).strip(), re.I)
        ]
        return said if len(said) == 1 else None
    numbers = _numbers(row)
    if name in formula.series:
        return numbers if len(numbers) >= 2 else None
    if name in formula.shared and len(numbers) > 1 and len({v for _, v in numbers}) == 1:
        numbers = numbers[:1]  # the same correlation written under each asset
    wanted = 1 if name in formula.shared else formula.assets
    if wanted == 1 and len(numbers) > 1 and period is not None:
        numbers = [(c, v) for c, v in numbers if c == period]
    if len(numbers) != wanted:
        return None
    if name not in formula.rates:
        return numbers
    columns = [str(c) for c in table.get("columns") or []]
    return [(c, v / 100 if _percent(row, columns, c) else v) for c, v in numbers]


def _percent(row: list[Any], columns: list[str], col: int) -> bool:
    """A rate written as a percentage: "6%", a label or a column header saying "%" or "percent"."""
    header = columns[col] if col < len(columns) else ""
    return any(
        "%" in str(text) or re.search(r"\bpercent", str(text), re.I) for text in (row[col], row[0], header)
    )


def formula_rules(
    binding: Binding,
    value: float,
    used: set[tuple[int, int, int]],
    labels: Mapping[tuple[int, int], str],
    converted: float | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Grounding and operation verdicts from the formula: both pass only when the calculation
    used the formula's cells (or none the formula does not name) and reaches its value.

    `converted` is the calculation's value in the tables' unit when it converts its result
    (`x / 1e6` to state millions); a rate may be computed as a fraction or a percentage number.
    The answer's stated scale is the scale rule's to check, not this one's."""
    shown = binding.describe(labels)
    extra = sorted(used - set(binding.cells.values()))
    if extra:
        t, r, _ = extra[0]
        detail = f"used {labels.get((t, r), f'row {r}')}, which is not an input of {shown}"
        return {"rule": "grounding", "status": "fail", "detail": detail}, {
            "rule": "operation",
            "status": "n/a",
            "detail": "the cells are not the formula's",
        }
    grounding = {"rule": "grounding", "status": "pass", "detail": f"the inputs of {shown}"}
    targets = [binding.value, binding.value * 100] if binding.formula.rate_result else [binding.value]
    computed = [value] if converted is None else [value, converted]
    same = any(math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9) for x in computed for y in targets)
    if not same:
        gives = f"{binding.value:.6g}" + (
            f" ({binding.value * 100:.6g}%)" if binding.formula.rate_result else ""
        )
        detail = f"{shown} gives {gives}; the calculation gives {value:.6g}"
        return grounding, {"rule": "operation", "status": "fail", "detail": detail}
    detail = f"{binding.formula.name} re-computed from those cells = {binding.value:.6g}, as calculated"
    return grounding, {"rule": "operation", "status": "pass", "detail": detail}
