"""The operation rule's reading of a calculation: a weighted sum of terms, each with the cells,
line items and periods it came from.

Every checked form (`_finance_operation`, `_finance_difference`) asks the same questions of an
expression — which cells enter it, with which sign and weight, from which periods — so the
reading is done once, here, and the forms only compare terms.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ponder.verifiers._calc_expr import Expr, Op, Opaque, Operand, evaluate, operands, unwrap

CellRef = tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Term:
    """One additive term of a calculation, with where its value came from."""

    weight: float
    """The term's coefficient as the code writes it."""
    sign: float
    """+1 when the term is its cells as stated, -1 when written as their negation."""
    items: frozenset[tuple[int, int]]
    """(table, row) of the cells inside it."""
    years: frozenset[int]
    negative: bool
    """All its cells are negative amounts."""

    @property
    def cell_weight(self) -> float:
        return self.weight * self.sign


@dataclass(slots=True)
class Context:
    """What the operation check needs to know about operands: their cells, periods and labels."""

    cell_of: Callable[[Operand], CellRef | None]
    factor_of: Callable[[Operand], float]
    years_of: Callable[[CellRef], frozenset[int]]
    label_of: Callable[[tuple[int, int]], str]
    label_words: Callable[[tuple[int, int]], list[str]]
    cell_value: Callable[[CellRef], float]
    is_constant: Callable[[Operand], bool]


def constant(expr: Expr, ctx: Context) -> float | None:
    """The value of a sub-expression made only of constants, else None."""
    ops = list(operands(expr))
    if isinstance(expr, Opaque) or not ops or not all(ctx.is_constant(o) for o in ops):
        return None
    return evaluate(expr)


def linear(expr: Expr, ctx: Context, weight: float = 1.0) -> list[tuple[Expr, float]]:
    """The expression as a weighted sum of atoms (operands or non-linear sub-expressions)."""
    if isinstance(expr, Op):
        if expr.op in ("round", "float") and expr.args:
            return linear(expr.args[0], ctx, weight)
        if expr.op == "+":
            return linear(expr.args[0], ctx, weight) + linear(expr.args[1], ctx, weight)
        if expr.op == "-":
            return linear(expr.args[0], ctx, weight) + linear(expr.args[1], ctx, -weight)
        if expr.op == "neg":
            return linear(expr.args[0], ctx, -weight)
        if expr.op == "sum":
            return [t for a in expr.args for t in linear(a, ctx, weight)]
        if expr.op == "mean" and expr.args:
            return [t for a in expr.args for t in linear(a, ctx, weight / len(expr.args))]
        if expr.op == "*":
            for k, other in ((0, 1), (1, 0)):
                c = constant(expr.args[k], ctx)
                if c is not None:
                    return linear(expr.args[other], ctx, weight * c)
        if expr.op == "/":
            c = constant(expr.args[1], ctx)
            if c:
                return linear(expr.args[0], ctx, weight / c)
    return [(expr, weight)]


def terms(expr: Expr, ctx: Context) -> list[Term]:
    """The non-constant additive terms with their cells' items and periods."""
    out = []
    for atom, weight in linear(expr, ctx):
        if constant(atom, ctx) is not None:
            continue
        cells = [(o, ctx.cell_of(o)) for o in operands(atom)]
        refs = [c for _, c in cells if c is not None]
        sign = 1.0
        if isinstance(atom, Operand) and refs:
            sign = math.copysign(1.0, ctx.factor_of(atom))
        years: frozenset[int] = frozenset().union(*(ctx.years_of(c) for c in refs)) if refs else frozenset()
        out.append(
            Term(
                weight=weight,
                sign=sign,
                items=frozenset((t, r) for t, r, _ in refs),
                years=years,
                negative=bool(refs) and all(ctx.cell_value(c) < 0 for c in refs),
            )
        )
    return out


def strip_percent(expr: Expr, ctx: Context) -> Expr:
    """`x * 100` -> x (a fraction shown as a percentage)."""
    expr = unwrap(expr)
    if isinstance(expr, Op) and expr.op == "*":
        for k, other in ((0, 1), (1, 0)):
            if constant(expr.args[k], ctx) == 100:
                return unwrap(expr.args[other])
    return expr


def verdict(status: str, detail: str, **extra: Any) -> dict[str, Any]:
    return {"rule": "operation", "status": status, "detail": detail, **extra}


def term_items(ts: list[Term]) -> frozenset[tuple[int, int]]:
    return frozenset(i for t in ts for i in t.items)


def term_years(ts: list[Term]) -> frozenset[int]:
    return frozenset(y for t in ts for y in t.years)


def negated(t: Term) -> Term:
    return Term(weight=-t.weight, sign=t.sign, items=t.items, years=t.years, negative=t.negative)
