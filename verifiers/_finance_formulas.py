"""Named financial formulas: a second derivation for questions that ask for a metric by name.

"What is the business's EV/EBITDA multiple?" names no line item, so question grounding (rule 2)
has nothing to match the cells against, and no checked form (rule 3) applies. An analyst checks
such an answer by knowing the formula: EV/EBITDA is (market capitalisation + debt − cash) /
EBITDA. Each formula here lists its inputs as row-label patterns; when the question names the
formula and every input binds to exactly one row of one table holding one number, the formula
is evaluated on those cells. The answer is grounded and its operation confirmed only if the
calculation's value equals that independent evaluation; a calculation that used other cells or
another formula gives another value and fails, naming the formula and what it gives.

Only standard textbook definitions are here (each with the form a careful analyst would sign),
and a formula that does not bind (an input missing, ambiguous, or in a table with several
periods) changes nothing: the other rules decide as before.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ponder.verifiers._numbers import parse_cell

Values = Mapping[str, float]


@dataclass(frozen=True, slots=True)
class Formula:
    name: str
    named_by: str
    """A regex (case-insensitive) that finds the formula's name in the question."""
    inputs: Mapping[str, str]
    """Input -> a regex a row label must match (case-insensitive, searched)."""
    compute: Callable[[Values], float]
    shown: str
    """The formula as the audit prints it."""


def _impairment(v: Values) -> float:
    recoverable = max(v["fair value"] - v["costs to sell"], v["value in use"])
    return max(0.0, v["carrying amount"] - recoverable)


FORMULAS: tuple[Formula, ...] = (
    Formula(
        "EV/EBITDA",
        r"\bEV\s*/\s*EBITDA\b|enterprise[- ]value (?:to EBITDA |multiple)",
        {
            "market capitalisation": r"market capitali[sz]ation|market value of (?:common )?equity",
            "debt": r"^(?:market value of )?(?:total )?debt\b",
            "cash": r"^cash\b",
            "EBITDA": r"^EBITDA$",
        },
        lambda v: (v["market capitalisation"] + v["debt"] - v["cash"]) / v["EBITDA"],
        "(market capitalisation + debt − cash) / EBITDA",
    ),
    Formula(
        "GDP (expenditure approach)",
        r"gross domestic product|\bGDP\b",
        {
            "consumption": r"^(?:personal )?consumption(?: expenditures?)?$",
            "investment": r"^(?:gross )?(?:private )?(?:domestic )?investment$",
            "government spending": r"^government (?:spending|purchases|expenditures?)$",
            "exports": r"^exports$",
            "imports": r"^imports$",
        },
        lambda v: v["consumption"] + v["investment"] + v["government spending"] + v["exports"] - v["imports"],
        "consumption + investment + government spending + exports − imports",
    ),
    Formula(
        "impairment loss (IFRS)",
        r"impairment loss",
        {
            "carrying amount": r"^carrying (?:value|amount)",
            "fair value": r"^fair value$",
            "costs to sell": r"^costs? (?:to sell|of disposal)$",
            "value in use": r"^value in use$",
        },
        _impairment,
        "carrying amount − max(fair value − costs to sell, value in use), at least 0",
    ),
    Formula(
        "current ratio",
        r"current ratio",
        {
            "current assets": r"^(?:total )?current assets$",
            "current liabilities": r"^(?:total )?current liabilities$",
        },
        lambda v: v["current assets"] / v["current liabilities"],
        "current assets / current liabilities",
    ),
    Formula(
        "interest coverage",
        r"interest coverage|times interest earned",
        {
            "EBIT": r"^(?:EBIT|operating income|earnings before interest and taxes?)$",
            "interest": r"^interest expense$",
        },
        lambda v: v["EBIT"] / v["interest"],
        "EBIT / interest expense",
    ),
)


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
    for formula in FORMULAS:
        if not re.search(formula.named_by, question, re.I):
            continue
        binding = _bind(formula, tables)
        if binding is not None:
            return binding
    return None


def _bind(formula: Formula, tables: list[dict[str, Any]]) -> Binding | None:
    cells: dict[str, tuple[int, int, int]] = {}
    values: dict[str, float] = {}
    for name, pattern in formula.inputs.items():
        found = [
            (t, r, c, v)
            for t, table in enumerate(tables)
            for r, row in _rows(table)
            if row and re.search(pattern, _label(row), re.I)
            for c, v in _one_number(row)
        ]
        if len(found) != 1:
            return None  # missing or ambiguous: this formula cannot be checked on these tables
        t, r, c, v = found[0]
        cells[name], values[name] = (t, r, c), v
    try:
        value = formula.compute(values)
    except ZeroDivisionError:
        return None
    return Binding(formula, cells, value) if math.isfinite(value) else None


def _rows(table: dict[str, Any]) -> list[tuple[int, list[Any]]]:
    """The table's rows by index; a header that is itself a line item and its number (a markdown
    table whose first row is data, "| Market value of debt | $10 million |") is row -1."""
    rows = [(r, row) for r, row in enumerate(table.get("rows") or []) if isinstance(row, list)]
    columns = list(table.get("columns") or [])
    return [(-1, columns), *rows] if _one_number(columns) else rows


def _label(row: list[Any]) -> str:
    label = str(row[0]).strip()
    return re.sub(r"\s+", " ", re.sub(r"\([^)]*\)", "", label)).strip()


def _one_number(row: list[Any]) -> list[tuple[int, float]]:
    """The row's number when it holds exactly one (one period, one entity), else nothing."""
    numbers = [(c, v) for c, cell in enumerate(row[1:], start=1) if (v := parse_cell(cell)) is not None]
    return numbers if len(numbers) == 1 else []


def formula_rules(
    binding: Binding, value: float, used: set[tuple[int, int, int]], labels: Mapping[tuple[int, int], str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Grounding and operation verdicts from the formula: both pass only when the calculation
    used the formula's cells (or none the formula does not name) and reaches its value."""
    shown = binding.describe(labels)
    extra = sorted(used - set(binding.cells.values()))
    same = math.isclose(value, binding.value, rel_tol=1e-6, abs_tol=1e-9)
    if extra:
        t, r, _ = extra[0]
        detail = f"used {labels.get((t, r), f'row {r}')}, which is not an input of {shown}"
        return {"rule": "grounding", "status": "fail", "detail": detail}, {
            "rule": "operation",
            "status": "n/a",
            "detail": "the cells are not the formula's",
        }
    grounding = {"rule": "grounding", "status": "pass", "detail": f"the inputs of {shown}"}
    if not same:
        detail = f"{shown} gives {binding.value:.6g}; the calculation gives {value:.6g}"
        return grounding, {"rule": "operation", "status": "fail", "detail": detail}
    detail = f"{binding.formula.name} re-computed from those cells = {binding.value:.6g}, as calculated"
    return grounding, {"rule": "operation", "status": "pass", "detail": detail}
