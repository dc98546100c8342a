"""What a chain's calculation computes, read statically from its code: an expression over operands.

The harness tells us the values a step produced, not where they came from. To check that an
answer was computed from the right data by the right formula, the verifier re-reads the steps'
code host-side (never executing it) as a small abstract interpreter: each variable becomes an
expression tree whose leaves are the operands that entered the arithmetic — a numeric literal,
a table cell read by position or label (`t0.iloc[3, 1]`, `t0.loc[t0["item"] == "Revenue", "2019"]`,
`t0.set_index(...).loc[...]`), a count (`len(values)`) — and whose nodes are the operations.

An `if` whose test compares numbers the reader knows is followed into the branch the values
take (its test's operands are kept, to be traced like any operand). What the interpreter cannot
follow (loops, other branches, unknown functions) becomes `Opaque`: it
still lists every operand found inside it, so provenance is checked, but its structure is not
claimed. Calls that can hide a number from the reader (`eval`, `exec`, `getattr`...) make an
untraceable `Opaque`. Writes to a table are recorded so the verdict can refuse them. The values
of the tree are recomputed and compared with what the harness recorded, so code that behaves
differently from how it reads (a shadowed builtin, a mutated table) cannot pass as traced.

The reader is split by job: `_calc_expr` (the expression trees and their values), `_calc_values`
(what else a name can hold), `_calc_tables` (which cells a selection holds), `_calc_pandas` (the
pandas idioms that make selections) and `_calc_interp` (statements and expressions).
"""

from __future__ import annotations

import ast
import math
from dataclasses import dataclass, field
from typing import Any

from ponder.verifiers._calc_expr import Expr, Op, Opaque, Operand, evaluate
from ponder.verifiers._calc_interp import Interpreter
from ponder.verifiers._calc_values import UserFunc

__all__ = ["Calculation", "Expr", "Op", "Opaque", "Operand", "analyse"]
"""`finance` and the tests import these from here; the rules import the trees from `_calc_expr`."""


@dataclass(slots=True)
class Calculation:
    """The analysed steps: each recorded variable's expression, and what could not be followed."""

    values: dict[tuple[int, str], Expr] = field(default_factory=dict)
    """(step, name) -> the expression the name held at the end of that step."""
    table_writes: list[str] = field(default_factory=list)
    """Code that assigns into a table (`t0.iloc[1, 1] = 5`): the data the checks trust changed."""
    mismatches: list[str] = field(default_factory=list)
    """Names whose recomputed value differs from the executed one."""
    syntax_errors: list[str] = field(default_factory=list)
    conditions: list[Expr] = field(default_factory=list)
    """The operands of the `if` tests whose branch was followed (their provenance is checked)."""


def analyse(codes: list[str], tables: list[dict[str, Any]], executed: list[dict[str, Any]]) -> Calculation:
    """Read every step's code in order (one namespace, as the harness runs it).

    Args:
        codes: Each step's python code ("" for prose steps).
        tables: The verifier's tables ({"name", "columns", "rows"}), bound as t0, t1, ...
        executed: The harness's per-step values (`{"values": {name: value}}`), for the check
            that the code computes what it reads as.
    """
    interp = Interpreter(tables)
    calc = Calculation()
    for i, code in enumerate(codes):
        if not code.strip():
            continue
        try:
            tree = ast.parse(code)
        except SyntaxError as exc:
            calc.syntax_errors.append(f"step {i + 1}: {exc.msg}")
            continue
        interp.run_block(tree.body, interp.env)
        if "solution" in interp.env and isinstance(interp.env["solution"], UserFunc):
            fn = interp.env["solution"]
            if interp.defined_in_step and not _calls_solution(code):
                interp.env["solution()"] = interp.call_user(fn, [])
        interp.defined_in_step = False
        recorded = executed[i].get("values", {}) if i < len(executed) else {}
        for name, value in recorded.items():
            expr = interp.as_expr(interp.env.get(name))
            if not isinstance(expr, Operand | Op | Opaque):
                continue
            calc.values[(i, name)] = expr
            mine = evaluate(expr)
            if (
                isinstance(value, int | float)
                and not isinstance(value, bool)
                and mine is not None
                and not math.isclose(mine, float(value), rel_tol=1e-6, abs_tol=1e-9)
            ):
                calc.mismatches.append(f"{name}: reads as {mine:g}, executed {float(value):g}")
    calc.table_writes = interp.table_writes
    calc.conditions = interp.conditions
    return calc


def _calls_solution(code: str) -> bool:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return False
    return any(
        isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == "solution"
        for n in ast.walk(tree)
    )
