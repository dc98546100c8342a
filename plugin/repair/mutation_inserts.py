"""The insertion operators: the statement a buggy function lacks, a ``return`` or a guard.

The other operators rewrite a token that is there; these add one that is missing. A guard is a
zero-width `Edit` at the start of a statement's line (start == end), so the file's existing bytes
all stay where they were and the inserted lines carry the statement's own indentation, as written.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ponder.plugin.repair.mutation_spans import Edit, Positions, own_nodes

_GUARD_VALUE: dict[type[ast.operator], str] = {ast.Div: "0.0", ast.FloorDiv: "0", ast.Mod: "0"}
"""What a division guard returns: ``/`` always gives a float, so its guard returns ``0.0`` and the
function keeps its return type (``average([])`` → ``0.0``); ``//`` and ``%`` of ints give ints."""


def insert_return(pos: Positions, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Edit]:
    """insert-return: the body's last statement computes a value and drops it, ``f(x)`` → ``return f(x)``.

    Falling off the end returns ``None``; an expression as the last statement is the commonest way a
    value that should be returned is lost (a path that returns earlier does not rule it out). Not for
    docstrings and bare constants, generators (a returned value there only names StopIteration's),
    ``__init__`` or a function annotated ``-> None`` (which must return None).
    """
    last = function.body[-1]
    if not isinstance(last, ast.Expr) or isinstance(last.value, ast.Constant | ast.Yield | ast.YieldFrom):
        return
    if _returns_nothing(function) or any(
        isinstance(n, ast.Yield | ast.YieldFrom) for n in own_nodes(function)
    ):
        return
    start, end = pos.span(last)
    yield Edit("insert-return", last.lineno, start, end, f"return {pos.text(start, end)}")


def loop_guards(pos: Positions, loop: ast.For | ast.AsyncFor) -> Iterator[Edit]:
    """insert-guard in a loop: ``if not v: continue`` before the first statement that uses `v`.

    `v` is a name the loop target binds or one a top-level assignment of the body binds (the
    cleaned-up item, ``line = raw.strip()``, is as often the one that can be empty); the guard goes
    after the binding, before the first statement that reads it.
    """
    bound: list[tuple[int, str]] = [(-1, name) for name in _stored_names(loop.target)]
    for i, stmt in enumerate(loop.body):
        if isinstance(stmt, ast.Assign | ast.AnnAssign):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            bound += [(i, name) for target in targets for name in _stored_names(target)]
    for after, name in bound:
        user = next((s for s in loop.body[after + 1 :] if _reads(s, name)), None)
        if user is not None:
            edit = _insert_before(pos, user, f"if not {name}:", "continue")
            if edit is not None:
                yield edit


def division_guards(pos: Positions, function: ast.FunctionDef | ast.AsyncFunctionDef) -> Iterator[Edit]:
    """insert-guard in a function: ``if not x: return 0`` before a statement dividing by parameter `x`.

    A division by a parameter, or by ``len()`` of one, fails on the empty or zero argument that a
    caller is entitled to pass; the guard goes before the innermost statement holding the division.
    """
    if _returns_nothing(function):
        return
    args = function.args
    params = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg) if a}
    seen: set[tuple[int, str]] = set()
    for stmt in own_nodes(function):
        if not isinstance(stmt, ast.stmt):
            continue
        for node in _header_nodes(stmt):
            divisor = _divisor(node)
            if divisor is None or divisor[0] not in params or (stmt.lineno, divisor[0]) in seen:
                continue
            seen.add((stmt.lineno, divisor[0]))
            edit = _insert_before(pos, stmt, f"if not {divisor[0]}:", f"return {divisor[1]}")
            if edit is not None:
                yield edit


def _divisor(node: ast.AST) -> tuple[str, str] | None:
    """For ``a / x`` or ``a / len(x)`` (also ``//``, ``%``): `x`, and what the guard returns."""
    if not isinstance(node, ast.BinOp) or type(node.op) not in _GUARD_VALUE:
        return None
    if isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant | ast.JoinedStr):
        return None  # `"%s" % x` formats a string; it divides nothing
    right = node.right
    if isinstance(right, ast.Call) and isinstance(right.func, ast.Name) and right.func.id == "len":
        right = right.args[0] if len(right.args) == 1 and not right.keywords else right
    return (right.id, _GUARD_VALUE[type(node.op)]) if isinstance(right, ast.Name) else None


def _header_nodes(stmt: ast.stmt) -> Iterator[ast.AST]:
    """The nodes of a statement outside its nested blocks (an ``if``'s test, not its body)."""
    for value in vars(stmt).values():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, ast.AST) and not isinstance(
                item, ast.stmt | ast.excepthandler | ast.match_case
            ):
                yield from ast.walk(item)


def _insert_before(pos: Positions, stmt: ast.stmt, header: str, body: str) -> Edit | None:
    """A two-line block inserted on its own lines before `stmt`, indented as `stmt`'s line is;
    `None` when `stmt` does not start its line (``a; b``, ``if c: b``)."""
    line_start = pos.offset(stmt.lineno, 0)
    indent = pos.text(line_start, pos.offset(stmt.lineno, stmt.col_offset))
    if indent.strip():
        return None
    step = "\t" if "\t" in indent else "    "
    return Edit(
        "insert-guard", stmt.lineno, line_start, line_start, f"{indent}{header}\n{indent}{step}{body}\n"
    )


def _returns_nothing(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """``__init__`` and functions annotated ``-> None``: a value returned there is a bug of its own."""
    returns = function.returns
    return function.name == "__init__" or (isinstance(returns, ast.Constant) and returns.value is None)


def _stored_names(target: ast.AST) -> list[str]:
    return [n.id for n in ast.walk(target) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]


def _reads(stmt: ast.stmt, name: str) -> bool:
    return any(
        isinstance(n, ast.Name) and n.id == name and isinstance(n.ctx, ast.Load) for n in ast.walk(stmt)
    )
