"""What a name can hold while a calculation is read, besides a number: lists, text, table
selections, functions and modules.

None of these enters the arithmetic itself. A `View` becomes operands when it is read (one cell, or
the cells `sum`/`len` take); the others decide how the reader follows a call or a method. The name
sets say which functions compute only from their arguments and which can hide a number.
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass
from typing import Any

from ponder.verifiers._calc_expr import Expr, Opaque, is_expr

SAFE_FUNCS = {
    "abs", "round", "float", "int", "sum", "min", "max", "len", "pow",
    "sqrt", "log", "log10", "exp", "fabs", "floor", "ceil", "mean", "prod",
}  # fmt: skip
HIDING = {
    "eval", "exec", "compile", "getattr", "setattr", "globals", "locals", "vars", "__import__",
    "open", "input", "chr", "ord", "bytes", "bytearray", "memoryview", "hash", "id",
}  # fmt: skip
ARITHMETIC_MODULES = {"math", "np", "numpy", "statistics"}
"""Modules whose `sum`, `mean`, `sqrt`... are the builtins' arithmetic."""
LIBRARY_OK = {*ARITHMETIC_MODULES, "npf", "numpy_financial", "scipy", "cmath"}
"""Libraries whose functions compute from their arguments only (no files, no text to numbers)."""
IDENTITY_METHODS = {
    "replace", "strip", "lstrip", "rstrip", "astype", "item", "to_numpy", "squeeze", "copy",
    "lower", "upper", "reset_index",
}  # fmt: skip
CONST_NAMES = {"pi": math.pi, "e": math.e}
FORMATTING = {",", "$", "%", " ", "€", "£", "¥"}
"""Characters `.str.replace(x, "")` may strip before `.astype(float)`: they format, not change, a number."""


@dataclass(frozen=True, slots=True)
class Seq:
    """A list/tuple of expressions (what `sum`, `len`, `mean` take)."""

    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class Text:
    """A string: a label to select by, or text that `float()` may turn into a number (untraceable)."""

    value: str


@dataclass(frozen=True, slots=True)
class View:
    """A selection of one table: the rows and columns it holds, and how it is indexed."""

    table: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    shape: str
    """"frame", "col" (a Series over rows), "row" (a Series over columns)."""
    index_col: int | None = None
    """After `set_index(col)`: row labels are that column's cells."""


@dataclass(frozen=True, slots=True)
class FuncRef:
    """A builtin or math function by name; the reader knows what the safe ones compute."""

    name: str


@dataclass(frozen=True, slots=True)
class UserFunc:
    """A function the steps define; calling it runs its body on the arguments."""

    node: ast.FunctionDef


@dataclass(frozen=True, slots=True)
class ModuleRef:
    """A module or a dotted name inside one (`np`, `math.sqrt`), as the code imported it."""

    name: str


@dataclass(frozen=True, slots=True)
class Mask:
    """A boolean row selection (`t0["item"] == "Revenue"`): the rows of `table` it keeps."""

    table: int
    rows: tuple[int, ...]


class StrView:
    """`view.str` (and its .replace/.strip chains): row selection by text tests on one column."""

    def __init__(self, view: View, tables: list[dict[str, Any]], numeric: bool = True) -> None:
        self.view = view
        self.tables = tables
        self.numeric = numeric
        """Only formatting was removed (`.str.replace(",", "")`), so `.astype(float)` gives the
        cells' own numbers; any other replacement can change a number, and is opaque."""

    def select(self, test: Any) -> tuple[int, ...]:
        if self.view.shape != "col":
            return ()
        c = self.view.cols[0]
        return tuple(
            r
            for r in self.view.rows
            if isinstance(cell_raw(self.tables, self.view.table, r, c), str)
            and test(str(cell_raw(self.tables, self.view.table, r, c)).strip())
        )


def text_test(kind: str, text: str, insensitive: bool) -> Any:
    def test(cell: str) -> bool:
        a, b = (cell.lower(), text.lower()) if insensitive else (cell, text)
        if kind == "contains":
            return b in a
        return a.startswith(b) if kind == "startswith" else a.endswith(b)

    return test


def cell_raw(tables: list[dict[str, Any]], t: int, r: int, c: int) -> Any:
    row = tables[t]["rows"][r]
    return row[c] if isinstance(row, list) and c < len(row) else None


def is_columns_ref(node: ast.expr) -> bool:
    """`t0.columns[1]`: a column label by position."""
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "columns"
    )


def is_scalar_key(key: Any) -> bool:
    return (isinstance(key, int) and not isinstance(key, bool)) or isinstance(key, str)


def flat(*values: Any) -> tuple[Expr, ...]:
    out: list[Expr] = []
    for value in values:
        if is_expr(value):
            out.append(value)
        elif isinstance(value, Seq):
            out.extend(flat(*value.items))
        elif isinstance(value, View):
            out.append(Opaque("a table selection", traceable=False))
        elif isinstance(value, Text):
            out.append(Opaque("text", traceable=False))
    return tuple(out)


def as_number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def as_load(target: ast.expr) -> ast.expr:
    """The target of `x += 1` read as a value."""
    clone = ast.parse(ast.unparse(target), mode="eval").body
    return clone


def in_index(stmt: ast.AST, constant: ast.Constant) -> bool:
    """Whether a literal sits inside a subscript key (a position, not an operand)."""
    for node in ast.walk(stmt):
        if isinstance(node, ast.Subscript) and any(n is constant for n in ast.walk(node.slice)):
            return True
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "round"
            and len(node.args) > 1
            and any(n is constant for n in ast.walk(node.args[1]))
        ):
            return True
    return False
