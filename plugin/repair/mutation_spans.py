"""Where a mutation goes in the source text: byte spans of `ast` nodes and the operator tokens
between them.

An operator rewrites one span of the file as it was written, never an unparsed tree, so the diff a
mutant makes is one token or one expression and the file's layout and comments stay as they were.
`ast` gives line and byte-column positions; `Positions` turns them into offsets, and
`token_edits` finds the single operator token in the gap between two operands. `own_nodes` bounds
what belongs to one function, the scope of the operators that reason about locals.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

CMP_TEXT: dict[type[ast.cmpop], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
}
CMP_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "<": ("<=", ">"),
    "<=": ("<", ">="),
    ">": (">=", "<"),
    ">=": (">", "<="),
    "==": ("!=",),
    "!=": ("==",),
    "is": ("is not",),
    "is not": ("is",),
    "in": ("not in",),
    "not in": ("in",),
}
BIN_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "+": ("-",),
    "-": ("+",),
    "*": ("/", "//", "**"),
    "/": ("//", "*"),
    "//": ("/",),
    "%": ("//",),
    "**": ("*",),
    "&": ("|",),
    "|": ("&",),
    "<<": (">>",),
    ">>": ("<<",),
}
CALL_ALTERNATIVES: dict[str, str] = {
    "min": "max",
    "max": "min",
    "any": "all",
    "all": "any",
    "floor": "ceil",
    "ceil": "floor",
}
"""Builtins (and `math` functions) whose counterpart takes the same arguments: the swap is one name."""
ATOMIC = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant, ast.List, ast.Tuple, ast.Dict)

# Operator tokens as they appear between two operands; longest first so "<=" is not read as "<".
CMP_TOKEN = re.compile(r"<=|>=|==|!=|<|>|\bis\s+not\b|\bnot\s+in\b|\bis\b|\bin\b")
BIN_TOKEN = re.compile(r"\*\*=?|//=?|<<=?|>>=?|[-+*/%&|]=?")
BOOL_TOKEN = re.compile(r"\band\b|\bor\b")


@dataclass(frozen=True, slots=True)
class Edit:
    operator: str
    line: int
    start: int
    """Byte offsets into the UTF-8 source (ast columns are byte offsets)."""
    end: int
    replacement: str


class Positions:
    """Maps ast (line, byte column) pairs to offsets in the encoded source."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._starts = [0]
        for i, byte in enumerate(data):
            if byte == 0x0A:
                self._starts.append(i + 1)

    def offset(self, line: int, col: int) -> int:
        return self._starts[line - 1] + col

    def span(self, node: ast.AST) -> tuple[int, int]:
        start = self.offset(node.lineno, node.col_offset)  # type: ignore[attr-defined]
        end = self.offset(node.end_lineno, node.end_col_offset)  # type: ignore[attr-defined]
        return start, end

    def text(self, start: int, end: int) -> str:
        return self.data[start:end].decode("utf-8")

    def node_text(self, node: ast.AST) -> str:
        return self.text(*self.span(node))


def wrap(pos: Positions, node: ast.expr) -> str:
    """Operand text, parenthesised when moving it could change how it binds."""
    text = pos.node_text(node)
    return text if isinstance(node, ATOMIC) else f"({text})"


def token_edits(
    pos: Positions,
    operator: str,
    line: int,
    left: ast.AST,
    right: ast.AST,
    token: re.Pattern[str],
    current: str,
    alternatives: Collection[str],
) -> Iterator[Edit]:
    """Edits replacing the operator token found between two operands (the gap holds only it)."""
    gap_start, gap_end = pos.span(left)[1], pos.span(right)[0]
    gap = pos.text(gap_start, gap_end)
    found = [m for m in token.finditer(gap) if re.sub(r"\s+", " ", m.group()) == current]
    if len(found) != 1:
        return  # a comment or unusual layout hides the token: skip rather than guess
    match = found[0]
    start = gap_start + len(gap[: match.start()].encode("utf-8"))
    end = gap_start + len(gap[: match.end()].encode("utf-8"))
    for alt in alternatives:
        yield Edit(operator, line, start, end, alt)


def own_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """The nodes of a function's body, not those of functions or classes defined inside it."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))
