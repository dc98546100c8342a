"""Facts about the given tables that any honest answer must be consistent with.

Cells are indexed once per task (value, row label, period column); invariants are computed over
the data (stated totals, assets = liabilities + equity) and, for change questions, over the two
cells a calculation used. Heuristic by nature (statement layouts vary), so every check reports
which cells it covers and the finance verifier gates on a table check only when the chain used
one of those cells, and only on the precise ones (the balance identity, a change's sign).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from ponder.verifiers._numbers import parse_cell

_YEAR = re.compile(r"(?<!\d)(19\d\d|20\d\d)(?!\d)")
_TOTAL = re.compile(r"^\s*total\b", re.I)
_ASSETS = re.compile(r"^\s*total\s+assets\s*$", re.I)
_LIABILITIES = re.compile(r"^\s*total\s+liabilities\s*$", re.I)
_EQUITY = re.compile(r"^\s*total\s+(?:(?:stock|share)holders['’]?\s+)?equity\s*$", re.I)
_LIAB_EQUITY = re.compile(r"^\s*total\s+liabilities\s+and\s+(?:(?:stock|share)holders['’]?\s+)?equity", re.I)


@dataclass(frozen=True, slots=True)
class Cell:
    """One numeric data cell of an input table."""

    table: int
    row: int
    col: int
    value: float
    label: str
    """The row's label (its first non-numeric cell)."""
    year: int | None
    """The period of the cell's column, when a header names a year."""

    @property
    def where(self) -> str:
        return f"t{self.table}[{self.row}][{self.col}]"

    @property
    def distinctive(self) -> bool:
        """Small integers (1, 2, 10) appear in any code; only other values identify a cell."""
        return not (self.value == int(self.value) and abs(self.value) <= 10)


def _is_year_text(cell: object) -> bool:
    return isinstance(cell, str | int) and bool(re.fullmatch(r"\s*(19|20)\d\d\s*", str(cell)))


def _column_years(table: dict[str, Any]) -> dict[int, int]:
    years: dict[int, int] = {}
    headers: list[list[object]] = [list(table.get("columns") or [])]
    headers += [row for row in table["rows"][:4] if _header_row(row)]
    for header in headers:
        for col, text in enumerate(header):
            match = _YEAR.search(str(text))
            if match and col not in years:
                years[col] = int(match.group(1))
    return years


def _header_row(row: list[object]) -> bool:
    """A row whose only numbers are years (e.g. ["", "2019", "2018"]) labels columns."""
    numeric = [c for c in row if parse_cell(c) is not None]
    return bool(numeric) and all(_is_year_text(c) for c in numeric)


def _label(row: list[object]) -> str:
    return next((str(c).strip() for c in row if str(c).strip() and parse_cell(c) is None), "")


def index_cells(tables: list[dict[str, Any]]) -> list[Cell]:
    """Every numeric data cell of every table, header rows excluded."""
    cells = []
    for t, table in enumerate(tables):
        years = _column_years(table)
        for r, row in enumerate(table["rows"]):
            if not isinstance(row, list) or _header_row(row):
                continue
            label = _label(row)
            for c, raw in enumerate(row):
                value = parse_cell(raw)
                if value is not None:
                    cells.append(Cell(table=t, row=r, col=c, value=value, label=label, year=years.get(c)))
    return cells


def check_tables(tables: list[dict[str, Any]], cells: list[Cell]) -> list[dict[str, Any]]:
    """Stated totals equal their components; total assets equal liabilities plus equity."""
    by_row: dict[tuple[int, int], dict[int, Cell]] = {}
    for cell in cells:
        by_row.setdefault((cell.table, cell.row), {})[cell.col] = cell
    out = []
    for t, table in enumerate(tables):
        out += _total_checks(t, table, by_row)
        out += _balance_checks(t, table, by_row)
    return out


def _total_checks(
    t: int, table: dict[str, Any], by_row: dict[tuple[int, int], dict[int, Cell]]
) -> list[dict[str, Any]]:
    """A "Total ..." row equals the sum of the rows right above it (the last k of its section,
    subtotals included, k >= 2). Reported, never gating: statements list partial components
    and nest subtotals, so a miss may be layout rather than an error."""
    out: list[dict[str, Any]] = []
    block: list[dict[int, Cell]] = []
    for r, row in enumerate(table["rows"]):
        numbers = by_row.get((t, r), {})
        label = _label(row) if isinstance(row, list) else ""
        if not numbers:
            if not label:  # a blank row ends a section; a heading row does not
                block = []
            continue
        if _TOTAL.match(label) and not re.search(r"\bper\b|%|ratio|margin|average", label, re.I):
            for col, total in numbers.items():
                parts = [row_cells[col] for row_cells in block if col in row_cells]
                match = _summing_suffix(parts, total.value)
                if len(parts) < 2:
                    continue
                out.append(
                    {
                        "name": "components sum to the stated total",
                        "scope": "table",
                        "gating": False,
                        "status": "pass" if match else "fail",
                        "detail": f"{label!r} (t{t} col {col}) is {total.value:g}; no rows above sum to it",
                        "cells": [p.where for p in (match or parts)] + [total.where],
                    }
                )
        block.append(numbers)
    return out


def _summing_suffix(parts: list[Cell], total: float) -> list[Cell] | None:
    """The shortest run of at least two cells ending at the last one that adds up to `total`."""
    running = 0.0
    for k in range(1, len(parts) + 1):
        running += parts[-k].value
        tol = max(0.51 * k * _unit(total), 0.005 * abs(total))
        if k >= 2 and abs(running - total) <= tol:
            return parts[-k:]
    return None


def _unit(value: float) -> float:
    """The rounding unit a written value implies (1 for integers, 0.1 for one decimal...)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return 10.0 ** -(len(text.split(".")[1]) if "." in text else 0)


def _balance_checks(
    t: int, table: dict[str, Any], by_row: dict[tuple[int, int], dict[int, Cell]]
) -> list[dict[str, Any]]:
    rows = {pattern: None for pattern in (_ASSETS, _LIABILITIES, _EQUITY, _LIAB_EQUITY)}
    found: dict[re.Pattern[str], dict[int, Cell]] = {}
    for r, row in enumerate(table["rows"]):
        label = _label(row) if isinstance(row, list) else ""
        for pattern in rows:
            if pattern.match(label) and pattern not in found and (t, r) in by_row:
                found[pattern] = by_row[(t, r)]
    assets = found.get(_ASSETS)
    if assets is None:
        return []
    out = []
    for col, a in assets.items():
        if _LIAB_EQUITY in found and col in found[_LIAB_EQUITY]:
            others = [found[_LIAB_EQUITY][col]]
        elif (
            _LIABILITIES in found
            and _EQUITY in found
            and col in found[_LIABILITIES]
            and col in found[_EQUITY]
        ):
            others = [found[_LIABILITIES][col], found[_EQUITY][col]]
        else:
            continue
        claimed = sum(c.value for c in others)
        ok = abs(claimed - a.value) <= max(1.0, 0.005 * abs(a.value))
        out.append(
            {
                "name": "assets = liabilities + equity",
                "scope": "table",
                "gating": True,
                "status": "pass" if ok else "fail",
                "detail": f"total assets {a.value:g} (t{t} column {col}); liabilities + equity {claimed:g}",
                "cells": [a.where] + [c.where for c in others],
            }
        )
    return out


def period_change_check(answer: float, used: list[Cell]) -> dict[str, Any] | None:
    """For a change computed from two periods of one row: the answer has the later-minus-earlier sign.

    Applies only when the answer's size is that difference (or that percentage change) of two
    used cells in one row with different years; otherwise the calculation is something else
    (an average, a ratio) and there is nothing to check.
    """
    for a in used:
        for b in used:
            if (a.table, a.row) != (b.table, b.row) or a.year is None or b.year is None or a.year >= b.year:
                continue
            earlier, later = a, b
            diff = later.value - earlier.value
            sizes = [abs(diff)]
            if earlier.value != 0:
                sizes.append(abs(diff / earlier.value * 100))
            if not any(abs(abs(answer) - s) <= max(0.01, 0.01 * s) for s in sizes) or diff == 0:
                continue
            ok = (answer > 0) == (diff > 0)
            if earlier.value < 0 and later.value < 0:
                # Both shown in parentheses (a contra account, a cost): the change may be
                # stated on the magnitudes, so either sign convention is consistent.
                ok = ok or (answer > 0) == (abs(later.value) > abs(earlier.value))
            return {
                "name": "period-over-period change",
                "scope": "answer",
                "gating": True,
                "status": "pass" if ok else "fail",
                "detail": (
                    f"{later.label or 'the value'} went from {earlier.value:g} ({earlier.year}) to "
                    f"{later.value:g} ({later.year}), a change of {diff:+g}, but the answer is {answer:g}"
                ),
                "cells": [earlier.where, later.where],
            }
    return None
