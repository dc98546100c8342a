"""Rule 2, question grounding: the cells a calculation used are the line items and periods asked for.

A calculation can be executed, traced and still wrong because it read the wrong row ("Operating
income" for "Net income") or the wrong year. This module reads each table's layout — header rows
(years, fiscal periods, units, spanning headers), row labels, section headings, unlabeled total
rows — and decides which rows and columns the question names:

- a row (or, for transposed tables, a column) is named when all its label words appear in the
  question, or, failing that, when it is among the best partial matches and accounts for
  question words no fully named row does; a label contained in another named label gives way
  to the longer one ("Net income" to "Net income attributable to ...");
- a cell's period is its column's years (else its row label's); when the question names years,
  the cell's years must be among them.

A cell outside what the question names fails the rule with both sides named, e.g.
"used Operating income FY2021; the question asks for Net income FY2022, FY2023".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ponder.verifiers._calc_expr import Operand
from ponder.verifiers._finance_question import Question, words_in, years_in
from ponder.verifiers._numbers import parse_cell

_FORM_WORDS = frozenset(
    [
        "change",
        "increase",
        "decrease",
        "difference",
        "variance",
        "growth",
        "average",
        "mean",
        "ratio",
        "percentage",
        "percent",
        "proportion",
        "rise",
        "decline",
    ]
)
_UNIT_WORDS = frozenset(
    [
        "usd",
        "eur",
        "gbp",
        "rmb",
        "thousand",
        "million",
        "billion",
        "dollar",
        "in",
        "except",
        "per",
    ]
)


@dataclass(slots=True)
class TableLayout:
    """One table read as a statement: which rows are headers, what each row and column names."""

    header_rows: set[int] = field(default_factory=set)
    row_words: dict[int, list[str]] = field(default_factory=dict)
    """Row -> its label's words (a blank-label row after figures is "total" of its section)."""
    row_text: dict[int, str] = field(default_factory=dict)
    row_context: dict[int, set[str]] = field(default_factory=dict)
    """Row -> the words of its section heading and the table caption."""
    row_years: dict[int, frozenset[int]] = field(default_factory=dict)
    col_words: dict[int, list[str]] = field(default_factory=dict)
    """Column -> its header's words, periods, units and form words removed."""
    col_text: dict[int, str] = field(default_factory=dict)
    col_years: dict[int, frozenset[int]] = field(default_factory=dict)
    percent_cols: set[int] = field(default_factory=set)

    def years_of(self, row: int, col: int) -> frozenset[int]:
        """A cell's period: its column's years, else its row label's."""
        return self.col_years.get(col) or self.row_years.get(row) or frozenset()

    def describe(self, row: int, col: int) -> str:
        """How the audit names a cell: "Net income FY2023"."""
        label = self.row_text.get(row) or f"row {row}"
        column = self.col_text.get(col) or f"column {col}"
        return f"{label} {column}".strip()

    @property
    def has_periods(self) -> bool:
        return bool(self.col_years) or bool(self.row_years)


def _is_number(cell: object) -> bool:
    return parse_cell(cell) is not None


def _is_year_cell(cell: object) -> bool:
    return bool(re.fullmatch(r"\s*(?:19|20)\d\d\s*", str(cell)))


def read_layout(table: dict[str, Any]) -> TableLayout:
    """The layout of one verifier table (`columns` may be positional; header rows may be in `rows`)."""
    rows: list[list[Any]] = [r if isinstance(r, list) else [] for r in table["rows"]]
    width = max((len(r) for r in rows), default=0)
    layout = TableLayout()
    columns = [str(c) for c in table.get("columns") or []]
    positional = all(re.fullmatch(r"|label|c\d+|\d{1,3}|Unnamed: \d+", c) for c in columns)
    headers: list[list[str]] = [] if positional else [columns]
    for r, row in enumerate(rows):
        numbers = [c for c in row[1:] if _is_number(c)]
        if numbers and not all(_is_year_cell(c) for c in numbers):
            break
        layout.header_rows.add(r)
        headers.append([str(c) for c in row])
    caption = " ".join(
        str(rows[r][0])
        for r in sorted(layout.header_rows)
        if rows[r] and not any(str(c).strip() for c in rows[r][1:])
    )
    for header in headers:
        filled = _span_fill(header, width)
        for c in range(1, width):
            text = filled[c].strip()
            if not text or text == "None":
                continue
            layout.col_text[c] = f"{layout.col_text.get(c, '')} {text}".strip()
    for c, text in layout.col_text.items():
        years = years_in(text)
        if years:
            layout.col_years[c] = frozenset(years)
        if "%" in text or re.search(r"\bpercent", text, re.I):
            layout.percent_cols.add(c)
        layout.col_words[c] = [
            w for w in words_in(text) if w not in _FORM_WORDS and w not in _UNIT_WORDS and len(w) > 1
        ]
    section: list[str] = []
    previous_had_numbers = False
    for r, row in enumerate(rows):
        if r in layout.header_rows:
            continue
        label = next((str(c).strip() for c in row if str(c).strip() and not _is_number(c)), "")
        has_numbers = any(_is_number(c) for c in row)
        if not has_numbers:
            section = words_in(label) if label else []
            previous_had_numbers = False
            continue
        if not label and previous_had_numbers:
            label = "Total " + " ".join(section) if section else "Total"
        layout.row_text[r] = label
        layout.row_words[r] = words_in(label)
        layout.row_context[r] = set(section) | set(words_in(caption))
        years = years_in(label)
        if years:
            layout.row_years[r] = frozenset(years)
        previous_had_numbers = True
    return layout


def _span_fill(header: list[str], width: int) -> list[str]:
    """A spanning header ("December 31, 2019" over "Carrying Amount | Fair Value") covers the
    empty cells to its right, so both columns get its year."""
    out = [*header, *[""] * (width - len(header))][:width]
    for c in range(2, width):
        if not out[c].strip() and out[c - 1].strip() and years_in(out[c - 1]):
            out[c] = out[c - 1]
    return out


_WEAK = frozenset(
    [
        "total",
        "net",
        "other",
        "gross",
        "current",
        "noncurrent",
        "non",
        "basic",
        "diluted",
        "adjusted",
    ]
)
"""Qualifiers: a partial match contributing only these names no further item."""


def _named(words: dict[int, list[str]], question: Question, context: dict[int, set[str]]) -> set[int]:
    """Which rows (or columns) the question names, by their label words."""
    full: dict[int, set[str]] = {}
    partial: dict[int, tuple[float, set[str]]] = {}
    for key, label in words.items():
        ws = set(label)
        if not ws:
            continue
        hit = ws & question.words
        if hit == ws:
            full[key] = ws
        elif len(hit) / len(ws) >= 0.5:
            partial[key] = (len(hit) / len(ws), hit)
    # "Net income" gives way to "Net income attributable to ..." unless the question says it twice.
    named = {
        k
        for k, ws in full.items()
        if not any(ws < other for j, other in full.items() if j != k)
        or all(question.counts.get(w, 0) >= 2 for w in ws)
    }
    if named:
        # Identical labels in different sections: keep those whose heading the question names too.
        best: dict[frozenset[str], int] = {}
        for k in named:
            score = len(context.get(k, set()) & question.words)
            best[frozenset(full[k])] = max(best.get(frozenset(full[k]), 0), score)
        named = {k for k in named if len(context.get(k, set()) & question.words) == best[frozenset(full[k])]}
    if not partial:
        return named
    if not named:
        top = max(score for score, _ in partial.values())
        return {k for k, (score, _) in partial.items() if score == top}
    # A second item the question names only in part ("accrued compensation" for "Accrued
    # compensation and benefits") still counts, if it accounts for words no full match does.
    covered = set().union(*(full[k] | context.get(k, set()) for k in named))
    return named | {k for k, (_, hit) in partial.items() if (hit - covered) - _WEAK}


@dataclass(frozen=True, slots=True)
class Grounding:
    """What the question names in one table."""

    layout: TableLayout
    rows: set[int]
    cols: set[int]

    @property
    def names_anything(self) -> bool:
        return bool(self.rows or self.cols)


def ground(table: dict[str, Any], question: Question, layout: TableLayout | None = None) -> Grounding:
    layout = layout or read_layout(table)
    rows = _named(layout.row_words, question, layout.row_context)
    # Columns name items only in tables whose rows name none (transposed tables): otherwise a
    # header such as "Percentage of Total Fees" would override the row the question names.
    cols = set() if rows else _named(layout.col_words, question, {})
    return Grounding(layout=layout, rows=rows, cols=cols)


def cell_verdict(g: Grounding, question: Question, row: int, col: int) -> str | None:
    """None when the cell is one the question asks for, else why not (one clause)."""
    if row in g.layout.header_rows:
        return "a header cell"
    if g.rows and row not in g.rows:
        return "another line item"
    if g.cols and col not in g.cols:
        return "another column"
    if not g.rows and not g.cols:
        return "the question names no line item of this table"
    if question.years:
        years = g.layout.years_of(row, col)
        if not years and g.layout.has_periods:
            return "a column without a period"
        if years and not years <= question.years:
            return "another period"
    return None


def asked_for(g: Grounding, question: Question) -> str:
    """The line items and periods the question names, as the failure message lists them."""
    items = [g.layout.row_text[r] for r in sorted(g.rows) if r in g.layout.row_text]
    items += [g.layout.col_text[c] for c in sorted(g.cols) if c in g.layout.col_text]
    periods = sorted(
        {
            g.layout.col_text[c]
            for c, ys in g.layout.col_years.items()
            if question.years and ys <= question.years and c in g.layout.col_text
        }
    )
    if not periods and question.years:
        periods = [str(y) for y in sorted(question.years)]
    what = ", ".join(dict.fromkeys(items)) or "no line item of the table"
    return f"{what} {', '.join(periods)}".strip()


CellRef = tuple[int, int, int]


def grounding_rule(
    chosen: dict[Operand, CellRef], groundings: list[Grounding], q: Question, layouts: list[TableLayout]
) -> dict[str, Any]:
    """Rule 2's verdict over the cells each traced operand was read from (`chosen`)."""
    if not chosen:
        return {"rule": "grounding", "status": "n/a", "detail": "no table cell is used"}
    for t, r, c in dict.fromkeys(chosen.values()):
        g = groundings[t]
        why = cell_verdict(g, q, r, c)
        if why is None:
            continue
        if not g.names_anything:
            detail = (
                f"the question names no line item of table t{t}, so the cells it asks for cannot be checked "
                f"(used {layouts[t].describe(r, c)})"
            )
        else:
            detail = f"used {layouts[t].describe(r, c)} ({why}); the question asks for {asked_for(g, q)}"
        return {"rule": "grounding", "status": "fail", "detail": detail}
    unused = _unused_columns(chosen, groundings, layouts)
    if unused:
        return {"rule": "grounding", "status": "fail", "detail": unused}
    named = ", ".join(dict.fromkeys(layouts[t].describe(r, c) for t, r, c in chosen.values()))
    return {"rule": "grounding", "status": "pass", "detail": f"used {named}: what the question names"}


def _unused_columns(
    chosen: dict[Operand, CellRef], groundings: list[Grounding], layouts: list[TableLayout]
) -> str:
    """Where the question names several of a table's columns as its items ("the truck" and "the
    land" of a Truck | Land table) and the calculation reads some of them but none of another's
    cells: a column swapped for its neighbour (the land's cost standing for the truck's) passes
    the per-cell check, since each cell is one the question names, and only the one left out
    shows it. "" when every named column is used."""
    for t, g in enumerate(groundings):
        if g.rows or len(g.cols) < 2:
            continue
        used = {c for tt, _, c in chosen.values() if tt == t}
        left = sorted(g.cols - used)
        if used and left:
            names = ", ".join(layouts[t].col_text.get(c) or f"column {c}" for c in left)
            return f"the question names {names} of table t{t}, and the calculation uses none of its cells"
    return ""
