"""Classic program-repair mutation operators, applied around the lines a failing test points at.

A weak local model rarely writes a whole correct file, but many real bugs are one token wrong: an
off-by-one bound, a flipped comparison, ``+`` for ``-``. Each operator here rewrites exactly one
source span (found with `ast` positions), so the resulting diff touches only the mutated
expression and the file's formatting and comments stay as they were. The mutants become
`Seed`s of the search and are verified by the same test run as model candidates.

Operators (name → what it does):
  flip-comparison   ``<``↔``<=``, ``<``↔``>``, ``==``↔``!=``, ``is``↔``is not``, ``in``↔``not in``
  shift-constant    an integer literal ±1
  shift-bound       a range argument, an index, a slice bound or a compared value ``± 1``
  swap-arithmetic   ``+``↔``-``, ``*``↔``/``, ``/``↔``//``, ``&``↔``|``, ``<<``↔``>>`` (also ``+=``…)
  swap-boolean      ``and``↔``or``
  negate-condition  ``if c`` → ``if not (c)`` (and ``not c`` → ``c``); ``True``↔``False``
  swap-operands     ``a - b`` → ``b - a`` for non-commutative operators; ``f(a, b)`` → ``f(b, a)``
  replace-variable  a local variable read where another local of the same function was meant
  delete-statement  an assignment or expression statement in a function body → ``pass``
"""

from __future__ import annotations

import ast
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass

OPERATORS = (
    "flip-comparison",
    "shift-constant",
    "shift-bound",
    "swap-arithmetic",
    "swap-boolean",
    "negate-condition",
    "swap-operands",
    "replace-variable",
    "delete-statement",
)
"""In rank order for mutants at the same distance: the commonest one-token bugs first."""

_CMP_TEXT: dict[type[ast.cmpop], str] = {
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
_CMP_ALTERNATIVES: dict[str, tuple[str, ...]] = {
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
_BIN_TEXT: dict[type[ast.operator], str] = {
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
_BIN_ALTERNATIVES: dict[str, tuple[str, ...]] = {
    "+": ("-",),
    "-": ("+",),
    "*": ("/", "//"),
    "/": ("//", "*"),
    "//": ("/",),
    "%": ("//",),
    "**": ("*",),
    "&": ("|",),
    "|": ("&",),
    "<<": (">>",),
    ">>": ("<<",),
}
_NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift)
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
_ATOMIC = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Constant, ast.List, ast.Tuple, ast.Dict)

# Operator tokens as they appear between two operands; longest first so "<=" is not read as "<".
_CMP_TOKEN = re.compile(r"<=|>=|==|!=|<|>|\bis\s+not\b|\bnot\s+in\b|\bis\b|\bin\b")
_BIN_TOKEN = re.compile(r"\*\*=?|//=?|<<=?|>>=?|[-+*/%&|]=?")
_BOOL_TOKEN = re.compile(r"\band\b|\bor\b")


@dataclass(frozen=True, slots=True)
class Mutant:
    """One single-span rewrite of a file, with where and what, ready to be verified."""

    operator: str
    path: str
    line: int
    original: str
    """The source text of the span that was replaced."""
    replacement: str
    source: str
    """The whole mutated file."""
    distance: int
    """Lines between the mutation and the nearest failing line (0 = on it)."""

    @property
    def description(self) -> str:
        return f"{self.operator} at {self.path}:{self.line}: `{self.original}` → `{self.replacement}`"


@dataclass(frozen=True, slots=True)
class _Edit:
    operator: str
    line: int
    start: int
    """Byte offsets into the UTF-8 source (ast columns are byte offsets)."""
    end: int
    replacement: str


class _Positions:
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


def _wrap(pos: _Positions, node: ast.expr) -> str:
    """Operand text, parenthesised when moving it could change how it binds."""
    text = pos.node_text(node)
    return text if isinstance(node, _ATOMIC) else f"({text})"


def _token_edits(
    pos: _Positions,
    operator: str,
    line: int,
    left: ast.AST,
    right: ast.AST,
    token: re.Pattern[str],
    current: str,
    alternatives: Collection[str],
) -> Iterator[_Edit]:
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
        yield _Edit(operator, line, start, end, alt)


class _Collector(ast.NodeVisitor):
    """Walks a module and proposes every edit each operator can make."""

    def __init__(self, pos: _Positions) -> None:
        self.pos = pos
        self.edits: list[_Edit] = []

    # Annotations are never executed by tests; mutating them only wastes test runs.
    def visit_arg(self, node: ast.arg) -> None:
        return None

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for child in (*node.decorator_list, node.args, *node.body):
            self.visit(child)
        self._replace_variables(node)
        self._delete_statements(node.body)

    def _replace_variables(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """Each read of a local (a parameter or a name the function assigns) as each other local."""
        args = function.args
        params = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
        assigned = [
            n.id for n in _own_nodes(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        ]
        local = list(dict.fromkeys([*params, *assigned]))
        for name in _own_nodes(function):
            if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load) and name.id in local:
                start, end = self.pos.span(name)
                for other in local:
                    if other != name.id:
                        self.edits.append(_Edit("replace-variable", name.lineno, start, end, other))

    def _delete_statements(self, body: list[ast.stmt]) -> None:
        """A statement that should not be there: an assignment or a call, replaced by ``pass``."""
        for stmt in body:
            if isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Expr) and not (
                isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)  # docstrings
            ):
                start, end = self.pos.span(stmt)
                self.edits.append(_Edit("delete-statement", stmt.lineno, start, end, "pass"))
            for inner in ("body", "orelse", "finalbody"):
                if not isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    self._delete_statements(getattr(stmt, inner, []) or [])

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_arguments(self, node: ast.arguments) -> None:
        for default in (*node.defaults, *(d for d in node.kw_defaults if d is not None)):
            self.visit(default)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:
        self.visit(node.target)
        if node.value is not None:
            self.visit(node.value)

    # flip-comparison (and shift-bound on compared values)
    def visit_Compare(self, node: ast.Compare) -> None:
        left: ast.expr = node.left
        for op, right in zip(node.ops, node.comparators, strict=True):
            current = _CMP_TEXT[type(op)]
            self.edits += _token_edits(
                self.pos,
                "flip-comparison",
                node.lineno,
                left,
                right,
                _CMP_TOKEN,
                current,
                _CMP_ALTERNATIVES[current],
            )
            if isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE):
                self._shift_bound(right)
            left = right
        self.generic_visit(node)

    # swap-arithmetic and swap-operands
    def visit_BinOp(self, node: ast.BinOp) -> None:
        current = self._swap_arithmetic(node.op, node.lineno, node.left, node.right)
        if isinstance(node.op, _NON_COMMUTATIVE) and current is not None:
            start, end = self.pos.span(node)
            swapped = f"{_wrap(self.pos, node.right)} {current} {_wrap(self.pos, node.left)}"
            self.edits.append(_Edit("swap-operands", node.lineno, start, end, swapped))
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        self._swap_arithmetic(node.op, node.lineno, node.target, node.value, suffix="=")
        self.generic_visit(node)

    def _swap_arithmetic(
        self, op: ast.operator, line: int, left: ast.AST, right: ast.AST, *, suffix: str = ""
    ) -> str | None:
        """Propose the other arithmetic operators for `op` (written `+=` etc. with `suffix="="`);
        returns the operator's text, or `None` for one this operator does not swap."""
        current = _BIN_TEXT.get(type(op))
        if current is not None:
            self.edits += _token_edits(
                self.pos,
                "swap-arithmetic",
                line,
                left,
                right,
                _BIN_TOKEN,
                current + suffix,
                [alt + suffix for alt in _BIN_ALTERNATIVES[current]],
            )
        return current

    # swap-boolean: every `and` of one BoolOp becomes `or` together, so precedence is unchanged
    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        current, alt = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        start, end = self.pos.span(node)
        parts: list[str] = []
        cursor = start
        for left, right in zip(node.values, node.values[1:], strict=False):
            edits = list(
                _token_edits(self.pos, "swap-boolean", node.lineno, left, right, _BOOL_TOKEN, current, [alt])
            )
            if len(edits) != 1:
                break
            parts += [self.pos.text(cursor, edits[0].start), alt]
            cursor = edits[0].end
        else:
            parts.append(self.pos.text(cursor, end))
            self.edits.append(_Edit("swap-boolean", node.lineno, start, end, "".join(parts)))
        self.generic_visit(node)

    # negate-condition
    def visit_If(self, node: ast.If) -> None:
        self._negate(node.test)
        self.generic_visit(node)

    def visit_While(self, node: ast.While) -> None:
        self._negate(node.test)
        self.generic_visit(node)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._negate(node.test)
        self.generic_visit(node)

    def visit_comprehension(self, node: ast.comprehension) -> None:
        for cond in node.ifs:
            self._negate(cond)
        self.generic_visit(node)

    def _negate(self, test: ast.expr) -> None:
        start, end = self.pos.span(test)
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            replacement = self.pos.node_text(test.operand)
        else:
            replacement = f"not {_wrap(self.pos, test)}"
        self.edits.append(_Edit("negate-condition", test.lineno, start, end, replacement))

    # shift-constant and True/False
    def visit_Constant(self, node: ast.Constant) -> None:
        start, end = self.pos.span(node)
        if isinstance(node.value, bool):
            self.edits.append(_Edit("negate-condition", node.lineno, start, end, str(not node.value)))
        elif isinstance(node.value, int):
            for shifted in (node.value + 1, node.value - 1):
                self.edits.append(_Edit("shift-constant", node.lineno, start, end, str(shifted)))

    # shift-bound: range(...) arguments, indexes and slice bounds
    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "range":
            for arg in node.args:
                self._shift_bound(arg)
        positional = [a for a in node.args if not isinstance(a, ast.Starred)]
        if len(node.args) == 2 and len(positional) == 2 and not node.keywords:
            first, second = positional
            start, end = self.pos.span(first)[0], self.pos.span(second)[1]
            gap = self.pos.text(self.pos.span(first)[1], self.pos.span(second)[0])
            if gap.strip() == ",":
                swapped = f"{self.pos.node_text(second)}{gap}{self.pos.node_text(first)}"
                self.edits.append(_Edit("swap-operands", node.lineno, start, end, swapped))
        self.generic_visit(node)

    def visit_Subscript(self, node: ast.Subscript) -> None:
        index = node.slice
        if isinstance(index, ast.Slice):
            for bound in (index.lower, index.upper):
                if bound is not None:
                    self._shift_bound(bound)
        elif not isinstance(index, ast.Tuple):
            self._shift_bound(index)
        self.generic_visit(node)

    def _shift_bound(self, node: ast.expr) -> None:
        if isinstance(node, ast.Constant):
            return  # shift-constant already covers literals
        start, end = self.pos.span(node)
        # `a - b + 1` means `(a - b) + 1`, so arithmetic needs no parentheses; shifts and bit ops do.
        arithmetic = isinstance(node, ast.BinOp) and isinstance(node.op, _ARITHMETIC)
        text = self.pos.node_text(node) if arithmetic else _wrap(self.pos, node)
        for sign in ("+", "-"):
            self.edits.append(_Edit("shift-bound", node.lineno, start, end, f"{text} {sign} 1"))


def _own_nodes(function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[ast.AST]:
    """The nodes of a function's body, not those of functions or classes defined inside it."""
    stack: list[ast.AST] = list(function.body)
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


def _distance(line: int, focus: Collection[int]) -> int:
    return min((abs(line - f) for f in focus), default=0)


def generate_mutants(
    source: str,
    *,
    path: str = "<source>",
    focus_lines: Collection[int] = (),
    max_mutants: int = 32,
    max_distance: int | None = None,
) -> list[Mutant]:
    """Every distinct, parseable single-span mutant of `source`, nearest to `focus_lines` first.

    Args:
        source: the file's text.
        path: used in descriptions only.
        focus_lines: 1-based lines implicated by failing tests; empty = no preference (file order).
        max_mutants: cap after ranking; 0 returns nothing.
        max_distance: drop mutants further than this many lines from every focus line.

    Returns:
        Mutants ranked by (distance to a focus line, operator rank, line), without duplicates and
        without any that fail to parse or that equal the original.
    """
    if max_mutants <= 0:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # nothing to anchor operators on; the model has to fix syntax
    data = source.encode("utf-8")
    pos = _Positions(data)
    collector = _Collector(pos)
    collector.visit(tree)
    rank = {name: i for i, name in enumerate(OPERATORS)}
    edits = sorted(
        collector.edits,
        key=lambda e: (_distance(e.line, focus_lines), rank[e.operator], e.line, e.start),
    )
    mutants: list[Mutant] = []
    seen = {source}
    for edit in edits:
        distance = _distance(edit.line, focus_lines)
        if max_distance is not None and focus_lines and distance > max_distance:
            continue
        mutated = (data[: edit.start] + edit.replacement.encode("utf-8") + data[edit.end :]).decode("utf-8")
        if mutated in seen:
            continue
        seen.add(mutated)
        try:
            ast.parse(mutated)
        except SyntaxError:
            continue
        mutants.append(
            Mutant(
                operator=edit.operator,
                path=path,
                line=edit.line,
                original=pos.text(edit.start, edit.end),
                replacement=edit.replacement,
                source=mutated,
                distance=distance,
            )
        )
        if len(mutants) >= max_mutants:
            break
    return mutants
