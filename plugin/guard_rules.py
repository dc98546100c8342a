"""The patch guard's rules: which constructs a repair candidate may not *add* to the file it fixes.

The candidate is the module under test, so it runs inside the pytest process, at import time,
before any test. From there, code that reaches the runner (frames, ``gc``, ``importlib``,
``sys.modules``), writes the report itself (raw file descriptors, ``/proc/self/fd``), ends the
process early, or returns objects that claim to equal anything can turn a failing suite green
without fixing anything. `added_constructs` lists such constructs that the candidate has and the
original did not: a project that already used one keeps it.

The rules work on the AST with import aliases resolved (``import os as o; o.write`` is
``os.write``; ``from os import write as w`` is too), never on source text. Hiding a name from them
is itself a finding: ``getattr`` with a computed name, ``getattr`` on a module, a watched module
passed around as a value, ``globals()``. This is one layer of several (the sandbox hashes the test
files and seals the report), so it aims at the routes an attacker obviously takes and keeps
ordinary fixes passing, rather than at deciding what arbitrary code can do.

Decided on purpose:

* ``@dataclass`` is allowed. Its generated ``__eq__`` compares the fields as a tuple and answers
  ``NotImplemented`` for other classes, so a dataclass equals only an instance of the same class
  with equal fields: honest. What would make it lie is taking fields out of the comparison, so
  ``field(compare=False)`` (and attrs' ``eq=False``) is a finding; a field value with a forged
  ``__eq__`` is caught where that class defines it.
* ``metaclass=abc.ABCMeta`` is allowed (the standard, honest metaclass); any other metaclass is not.
* A syntax error is not a finding: the interpreter cannot import that file either. The host parses
  with a grammar at least as new as the sandbox's (Python ≥ 3.11 on both), so nothing that parses
  in the sandbox goes unchecked here. Sources are parsed as UTF-8 *bytes*, so a coding cookie
  (``# coding: utf-7``) is honoured exactly as the interpreter honours it.
"""

from __future__ import annotations

import ast
import builtins
import difflib
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass

# ------------------------------------------------------------------------------------------ reasons

INTROSPECTION = "introspection of the test process"
FRAMES = "walks interpreter frames, which reach the test runner's variables"
DESCRIPTORS = "descriptor-level I/O, which can forge the test report"
DYNAMIC_CODE = "runs code built at run time, which the guard cannot read"
ENDS = "ends the test process"
HOOKS = "rewires the interpreter (trace, audit, import or exception hooks)"
RUNNER = "imports the test runner into the code under test"
FILES = "deletes or moves files"
PROGRAMS = "runs other programs"
EQUALITY = "changes how results compare, so a wrong answer can claim to be right"
HIDDEN = "reaches an attribute by a name the guard cannot read"
LATER = "runs code outside the tests (at class creation, garbage collection or exit)"
SHARED = "rewrites a module the tests share"
SHADOWS = "shadows a name the tests use (a star import hands it to them)"
CLASSES = "walks the class hierarchy, which reaches any class (pytest's included)"
CODE = "reaches a function's code, globals or closure"

# --------------------------------------------------------------------------------------- the tables

MODULES: dict[str, str] = {
    "importlib": f"{INTROSPECTION}: imports modules by computed name",
    "imp": f"{INTROSPECTION}: imports modules by computed name",
    "pkgutil": f"{INTROSPECTION}: imports modules by computed name",
    "gc": f"{INTROSPECTION}: the garbage collector reaches every live object",
    "inspect": f"{INTROSPECTION}: frames, stacks and live objects",
    "ctypes": "writes interpreter memory directly",
    "cffi": "writes interpreter memory directly",
    "builtins": "rewrites builtins",
    "atexit": LATER,
    "signal": "installs signal handlers, which can end or rewire the test process",
    "faulthandler": ENDS,
    "linecache": "rewrites the source text the test runner reads",
    "pytest": RUNNER,
    "_pytest": RUNNER,
    "pluggy": RUNNER,
    "unittest": "imports a test framework into the code under test (skips, mocks that equal anything)",
    "subprocess": PROGRAMS,
    "multiprocessing": PROGRAMS,
    "pty": PROGRAMS,
    "socket": DESCRIPTORS,
    "fcntl": DESCRIPTORS,
    "posix": f"the raw os module: {DESCRIPTORS}",
    "nt": f"the raw os module: {DESCRIPTORS}",
    "marshal": DYNAMIC_CODE,
    "code": DYNAMIC_CODE,
    "codeop": DYNAMIC_CODE,
    "runpy": DYNAMIC_CODE,
    "copyreg": DYNAMIC_CODE,
    "pdb": HOOKS,
    "bdb": HOOKS,
    "trace": HOOKS,
}
"""Modules whose import, and every attribute of which, is a finding."""


def _each(names: str, why: str) -> dict[str, str]:
    return {name: why for name in names.split()}


ATTRIBUTES: dict[str, str] = {
    **_each("os.remove os.rmdir os.removedirs os.rename os.renames os.replace os.unlink", FILES),
    **_each("shutil.rmtree shutil.move", FILES),
    **_each("os._exit os.abort os.kill os.killpg sys.exit", ENDS),
    **_each(
        "os.system os.popen os.fork os.forkpty os.posix_spawn os.posix_spawnp os.startfile"
        " os.execl os.execle os.execlp os.execlpe os.execv os.execve os.execvp os.execvpe"
        " os.spawnl os.spawnle os.spawnlp os.spawnlpe os.spawnv os.spawnve os.spawnvp os.spawnvpe",
        PROGRAMS,
    ),
    **_each(
        "os.write os.writev os.pwrite os.pwritev os.dup os.dup2 os.fdopen os.open os.openpty"
        " os.sendfile os.splice os.copy_file_range os.truncate os.ftruncate io.FileIO io.open_code",
        DESCRIPTORS,
    ),
    **_each("sys.modules sys.meta_path sys.path_hooks sys.path_importer_cache", "rewrites imported modules"),
    **_each("sys._getframe sys._getframemodulename sys._current_frames sys._current_exceptions", FRAMES),
    **_each("traceback.walk_stack traceback.walk_tb", FRAMES),
    **_each(
        "sys.settrace sys.setprofile sys.addaudithook sys.monitoring sys.excepthook sys.unraisablehook"
        " sys.displayhook sys.breakpointhook threading.settrace threading.setprofile"
        " threading.settrace_all_threads threading.setprofile_all_threads threading.excepthook",
        HOOKS,
    ),
    **_each("sys.argv sys.orig_argv", "reads the test runner's command line (where its report goes)"),
    **_each("threading.Thread threading.Timer weakref.finalize", LATER),
    **_each("pickle.load pickle.loads pickle.Unpickler types.FunctionType types.CodeType", DYNAMIC_CODE),
    **_each(
        "typing.get_type_hints typing.ForwardRef typing._eval_type", f"{DYNAMIC_CODE} (string annotations)"
    ),
    **_each("logging.config pydoc.locate", f"{DYNAMIC_CODE} (objects named by dotted strings)"),
    # Spelled out although their modules are guarded whole, so that a chain through a module
    # that re-exports them (`dataclasses.inspect.currentframe`) or through a local still matches.
    **_each("gc.get_objects gc.get_referrers gc.get_referents gc.garbage", MODULES["gc"]),
    **_each("inspect.currentframe inspect.stack inspect.trace inspect.getouterframes", FRAMES),
    **_each("importlib.import_module importlib.reload importlib.util", MODULES["importlib"]),
    **_each("ctypes.pythonapi ctypes.memmove ctypes.cast ctypes.py_object", MODULES["ctypes"]),
}
"""Module attributes that are findings, matched after alias resolution, by prefix (`os.write.x`)
and through modules that re-export them (`shutil.os.write`)."""
_LONGEST_KEY = max(key.count(".") + 1 for key in ATTRIBUTES)

MODULE_ROOTS = frozenset(MODULES) | {name.split(".")[0] for name in ATTRIBUTES}
"""Modules whose names are recognised without an import, and may not travel as plain values."""
MID_CHAIN_MODULES = frozenset(
    {"gc", "inspect", "importlib", "ctypes", "builtins", "atexit", "pytest", "_pytest"}
)
"""Guarded modules matched inside a chain too (`dataclasses.inspect`: modules re-export their
imports); the others (`signal`, `code`, `trace`) are also ordinary attribute names (`scipy.signal`)."""

ANY_RECEIVER: dict[str, str] = {
    **_each("skip skipif skipTest importorskip", "skips tests"),
    "xfail": "marks tests as expected failures",
    **_each("unlink rmtree", FILES),
    **_each("settrace setprofile", HOOKS),
    **_each("f_back f_globals f_locals f_builtins f_code f_trace tb_frame tb_next __traceback__", FRAMES),
    **_each("gi_frame cr_frame ag_frame gi_code cr_code ag_code", FRAMES),
    **_each("__code__ __globals__ __closure__ __builtins__", CODE),
    **_each("__subclasses__ __mro__ __bases__ __base__", CLASSES),
    "__self__": "reaches the module behind a builtin (print.__self__ is builtins)",
    "__getattribute__": HIDDEN,
    "__import__": DYNAMIC_CODE,
    **_each("__loader__ __spec__", f"{INTROSPECTION}: a module's loader imports by computed name"),
}
"""Attributes that are findings on any receiver: names ordinary code hardly uses for anything else."""

CLASS_DUNDERS: dict[str, str] = {
    **_each("__eq__ __ne__ __lt__ __le__ __gt__ __ge__ __hash__ __bool__ __len__ __contains__", EQUALITY),
    **_each("__sub__ __rsub__ __abs__", f"{EQUALITY} (fakes abs(a - b) < tolerance)"),
    **_each(
        "__instancecheck__ __subclasscheck__ __subclasshook__ __class__", "changes what isinstance answers"
    ),
    **_each("__getattr__ __getattribute__", "answers any attribute, so an object can pretend to be anything"),
    **_each("__del__ __init_subclass__ __set_name__ __mro_entries__ __prepare__", LATER),
    **_each("__exit__ __aexit__", "can swallow exceptions, failed asserts included"),
}
"""Methods a class may not gain: checked per class, so `__eq__` kept in the same class is fine."""

MODULE_DUNDERS: dict[str, str] = _each("__getattr__ __dir__", "module __getattr__ (PEP 562) answers any name")

STORED_ATTRS: dict[str, str] = {
    **CLASS_DUNDERS,
    "__class__": "reassigns an object's class",
    "__dict__": "replaces an object's namespace",
    **_each("__defaults__ __kwdefaults__", CODE),
}
"""Attributes that are findings when assigned or deleted (reading `self.__class__` is ordinary)."""

BUILTIN_NAMES: dict[str, str] = {
    **_each("exec eval compile __import__", DYNAMIC_CODE),
    **_each("globals locals", "exposes a namespace as a dict, so names can be computed"),
    **_each("exit quit SystemExit", ENDS),
    "KeyboardInterrupt": "interrupts the test process",
    "__builtins__": "rewrites builtins",
    **_each("__loader__ __spec__", f"{INTROSPECTION}: a module's loader imports by computed name"),
}
"""Builtins that are findings wherever they are named, even when rebound (`exec = exec`)."""

GETATTR_LIKE = frozenset({"getattr", "setattr", "delattr", "operator.attrgetter", "operator.methodcaller"})
FIELD_CALLS = frozenset({"dataclasses.field", "attr.ib", "attr.attrib", "attr.field", "attrs.field"})
HONEST_METACLASSES = frozenset({"abc.ABCMeta"})
METACLASS_BASES = frozenset({"type", "abc.ABCMeta", "enum.EnumMeta", "enum.EnumType"})
RUNNER_VARIABLES = frozenset({"pytest_plugins", "collect_ignore", "collect_ignore_glob"})
SHADOWABLE = frozenset(n for n in dir(builtins) if not n.startswith("_")) | frozenset(sys.stdlib_module_names)
"""Module-level names a fix may not define: `def abs(x): return 0` reaches tests that star-import."""

STRING_NAMES = frozenset(
    name
    for name in (*ANY_RECEIVER, *STORED_ATTRS)
    if name.startswith("__") or name.split("_")[0] in ("f", "tb", "gi", "cr", "ag")
)
"""Dunder and frame attribute names, findings even as strings (`type("X", (), {"__eq__": ...})`);
plain words such as "skip" are left alone, they are ordinary strings."""

_ATTRIBUTE_PATH = re.compile(r"^[\w.{}\[\]!:]*\.[\w.{}\[\]!:]*$")
"""A string shaped like an attribute path (`"a.f_back"`, `"{0.__globals__}"`), not like prose."""
_DEVICE_PATH = re.compile(r"^/(proc|dev)(/|$)")
_HARMLESS_DEVICES = frozenset({"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"})
_TEST_FILE_TEXT = re.compile(r"(^|[/\\])(test_\w*\.py|\w*_test\.py|conftest\.py|pytest\.ini|tox\.ini)\b")
_TEST_MODULE = re.compile(r"^(test_\w*|\w+_test|conftest)$")


# ------------------------------------------------------------------------------------------ findings


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


def _chain(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ``["a", "b", "c"]``; None when the base is not a plain name (a call, a subscript)."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


def _lookup(dotted: str, *, rooted: bool = True) -> tuple[str, str] | None:
    """The table entry `dotted` falls under, as (key, why): the key is `dotted` up to the entry.

    Every tail is tried, because modules re-export what they import (`shutil.os.write` is
    os.write). When the chain starts at a local variable (`rooted` false), its first name means
    nothing and only the specific `ATTRIBUTES` are tried.
    """
    parts = dotted.split(".")
    for start in range(0 if rooted else 1, len(parts)):
        for end in range(min(len(parts), start + _LONGEST_KEY), start + 1, -1):
            if ".".join(parts[start:end]) in ATTRIBUTES:
                return ".".join(parts[:end]), ATTRIBUTES[".".join(parts[start:end])]
        whole = MODULES if start == 0 else MID_CHAIN_MODULES
        if rooted and parts[start] in whole:
            return dotted, MODULES[parts[start]]
    return None


def _target_names(target: ast.expr) -> Iterator[str]:
    """The plain names an assignment target binds (`a, *b = ...` binds a and b; `x.y = ...` none)."""
    if isinstance(target, ast.Name):
        yield target.id
    elif isinstance(target, ast.Tuple | ast.List):
        for element in target.elts:
            yield from _target_names(element)
    elif isinstance(target, ast.Starred):
        yield from _target_names(target.value)


def _block_bindings(body: list[ast.stmt]) -> Iterator[tuple[str, ast.stmt]]:
    """Names a class or module body binds itself (defs, classes, assignments), through if/try/with
    blocks but not into nested functions or classes; imports are left out (they bind real objects)."""
    for stmt in body:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            yield stmt.name, stmt
            continue
        if isinstance(stmt, ast.Assign | ast.AnnAssign | ast.AugAssign):
            for target in stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]:
                yield from ((name, stmt) for name in _target_names(target))
        blocks = [getattr(stmt, field, []) for field in ("body", "orelse", "finalbody")]
        blocks += [handler.body for handler in getattr(stmt, "handlers", [])]
        for block in blocks:
            yield from _block_bindings(block)


class _Visitor(ast.NodeVisitor):
    """Collects the `Finding`s of one module: names are resolved first (`_collect_names`), then each
    node is judged against the tables."""

    def __init__(self, tree: ast.Module) -> None:
        self.found: list[Finding] = []
        self.aliases: dict[str, str] = {}
        """Local name → dotted origin, from imports and from `x = <module or module attribute>`.
        Gathered over the whole file regardless of scope or order (over-approximating is the safe
        direction for a guard), except that a function's parameters shadow them in its body."""
        self.bound: set[str] = set()
        """Every name the file binds; an unaliased bound name is a local variable, not a module."""
        self.modules: set[str] = set()
        """Names bound by ``import`` statements: certainly modules."""
        self.judged: set[int] = set()
        """Nodes judged as part of a larger construct (getattr's object, `x is None`'s operand)."""
        self.scope: list[str] = []
        self.params: list[set[str]] = []
        """The parameters of the functions being visited: inside them those names are locals."""
        self._collect_names(tree)

    # ------------------------------------------------------------------ names and aliases

    def _collect_names(self, tree: ast.Module) -> None:
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
                parts = _chain(value)
                origin = self._origin(parts) if parts else None
                if parts and origin is not None and self._is_module_root(parts[0]):
                    self.aliases[name] = origin

    def _origin(self, parts: list[str]) -> str | None:
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

    def _module_of(self, node: ast.expr) -> str | None:
        """The module `node` names (`os`, an alias of it, `os.path`), or None for any other object."""
        parts = _chain(node)
        origin = self._origin(parts) if parts else None
        if origin is None or parts is None:
            return None
        return origin if self._is_module_root(parts[0]) else None

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
        origin = self._origin(parts)
        dotted = origin if origin is not None else ".".join(parts)
        hit = _lookup(dotted, rooted=origin is not None)
        matched_attrs = 0
        if hit is not None:
            key, why = hit
            spelled = spelled or ".".join(parts)
            self._add(key, node, why, label="" if spelled == key else f"{key} as {spelled}")
            # `dotted` is the alias's target followed by parts[1:]; the key covers a prefix of it.
            matched_attrs = key.count(".") - dotted.count(".") + len(parts) - 1
        elif origin is not None and len(parts) > 1 and self._is_module_root(parts[0]):
            if store and parts[0] in self.aliases:
                self._add(f"assignment to {origin}", node, SHARED)
            elif "__dict__" in parts[1:]:
                self._add(origin, node, "reads a module's namespace as a dict, so names can be computed")
        for i, attr in enumerate(parts[1:], start=1):
            if i > matched_attrs:
                self._attribute(attr, node, store=store and i == len(parts) - 1)
        return hit is not None

    def _is_module_root(self, name: str) -> bool:
        """Whether `name` starts a chain through modules: imported here, or a guarded module's name."""
        return name in self.aliases or (name in MODULE_ROOTS and name not in self.bound)

    def _module_value(self, parts: list[str], node: ast.Name | ast.Attribute) -> None:
        """A module used as a plain value (`f(os)`, `[shutil.os]`): where it goes, the names reached
        on it are out of sight. Modules bound by ``import`` count, and guarded ones however reached."""
        origin = self._origin(parts)
        if origin is None or id(node) in self.judged or not isinstance(node.ctx, ast.Load):
            return
        if (len(parts) == 1 and parts[0] in self.modules) or origin.split(".")[-1] in MODULE_ROOTS:
            self._add(f"module {origin} as a value", node, "passes a module around, so it " + HIDDEN)

    # ------------------------------------------------------------------ visits

    def visit_Module(self, node: ast.Module) -> None:
        for name, stmt in _block_bindings(node.body):
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
        if any(_TEST_MODULE.match(part) for part in names):
            self._add(spelled, node, "imports test code into the code under test")
        elif not project and (hit := _lookup(dotted)) is not None:
            key = hit[0] if hit[0] in ATTRIBUTES else spelled  # `from os import write` counts as os.write
            self._add(key, node, hit[1], label=spelled)
        elif not project and names[0].startswith("_") and names[0] != "__future__":
            self._add(spelled, node, "imports an interpreter-private module")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        parts = _chain(node)
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
        if node.id in ("getattr", "setattr", "delattr", "vars") and node.id not in self.bound:
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
        if _DEVICE_PATH.match(text) and text not in _HARMLESS_DEVICES:
            self._add(f"path {text!r}", node, "names the process's descriptors or devices; " + DESCRIPTORS)
        elif text in STRING_NAMES or (
            _ATTRIBUTE_PATH.match(text) and not STRING_NAMES.isdisjoint(re.findall(r"\w+", text))
        ):
            self._add(f"string {text!r}", node, "names a guarded attribute, ready for getattr or format")
        elif _TEST_FILE_TEXT.search(text):
            self._add(f"names test file {text!r}", node, "may read or rewrite tests")

    def visit_Call(self, node: ast.Call) -> None:
        callee = self._callee(node.func)
        if callee in GETATTR_LIKE:
            self._getattr_call(callee, node)
        elif callee == "vars" and (not node.args or self._module_of(node.args[0]) is not None):
            what = f"vars({self._module_of(node.args[0])})" if node.args else "vars()"
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
        parts = _chain(func)
        return self._origin(parts) if parts else None

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
        module = self._module_of(obj)
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
        self.params.append({a.arg for a in params})
        for stmt in node.body if isinstance(node.body, list) else [node.body]:
            self.visit(stmt)
        self.params.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        name = ".".join([*self.scope, node.name])
        for kw in node.keywords:
            if kw.arg == "metaclass" and self._callee(kw.value) not in HONEST_METACLASSES:
                self._add(f"metaclass= on class {name}", node, LATER + "; it also decides isinstance and ==")
        for base in node.bases:
            if self._callee(base) in METACLASS_BASES:
                self._add(f"metaclass {name}", node, LATER + "; it also decides isinstance and ==")
        for method, stmt in _block_bindings(node.body):
            if method in CLASS_DUNDERS:
                self._add(f"{method} in class {name}", stmt, CLASS_DUNDERS[method])
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()


def findings(tree: ast.Module) -> list[Finding]:
    """Every suspicious construct in `tree`, in source order."""
    visitor = _Visitor(tree)
    visitor.visit(tree)
    return sorted(visitor.found, key=lambda f: f.line)


def parse(source: str) -> ast.Module:
    """`source` parsed as the interpreter will read the file: UTF-8 bytes, coding cookie honoured."""
    return ast.parse(source.encode("utf-8"))


def added_constructs(original: str, candidate: str) -> list[Finding]:
    """The findings `candidate` has beyond those of `original`, compared by construct and count.

    When the original had some of a construct, occurrences on unchanged lines use up that
    allowance first, so the findings reported are the ones on lines the candidate changed.

    Raises:
        SyntaxError, ValueError: `candidate` does not parse (an original that cannot be parsed or
            walked counts as having nothing, which only makes the guard stricter).
        RecursionError, MemoryError: `candidate` nests too deeply to parse or walk (CPython compiles
            some nesting the recursive walk cannot follow; honest code never nests that deep).
    """
    new = findings(parse(candidate))
    try:
        allowance = Counter(f.key for f in findings(parse(original)))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        allowance = Counter()
    matcher = difflib.SequenceMatcher(None, original.splitlines(), candidate.splitlines(), autojunk=False)
    unchanged = {j + 1 for a, b, size in matcher.get_matching_blocks() for j in range(b, b + size)}
    extra = []
    for finding in sorted(new, key=lambda f: (f.line not in unchanged, f.line)):
        if allowance[finding.key] > 0:
            allowance[finding.key] -= 1
        else:
            extra.append(finding)
    return sorted(extra, key=lambda f: f.line)
