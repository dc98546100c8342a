"""The expression a calculation computes: operands at the leaves, operations at the nodes.

`_finance_calc` reads a chain's code into these trees; the rules (`_finance_rules`,
`_finance_operation`, `_finance_direction`, `_finance_scale`, `_finance_provenance`) judge them.
They are plain frozen data, so the rules can compare and walk them without the reader, and
`evaluate` recomputes a tree's value so that the reader's account can be checked against what the
harness executed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

CellRef = tuple[int, int, int]
"""(table, row, column) of a cell in the verifier's tables (rows as given, header rows included)."""


@dataclass(frozen=True, slots=True)
class Operand:
    """A number as it enters the arithmetic: a literal, a table read or a count."""

    value: float | None
    text: str
    """The code it came from ("371", "t0.iloc[6, 1]")."""
    kind: str
    """"literal", "read" (one cell read from a table) or "count" (len of a list of operands)."""
    cells: tuple[CellRef, ...] = ()
    """For a read: the cell read."""


@dataclass(frozen=True, slots=True)
class Op:
    """An operation over sub-expressions: + - * / ** // % neg, sum, mean, abs, round, min, max..."""

    op: str
    args: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Opaque:
    """A value the interpreter cannot follow; `parts` are the expressions that flowed into it."""

    reason: str
    parts: tuple[Expr, ...] = ()
    traceable: bool = True
    """False when the construct can produce a number no operand shows (eval, getattr, text)."""


Expr = Operand | Op | Opaque


def evaluate(expr: Expr) -> float | None:
    """The expression's value, or None when part of it is opaque or not a number."""
    if isinstance(expr, Operand):
        return expr.value
    if isinstance(expr, Opaque):
        return None
    args = [evaluate(a) for a in expr.args]
    if any(a is None for a in args):
        return None
    vals: list[float] = [a for a in args if a is not None]
    try:
        return _apply(expr.op, vals)
    except (ArithmeticError, ValueError, TypeError, OverflowError):
        return None


def _apply(op: str, v: list[float]) -> float | None:
    binary = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
        "//": lambda a, b: a // b,
        "%": lambda a, b: a % b,
        "**": lambda a, b: a**b,
    }
    if op in binary:
        result = binary[op](v[0], v[1])
        return float(result) if isinstance(result, int | float) else None
    unary = {"neg": lambda a: -a, "abs": abs, "int": lambda a: float(int(a)), "sqrt": math.sqrt}
    unary |= {"log10": math.log10, "exp": math.exp, "floor": math.floor, "ceil": math.ceil}
    if op in unary:
        return float(unary[op](v[0]))
    if op == "log":
        return math.log(v[0]) if len(v) == 1 else math.log(v[0], v[1])
    if op == "round":
        return float(round(v[0], int(v[1]))) if len(v) > 1 else float(round(v[0]))
    if op == "sum":
        return float(sum(v))
    if op == "mean":
        return sum(v) / len(v) if v else None
    if op == "prod":
        return float(math.prod(v))
    if op == "min":
        return min(v)
    if op == "max":
        return max(v)
    return None


def operands(expr: Expr) -> Iterator[Operand]:
    """Every operand in the expression, opaque parts included, left to right."""
    if isinstance(expr, Operand):
        yield expr
    elif isinstance(expr, Op):
        for a in expr.args[:1] if expr.op == "round" else expr.args:  # round's digits are no operand
            yield from operands(a)
    else:
        for p in expr.parts:
            yield from operands(p)


def unwrap(expr: Expr) -> Expr:
    """The expression under presentation-only wrappers (round, float)."""
    while isinstance(expr, Op) and expr.op in ("round", "float") and expr.args:
        expr = expr.args[0]
    return expr


def is_expr(value: Any) -> bool:
    return isinstance(value, Operand | Op | Opaque)
