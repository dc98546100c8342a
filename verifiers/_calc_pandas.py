"""The pandas idioms a calculation reaches its tables with: subscripts, row masks and methods.

`t0.iloc[3, 1]`, `t0.loc[t0["item"] == "Revenue", "2019"]`, `t0.set_index("item").loc[...]`,
`t0["2019"].str.replace(",", "").astype(float)`: each is turned into a `View` (or the operands it
reads), or into an untraceable `Opaque` when the cells it reaches are not certain. Evaluating the
sub-expressions is the interpreter's job, so `expr` is left to the subclass.
"""

from __future__ import annotations

import ast
from abc import ABC, abstractmethod
from typing import Any

from ponder.verifiers._calc_expr import Op, Opaque, Operand, is_expr
from ponder.verifiers._calc_tables import TableReader
from ponder.verifiers._calc_values import (
    FORMATTING,
    IDENTITY_METHODS,
    Mask,
    Seq,
    StrView,
    Text,
    View,
    cell_raw,
    flat,
    is_columns_ref,
    text_test,
)


class TableCode(TableReader, ABC):
    """Reads the table accesses in a step's code; `expr` evaluates any other sub-expression."""

    @abstractmethod
    def expr(self, node: ast.expr | None, env: dict[str, Any]) -> Any:
        """The value `node` has in `env`: an `Expr`, a `View`, or another value kind."""

    def key(self, node: ast.expr, env: dict[str, Any]) -> Any:
        """A subscript key as a Python value: ints, strings, slices, tuples, row masks."""
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, int | str)
            and not isinstance(node.value, bool)
        ):
            return node.value
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            inner = self.key(node.operand, env)
            return -inner if isinstance(inner, int) else None
        if isinstance(node, ast.Slice):
            parts = [self.key(p, env) if p is not None else None for p in (node.lower, node.upper, node.step)]
            if all(p is None or isinstance(p, int) for p in parts):
                return slice(*parts)
            return None
        if isinstance(node, ast.Tuple):
            return tuple(self.key(e, env) for e in node.elts)
        if isinstance(node, ast.List):
            return [self.key(e, env) for e in node.elts]
        if isinstance(node, ast.Name):
            value = env.get(node.id)
            if isinstance(value, Operand) and value.kind == "literal" and value.value is not None:
                return int(value.value) if float(value.value).is_integer() else None
            if isinstance(value, Text):
                return value.value
            return None
        if isinstance(node, ast.Subscript) and is_columns_ref(node):
            assert isinstance(node.value, ast.Attribute)  # `is_columns_ref`: t0.columns[...]
            base = self.expr(node.value.value, env)
            idx = self.key(node.slice, env)
            if isinstance(base, View) and isinstance(idx, int):
                labels = self.columns(base.table)
                if labels is not None and -len(labels) <= idx < len(labels):
                    return labels[idx]
                return idx
            return None
        mask = self.mask(node, env)
        return mask

    def mask(self, node: ast.expr, env: dict[str, Any]) -> Mask | None:
        """A row mask: `t0[col] == "label"`, `t0[col].str.contains("label")`, `&` of masks."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd):
            a, b = self.mask(node.left, env), self.mask(node.right, env)
            if a and b and a.table == b.table:
                return Mask(a.table, tuple(r for r in a.rows if r in b.rows))
            return None
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            left = self.expr(node.left, env)
            right = node.comparators[0]
            literal = right.value if isinstance(right, ast.Constant) else None
            if isinstance(left, View) and left.shape == "col" and literal is not None:
                t, c = left.table, left.cols[0]
                rows = tuple(r for r in left.rows if cell_raw(self.tables, t, r, c) == literal)
                return Mask(t, rows)
            if isinstance(left, StrView) and isinstance(literal, str):
                return Mask(left.view.table, left.select(lambda s: s == literal))
            return None
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ("contains", "startswith", "endswith")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            base = self.expr(node.func.value, env)
            if isinstance(base, StrView):
                text = node.args[0].value
                case = next(
                    (k.value for k in node.keywords if k.arg == "case" and isinstance(k.value, ast.Constant)),
                    None,
                )
                insensitive = case is not None and case.value is False
                return Mask(base.view.table, base.select(text_test(node.func.attr, text, insensitive)))
        return None

    def subscript(self, node: ast.Subscript, env: dict[str, Any]) -> Any:
        accessor = node.value.attr if isinstance(node.value, ast.Attribute) else None
        if accessor in ("iloc", "iat", "loc", "at", "values"):
            base = self.expr(node.value.value, env)  # type: ignore[attr-defined]
            if isinstance(base, View):
                key = self.key(node.slice, env)
                positional = accessor in ("iloc", "iat", "values")
                return self.select(base, key, positional=positional) or Opaque(
                    "table read not resolved", traceable=False
                )
        base = self.expr(node.value, env)
        if isinstance(base, Seq):
            key = self.key(node.slice, env)
            if isinstance(key, int) and -len(base.items) <= key < len(base.items):
                return base.items[key]
            if isinstance(key, slice):
                return Seq(base.items[key])
            return Opaque("list indexing", flat(*base.items))
        if isinstance(base, View):
            key = self.key(node.slice, env)
            if base.shape == "frame":
                if isinstance(key, Mask):
                    return self.select(base, (key, slice(None)), positional=False) or Opaque(
                        "table read not resolved", traceable=False
                    )
                c = self.col_index(base.table, key) if not isinstance(key, list | tuple | slice) else None
                if c is not None and c in base.cols:
                    return View(base.table, base.rows, (c,), "col", base.index_col)
                return Opaque("table read not resolved", traceable=False)
            picked = self.select(base, key, positional=False)
            if picked is None and isinstance(key, int) and not isinstance(key, bool):
                picked = self.select(base, key, positional=True)  # pandas' positional fallback
            return picked or Opaque("table read not resolved", traceable=False)
        if isinstance(base, StrView):
            return Opaque("text selection", traceable=False)
        return Opaque("indexing", flat(base))

    def method(self, base: Any, name: str, node: ast.Call, env: dict[str, Any]) -> Any:
        args = [self.expr(a, env) for a in node.args]
        if isinstance(base, View):
            if name == "set_index" and node.args and base.shape == "frame":
                key = self.key(node.args[0], env)
                c = self.col_index(base.table, key)
                if c is None:
                    return Opaque("set_index not resolved", traceable=False)
                return View(base.table, base.rows, tuple(x for x in base.cols if x != c), "frame", c)
            if name in ("sum", "mean", "prod", "min", "max") and base.shape in ("col", "row", "scalar"):
                return Op(name, tuple(self.items(base) or ()))
            if name in IDENTITY_METHODS or name in ("to_list", "tolist"):
                if name in ("item", "squeeze"):
                    return self.as_expr(base)
                if name in ("to_list", "tolist"):
                    return Seq(tuple(self.items(base) or ()))
                return base
            return Opaque(f"table method .{name}()", traceable=False)
        if isinstance(base, StrView):
            if name == "replace":
                formatting = (
                    len(args) == 2
                    and all(isinstance(a, Text) for a in args)
                    and args[0].value in FORMATTING
                    and args[1].value == ""
                )
                return StrView(base.view, base.tables, numeric=base.numeric and formatting)
            if name in ("strip", "lower", "upper", "lstrip", "rstrip"):
                return base
            if name == "astype" and base.numeric and base.view.shape in ("col", "row"):
                return base.view  # "1,200" with its commas removed is the cell's number 1200
            return Opaque(f".str.{name}()", traceable=False)
        if isinstance(base, Text):
            if name in ("replace", "strip", "lstrip", "rstrip"):
                return Opaque("text method", traceable=False)
            return Opaque(f"text .{name}()", traceable=False)
        if isinstance(base, Operand) and base.kind == "read":
            if name in IDENTITY_METHODS:
                return base
            return Opaque(f"cell .{name}()", flat(base))
        if is_expr(base):
            if name in ("item", "real") or name in ("astype",):
                return base
            return Opaque(f".{name}()", flat(base, *args))
        return Opaque(f".{name}()", traceable=False)
