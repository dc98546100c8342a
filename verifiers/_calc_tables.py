"""Where a table selection lands: the rows and columns a pandas-style read picks, and its cells.

This is the part of the calculation reader that knows the verifier's tables and nothing about
code: given a `View` and a key already turned into a Python value, it answers which cells the
selection holds, the way pandas would pick them (positional `iloc`, labels through the header
row or a `set_index` column). A selection it cannot pin down is None, never a guess, so no
operand is ever attributed to the wrong cell.
"""

from __future__ import annotations

from typing import Any

from ponder.verifiers._calc_expr import Expr, Opaque, Operand, is_expr
from ponder.verifiers._calc_values import Mask, Seq, StrView, View, cell_raw, is_scalar_key
from ponder.verifiers._numbers import parse_cell


class TableReader:
    """The verifier's tables (`{"name", "columns", "rows"}`), bound as t0, t1, ... in the code."""

    def __init__(self, tables: list[dict[str, Any]]) -> None:
        self.tables = tables

    def frame(self, t: int) -> View:
        rows = self.tables[t]["rows"]
        width = max((len(r) for r in rows if isinstance(r, list)), default=0)
        return View(t, tuple(range(len(rows))), tuple(range(width)), "frame")

    def read(self, t: int, r: int, c: int) -> Operand:
        row = self.tables[t]["rows"][r]
        raw = row[c] if c < len(row) else ""
        return Operand(parse_cell(raw), f"t{t}[{r}][{c}]", "read", ((t, r, c),))

    def as_expr(self, value: Any) -> Any:
        """A one-cell selection as its operand (how arithmetic sees it); anything else unchanged."""
        if isinstance(value, View) and len(value.rows) == 1 and len(value.cols) == 1:
            return self.read(value.table, value.rows[0], value.cols[0])
        return value

    def all_cells(self, view: View) -> list[Expr]:
        return [self.read(view.table, r, c) for r in view.rows for c in view.cols]

    def items(self, value: Any) -> list[Expr] | None:
        """The operands of a list, tuple or table selection, or None."""
        if isinstance(value, Seq):
            out: list[Expr] = []
            for item in value.items:
                if is_expr(item):
                    out.append(item)
                elif isinstance(item, View):
                    scalar = self.as_expr(item)
                    if not isinstance(scalar, Operand):
                        return None
                    out.append(scalar)
                else:
                    return None
            return out
        if isinstance(value, View) and value.shape in ("col", "row", "scalar"):
            return [self.read(value.table, r, c) for r in value.rows for c in value.cols]
        return None

    def columns(self, t: int) -> list[Any] | None:
        """Column labels as the harness builds the frame, or None for positional columns."""
        table = self.tables[t]
        cols = list(table.get("columns") or [])
        rows = table["rows"]
        if not cols or (rows and len(cols) != len(rows[0])):
            return None
        return cols

    def col_index(self, t: int, key: Any) -> int | None:
        labels = self.columns(t)
        if labels is None:
            return int(key) if isinstance(key, int) and not isinstance(key, bool) else None
        matches = [i for i, label in enumerate(labels) if label == key]
        return matches[0] if len(matches) == 1 else None

    def select(self, view: View, key: Any, *, positional: bool) -> View | None:
        """`view.iloc[key]` (positional) or `view.loc[key]` / `series[key]` (by label)."""
        if view.shape == "frame":
            rkey, ckey = key if isinstance(key, tuple) and len(key) == 2 else (key, slice(None))
            rows = self._pick_rows(view, rkey, positional)
            cols = self._pick(view.cols, ckey) if positional else self._pick_cols_by_label(view, ckey)
            if rows is None or cols is None:
                return None
            shape = "frame"
            if is_scalar_key(rkey) and is_scalar_key(ckey):
                shape = "scalar"
            elif is_scalar_key(rkey):
                shape = "row"
            elif is_scalar_key(ckey) or isinstance(ckey, str):
                shape = "col"
            return View(view.table, rows, cols, shape, view.index_col)
        axis = view.rows if view.shape in ("col", "scalar") else view.cols
        if positional:
            picked = self._pick(axis, key)
        elif view.shape in ("col", "scalar"):
            picked = self._pick_rows(view, key, positional=False)
        else:
            picked = self._pick_cols_by_label(view, key)
        if picked is None:
            return None
        if view.shape in ("col", "scalar"):
            return View(view.table, picked, view.cols, "col", view.index_col)
        return View(view.table, view.rows, picked, "row", view.index_col)

    @staticmethod
    def _pick(axis: tuple[int, ...], key: Any) -> tuple[int, ...] | None:
        if isinstance(key, int) and not isinstance(key, bool):
            return (axis[key],) if -len(axis) <= key < len(axis) else None
        if isinstance(key, slice):
            return axis[key]
        if isinstance(key, list) and all(isinstance(k, int) for k in key):
            return tuple(axis[k] for k in key) if all(-len(axis) <= k < len(axis) for k in key) else None
        return None

    def _pick_rows(self, view: View, key: Any, positional: bool) -> tuple[int, ...] | None:
        if isinstance(key, Mask):
            return tuple(r for r in view.rows if r in key.rows) if key.table == view.table else None
        if positional:
            return self._pick(view.rows, key)
        if isinstance(key, slice):
            return view.rows if key == slice(None) else None  # label slices are inclusive: not followed
        labels = [key] if not isinstance(key, list) else key
        out: list[int] = []
        for label in labels:
            if view.index_col is None:
                if not isinstance(label, int) or label not in view.rows:
                    return None
                out.append(label)
            else:
                hits = [r for r in view.rows if cell_raw(self.tables, view.table, r, view.index_col) == label]
                if len(hits) != 1:
                    return None
                out.append(hits[0])
        return tuple(out)

    def _pick_cols_by_label(self, view: View, key: Any) -> tuple[int, ...] | None:
        if isinstance(key, slice):
            return view.cols if key == slice(None) else None
        labels = key if isinstance(key, list) else [key]
        out = []
        for label in labels:
            c = self.col_index(view.table, label)
            if c is None or c not in view.cols:
                return None
            out.append(c)
        return tuple(out)

    def view_attr(self, view: View, attr: str) -> Any:
        if attr == "values":
            return view
        if attr == "str":
            return StrView(view, self.tables)
        if attr in ("iloc", "loc", "iat", "at"):
            return view  # reached only when not subscripted; harmless
        if attr in ("shape", "index", "columns", "size"):
            return Opaque(f".{attr}", traceable=False)
        c = self.col_index(view.table, attr) if view.shape == "frame" else None
        if c is not None:
            return View(view.table, view.rows, (c,), "col", view.index_col)
        return Opaque(f"table attribute .{attr}", traceable=False)
