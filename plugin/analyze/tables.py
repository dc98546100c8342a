"""Turn the user's data files (CSV, JSON, Excel, text) into the finance verifier's inputs.

The finance verifier and the sandbox harness read tables as ``{"name", "columns", "rows"}``
dicts and bind them as pandas DataFrames ``t0, t1, ...``. Numeric-looking cells ("$ 1,169",
"(2,088)", "12.5%") are parsed here, once, with the verifier's own parser, so the model's code
does arithmetic on numbers instead of re-parsing accounting notation, and the cells it uses are
the same values the verifier traces answers to.

    tables = load_tables(Path("examples/tenk_table.csv"))
    inputs = finance_inputs(tables, paragraphs=["Amounts in millions."])
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ponder.errors import PonderError
from ponder.verifiers._numbers import parse_cell

Table = dict[str, Any]
"""``{"name": str, "columns": [str], "rows": [[cell]]}``; cells are str, int or float."""

_SCALE_WORDS = {
    "thousand": re.compile(r"\bin thousands\b|\bthousands of\b|[$€£]\s?000s?\b|'000\b", re.I),
    "million": re.compile(r"\bin millions\b|\bmillions of\b|[$€£]\s?m\b", re.I),
    "billion": re.compile(r"\bin billions\b|\bbillions of\b|[$€£]\s?bn?\b", re.I),
}


class DataLoadError(PonderError, ValueError):
    """A data file that cannot be read as tables (wrong format, empty, unreadable)."""


def cell_value(raw: Any) -> Any:
    """The cell as the model should see it: a number when it is one, else the stripped text."""
    if raw is None or (isinstance(raw, float) and raw != raw):  # NaN from pandas
        return ""
    if isinstance(raw, bool):
        return str(raw)
    number = parse_cell(raw)
    if number is None:
        return raw.strip() if isinstance(raw, str) else str(raw)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def make_table(name: str, columns: Sequence[Any], rows: Sequence[Sequence[Any]]) -> Table:
    """A verifier table with parsed cells; rows are padded to the widest row."""
    width = max([len(columns), *(len(r) for r in rows)], default=0)
    cols = [str(c) if c is not None else "" for c in columns]
    cols += [f"c{i}" for i in range(len(cols), width)]
    body = [[cell_value(c) for c in row] + [""] * (width - len(row)) for row in rows]
    return {"name": name, "columns": cols, "rows": body}


def _frame_table(name: str, frame: Any) -> Table:
    frame = frame.dropna(how="all").dropna(axis=1, how="all")
    columns = ["" if str(c).startswith("Unnamed:") else str(c) for c in frame.columns]
    return make_table(name, columns, frame.astype(object).values.tolist())


def load_tables(path: Path) -> list[Table]:
    """Tables from a CSV, JSON or Excel file (every sheet of a workbook is one table).

    JSON may be a list of row objects, a ``{"columns", "rows"}`` table, a list of such tables, a
    ``{"tables": [...]}`` object, or a TAT-QA record (``{"table": [[...]], ...}``).

    Raises:
        DataLoadError: the file is missing, of an unknown type, or holds no rows.
    """
    import pandas as pd

    if not path.is_file():
        raise DataLoadError(f"data file {path} does not exist; pass a CSV, JSON or Excel file with --data")
    suffix = path.suffix.lower()
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            sep = "\t" if suffix == ".tsv" else ","
            frame = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False)
            tables = [_frame_table(path.stem, frame)]
        elif suffix in (".xlsx", ".xlsm", ".xls"):
            sheets = pd.read_excel(path, sheet_name=None, dtype=object)
            tables = [_frame_table(str(name), frame) for name, frame in sheets.items()]
        elif suffix == ".json":
            tables = _json_tables(path.stem, json.loads(path.read_text(encoding="utf-8")))
        else:
            raise DataLoadError(f"{path}: unknown data type {suffix!r}; use .csv, .tsv, .json or .xlsx")
    except (OSError, ValueError, ImportError) as exc:
        if isinstance(exc, DataLoadError):
            raise
        raise DataLoadError(f"cannot read {path} as a table: {exc}; check the file's format") from exc
    tables = [t for t in tables if t["rows"]]
    if not tables:
        raise DataLoadError(f"{path} holds no table rows; pass a file with at least one data row")
    return tables


def _json_tables(stem: str, data: Any) -> list[Table]:
    if isinstance(data, dict) and isinstance(data.get("tables"), list):
        data = data["tables"]
    if isinstance(data, dict) and isinstance(data.get("table"), list):
        return [tatqa_table(data["table"])]
    if isinstance(data, dict) and "rows" in data:
        data = [data]
    if isinstance(data, list) and data and all(isinstance(t, dict) and "rows" in t for t in data):
        return [
            make_table(str(t.get("name") or f"{stem}{i}"), t.get("columns") or [], t["rows"])
            for i, t in enumerate(data)
        ]
    if isinstance(data, list) and data and all(isinstance(r, dict) for r in data):
        columns = list(dict.fromkeys(k for r in data for k in r))
        return [make_table(stem, columns, [[r.get(c, "") for c in columns] for r in data])]
    raise DataLoadError(
        f"{stem}.json is not a table: expected row objects, {{'columns', 'rows'}} or {{'tables': [...]}}"
    )


def tatqa_table(rows: Sequence[Sequence[Any]]) -> Table:
    """A TAT-QA table: rows kept as given (header rows included), columns named by position."""
    width = max((len(r) for r in rows), default=0)
    return make_table("table", ["label", *(f"c{i}" for i in range(1, width))], rows)


def load_paragraphs(path: Path) -> list[str]:
    """Text paragraphs from a .txt/.md file (blank-line separated) or a JSON list of strings."""
    if not path.is_file():
        raise DataLoadError(f"text file {path} does not exist; pass a text file with --text")
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        data = json.loads(text)
        if isinstance(data, dict):
            data = data.get("paragraphs", [])
        if not isinstance(data, list):
            raise DataLoadError(f"{path}: expected a JSON list of paragraphs")
        return [str(p.get("text", "") if isinstance(p, dict) else p).strip() for p in data if p]
    return [p.strip() for p in re.split(r"\n\s*\n", text) if p.strip()]


def guess_scale(tables: Sequence[Table], paragraphs: Sequence[str]) -> str | None:
    """The scale the tables' amounts are stated in, when a header or the text says so."""
    texts = [*paragraphs]
    for table in tables:
        texts += [table["name"], *map(str, table["columns"])]
        texts += [str(c) for row in table["rows"][:4] for c in row if isinstance(c, str)]
    blob = "\n".join(texts)
    for scale, pattern in _SCALE_WORDS.items():
        if pattern.search(blob):
            return scale
    return None


def finance_inputs(
    tables: Sequence[Table],
    paragraphs: Sequence[str] = (),
    *,
    scale: str | None = None,
    reference: Any = None,
    reference_scale: str | None = None,
) -> dict[str, Any]:
    """`VerifyTask.inputs` for a finance question; `reference` only when the answer is known."""
    inputs: dict[str, Any] = {"tables": list(tables), "paragraphs": list(paragraphs)}
    hint = scale or guess_scale(tables, paragraphs)
    if hint:
        inputs["scale_hint"] = hint
    if reference is not None:
        inputs["reference"] = reference
        inputs["reference_scale"] = reference_scale or ""
    return inputs


def tatqa_record(record: dict[str, Any], *, with_reference: bool = True) -> tuple[str, dict[str, Any]]:
    """A TAT-QA record as (question, finance inputs); the gold answer is the reference."""
    tables = [tatqa_table(record["table"])]
    paragraphs = [str(p) for p in record.get("paragraphs") or []]
    inputs = finance_inputs(
        tables,
        paragraphs,
        reference=record.get("answer") if with_reference else None,
        reference_scale=record.get("scale") or "",
    )
    return str(record["question"]), inputs
