"""Python's binary operators as the source text that writes them, keyed by their `ast` node type.

Two readers of code need the same table: the mutation operators (`ponder.plugin.repair.mutations`) find
and swap the token between two operands, and the finance verifier's calculation reader
(`ponder.verifiers._finance_calc`) names the operation an expression performs. They sit in
packages that may not import each other that way round (plugin → verifiers only), so the table
lives in the namespace root, like `ponder.errors`.
"""

from __future__ import annotations

import ast

BINARY_OPERATORS: dict[type[ast.operator], str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
    ast.BitAnd: "&",
    ast.BitOr: "|",
    ast.LShift: "<<",
    ast.RShift: ">>",
}
"""Every operator a mutation may swap; `@` and `^` are left out (no mutation proposes them)."""

ARITHMETIC_OPERATORS: dict[type[ast.operator], str] = {
    op: text for op, text in BINARY_OPERATORS.items() if text in ("+", "-", "*", "/", "//", "%", "**")
}
"""The operators of arithmetic on numbers: the ones a calculation's value can be recomputed through."""
