"""The patch guard's walk: every construct of a candidate module that its tables make a finding.

One `Visitor` walks one module with its names resolved (`guard_names.Names`) and judges each node
against the tables (`guard_tables`); `guard_rules.added_constructs` compares what it finds in the
candidate with what it finds in the original.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from ponder.plugin.repair.guard_names import Names, block_bindings, chain
from ponder.plugin.repair.guard_tables import (
    ANY_RECEIVER,
    ATTRIBUTE_PATH,
    ATTRIBUTES,
    BUILTIN_NAMES,
    CLASS_DUNDERS,
    DESCRIPTORS,
    DEVICE_PATH,
    EQUALITY,
    FIELD_CALLS,
    GETATTR_LIKE,
    HARMLESS_DEVICES,
    HIDDEN,
    HONEST_METACLASSES,
    LATER,
    METACLASS_BASES,
    MODULE_DUNDERS,
    MODULE_ROOTS,
    RUNNER_VARIABLES,
    SHADOWABLE,
    SHADOWS,
    SHARED,
    STORED_ATTRS,
    STRING_NAMES,
    TEST_FILE_TEXT,
    TEST_MODULE,
    lookup,
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One suspicious construct: `key` is what is compared with the original, `line` where it is."""

    key: str
    line: int
    why: str
    label: str = ""
    """What the reason shows, when that differs from `key` ("os.write as w", "from os import write")."""

    def describe(self) -> str:
        return f"{self.label or self.key} (line {self.line}): {self.why}"


class Visitor(ast.NodeVisitor):
    """Collects the `Finding`s of one module: names are resolved first (`Names`), then each node is
    judged against the tables."""

    def __init__(self, tree: ast.Module) -> None:
        self.found: list[Finding] = []
        self.names = Names(tree)
        self.judged: set[int] = set()
        """Nodes judged as part of a larger construct (getattr's object, `x is None`'s operand)."""
        self.scope: list[str] = []

    # ------------------------------------------------------------------ recording

    def _add(self, key: str, node: ast.AST, why: str, *, label: str = "") -> None:
        self.found.append(Finding(key, getattr(node, "lineno", 0), why, label))

    def _attribute(self, attr: str, node: ast.AST, *, store: bool) -> None:
        """An attribute name on a receiver that is not a module (or not known to be one)."""
        if attr in ANY_RECEIVER:
            self._add(f".{attr}", node, ANY_RECEIVER[attr])
        elif store and attr in STORED_ATTRS:
            self._add(f"assignment to .{attr}", node, STORED_ATTRS[attr])

    def _reference(self, parts: list[str], node: ast.AST, *, store: bool, spelled: str = "") -> bool:
        """A name or attribute chain (`os.write`, `o.write`, `gc`); True when a table matched it.

        Attributes past the part a table matched are judged on their own (`frame.f_back.f_globals`
        is two findings), and assigning to an attribute of an imported module is one.
        """
        if len(parts) > 1 and parts[0] in BUILTIN_NAMES:  # `__loader__.load_module`, `__builtins__.x`
            self._add(parts[0], node, BUILTIN_NAMES[parts[0]])
        origin = self.names.origin(parts)
        dotted = origin if origin is not None else ".".join(parts)
        hit = lookup(dotted, rooted=origin is not None)
        matched_attrs = 0
        if hit is not None:
            key, why = hit
            spelled = spelled or ".".join(parts)
            self._add(key, node, why, label="" if spelled == key else f"{key} as {spelled}")
            # `dotted` is the alias's target followed by parts[1:]; the key covers a prefix of it.
            matched_attrs = key.count(".") - dotted.count(".") + len(parts) - 1
        elif origin is not None and len(parts) > 1 and self.names.is_module_root(parts[0]):
            if store and parts[0] in self.names.aliases:
                self._add(f"assignment to {origin}", node, SHARED)
            elif "__dict__" in parts[1:]:
                self._add(origin, node, "reads a module's namespace as a dict, so names can be computed")
        for i, attr in enumerate(parts[1:], start=1):
            if i > matched_attrs:
                self._attribute(attr, node, store=store and i == len(parts) - 1)
        return hit is not None

    def _module_value(self, parts: list[str], node: ast.Name | ast.Attribute) -> None:
        """A module used as a plain value (`f(os)`, `[shutil.os]`): where it goes, the names reached
        on it are out of sight. Modules bound by ``import`` count, and guarded ones however reached."""
        origin = self.names.origin(parts)
        if origin is None or id(node) in self.judged or not isinstance(node.ctx, ast.Load):
            return
        if (len(parts) == 1 and parts[0] in self.names.modules) or origin.split(".")[-1] in MODULE_ROOTS:
            self._add(f"module {origin} as a value", node, "passes a module around, so it " + HIDDEN)

    # ------------------------------------------------------------------ visits

    def visit_Module(self, node: ast.Module) -> None:
        for name, stmt in block_bindings(node.body):
            if name in MODULE_DUNDERS:
                self._add(f"module-level {name}", stmt, MODULE_DUNDERS[name])
            elif name in RUNNER_VARIABLES:
                self._add(f"module-level {name}", stmt, "changes how tests run")
            elif name in SHADOWABLE:
                self._add(f"module-level {name}", stmt, SHADOWS)
            elif isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef) and name.startswith("test"):
                self._add(f"test function {name}", stmt, "pytest would collect it from the tests' imports")
            elif isinstance(stmt, ast.ClassDef) and name.startswith("Test"):
                self._add(f"test class {name}", stmt, "pytest would collect it from the tests' imports")
        self.generic_visit(node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._import(alias.name, node, f"import {alias.name}")

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:  # the project's own modules: only its tests are off limits
            base = "." * node.level + (node.module or "")
            for alias in node.names:
                self._import(f"{base}.{alias.name}", node, f"from {base} import {alias.name}")
            return
        module = node.module or ""
        for alias in node.names:
            full = module if alias.name == "*" else f"{module}.{alias.name}"
            spelled = f"from {module} import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
            if alias.name == "*" and module.split(".")[0] in MODULE_ROOTS:
                self._add(spelled, node, "star-imports a watched module, hiding which names are used")
            self._import(full, node, spelled)

    def _import(self, dotted: str, node: ast.AST, spelled: str) -> None:
        names = [part for part in dotted.split(".") if part]
        project = dotted.startswith(".")
        if any(TEST_MODULE.match(part) for part in names):
            self._add(spelled, node, "imports test code into the code under test")
        elif not project and (hit := lookup(dotted)) is not None:
            key = hit[0] if hit[0] in ATTRIBUTES else spelled  # `from os import write` counts as os.write
            self._add(key, node, hit[1], label=spelled)
        elif not project and names[0].startswith("_") and names[0] != "__future__":
            self._add(spelled, node, "imports an interpreter-private module")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        parts = chain(node)
        if parts is None:
            self._attribute(node.attr, node, store=not isinstance(node.ctx, ast.Load))
            self.generic_visit(node)
        elif not self._reference(parts, node, store=not isinstance(node.ctx, ast.Load)):
            self._module_value(parts, node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in BUILTIN_NAMES:
            self._add(node.id, node, BUILTIN_NAMES[node.id])
            return
        if not isinstance(node.ctx, ast.Load) or self._reference([node.id], node, store=False):
            return
        if id(node) in self.judged:  # getattr's object, an `is None` operand: judged with the whole
            return
        if node.id in ("getattr", "setattr", "delattr", "vars") and node.id not in self.names.bound:
            self._add(f"{node.id} as a value", node, HIDDEN)
        else:
            self._module_value([node.id], node)

    def visit_Compare(self, node: ast.Compare) -> None:
        """`if llama_cpp is None` (the optional-import idiom) looks at a module without passing it on."""
        if all(isinstance(op, ast.Is | ast.IsNot) for op in node.ops):
            self.judged.update(id(operand) for operand in [node.left, *node.comparators])
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        if not isinstance(text, str):
            return
        if DEVICE_PATH.match(text) and text not in HARMLESS_DEVICES:
            self._add(f"path {text!r}", node, "names the process's descriptors or devices; " + DESCRIPTORS)
        elif text in STRING_NAMES or (
            ATTRIBUTE_PATH.match(text) and not STRING_NAMES.isdisjoint(re.findall(r"\w+", text))
        ):
            self._add(f"string {text!r}", node, "names a guarded attribute, ready for getattr or format")
        elif TEST_FILE_TEXT.search(text):
            self._add(f"names test file {text!r}", node, "may read or rewrite tests")

    def visit_Call(self, node: ast.Call) -> None:
        callee = self._callee(node.func)
        if callee in GETATTR_LIKE:
            self._getattr_call(callee, node)
        elif callee == "vars" and (not node.args or self.names.module_of(node.args[0]) is not None):
            what = f"vars({self.names.module_of(node.args[0])})" if node.args else "vars()"
            self._add(what, node, "exposes a namespace as a dict, so names can be computed")
            if node.args:
                self.judged.add(id(node.args[0]))
        elif callee in ("open", "io.open"):
            self._open_call(callee, node)
        elif callee in FIELD_CALLS:
            for kw in node.keywords:
                kept = isinstance(kw.value, ast.Constant) and bool(kw.value.value)
                if kw.arg in ("compare", "eq") and not kept:
                    self._add(f"{callee}({kw.arg}=False)", node, "leaves a field out of __eq__, " + EQUALITY)
        if isinstance(node.func, ast.Name) and node.func.id in ("getattr", "setattr", "delattr", "vars"):
            self.judged.add(id(node.func))
        self.generic_visit(node)

    def _callee(self, func: ast.expr) -> str | None:
        parts = chain(func)
        return self.names.origin(parts) if parts else None

    def _getattr_call(self, fn: str, node: ast.Call) -> None:
        """`getattr(obj, "name")` is judged as `obj.name`; a computed name, or any name on a module,
        hides what is reached and is a finding of its own."""
        if fn.startswith("operator."):
            names = [*node.args, *(kw.value for kw in node.keywords)]
            for arg in names if fn.endswith("attrgetter") else names[:1]:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    for attr in arg.value.split("."):
                        self._attribute(attr, node, store=False)
                else:
                    self._add(f"{fn} with a computed name", node, HIDDEN)
            return
        if len(node.args) < 2:
            return
        obj, name = node.args[0], node.args[1]
        module = self.names.module_of(obj)
        self.judged.add(id(obj))
        store = fn != "getattr"
        on = f" on module {module}" if module else ""
        if not (isinstance(name, ast.Constant) and isinstance(name.value, str)):
            self._add(f"{fn} with a computed name{on}", node, HIDDEN)
        elif module is not None:
            parts = [*module.split("."), name.value]
            spelled = f"{fn}({module}, {name.value!r})"
            if not self._reference(parts, node, store=store, spelled=spelled):
                self._add(spelled, node, "reaches a module attribute indirectly")
        else:
            self._attribute(name.value, node, store=store)

    def _open_call(self, fn: str, node: ast.Call) -> None:
        first = node.args[0] if node.args else None
        if isinstance(first, ast.Constant) and type(first.value) is int:
            self._add(f"{fn}({first.value})", node, "opens a file descriptor by number; " + DESCRIPTORS)
        for kw in node.keywords:
            if kw.arg in ("closefd", "opener"):
                self._add(f"{fn}({kw.arg}=...)", node, "opens a raw file descriptor; " + DESCRIPTORS)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name.startswith("pytest_"):
            self._add(f"pytest hook {node.name}", node, "changes how tests run")
        self.scope.append(node.name)
        self._visit_function(node)
        self.scope.pop()

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self._visit_function(node)

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        """Defaults, annotations and decorators belong to the enclosing scope; the body sees the
        parameters, which shadow any alias of the same name there."""
        args = node.args
        params = [a for a in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg) if a]
        outer: list[ast.expr | None] = [*args.defaults, *args.kw_defaults]
        outer += [a.annotation for a in params]
        if not isinstance(node, ast.Lambda):
            outer += [*node.decorator_list, node.returns]
        for expr in outer:
            if expr is not None:
                self.visit(expr)
        self.names.params.append({a.arg for a in params})
        for stmt in node.body if isinstance(node.body, list) else [node.body]:
            self.visit(stmt)
        self.names.params.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        name = ".".join([*self.scope, node.name])
        for kw in node.keywords:
            if kw.arg == "metaclass" and self._callee(kw.value) not in HONEST_METACLASSES:
                self._add(f"metaclass= on class {name}", node, LATER + "; it also decides isinstance and ==")
        for base in node.bases:
            if self._callee(base) in METACLASS_BASES:
                self._add(f"metaclass {name}", node, LATER + "; it also decides isinstance and ==")
        for method, stmt in block_bindings(node.body):
            if method in CLASS_DUNDERS:
                self._add(f"{method} in class {name}", stmt, CLASS_DUNDERS[method])
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()


def findings(tree: ast.Module) -> list[Finding]:
    """Every suspicious construct in `tree`, in source order."""
    visitor = Visitor(tree)
    visitor.visit(tree)
    return sorted(visitor.found, key=lambda f: f.line)
