"""What the names in a candidate's module refer to: which are modules, aliases of them, or locals.

The guard's tables speak of `os.write`, but code may write ``import os as o; o.write`` or
``w = os.write``. `Names` resolves a name chain to the dotted origin it stands for, so the rules
are applied to what the code reaches rather than to how it spells it.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from ponder.plugin.repair.guard_tables import MODULE_ROOTS


def chain(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None when the base is not a plain name (a call, a subscript)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def target_names(target: ast.expr) -> Iterator[str]:
    """The plain names an assignment target binds (`a, *b = ...` binds a and b; `x.y = ...` none)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from target_names(element)
    elif isinstance(target, ast.Starred):
        yield from target_names(target.value)


def block_bindings(body: list[ast.stmt]) -> Iterator[tuple[str, ast.stmt]]:
    """Names a class or module body binds itself (defs, classes, assignments), through if/try/with
    blocks but not into nested functions or classes; imports are left out (they bind real objects)."""
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield stmt.name, stmt
            continue
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                yield from ((name, stmt) for name in target_names(target))
        blocks = [getattr(stmt, field, []) for field in ("body", "orelse", "finalbody")]
        blocks += [handler.body for handler in getattr(stmt, "handlers", [])]
        for block in blocks:
            yield from block_bindings(block)


class Names:
    """The aliases and bindings of one module, gathered once before its nodes are judged."""

    def __init__(self, tree: ast.Module) -> None:
        self.aliases: dict[str, str] = {}
        """Local name → dotted origin, from imports and from `x = <module or module attribute>`.
        Gathered over the whole file regardless of scope or order (over-approximating is the safe
        direction for a guard), except that a function's parameters shadow them in its body."""
        self.bound: set[str] = set()
        """Every name the file binds; an unaliased bound name is a local variable, not a module."""
        self.modules: set[str] = set()
        """Names bound by ``import`` statements: certainly modules."""
        self.params: list[set[str]] = []
        """The parameters of the functions being visited: inside them those names are locals."""
        self._collect(tree)

    def _collect(self, tree: ast.Module) -> None:
        """Fill `aliases`, `bound` and `modules`. `x = os` makes x an alias, so that `x.write` is
        judged as os.write; the assignment itself still passes a module around and is a finding."""
        assignments: list[tuple[str, ast.expr]] = []
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    local = alias.asname or alias.name.split(".")[0]
                    self.aliases[local] = alias.name if alias.asname else local
                    self.modules.add(local)
            elif isinstance(node, ast.ImportFrom):
                base = "." * node.level + (node.module or "")
                for alias in node.names:
                    if alias.name != "*":
                        sep = "." if node.module else ""
                        self.aliases[alias.asname or alias.name] = f"{base}{sep}{alias.name}"
            elif isinstance(node, ast.Name) and not isinstance(node.ctx, ast.Load):
                self.bound.add(node.id)
            elif isinstance(node, ast.arg):
                self.bound.add(node.arg)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.ExceptHandler):
                self.bound.add(node.name or "")
            if isinstance(node, ast.Assign | ast.AnnAssign | ast.NamedExpr) and node.value is not None:
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                assignments += [(t.id, node.value) for t in targets if isinstance(t, ast.Name)]
        for _ in range(3):  # `a = os; b = a` settles in two rounds; a third costs nothing
            for name, value in assignments:
                parts = chain(value)
                origin = self.origin(parts) if parts else None
                if parts and origin is not None and self.is_module_root(parts[0]):
                    self.aliases[name] = origin

    def origin(self, parts: list[str]) -> str | None:
        """The dotted name `parts` refers to, or None when its root is a local variable."""
        root = parts[0]
        if any(root in params for params in self.params):
            return None
        if root in self.aliases:
            head = self.aliases[root]
        elif root not in self.bound:
            head = root  # a free name: a builtin, or a module reached without importing it here
        else:
            return None
        return ".".join([head, *parts[1:]])

    def module_of(self, node: ast.expr) -> str | None:
        """The module `node` names (`os`, an alias of it, `os.path`), or None for any other object."""
        parts = chain(node)
        origin = self.origin(parts) if parts else None
        if origin is None or parts is None:
            return None
        return origin if self.is_module_root(parts[0]) else None

    def is_module_root(self, name: str) -> bool:
        """Whether `name` starts a chain through modules: imported here, or a guarded module's name."""
        return name in self.aliases or (name in MODULE_ROOTS and name not in self.bound)
