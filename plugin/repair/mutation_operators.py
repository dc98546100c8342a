"""The mutation operators' walk: every single-span edit each operator can make in one module.

`mutations.generate_mutants` ranks, applies and re-parses the edits; what each operator does is
listed in `mutations`.
"""

from __future__ import annotations

import ast

from ponder._ast_text import BINARY_OPERATORS
from ponder.plugin.repair.mutation_inserts import division_guards, insert_return, loop_guards
from ponder.plugin.repair.mutation_spans import (
    BIN_ALTERNATIVES,
    BIN_TOKEN,
    BOOL_TOKEN,
    CALL_ALTERNATIVES,
    CMP_ALTERNATIVES,
    CMP_TEXT,
    CMP_TOKEN,
    Edit,
    Positions,
    own_nodes,
    token_edits,
    wrap,
)

_NON_COMMUTATIVE = (ast.Sub, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow, ast.LShift, ast.RShift)
_ARITHMETIC = (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.FloorDiv, ast.Mod, ast.Pow)
# A scaling constant shifted to 1 (`(lo + hi) // 2` → `// 1`, `x * 2` → `x * 1`) deletes the scaling
# rather than fixing an off-by-one; such a mutant mostly overfits weak tests (it verified a broken
# binary search on the repair set), so shift-constant skips it. Additive identities stay: `n - 1` →
# `n - 0` is the off-by-one fix written awkwardly.
_SCALING = (ast.Mult, ast.Div, ast.FloorDiv, ast.Pow)


class Collector(ast.NodeVisitor):
    """Walks a module and proposes every edit each operator can make."""

    def __init__(self, pos: Positions) -> None:
        self.pos = pos
        self.edits: list[Edit] = []
        self._scale: set[int] = set()
        """id() of the constant operands of scaling operators (`_SCALING`)."""

    # Annotations are never executed by tests; mutating them only wastes test runs.
    def visit_arg(self, node: ast.arg) -> None:
        return None

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        for child in (*node.decorator_list, node.args, *node.body):
            self.visit(child)
        self._replace_variables(node)
        self._delete_statements(node.body)
        self.edits += insert_return(self.pos, node)
        self.edits += division_guards(self.pos, node)

    def _replace_variables(self, function: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        """Each read of a local (a parameter or a name the function assigns) as each other local."""
        args = function.args
        params = [a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)]
        stores = [n for n in own_nodes(function) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)]
        local = list(dict.fromkeys([*params, *(n.id for n in stores)]))
        for name in own_nodes(function):
            if isinstance(name, ast.Name) and isinstance(name.ctx, ast.Load) and name.id in local:
                start, end = self.pos.span(name)
                for other in local:
                    if other != name.id:
                        self.edits.append(Edit("replace-variable", name.lineno, start, end, other))
        if params and params[0] == "self":
            bound_at = dict.fromkeys(params, 0)  # the first line binding each local; 0: a parameter
            for store in sorted(stores, key=lambda n: n.lineno):
                bound_at.setdefault(store.id, store.lineno)
            self._replace_self_attributes(function, bound_at)

    def _replace_self_attributes(
        self, method: ast.FunctionDef | ast.AsyncFunctionDef, bound_at: dict[str, int]
    ) -> None:
        """``self.NAME`` read where the local ``NAME`` was meant, once that local is bound (in
        ``scores = self.scores[k]`` the attribute is right: the local is not bound yet)."""
        for node in own_nodes(method):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.ctx, ast.Load)
                and isinstance(node.value, ast.Name)
                and node.value.id == "self"
                and bound_at.get(node.attr, node.lineno) < node.lineno
            ):
                start, end = self.pos.span(node)
                self.edits.append(Edit("replace-variable", node.lineno, start, end, node.attr))

    def _delete_statements(self, body: list[ast.stmt]) -> None:
        """A statement that should not be there: an assignment or a call, replaced by ``pass``."""
        for stmt in body:
            if isinstance(stmt, ast.Assign | ast.AugAssign | ast.AnnAssign | ast.Expr) and not (
                isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)  # docstrings
            ):
                start, end = self.pos.span(stmt)
                self.edits.append(Edit("delete-statement", stmt.lineno, start, end, "pass"))
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
            current = CMP_TEXT[type(op)]
            self.edits += token_edits(
                self.pos,
                "flip-comparison",
                node.lineno,
                left,
                right,
                CMP_TOKEN,
                current,
                CMP_ALTERNATIVES[current],
            )
            if isinstance(op, ast.Lt | ast.LtE | ast.Gt | ast.GtE):
                self._shift_bound(right)
            left = right
        self.generic_visit(node)

    # swap-arithmetic and swap-operands
    def visit_BinOp(self, node: ast.BinOp) -> None:
        if isinstance(node.op, _SCALING):
            self._scale.add(id(node.right))
            if isinstance(node.op, ast.Mult):
                self._scale.add(id(node.left))
        current = self._swap_arithmetic(node.op, node.lineno, node.left, node.right)
        if isinstance(node.op, _NON_COMMUTATIVE) and current is not None:
            start, end = self.pos.span(node)
            swapped = f"{wrap(self.pos, node.right)} {current} {wrap(self.pos, node.left)}"
            self.edits.append(Edit("swap-operands", node.lineno, start, end, swapped))
        self.generic_visit(node)

    def visit_AugAssign(self, node: ast.AugAssign) -> None:
        if isinstance(node.op, _SCALING):
            self._scale.add(id(node.value))
        self._swap_arithmetic(node.op, node.lineno, node.target, node.value, suffix="=")
        self.generic_visit(node)

    def _swap_arithmetic(
        self, op: ast.operator, line: int, left: ast.AST, right: ast.AST, *, suffix: str = ""
    ) -> str | None:
        """Propose the other arithmetic operators for `op` (written `+=` etc. with `suffix="="`);
        returns the operator's text, or `None` for one this operator does not swap."""
        current = BINARY_OPERATORS.get(type(op))
        if current is not None:
            self.edits += token_edits(
                self.pos,
                "swap-arithmetic",
                line,
                left,
                right,
                BIN_TOKEN,
                current + suffix,
                [alt + suffix for alt in BIN_ALTERNATIVES[current]],
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
                token_edits(self.pos, "swap-boolean", node.lineno, left, right, BOOL_TOKEN, current, [alt])
            )
            if len(edits) != 1:
                break
            parts += [self.pos.text(cursor, edits[0].start), alt]
            cursor = edits[0].end
        else:
            parts.append(self.pos.text(cursor, end))
            self.edits.append(Edit("swap-boolean", node.lineno, start, end, "".join(parts)))
        self.generic_visit(node)

    # insert-guard in loops (the function ones are proposed with the function)
    def visit_For(self, node: ast.For | ast.AsyncFor) -> None:
        self.edits += loop_guards(self.pos, node)
        self.generic_visit(node)

    visit_AsyncFor = visit_For

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
            replacement = f"not {wrap(self.pos, test)}"
        self.edits.append(Edit("negate-condition", test.lineno, start, end, replacement))

    # shift-constant and True/False
    def visit_Constant(self, node: ast.Constant) -> None:
        start, end = self.pos.span(node)
        if isinstance(node.value, bool):
            self.edits.append(Edit("negate-condition", node.lineno, start, end, str(not node.value)))
        elif isinstance(node.value, int):
            for shifted in (node.value + 1, node.value - 1):
                if shifted == 1 and id(node) in self._scale:
                    continue
                self.edits.append(Edit("shift-constant", node.lineno, start, end, str(shifted)))

    # shift-bound on range(...) arguments, swap-call and swap-operands on arguments
    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name) and node.func.id == "range":
            for arg in node.args:
                self._shift_bound(arg)
        self._swap_call(node.func)
        positional = [a for a in node.args if not isinstance(a, ast.Starred)]
        if len(node.args) == 2 and len(positional) == 2 and not node.keywords:
            first, second = positional
            start, end = self.pos.span(first)[0], self.pos.span(second)[1]
            gap = self.pos.text(self.pos.span(first)[1], self.pos.span(second)[0])
            if gap.strip() == ",":
                swapped = f"{self.pos.node_text(second)}{gap}{self.pos.node_text(first)}"
                self.edits.append(Edit("swap-operands", node.lineno, start, end, swapped))
        self.generic_visit(node)

    def _swap_call(self, func: ast.expr) -> None:
        """``min(...)`` → ``max(...)`` and the like (`CALL_ALTERNATIVES`): the name token only, so
        the arguments, however long, stay as written; ``math.floor`` has its ``floor`` swapped."""
        if isinstance(func, ast.Name):
            name = func.id
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "math":
            name = func.attr
        else:
            return
        if name in CALL_ALTERNATIVES:
            end = self.pos.span(func)[1]
            start = end - len(name.encode("utf-8"))
            self.edits.append(
                Edit("swap-call", func.end_lineno or func.lineno, start, end, CALL_ALTERNATIVES[name])
            )

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
        text = self.pos.node_text(node) if arithmetic else wrap(self.pos, node)
        for sign in ("+", "-"):
            self.edits.append(Edit("shift-bound", node.lineno, start, end, f"{text} {sign} 1"))
