"""The abstract interpreter behind `_finance_calc.analyse`: statements and expressions.

It runs a step's code over values instead of numbers (see `_finance_calc` for what is followed
and what becomes `Opaque`); table accesses are `TableCode`'s. Names live in one namespace across
steps, as the harness runs them, and a user function is followed by running its body on the
caller's arguments.
"""

from __future__ import annotations

import ast
from typing import Any

from ponder._ast_text import ARITHMETIC_OPERATORS
from ponder.verifiers._calc_expr import Expr, Op, Opaque, Operand, evaluate, is_expr
from ponder.verifiers._calc_pandas import TableCode
from ponder.verifiers._calc_values import (
    ARITHMETIC_MODULES,
    CONST_NAMES,
    HIDING,
    LIBRARY_OK,
    SAFE_FUNCS,
    FuncRef,
    ModuleRef,
    Seq,
    StrView,
    Text,
    UserFunc,
    View,
    as_load,
    as_number,
    flat,
    in_index,
)
from ponder.verifiers._numbers import parse_cell


class Interpreter(TableCode):
    """Reads steps in order; `env` is the shared namespace, the lists gather what the checks need."""

    def __init__(self, tables: list[dict[str, Any]]) -> None:
        super().__init__(tables)
        self.env: dict[str, Any] = {f"t{i}": self.frame(i) for i in range(len(tables))}
        self.env["tables"] = Seq(tuple(self.frame(i) for i in range(len(tables))))
        self.table_writes: list[str] = []
        self.conditions: list[Expr] = []
        self.defined_in_step = False
        self.depth = 0

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
        if not all(is_expr(x) for x in sides):
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
            op = ARITHMETIC_OPERATORS.get(type(stmt.op))
            current = self.expr(as_load(stmt.target), env)
            value = self.expr(stmt.value, env)
            combined = (
                Op(op, (current, value))
                if op and is_expr(current) and is_expr(value)
                else Opaque("augmented assignment", flat(current, value))
            )
            self.assign(stmt.target, combined, env, stmt)
        elif isinstance(stmt, ast.FunctionDef):
            env[stmt.name] = UserFunc(stmt)
            if stmt.name == "solution":
                self.defined_in_step = True
        elif isinstance(stmt, ast.Import | ast.ImportFrom):
            for alias in stmt.names:
                name = alias.asname or alias.name.split(".")[0]
                if isinstance(stmt, ast.ImportFrom):
                    module = stmt.module or ""
                    if alias.name in CONST_NAMES:
                        env[name] = Operand(CONST_NAMES[alias.name], alias.name, "literal")
                    elif alias.name in SAFE_FUNCS and module.split(".")[0] in ARITHMETIC_MODULES:
                        env[name] = FuncRef(alias.name)
                    else:
                        env[name] = ModuleRef(f"{module}.{alias.name}")
                else:
                    env[name] = ModuleRef(alias.name)
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
                env[node.name] = UserFunc(node)

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
                elif isinstance(value, View):
                    parts.extend(self.all_cells(value))
                elif isinstance(value, Seq):
                    parts.extend(flat(value))
                elif node.id in HIDING or (
                    isinstance(value, ModuleRef) and value.name.split(".")[0] not in (LIBRARY_OK)
                ):
                    parts.append(Opaque(f"{node.id} used", traceable=False))
            elif isinstance(node, ast.Constant) and as_number(node.value) is not None:
                if not in_index(tree, node):
                    parts.append(Operand(as_number(node.value), repr(node.value), "literal"))
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and parse_cell(node.value):
                parts.append(Opaque("a number written as text", traceable=False))
        return tuple(parts)

    def assign(self, target: ast.expr, value: Any, env: dict[str, Any], stmt: ast.stmt) -> None:
        if isinstance(target, ast.Name):
            env[target.id] = value
        elif isinstance(target, ast.Tuple | ast.List):
            items = value.items if isinstance(value, Seq) and len(value.items) == len(target.elts) else None
            for k, elt in enumerate(target.elts):
                self.assign(elt, items[k] if items else Opaque("unpacking", flat(value)), env, stmt)
        else:
            self._note_write(target, env, stmt)

    def _note_write(self, target: ast.expr, env: dict[str, Any], stmt: ast.stmt) -> None:
        root = target
        while isinstance(root, ast.Subscript | ast.Attribute):
            root = root.value
        if isinstance(root, ast.Name) and isinstance(env.get(root.id), View | Seq):
            self.table_writes.append(ast.unparse(stmt).splitlines()[0][:120])

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
            number = as_number(node.value)
            if number is not None:
                return Operand(number, repr(node.value), "literal")
            if isinstance(node.value, str):
                return Text(node.value)
            return Opaque(f"constant {node.value!r}")
        if isinstance(node, ast.Name):
            if node.id in env:
                return env[node.id]
            if node.id in SAFE_FUNCS or node.id in HIDING:
                return FuncRef(node.id)
            return Opaque(f"unknown name {node.id}", traceable=False)
        if isinstance(node, ast.UnaryOp):
            value = self.as_expr(self.expr(node.operand, env))
            if isinstance(node.op, ast.USub) and is_expr(value):
                return Op("neg", (value,))
            if isinstance(node.op, ast.UAdd) and is_expr(value):
                return value
            return Opaque("unary operation", flat(value))
        if isinstance(node, ast.BinOp):
            left, right = self.as_expr(self.expr(node.left, env)), self.as_expr(self.expr(node.right, env))
            op = ARITHMETIC_OPERATORS.get(type(node.op))
            if op and is_expr(left) and is_expr(right):
                return Op(op, (left, right))
            if isinstance(left, Text) or isinstance(right, Text):
                return Opaque("arithmetic on text", flat(left, right), traceable=False)
            return Opaque("operation on a table selection", flat(left, right))
        if isinstance(node, ast.List | ast.Tuple):
            return Seq(tuple(self.expr(e, env) for e in node.elts))
        if isinstance(node, ast.Call):
            return self.call(node, env)
        if isinstance(node, ast.Subscript):
            return self.subscript(node, env)
        if isinstance(node, ast.Attribute):
            base = self.expr(node.value, env)
            if isinstance(base, ModuleRef):
                if node.attr in CONST_NAMES:
                    return Operand(CONST_NAMES[node.attr], f"{base.name}.{node.attr}", "literal")
                return ModuleRef(f"{base.name}.{node.attr}")
            if isinstance(base, View):
                return self.view_attr(base, node.attr)
            return Opaque(f"attribute .{node.attr}", flat(base))
        if isinstance(node, ast.IfExp):
            return Opaque("conditional", flat(*(self.expr(n, env) for n in (node.body, node.orelse))))
        return Opaque(type(node).__name__.lower(), self.collect(node, env))

    def call(self, node: ast.Call, env: dict[str, Any]) -> Any:
        func = node.func
        if isinstance(func, ast.Attribute):
            base = self.expr(func.value, env)
            if isinstance(base, View | Operand | Text | Op | Opaque | StrView):
                return self.method(base, func.attr, node, env)
            callee = self.expr(func, env)
        else:
            callee = self.expr(func, env)
        args = [self.as_expr(self.expr(a, env)) for a in node.args]
        if isinstance(callee, UserFunc):
            return self.call_user(callee, args)
        if isinstance(callee, ModuleRef):
            root, last = callee.name.split(".")[0], callee.name.split(".")[-1]
            if root in ARITHMETIC_MODULES and last in SAFE_FUNCS:
                callee = FuncRef(last)
            elif root in LIBRARY_OK:
                return Opaque(f"{callee.name}()", flat(*args))
            else:
                return Opaque(f"{callee.name}() call", traceable=False)
        if not isinstance(callee, FuncRef):
            return Opaque("call of an unknown function", flat(*args), traceable=False)
        name = callee.name
        if name in HIDING:
            return Opaque(f"{name}() call", traceable=False)
        if name in ("float", "int") and len(args) == 1:
            if isinstance(args[0], Text):
                number = parse_cell(args[0].value)
                return (
                    Operand(number, ast.unparse(node), "literal")
                    if number is not None
                    else Opaque("number from text", traceable=False)
                )
            if is_expr(args[0]):
                return args[0] if name == "float" else Op("int", (args[0],))
            return Opaque(f"{name}() of a table selection", traceable=False)
        if name in ("sum", "mean", "prod", "min", "max") and len(args) == 1:
            items = self.items(args[0])
            if items is not None:
                return Op(name, tuple(items))
            return Opaque(f"{name} of a sequence", flat(args[0]))
        if name in ("min", "max") and len(args) > 1 and all(is_expr(a) for a in args):
            return Op(name, tuple(args))
        if name == "len" and len(args) == 1:
            items = self.items(args[0])
            if items is not None:
                return Operand(float(len(items)), ast.unparse(node), "count")
            return Opaque("len of a sequence", traceable=False)
        if name == "round" and args and is_expr(args[0]):
            return Op("round", (args[0], *(a for a in args[1:2] if is_expr(a))))
        if name in ("abs", "fabs", "sqrt", "exp", "log", "log10", "floor", "ceil", "pow") and all(
            is_expr(a) for a in args
        ):
            canonical = {"fabs": "abs", "pow": "**"}.get(name, name)
            return Op(canonical, tuple(args))
        return Opaque(f"{name}()", flat(*args))

    def call_user(self, fn: UserFunc, args: list[Any]) -> Any:
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
            return Opaque(f"function {fn.node.name}", flat(*parts))
        return result
