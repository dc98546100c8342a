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
"""

from __future__ import annotations

import ast
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ponder.verifiers._numbers import parse_cell

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


@dataclass(frozen=True, slots=True)
class _Seq:
    """A list/tuple of expressions (what `sum`, `len`, `mean` take)."""

    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class _Str:
    value: str


@dataclass(frozen=True, slots=True)
class _View:
    """A selection of one table: the rows and columns it holds, and how it is indexed."""

    table: int
    rows: tuple[int, ...]
    cols: tuple[int, ...]
    shape: str
    """"frame", "col" (a Series over rows), "row" (a Series over columns)."""
    index_col: int | None = None
    """After `set_index(col)`: row labels are that column's cells."""


@dataclass(frozen=True, slots=True)
class _Func:
    name: str


@dataclass(frozen=True, slots=True)
class _UserFunc:
    node: ast.FunctionDef


@dataclass(frozen=True, slots=True)
class _Module:
    name: str


_SAFE_FUNCS = {
    "abs", "round", "float", "int", "sum", "min", "max", "len", "pow",
    "sqrt", "log", "log10", "exp", "fabs", "floor", "ceil", "mean", "prod",
}  # fmt: skip
_HIDING = {
    "eval", "exec", "compile", "getattr", "setattr", "globals", "locals", "vars", "__import__",
    "open", "input", "chr", "ord", "bytes", "bytearray", "memoryview", "hash", "id",
}  # fmt: skip
_ARITHMETIC_MODULES = {"math", "np", "numpy", "statistics"}
"""Modules whose `sum`, `mean`, `sqrt`... are the builtins' arithmetic."""
_LIBRARY_OK = {*_ARITHMETIC_MODULES, "npf", "numpy_financial", "scipy", "cmath"}
"""Libraries whose functions compute from their arguments only (no files, no text to numbers)."""
_IDENTITY_METHODS = {
    "replace", "strip", "lstrip", "rstrip", "astype", "item", "to_numpy", "squeeze", "copy",
    "lower", "upper", "reset_index",
}  # fmt: skip
_CONST_NAMES = {"pi": math.pi, "e": math.e}
_FORMATTING = {",", "$", "%", " ", "€", "£", "¥"}
"""Characters `.str.replace(x, "")` may strip before `.astype(float)`: they format, not change, a number."""


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
    interp = _Interpreter(tables)
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
        if "solution" in interp.env and isinstance(interp.env["solution"], _UserFunc):
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


def opaque_parts(expr: Expr) -> Iterator[Opaque]:
    """Every opaque sub-expression (what the interpreter could not follow)."""
    if isinstance(expr, Opaque):
        yield expr
        for p in expr.parts:
            yield from opaque_parts(p)
    elif isinstance(expr, Op):
        for a in expr.args:
            yield from opaque_parts(a)


def unwrap(expr: Expr) -> Expr:
    """The expression under presentation-only wrappers (round, float)."""
    while isinstance(expr, Op) and expr.op in ("round", "float") and expr.args:
        expr = expr.args[0]
    return expr


class _Interpreter:
    def __init__(self, tables: list[dict[str, Any]]) -> None:
        self.tables = tables
        self.env: dict[str, Any] = {f"t{i}": self._frame(i) for i in range(len(tables))}
        self.env["tables"] = _Seq(tuple(self._frame(i) for i in range(len(tables))))
        self.table_writes: list[str] = []
        self.conditions: list[Expr] = []
        self.defined_in_step = False
        self.depth = 0

    def _frame(self, t: int) -> _View:
        rows = self.tables[t]["rows"]
        width = max((len(r) for r in rows if isinstance(r, list)), default=0)
        return _View(t, tuple(range(len(rows))), tuple(range(width)), "frame")

    # statements ---------------------------------------------------------------------------

    def run_block(self, body: list[ast.stmt], env: dict[str, Any]) -> Any:
        """Run statements; returns the expression of a top-level `return`, if one is reached."""
        for stmt in body:
            if isinstance(stmt, ast.Return):
                return self.expr(stmt.value, env) if stmt.value is not None else Opaque("return None")
            taken = self.branch(stmt, env) if isinstance(stmt, ast.If) else None
            if taken is not None:
                result = self.run_block(taken, env)
                if result is not None:
                    return result
                continue
            self.stmt(stmt, env)
        return None

    def branch(self, stmt: ast.If, env: dict[str, Any]) -> list[ast.stmt] | None:
        """The block an `if` runs, when its test compares numbers whose values are known (every
        value is recomputed, so the branch the code takes is too); None leaves the `if` opaque.
        The test's operands are kept in `conditions`: a threshold must trace like an operand."""
        parts: list[Expr] = []
        truth = self.truth(stmt.test, env, parts)
        if truth is None:
            return None
        self.conditions.extend(parts)
        return stmt.body if truth else stmt.orelse

    def truth(self, node: ast.expr, env: dict[str, Any], parts: list[Expr]) -> bool | None:
        if isinstance(node, ast.BoolOp):
            truths = [self.truth(v, env, parts) for v in node.values]
            if any(v is None for v in truths):
                return None
            return all(truths) if isinstance(node.op, ast.And) else any(truths)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            inner = self.truth(node.operand, env, parts)
            return None if inner is None else not inner
        if not isinstance(node, ast.Compare):
            return None
        sides = [self.as_expr(self.expr(n, env)) for n in (node.left, *node.comparators)]
        if not all(_is_expr(x) for x in sides):
            return None
        numbers = [evaluate(x) for x in sides]
        if any(v is None for v in numbers):
            return None
        compare = {ast.Gt: float.__gt__, ast.GtE: float.__ge__, ast.Lt: float.__lt__, ast.LtE: float.__le__}
        compare |= {ast.Eq: float.__eq__, ast.NotEq: float.__ne__}
        result = True
        for k, op in enumerate(node.ops):
            how = compare.get(type(op))
            if how is None:
                return None
            result = result and bool(how(float(numbers[k]), float(numbers[k + 1])))  # type: ignore[arg-type]
        parts.extend(sides)
        return result

    def stmt(self, stmt: ast.stmt, env: dict[str, Any]) -> None:
        if isinstance(stmt, ast.Assign):
            value = self.expr(stmt.value, env)
            for target in stmt.targets:
                self.assign(target, value, env, stmt)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self.assign(stmt.target, self.expr(stmt.value, env), env, stmt)
        elif isinstance(stmt, ast.AugAssign):
            op = _BINOPS.get(type(stmt.op))
            current = self.expr(_load(stmt.target), env)
            value = self.expr(stmt.value, env)
            combined = (
                Op(op, (current, value))
                if op and _is_expr(current) and _is_expr(value)
                else Opaque("augmented assignment", _flat(current, value))
            )
            self.assign(stmt.target, combined, env, stmt)
        elif isinstance(stmt, ast.FunctionDef):
            env[stmt.name] = _UserFunc(stmt)
            if stmt.name == "solution":
                self.defined_in_step = True
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                name = alias.asname or alias.name.split(".")[0]
                if isinstance(stmt, ast.ImportFrom):
                    module = stmt.module or ""
                    if alias.name in _CONST_NAMES:
                        env[name] = Operand(_CONST_NAMES[alias.name], alias.name, "literal")
                    elif alias.name in _SAFE_FUNCS and module.split(".")[0] in _ARITHMETIC_MODULES:
                        env[name] = _Func(alias.name)
                    else:
                        env[name] = _Module(f"{module}.{alias.name}")
                else:
                    env[name] = _Module(alias.name)
        elif isinstance(stmt, ast.Expr):
            self.expr(stmt.value, env)  # a bare call may still write to a table
        elif isinstance(stmt, ast.Pass):
            return
        else:
            self.opaque_stmt(stmt, env)

    def opaque_stmt(self, stmt: ast.stmt, env: dict[str, Any]) -> None:
        """A loop, branch or other block: every name it assigns depends on everything inside it."""
        for node in ast.walk(stmt):
            if isinstance(node, ast.Subscript | ast.Attribute) and isinstance(node.ctx, ast.Store):
                self._note_write(node, env, stmt)
        value = Opaque(f"{type(stmt).__name__.lower()} block", self.collect(stmt, env))
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                env[node.id] = value
            elif isinstance(node, ast.FunctionDef):
                env[node.name] = _UserFunc(node)

    def collect(self, tree: ast.AST, env: dict[str, Any]) -> tuple[Expr, ...]:
        """Everything that can flow into a construct the interpreter does not follow: the values of
        the names it reads, its numeric literals, every cell of a table selection it touches, and
        an untraceable part for a call that can hide a number."""
        parts: list[Expr] = []
        updated = {
            n.target.id
            for n in ast.walk(tree)
            if isinstance(n, ast.AugAssign) and isinstance(n.target, ast.Name)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and (isinstance(node.ctx, ast.Load) or node.id in updated):
                value = env.get(node.id)
                if isinstance(value, Operand | Op | Opaque):
                    parts.append(value)
                elif isinstance(value, _View):
                    parts.extend(self.all_cells(value))
                elif isinstance(value, _Seq):
                    parts.extend(_flat(value))
                elif node.id in _HIDING or (
                    isinstance(value, _Module) and value.name.split(".")[0] not in (_LIBRARY_OK)
                ):
                    parts.append(Opaque(f"{node.id} used", traceable=False))
            elif isinstance(node, ast.Constant) and _number(node.value) is not None:
                if not _in_index(tree, node):
                    parts.append(Operand(_number(node.value), repr(node.value), "literal"))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and parse_cell(node.value):
                parts.append(Opaque("a number written as text", traceable=False))
        return tuple(parts)

    def all_cells(self, view: _View) -> list[Expr]:
        return [self.read(view.table, r, c) for r in view.rows for c in view.cols]

    def assign(self, target: ast.expr, value: Any, env: dict[str, Any], stmt: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            items = value.items if isinstance(value, _Seq) and len(value.items) == len(target.elts) else None
            for k, elt in enumerate(target.elts):
                self.assign(elt, items[k] if items else Opaque("unpacking", _flat(value)), env, stmt)
        else:
            self._note_write(target, env, stmt)

    def _note_write(self, target: ast.expr, env: dict[str, Any], stmt: ast.stmt) -> None:
        root = target
        while isinstance(root, ast.Subscript | ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and isinstance(env.get(root.id), _View | _Seq):
            self.table_writes.append(ast.unparse(stmt).splitlines()[0][:120])

    # expressions --------------------------------------------------------------------------

    def expr(self, node: ast.expr | None, env: dict[str, Any]) -> Any:
        if node is None:
            return Opaque("nothing")
        self.depth += 1
        try:
            return self._expr(node, env)
        except RecursionError:
            return Opaque("too deep", traceable=False)
        finally:
            self.depth -= 1

    def _expr(self, node: ast.expr, env: dict[str, Any]) -> Any:
        if self.depth > 200:
            return Opaque("too deep", traceable=False)
        if isinstance(node, ast.Constant):
            number = _number(node.value)
            if number is not None:
                return Operand(number, repr(node.value), "literal")
            if isinstance(node.value, str):
                return _Str(node.value)
            return Opaque(f"constant {node.value!r}")
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            if node.id in _SAFE_FUNCS or node.id in _HIDING:
                return _Func(node.id)
            return Opaque(f"unknown name {node.id}", traceable=False)
        if isinstance(node, ast.UnaryOp):
            value = self.as_expr(self.expr(node.operand, env))
            if isinstance(node.op, ast.USub) and _is_expr(value):
                return Op("neg", (value,))
            if isinstance(node.op, ast.UAdd) and _is_expr(value):
                return value
            return Opaque("unary operation", _flat(value))
        if isinstance(node, ast.BinOp):
            left, right = self.as_expr(self.expr(node.left, env)), self.as_expr(self.expr(node.right, env))
            op = _BINOPS.get(type(node.op))
            if op and _is_expr(left) and _is_expr(right):
                return Op(op, (left, right))
            if isinstance(left, _Str) or isinstance(right, _Str):
                return Opaque("arithmetic on text", _flat(left, right), traceable=False)
            return Opaque("operation on a table selection", _flat(left, right))
        if isinstance(node, ast.List | ast.Tuple):
            return _Seq(tuple(self.expr(e, env) for e in node.elts))
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, env)
        if isinstance(node, ast.Attribute):
            base = self.expr(node.value, env)
            if isinstance(base, _Module):
                if node.attr in _CONST_NAMES:
                    return Operand(_CONST_NAMES[node.attr], f"{base.name}.{node.attr}", "literal")
                return _Module(f"{base.name}.{node.attr}")
            if isinstance(base, _View):
                return self.view_attr(base, node.attr)
            return Opaque(f"attribute .{node.attr}", _flat(base))
        if isinstance(node, ast.IfExp):
            return Opaque("conditional", _flat(*(self.expr(n, env) for n in (node.body, node.orelse))))
        return Opaque(type(node).__name__.lower(), self.collect(node, env))

    def call(self, node: ast.Call, env: dict[str, Any]) -> Any:
        func = node.func
        if isinstance(func, ast.Attribute):
            base = self.expr(func.value, env)
            if isinstance(base, _View | Operand | _Str | Op | Opaque | _StrView):
                return self.method(base, func.attr, node, env)
            callee = self.expr(func, env)
        else:
            callee = self.expr(func, env)
        args = [self.as_expr(self.expr(a, env)) for a in node.args]
        if isinstance(callee, _UserFunc):
            return self.call_user(callee, args)
        if isinstance(callee, _Module):
            root, last = callee.name.split(".")[0], callee.name.split(".")[-1]
            if root in _ARITHMETIC_MODULES and last in _SAFE_FUNCS:
                callee = _Func(last)
            elif root in _LIBRARY_OK:
                return Opaque(f"{callee.name}()", _flat(*args))
            else:
                return Opaque(f"{callee.name}() call", traceable=False)
        if not isinstance(callee, _Func):
            return Opaque("call of an unknown function", _flat(*args), traceable=False)
        name = callee.name
        if name in _HIDING:
            return Opaque(f"{name}() call", traceable=False)
        if name in ("float", "int") and len(args) == 1:
            if isinstance(args[0], _Str):
                number = parse_cell(args[0].value)
                return (
                    Operand(number, ast.unparse(node), "literal")
                    if number is not None
                    else Opaque("number from text", traceable=False)
                )
            if _is_expr(args[0]):
                return args[0] if name == "float" else Op("int", (args[0],))
            return Opaque(f"{name}() of a table selection", traceable=False)
        if name in ("sum", "mean", "prod", "min", "max") and len(args) == 1:
            items = self.items(args[0])
            if items is not None:
                return Op(name, tuple(items))
            return Opaque(f"{name} of a sequence", _flat(args[0]))
        if name in ("min", "max") and len(args) > 1 and all(_is_expr(a) for a in args):
            return Op(name, tuple(args))
        if name == "len" and len(args) == 1:
            items = self.items(args[0])
            if items is not None:
                return Operand(float(len(items)), ast.unparse(node), "count")
            return Opaque("len of a sequence", traceable=False)
        if name == "round" and args and _is_expr(args[0]):
            return Op("round", (args[0], *(a for a in args[1:2] if _is_expr(a))))
        if name in ("abs", "fabs", "sqrt", "exp", "log", "log10", "floor", "ceil", "pow") and all(
            _is_expr(a) for a in args
        ):
            canonical = {"fabs": "abs", "pow": "**"}.get(name, name)
            return Op(canonical, tuple(args))
        return Opaque(f"{name}()", _flat(*args))

    def call_user(self, fn: _UserFunc, args: list[Any]) -> Any:
        if self.depth > 40:
            return Opaque("recursive function", traceable=False)
        local = dict(self.env)
        for param, value in zip(fn.node.args.args, args, strict=False):
            local[param.arg] = value
        for param in fn.node.args.args[len(args) :]:
            local[param.arg] = Opaque(f"parameter {param.arg}")
        self.depth += 1
        try:
            result = self.run_block(fn.node.body, local)
        finally:
            self.depth -= 1
        if result is None:
            returns = [n for n in ast.walk(fn.node) if isinstance(n, ast.Return) and n.value is not None]
            parts = [self.expr(r.value, local) for r in returns]
            return Opaque(f"function {fn.node.name}", _flat(*parts))
        return result

    def items(self, value: Any) -> list[Expr] | None:
        """The operands of a list, tuple or table selection, or None."""
        if isinstance(value, _Seq):
            out: list[Expr] = []
            for item in value.items:
                if _is_expr(item):
                    out.append(item)
                elif isinstance(item, _View):
                    scalar = self.as_expr(item)
                    if not isinstance(scalar, Operand):
                        return None
                    out.append(scalar)
                else:
                    return None
            return out
        if isinstance(value, _View) and value.shape in ("col", "row", "scalar"):
            return [self.read(value.table, r, c) for r in value.rows for c in value.cols]
        return None

    # tables -------------------------------------------------------------------------------

    def read(self, t: int, r: int, c: int) -> Operand:
        row = self.tables[t]["rows"][r]
        raw = row[c] if c < len(row) else ""
        return Operand(parse_cell(raw), f"t{t}[{r}][{c}]", "read", ((t, r, c),))

    def as_expr(self, value: Any) -> Any:
        """A one-cell selection as its operand (how arithmetic sees it); anything else unchanged."""
        if isinstance(value, _View) and len(value.rows) == 1 and len(value.cols) == 1:
            return self.read(value.table, value.rows[0], value.cols[0])
        return value

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
            if isinstance(value, _Str):
                return value.value
            return None
        if isinstance(node, ast.Subscript) and _is_columns_ref(node):
            assert isinstance(node.value, ast.Attribute)  # `_is_columns_ref`: t0.columns[...]
            base = self.expr(node.value.value, env)
            idx = self.key(node.slice, env)
            if isinstance(base, _View) and isinstance(idx, int):
                labels = self.columns(base.table)
                if labels is not None and -len(labels) <= idx < len(labels):
                    return labels[idx]
                return idx
            return None
        mask = self.mask(node, env)
        return mask

    def mask(self, node: ast.expr, env: dict[str, Any]) -> _Mask | None:
        """A row mask: `t0[col] == "label"`, `t0[col].str.contains("label")`, `&` of masks."""
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitAnd):
            a, b = self.mask(node.left, env), self.mask(node.right, env)
            if a and b and a.table == b.table:
                return _Mask(a.table, tuple(r for r in a.rows if r in b.rows))
            return None
        if isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq):
            left = self.expr(node.left, env)
            right = node.comparators[0]
            literal = right.value if isinstance(right, ast.Constant) else None
            if isinstance(left, _View) and left.shape == "col" and literal is not None:
                t, c = left.table, left.cols[0]
                rows = tuple(r for r in left.rows if _cell_raw(self.tables, t, r, c) == literal)
                return _Mask(t, rows)
            if isinstance(left, _StrView) and isinstance(literal, str):
                return _Mask(left.view.table, left.select(lambda s: s == literal))
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
            if isinstance(base, _StrView):
                text = node.args[0].value
                case = next(
                    (k.value for k in node.keywords if k.arg == "case" and isinstance(k.value, ast.Constant)),
                    None,
                )
                insensitive = case is not None and case.value is False
                return _Mask(base.view.table, base.select(_text_test(node.func.attr, text, insensitive)))
        return None

    def subscript(self, node: ast.Subscript, env: dict[str, Any]) -> Any:
        accessor = node.value.attr if isinstance(node.value, ast.Attribute) else None
        if accessor in ("iloc", "iat", "loc", "at", "values"):
            base = self.expr(node.value.value, env)  # type: ignore[attr-defined]
            if isinstance(base, _View):
                key = self.key(node.slice, env)
                positional = accessor in ("iloc", "iat", "values")
                return self.select(base, key, positional=positional) or Opaque(
                    "table read not resolved", traceable=False
                )
        base = self.expr(node.value, env)
        if isinstance(base, _Seq):
            key = self.key(node.slice, env)
            if isinstance(key, int) and -len(base.items) <= key < len(base.items):
                return base.items[key]
            if isinstance(key, slice):
                return _Seq(base.items[key])
            return Opaque("list indexing", _flat(*base.items))
        if isinstance(base, _View):
            key = self.key(node.slice, env)
            if base.shape == "frame":
                if isinstance(key, _Mask):
                    return self.select(base, (key, slice(None)), positional=False) or Opaque(
                        "table read not resolved", traceable=False
                    )
                c = self.col_index(base.table, key) if not isinstance(key, list | tuple | slice) else None
                if c is not None and c in base.cols:
                    return _View(base.table, base.rows, (c,), "col", base.index_col)
                return Opaque("table read not resolved", traceable=False)
            picked = self.select(base, key, positional=False)
            if picked is None and isinstance(key, int) and not isinstance(key, bool):
                picked = self.select(base, key, positional=True)  # pandas' positional fallback
            return picked or Opaque("table read not resolved", traceable=False)
        if isinstance(base, _StrView):
            return Opaque("text selection", traceable=False)
        return Opaque("indexing", _flat(base))

    def select(self, view: _View, key: Any, *, positional: bool) -> _View | None:
        """`view.iloc[key]` (positional) or `view.loc[key]` / `series[key]` (by label)."""
        if view.shape == "frame":
            rkey, ckey = key if isinstance(key, tuple) and len(key) == 2 else (key, slice(None))
            rows = self._pick_rows(view, rkey, positional)
            cols = self._pick(view.cols, ckey) if positional else self._pick_cols_by_label(view, ckey)
            if rows is None or cols is None:
                return None
            shape = "frame"
            if _is_scalar_key(rkey) and _is_scalar_key(ckey):
                shape = "scalar"
            elif _is_scalar_key(rkey):
                shape = "row"
            elif _is_scalar_key(ckey) or isinstance(ckey, str):
                shape = "col"
            return _View(view.table, rows, cols, shape, view.index_col)
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
            return _View(view.table, picked, view.cols, "col", view.index_col)
        return _View(view.table, view.rows, picked, "row", view.index_col)

    @staticmethod
    def _pick(axis: tuple[int, ...], key: Any) -> tuple[int, ...] | None:
        if isinstance(key, int) and not isinstance(key, bool):
            return (axis[key],) if -len(axis) <= key < len(axis) else None
        if isinstance(key, slice):
            return axis[key]
        if isinstance(key, list) and all(isinstance(k, int) for k in key):
            return tuple(axis[k] for k in key) if all(-len(axis) <= k < len(axis) for k in key) else None
        return None

    def _pick_rows(self, view: _View, key: Any, positional: bool) -> tuple[int, ...] | None:
        if isinstance(key, _Mask):
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
                hits = [
                    r for r in view.rows if _cell_raw(self.tables, view.table, r, view.index_col) == label
                ]
                if len(hits) != 1:
                    return None
                out.append(hits[0])
        return tuple(out)

    def _pick_cols_by_label(self, view: _View, key: Any) -> tuple[int, ...] | None:
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

    def view_attr(self, view: _View, attr: str) -> Any:
        if attr == "values":
            return view
        if attr == "str":
            return _StrView(view, self.tables)
        if attr in ("iloc", "loc", "iat", "at"):
            return view  # reached only when not subscripted; harmless
        if attr in ("shape", "index", "columns", "size"):
            return Opaque(f".{attr}", traceable=False)
        c = self.col_index(view.table, attr) if view.shape == "frame" else None
        if c is not None:
            return _View(view.table, view.rows, (c,), "col", view.index_col)
        return Opaque(f"table attribute .{attr}", traceable=False)

    def method(self, base: Any, name: str, node: ast.Call, env: dict[str, Any]) -> Any:
        args = [self.expr(a, env) for a in node.args]
        if isinstance(base, _View):
            if name == "set_index" and node.args and base.shape == "frame":
                key = self.key(node.args[0], env)
                c = self.col_index(base.table, key)
                if c is None:
                    return Opaque("set_index not resolved", traceable=False)
                return _View(base.table, base.rows, tuple(x for x in base.cols if x != c), "frame", c)
            if name in ("sum", "mean", "prod", "min", "max") and base.shape in ("col", "row", "scalar"):
                return Op(name, tuple(self.items(base) or ()))
            if name in _IDENTITY_METHODS or name in ("to_list", "tolist"):
                if name in ("item", "squeeze"):
                    return self.as_expr(base)
                if name in ("to_list", "tolist"):
                    return _Seq(tuple(self.items(base) or ()))
                return base
            return Opaque(f"table method .{name}()", traceable=False)
        if isinstance(base, _StrView):
            if name == "replace":
                formatting = (
                    len(args) == 2
                    and all(isinstance(a, _Str) for a in args)
                    and args[0].value in _FORMATTING
                    and args[1].value == ""
                )
                return _StrView(base.view, base.tables, numeric=base.numeric and formatting)
            if name in ("strip", "lower", "upper", "lstrip", "rstrip"):
                return base
            if name == "astype" and base.numeric and base.view.shape in ("col", "row"):
                return base.view  # "1,200" with its commas removed is the cell's number 1200
            return Opaque(f".str.{name}()", traceable=False)
        if isinstance(base, _Str):
            if name in ("replace", "strip", "lstrip", "rstrip"):
                return Opaque("text method", traceable=False)
            return Opaque(f"text .{name}()", traceable=False)
        if isinstance(base, Operand) and base.kind == "read":
            if name in _IDENTITY_METHODS:
                return base
            return Opaque(f"cell .{name}()", _flat(base))
        if _is_expr(base):
            if name in ("item", "real") or name in ("astype",):
                return base
            return Opaque(f".{name}()", _flat(base, *args))
        return Opaque(f".{name}()", traceable=False)


@dataclass(frozen=True, slots=True)
class _Mask:
    table: int
    rows: tuple[int, ...]


class _StrView:
    """`view.str` (and its .replace/.strip chains): row selection by text tests on one column."""

    def __init__(self, view: _View, tables: list[dict[str, Any]], numeric: bool = True) -> None:
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
            if isinstance(_cell_raw(self.tables, self.view.table, r, c), str)
            and test(str(_cell_raw(self.tables, self.view.table, r, c)).strip())
        )


def _text_test(kind: str, text: str, insensitive: bool) -> Any:
    def test(cell: str) -> bool:
        a, b = (cell.lower(), text.lower()) if insensitive else (cell, text)
        if kind == "contains":
            return b in a
        return a.startswith(b) if kind == "startswith" else a.endswith(b)

    return test


def _cell_raw(tables: list[dict[str, Any]], t: int, r: int, c: int) -> Any:
    row = tables[t]["rows"][r]
    return row[c] if isinstance(row, list) and c < len(row) else None


def _is_columns_ref(node: ast.expr) -> bool:
    """`t0.columns[1]`: a column label by position."""
    return (
        isinstance(node, ast.Subscript)
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "columns"
    )


def _is_scalar_key(key: Any) -> bool:
    return (isinstance(key, int) and not isinstance(key, bool)) or isinstance(key, str)


_BINOPS: dict[type, str] = {
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.Div: "/",
    ast.FloorDiv: "//",
    ast.Mod: "%",
    ast.Pow: "**",
}


def _is_expr(value: Any) -> bool:
    return isinstance(value, Operand | Op | Opaque)


def _flat(*values: Any) -> tuple[Expr, ...]:
    out: list[Expr] = []
    for value in values:
        if _is_expr(value):
            out.append(value)
        elif isinstance(value, _Seq):
            out.extend(_flat(*value.items))
        elif isinstance(value, _View):
            out.append(Opaque("a table selection", traceable=False))
        elif isinstance(value, _Str):
            out.append(Opaque("text", traceable=False))
    return tuple(out)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _load(target: ast.expr) -> ast.expr:
    """The target of `x += 1` read as a value."""
    clone = ast.parse(ast.unparse(target), mode="eval").body
    return clone


def _in_index(stmt: ast.AST, constant: ast.Constant) -> bool:
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
