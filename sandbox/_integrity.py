"""Integrity checks inside the test process: what makes a pytest verdict hard to fake from within.

The code under test runs in the same process as pytest, so it can reach pytest's objects, its
report and the descriptors that carry it. No single check closes that; these layers together
make each known trick either impossible or visible, and the host (`ponder.sandbox.junit`)
treats anything visible as tampering:

* **Independent call record.** This plugin calls each test function itself (through a reference
  to pytest's own ``pytest_pyfunc_call`` taken before any code under test was imported) and
  writes "returned" or "raised" to its own channel the moment the call ends. A report that says
  a test passed while its call raised is a lie, whichever layer of pytest was patched to tell it.
* **Hidden canaries.** Two extra tests per run, one that must pass and one that must fail, named
  like the suite's own tests and created as items only after every module was imported, so
  they exist neither on disk nor in any module's namespace. Their names come from a seed the
  host derives from the run's key; the host computes the same names (`canary_plan`) and demands
  both with their right outcomes. A blanket patch ("everything passes") fails the must-fail
  canary; a forged report does not know their names.
* **Audit hook** (PEP 578, cannot be removed once added): frame walking (``sys._getframe``,
  ``tb_frame``...), ``gc`` object walks, ``ctypes``, tracing, ``exec``/``compile``, and opening
  ``/proc/*/fd``, ``/proc/*/mem`` or ``/dev/fd`` from the code under test are refused and recorded.
* **Snapshot** of pytest's, pluggy's and builtins' namespaces (module and class dicts) and of the
  registered hook implementations, taken at session start before any test module was imported
  and compared after every test and at the end: a monkeypatched runner, report class or hook
  is visible even if the lie it told was consistent.
* **Plain-data comparison.** After pytest rewrites a test module's asserts, every comparison's
  operands pass through `plain`: an object whose class comes from the code under test and
  overrides comparison (``__eq__`` always True...) fails the assertion, unless the original
  code already had that method (the host sends those as ``allowed``).

Everything is written to the integrity channel as JSON lines, immediately, so that a record the
code tries to overwrite later has already left the process; the host rejects duplicates.

This module is standard library only (it also runs on the host, for `canary_plan`), and pytest is
imported lazily inside the sandbox. It is longer than a module here usually is on purpose: it
travels into the sandbox as one source string (the harness's last argument) and is compiled
there privately, so every layer the test process needs is in this one file.
"""

from __future__ import annotations

import ast
import builtins
import contextlib
import functools
import hashlib
import os
import signal
import sys
import sysconfig
import threading
import types
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, cast

# Bound when this module loads, before any code under test runs. The code under test can rebind
# `os.write`, `sys._getframe` or `sys.modules` on those modules, but not these names: the harness
# compiles this module privately, with its own copy of the builtins, and never registers it in
# sys.modules, so nothing the code under test can name leads here.
_getframe = sys._getframe
_signal = signal.signal
_settrace = sys.settrace
_setitimer = signal.setitimer
_write = os.write
_modules = sys.modules
_sha256 = hashlib.sha256

PLAIN_NAME = "@ponder_plain"
"""Builtins key of the comparison guard: not an identifier, so no source can name or shadow it."""

SUSPECT_DUNDERS = frozenset(
    {
        "__eq__",
        "__ne__",
        "__lt__",
        "__le__",
        "__gt__",
        "__ge__",
        "__bool__",
        "__len__",
        "__hash__",
        "__contains__",
        "__float__",
        "__int__",
        "__index__",
        "__complex__",
        "__abs__",
        "__round__",
        "__sub__",
        "__rsub__",
        "__getattribute__",
    }
)
"""Methods through which an object can steer a comparison, a truth test or ``pytest.approx``."""

COMPARE_OPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn)
FRAME_ATTRS = frozenset({"tb_frame", "gi_frame", "cr_frame", "ag_frame"})
"""Attribute reads the audit hook sees that hand out frames (and so every caller's globals)."""
PATCH_ATTRS = frozenset({"__code__", "__class__", "__bases__", "__defaults__", "__kwdefaults__"})
"""Attribute writes the audit hook sees that swap a function's body or an object's class."""
SENSITIVE_PATHS = ("/proc/", "/dev/fd", "/dev/stdout", "/dev/stderr")
SENSITIVE_PROC = ("/fd", "/mem", "/maps", "/environ", "/cmdline", "/task")
ALWAYS_REFUSED = frozenset({"sys.settrace", "sys.setprofile", "sys.addaudithook", "sys._current_frames"})
CALLER_EVENTS = frozenset(
    {
        "sys._getframe",
        "object.__getattr__",
        "object.__setattr__",
        "object.__delattr__",
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "compile",
        "exec",
    }
)
CANARY_WORDS = (
    "basic", "empty", "zero", "single", "many", "large", "small", "negative", "mixed", "order",
    "twice", "edge", "simple", "default", "repeat", "types", "none", "long", "short", "again",
)  # fmt: skip
SNAPSHOT_IGNORED = {
    "_pytest.assertion.util": {"_reprcompare", "_assertion_pass", "_config"},
}
"""Module globals pytest itself sets and resets around each test."""
SNAPSHOT_IGNORED_ANYWHERE = frozenset({"_pytest_diamond_inheritance_warning_shown", "__warningregistry__"})
"""Class attributes pytest sets on its own node classes the first time it builds one, and the
registry `warnings` adds to a module the first time a warning is raised from it (pytest's own
"cannot collect test class" or "async def functions are not natively supported"): it decides
which warnings are shown again, never an outcome."""
MAX_PLAIN_ITEMS = 10000


@dataclass(frozen=True, slots=True)
class Canary:
    path: str
    """Test file (relative to the work dir) the canary is placed in."""
    name: str
    must_fail: bool

    @property
    def key(self) -> str:
        """The canary's id as JUnit XML names it (``classname::name``)."""
        return f"{junit_classname(self.path)}::{self.name}"


def junit_classname(path: str, cls: str = "") -> str:
    """pytest's JUnit classname for a test in `path` (``tests/test_m.py`` -> ``tests.test_m``)."""
    dotted = (path[:-3] if path.endswith(".py") else path).replace("/", ".")
    return f"{dotted}.{cls}" if cls else dotted


def junit_key(nodeid: str) -> str:
    """A nodeid as JUnit XML spells it, the way pytest's junitxml mangles it."""
    names = nodeid.split("::")
    names[0] = names[0].replace("/", ".")
    if names[0].endswith(".py"):
        names[0] = names[0][:-3]
    return ".".join(names[:-1]) + "::" + names[-1]


def test_names(source: str) -> list[str]:
    """Names of the test functions a module defines (module level and in ``Test*`` classes)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test"):
            names.append(node.name)
        elif isinstance(node, ast.ClassDef) and node.name.startswith("Test"):
            names += [
                f.name for f in node.body if isinstance(f, ast.FunctionDef) and f.name.startswith("test")
            ]
    return names


def canary_seed(key: bytes) -> bytes:
    """What the test process gets instead of the run's key: enough to place canaries, nothing more."""
    return _sha256(b"ponder-canary\0" + key).digest()


def canary_plan(seed: bytes, tests: Mapping[str, str]) -> list[Canary]:
    """The run's canaries: one must-pass and one must-fail, each in a test file chosen by `seed`.

    Deterministic in (seed, test sources), so the host and the test process agree without the
    host telling anyone the names. Names are built from the suite's own words
    (``test_add`` -> ``test_add_zero``) so that nothing in a name says "canary".
    """
    files = sorted(p for p, src in tests.items() if p.endswith(".py") and test_names(src))
    if not files:
        return []
    taken = {n for p in files for n in test_names(tests[p])}
    out = []
    for index, must_fail in enumerate((False, True)):
        digest = _sha256(seed + bytes([index])).digest()
        path = files[digest[0] % len(files)]
        stems = sorted({w for n in test_names(tests[path]) for w in n.split("_")[1:] if w.isalpha()}) or [
            "it"
        ]
        stem = stems[digest[1] % len(stems)]
        for attempt in range(len(CANARY_WORDS)):
            word = CANARY_WORDS[(digest[2] + attempt) % len(CANARY_WORDS)]
            name = f"test_{stem}_{word}"
            if name not in taken:
                break
        else:
            name = f"test_{stem}_{digest.hex()[:6]}"
        taken.add(name)
        out.append(Canary(path=path, name=name, must_fail=must_fail))
    return out


class Channel:
    """Records to the host on one descriptor, a Python literal per line, written at once.

    ``repr`` of plain dicts, strings and numbers runs in C, and the write is the `os.write` bound
    at load: nothing the code under test can rebind (``json``, ``os.write``) shapes what is sent.
    The host reads the lines with `ast.literal_eval`.
    """

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.lock = threading.Lock()

    def send(self, record: dict[str, Any]) -> None:
        data = (repr(record) + "\n").encode()
        with self.lock:
            view = memoryview(data)
            while view:
                try:
                    view = view[_write(self.fd, view) :]
                except OSError:
                    return


class Guard:
    """Decides which frames belong to the code under test, and refuses what it must not do."""

    def __init__(self, cwd: str, test_paths: Iterable[str], channel: Channel) -> None:
        self.cwd = os.path.realpath(cwd) + os.sep
        self.roots = tuple({self.cwd, os.path.abspath(cwd) + os.sep})
        """The work dir as imports may spell it (given and resolved)."""
        test_paths = list(test_paths)
        self.test_files = {os.path.join(root, p) for root in self.roots for p in test_paths}
        self.channel = channel
        stdlib = sysconfig.get_paths()["stdlib"] + os.sep
        self.pass_through = (
            stdlib + "inspect.py",
            stdlib + "importlib" + os.sep,
            stdlib + "ctypes" + os.sep,
            stdlib + "functools.py",
            stdlib + "operator.py",
        )
        """Stdlib modules that act for their caller: the event is charged to whoever called them."""
        self.stack_pass_through = (*self.pass_through, stdlib + "traceback.py")
        """The same for stack reads: ``traceback.walk_stack`` hands out the caller's frames."""
        self.test_paths = sorted(test_paths)
        self.protected_fds = _inherited_fds()
        """Descriptors this process started with beyond stdio (the report channels): a descriptor the
        code under test opens itself (a temp file, a pipe) it may wrap with ``open`` as it likes."""
        self.busy = threading.local()
        self.violations: list[str] = []

    def test_sources(self) -> dict[str, str]:
        """The test files as the host sent them (root-owned and read-only here): the canary plan's input."""
        out = {}
        for rel in self.test_paths:
            if rel.endswith(".py"):
                with open(os.path.join(self.cwd, rel), encoding="utf-8", errors="replace") as fh:
                    out[rel] = fh.read()
        return out

    def untrusted(self, filename: str) -> bool:
        """Code under test: a source file in the work dir that is not a test, or source with no file."""
        if filename.startswith("<"):
            return not (filename.startswith("<frozen ") or filename in TRUSTED_PSEUDO_FILES)
        return filename.startswith(self.roots) and filename not in self.test_files

    def relative(self, filename: str) -> str:
        """`filename` relative to the work dir (as the host names it), or as it is."""
        for root in self.roots:
            if filename.startswith(root):
                return filename[len(root) :]
        return filename

    def where(self, filename: str, line: int) -> str:
        return f"{self.relative(filename)}:{line}"

    def culprit(
        self, frame: types.FrameType | None, *, anywhere: bool = False, through: tuple[str, ...] = ()
    ) -> str | None:
        """``file:line`` of the code under test behind an event, or None.

        The event's own frame, or the first one out past pass-through modules (`through`), must be
        the code under test; with `anywhere`, any frame on the stack counts.
        """
        through = through or self.pass_through
        while frame is not None:
            filename = frame.f_code.co_filename
            if self.untrusted(filename):
                return self.where(filename, frame.f_lineno)
            if not anywhere and not filename.startswith(through) and not filename.startswith("<frozen"):
                return None
            frame = frame.f_back
        return None

    def hook(self, event: str, args: tuple[Any, ...]) -> None:
        if event not in WATCHED and not event.startswith("ctypes."):
            return
        if getattr(self.busy, "on", False):
            return
        self.busy.on = True
        try:
            why = self._judge(event, args)
        finally:
            self.busy.on = False
        if why is not None:
            self.refuse(why)

    def _judge(self, event: str, args: tuple[Any, ...]) -> str | None:
        if event == "object.__getattr__" and args[1] not in FRAME_ATTRS:
            return None
        if event in ("object.__setattr__", "object.__delattr__") and args[1] not in PATCH_ATTRS:
            return None
        if event in ("open", "os.listdir", "os.scandir"):
            target = args[0] if args else None
            path = f"descriptor {target}" if isinstance(target, int) else str(target or "")
            if not (isinstance(target, int) and target in self.protected_fds) and not _sensitive_path(path):
                return None
            where = self.culprit(_getframe(2), anywhere=True)
            return f"code under test opened {path} ({where})" if where else None
        frame = _getframe(2)
        if event == "sys.settrace" and frame.f_code.co_filename == INTEGRITY_FILE:
            return None  # this plugin's own line coverage (see _covered)
        if event in ALWAYS_REFUSED:
            where = self.culprit(frame, anywhere=True) or "test code"
            return f"{event} was called during the test run ({where})"
        if event in ("compile", "exec") and frame.f_code.co_filename.startswith("<frozen importlib"):
            return None  # the import system loading a module
        through = self.stack_pass_through if event == "sys._getframe" else self.pass_through
        where = self.culprit(frame, through=through)
        if where is None:
            return None
        detail = f"{event} {args[1]}" if event.startswith("object.") else event
        return f"code under test used {detail} ({where})"

    def refuse(self, why: str) -> None:
        self.violations.append(why)
        self.channel.send({"t": "violation", "what": why})
        raise PermissionError(f"ponder sandbox: {why}: not allowed in code under test")


INTEGRITY_FILE = "<ponder-integrity>"
"""The name the harnesses compile this module under."""
TRUSTED_PSEUDO_FILES = frozenset({INTEGRITY_FILE, "<string>"})
"""The harness runs from ``-c`` (``<string>``); exec/compile from the code under test are refused."""
WATCHED = CALLER_EVENTS | ALWAYS_REFUSED | {"open", "os.listdir", "os.scandir"}


def _inherited_fds() -> frozenset[int]:
    try:
        return frozenset(int(fd) for fd in os.listdir("/proc/self/fd") if int(fd) > 2)
    except OSError:  # no /proc (not Linux): every descriptor above stdio is protected
        return frozenset(range(3, 1024))


def _sensitive_path(path: str) -> bool:
    if not path.startswith(SENSITIVE_PATHS):
        return False
    return not path.startswith("/proc/") or any(part in path for part in SENSITIVE_PROC)


class Snapshot:
    """Identity of every value in the namespaces a test verdict depends on."""

    PREFIXES = ("pytest", "_pytest", "pluggy", "unittest", "pytest_asyncio")
    """unittest too: a TestCase test passes or fails by its assert methods and `run`, which code
    under test could otherwise replace (`unittest.TestCase.assertEqual = lambda *a: None`); and
    pytest_asyncio, whose `wrap_in_sync` runs each `async def` test."""

    def __init__(self, extra: Iterable[Any] = ()) -> None:
        self.spaces: dict[str, tuple[Any, dict[str, Any]]] = {}
        for name, module in list(_modules.items()):
            if module is None or not (name in self.PREFIXES or name.split(".")[0] in self.PREFIXES):
                continue
            self._add(name, module)
            for value in list(vars(module).values()):
                if isinstance(value, type) and getattr(value, "__module__", "") == name:
                    self._add(f"{name}.{value.__qualname__}", value)
        self._add("builtins", builtins)
        for obj in extra:
            is_module = isinstance(obj, types.ModuleType)
            self._add(obj.__name__ if is_module else f"{obj.__module__}.{obj.__qualname__}", obj)

    def _add(self, label: str, space: Any) -> None:
        self.spaces[label] = (space, dict(vars(space)))

    def changes(self) -> list[str]:
        """``module.attr`` for each value added, removed or replaced since the snapshot."""
        out = []
        for label, (space, before) in self.spaces.items():
            now = vars(space)
            ignored = SNAPSHOT_IGNORED.get(label, SNAPSHOT_IGNORED_ANYWHERE)
            for key in before.keys() | now.keys():
                if key in ignored or (key not in before and _imported_submodule(label, key, now[key])):
                    continue
                if key not in now or key not in before or now[key] is not before[key]:
                    out.append(f"{label}.{key}")
        return sorted(out)


def _imported_submodule(package: str, key: str, value: Any) -> bool:
    """A package gains an attribute when one of its submodules is first imported (a test's
    `from unittest import mock`): that is the import system at work, not a patch."""
    return isinstance(value, types.ModuleType) and _modules.get(f"{package}.{key}") is value


HEAPTYPE = 1 << 9
"""Py_TPFLAGS_HEAPTYPE: set for classes made by ``class`` statements, clear for the builtins."""
_type_attr = {name: type.__dict__[name].__get__ for name in ("__mro__", "__flags__", "__dict__")}
"""Read through ``type`` itself, so that a metaclass cannot fake a class's MRO or namespace."""


def plain_problem(value: Any, guard: Guard, allowed: frozenset[str], depth: int = 0) -> str | None:
    """Why `value` cannot be compared as plain data, or None.

    Builtin scalars and containers are checked recursively. For anything else, each class in its
    MRO that defines a comparison-steering method (SUSPECT_DUNDERS) whose code lives in the code
    under test is a problem, unless the original code had it (`allowed`: ``path:Class.__eq__``).
    Instances' own attributes are checked too, so that an honest ``__eq__`` (a dataclass's)
    cannot be steered by an attribute that lies.
    """
    kind = type(value)
    if kind in (int, float, str, bytes, bool, complex, type(None)) or depth > 20:
        return None
    if kind in (list, tuple, set, frozenset, dict):
        items = list(value.items()) if kind is dict else list(value)
        parts = [p for item in items[:MAX_PLAIN_ITEMS] for p in (item if kind is dict else (item,))]
        return next((x for x in (plain_problem(p, guard, allowed, depth + 1) for p in parts) if x), None)
    for cls in _type_attr["__mro__"](kind):
        if not _type_attr["__flags__"](cls) & HEAPTYPE:
            continue
        namespace = _type_attr["__dict__"](cls)
        for name in sorted(SUSPECT_DUNDERS & set(namespace)):
            origin = _origin(namespace[name], cls, guard)
            if origin is not None and f"{origin}:{cls.__qualname__}.{name}" not in allowed:
                return f"{cls.__qualname__}.{name} ({origin})"
    if _type_attr["__flags__"](kind) & HEAPTYPE:
        attrs = getattr(value, "__dict__", None)
        if type(attrs) is dict:
            return plain_problem(list(attrs.values()), guard, allowed, depth + 1)
    return None


ATTRS_GENERATED = "<attrs generated"
"""How attrs names the code of the methods it writes for a class (`<attrs generated eq pkg.Cls>`)."""


def _origin(method: Any, cls: type, guard: Guard) -> str | None:
    """Where `method` was written if that is the code under test (``path`` or ``?``), else None."""
    if method is None:  # ``__hash__ = None``, set by Python itself next to an ``__eq__``
        return None
    if isinstance(method, staticmethod | classmethod):
        method = method.__func__
    if isinstance(method, functools.partial):
        method = method.func
    filename = method.__code__.co_filename if isinstance(method, types.FunctionType) else ""
    if filename and not filename.startswith(ATTRS_GENERATED):
        return guard.relative(filename) if guard.untrusted(filename) else None
    # Not code of its own (``__hash__ = int.__hash__``), or generated for the class (attrs names
    # its methods "<attrs generated eq pkg.Class>"): charged to the module the class is in.
    module = _modules.get(type.__dict__["__module__"].__get__(cls) or "")
    filename = (getattr(module, "__file__", None) or "") if module is not None else ""
    if filename and getattr(module, cls.__name__, None) is cls:
        return guard.relative(filename) if guard.untrusted(filename) else None
    return "?"


class PlainCompare(ast.NodeTransformer):
    """Routes both operands of every comparison in a (rewritten) test module through `plain`."""

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if not any(isinstance(op, COMPARE_OPS) for op in node.ops):
            return node
        node.left = _wrap(node.left)
        node.comparators = [_wrap(c) for c in node.comparators]
        return node


def _wrap(expr: ast.expr) -> ast.expr:
    # Every new node takes the operand's location: `fix_missing_locations` would also "fix" nodes
    # pytest inserted without an end line (its ``import builtins``), into an invalid range.
    name = ast.copy_location(ast.Name(id=PLAIN_NAME, ctx=ast.Load()), expr)
    return ast.copy_location(ast.Call(func=name, args=[expr], keywords=[]), expr)


class IntegrityPlugin:
    """The pytest plugin that keeps the independent record (registered before collection)."""

    def __init__(
        self,
        guard: Guard,
        seed: bytes,
        test_timeout_s: float | None = None,
        coverage: bool = False,
    ) -> None:
        import _pytest.python

        self.guard = guard
        self.channel = guard.channel
        self.seed = seed
        self.call_test: Callable[[Any], object] = _pytest.python.pytest_pyfunc_call
        self.test_timeout_s = test_timeout_s
        self.coverage = coverage
        self.snapshot: Snapshot | None = None
        self.hooks: dict[str, set[Any]] = {}
        self.config: Any = None
        self.session: Any = None
        self.canaries: dict[str, bool] = {}
        """nodeid -> must_fail, for the canaries planted."""

    # -- before any test module is imported ----------------------------------------------------

    def pytest_addoption(self, parser: Any) -> None:
        """The two options pytest's debugging plugin would define. The harness turns that plugin
        off (its pytestPDB class keeps the config in a global a test could reach), but pytest's
        unittest support reads `usepdb` and `trace` for every TestCase test: without them each
        one failed with "no option named 'trace'"."""
        group = parser.getgroup("ponder")
        group.addoption("--ponder-usepdb", dest="usepdb", action="store_true", default=False, help="unused")
        group.addoption("--ponder-trace", dest="trace", action="store_true", default=False, help="unused")

    def pytest_configure(self, config: Any) -> None:
        self.config = config

    def pytest_sessionstart(self, session: Any) -> None:
        import unittest  # noqa: F401  (loaded now, so the snapshot holds it before any test module)

        self.session = session
        # ast: the assertion-rewrite pass runs on test modules imported after code under test.
        ours = (type(self), Guard, Channel, Snapshot, PlainCompare)
        self.snapshot = Snapshot(extra=(*ours, ast, ast.NodeTransformer, ast.NodeVisitor))
        self.hooks = self._hook_functions()

    # -- after collection: plant the canaries ----------------------------------------------------

    def pytest_collection_modifyitems(self, session: Any, config: Any, items: list[Any]) -> None:
        import pytest

        modules: dict[str, Any] = {}
        for item in items:
            module = item.getparent(pytest.Module)
            if module is not None:
                modules.setdefault(self.guard.relative(str(module.path)), module)
        from _pytest.unittest import TestCaseFunction

        for item in items:
            # Functions (pytest-asyncio's coroutine items too) are called through pytest_pyfunc_call,
            # which records each call; a unittest TestCase test never is, so its runtest is limited here.
            testcase = isinstance(item, TestCaseFunction)
            kind = "function" if isinstance(item, pytest.Function) and not testcase else "other"
            self.channel.send({"t": "item", "key": junit_key(item.nodeid), "kind": kind})
            if testcase:
                item.runtest = self._limited(item.nodeid, item.runtest)
        for canary in canary_plan(self.seed, self.guard.test_sources()):
            module = modules.get(canary.path)
            self.channel.send({"t": "canary", "key": canary.key, "placed": module is not None})
            if module is None:  # it did not collect: that run fails anyway
                continue
            line = _first_test_line(items, module)
            fn = _canary_function(canary, self.seed, str(module.path), line, module.obj.__name__)
            new = pytest.Function.from_parent(module, name=canary.name, callobj=fn)
            siblings = [i for i, it in enumerate(items) if it.getparent(pytest.Module) is module]
            at = siblings[self.seed[len(items) % len(self.seed)] % len(siblings)] if siblings else len(items)
            items.insert(at + int(canary.must_fail), new)
            self.canaries[new.nodeid] = canary.must_fail
        self.check("after collection")

    # -- each test: call it ourselves, record how the call ended ---------------------------------

    def pytest_report_teststatus(self, report: Any, config: Any) -> tuple[str, str, str] | None:
        """Canaries leave no trace in pytest's output (the host reads them from the JUnit XML)."""
        return ("", "", "") if report.nodeid in self.canaries else None

    def pytest_pyfunc_call(self, pyfuncitem: Any) -> bool:
        key = junit_key(pyfuncitem.nodeid)
        try:
            self._limited(pyfuncitem.nodeid, lambda: self.call_test(pyfuncitem))()
        except BaseException as exc:
            self.channel.send({"t": "call", "key": key, "result": "raised", "error": type(exc).__name__})
            raise
        else:
            self.channel.send({"t": "call", "key": key, "result": "returned"})
        return True

    def _limited(self, nodeid: str, run: Callable[[], object]) -> Callable[[], None]:
        """`run` under the per-test time limit, its lines of the code under test recorded."""

        def limited() -> None:
            lines: dict[str, set[int]] = {}
            try:
                with _time_limit(self.test_timeout_s), _covered(self.guard, lines, self.coverage):
                    run()
            finally:
                if self.coverage:
                    files = {path: sorted(numbers) for path, numbers in lines.items()}
                    self.channel.send({"t": "lines", "key": junit_key(nodeid), "files": files})

        return limited

    def pytest_runtest_logreport(self, report: Any) -> None:
        if report.failed and self.canaries.get(report.nodeid) and self.session is not None:
            self.session.testsfailed -= 1  # pytest's exit status stays the suite's own
        if report.when == "teardown":
            self.check(f"after {report.nodeid}", hooks=False)

    def pytest_sessionfinish(self, session: Any, exitstatus: int) -> None:
        self.check("at the end")
        self.channel.send({"t": "end", "exitstatus": int(exitstatus)})

    # -- checks ----------------------------------------------------------------------------------

    def check(self, when: str, *, hooks: bool = True) -> None:
        """Report what was replaced (and, with `hooks`, which hook implementations appeared).

        Namespaces after every test (a patch is caught while it is in place); hooks after
        collection and at the end only: a hook only matters if it is still there to be called.
        """
        changed = self.snapshot.changes() if self.snapshot is not None else []
        added = self._added_hooks() if hooks else []
        for what in changed[:5]:
            self.channel.send({"t": "violation", "what": f"{what} was replaced {when}"})
        for what in added[:5]:
            self.channel.send({"t": "violation", "what": f"a pytest hook was added {when}: {what}"})

    def _hook_functions(self) -> dict[str, set[Any]]:
        if self.config is None:
            return {}
        out: dict[str, set[Any]] = {}
        for name in dir(self.config.pluginmanager.hook):
            caller = getattr(self.config.pluginmanager.hook, name)
            if hasattr(caller, "get_hookimpls"):
                out[name] = {impl.function for impl in caller.get_hookimpls()}
        return out

    def _added_hooks(self) -> list[str]:
        """Hook implementations registered since session start by anything but a test file (conftest)."""
        out = []
        for name, functions in self._hook_functions().items():
            for function in functions - self.hooks.get(name, set()):
                code = getattr(function, "__code__", None)
                filename = code.co_filename if code is not None else "<builtin>"
                if filename not in self.guard.test_files:
                    out.append(f"{name} from {getattr(function, '__module__', '?')}")
        return sorted(out)


class TestTimeout(Exception):
    """One test ran past its own limit (the run's other tests still run and report)."""

    __test__ = False


RETIME_S = 0.001
"""Delay before a test's time limit fires again when it first landed inside this module's code."""


@contextlib.contextmanager
def _time_limit(seconds: float | None) -> Iterator[None]:
    """Raise TestTimeout in this (the main) thread after `seconds`; a hang in one test costs that
    test only, so the rest of the suite still reports and repair has evidence to localise with."""
    if not seconds or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: Any) -> None:
        if frame is not None and frame.f_code.co_filename == INTEGRITY_FILE:
            # Interrupted inside the coverage tracer: an exception leaving a trace function makes
            # CPython switch tracing off itself, an audited sys.settrace that would read as the
            # code under test's. Fire again a moment later, in the code under test.
            _setitimer(signal.ITIMER_REAL, RETIME_S)
            return
        raise TestTimeout(f"this test ran longer than its {seconds:g} s limit (the other tests still ran)")

    previous = _signal(signal.SIGALRM, expire)
    _setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        _setitimer(signal.ITIMER_REAL, 0)
        _signal(signal.SIGALRM, previous)


@contextlib.contextmanager
def _covered(guard: Guard, lines: dict[str, set[int]], on: bool) -> Iterator[None]:
    """Record the lines of the code under test that run (for fault localisation, not the verdict).

    Only frames of the code under test get a line tracer, so library code runs at almost full
    speed. What the code under test does to the tracer can only blur its own localisation.
    """
    if not on:
        yield
        return

    def local(frame: types.FrameType, event: str, arg: Any) -> Any:
        if event == "line":
            lines.setdefault(guard.relative(frame.f_code.co_filename), set()).add(frame.f_lineno)
        return local

    def calls(frame: types.FrameType, event: str, arg: Any) -> Any:
        filename = frame.f_code.co_filename
        return (
            local if event == "call" and not filename.startswith("<") and guard.untrusted(filename) else None
        )

    _settrace(calls)
    try:
        yield
    finally:
        _settrace(None)


def _hookimpl(function: Any, *, tryfirst: bool = False, trylast: bool = False) -> None:
    """pluggy's hookimpl marker, set by hand: this module must import without pytest (on the host)."""
    function.pytest_impl = {
        "wrapper": False,
        "hookwrapper": False,
        "optionalhook": False,
        "tryfirst": tryfirst,
        "trylast": trylast,
        "specname": None,
    }


_hookimpl(IntegrityPlugin.pytest_sessionstart, trylast=True)  # after the fixture manager registers
_hookimpl(IntegrityPlugin.pytest_report_teststatus, tryfirst=True)
_hookimpl(IntegrityPlugin.pytest_pyfunc_call, tryfirst=True)
_hookimpl(IntegrityPlugin.pytest_collection_modifyitems, trylast=True)
_hookimpl(IntegrityPlugin.pytest_runtest_logreport, trylast=True)


def _first_test_line(items: list[Any], module: Any) -> int:
    for item in items:
        code = getattr(getattr(item, "obj", None), "__code__", None)
        if item.parent is module and code is not None:
            return int(code.co_firstlineno)
    return 1


def _canary_function(canary: Canary, seed: bytes, path: str, line: int, module: str) -> Callable[[], None]:
    """A test function that looks like the suite's: same file, a nearby line, a plausible name."""
    import pytest

    value = int.from_bytes(_sha256(seed + canary.name.encode()).digest()[:4], "big")
    fail = pytest.fail

    def test() -> None:
        # A failure without a traceback: pytest reports it through the same path as any other,
        # but skips formatting source it would have to look up in the test file.
        if canary.must_fail:
            fail(f"assert {value} == {value + 1}", pytrace=False)

    test.__code__ = test.__code__.replace(co_filename=path, co_firstlineno=line, co_name=canary.name)
    test.__name__ = test.__qualname__ = canary.name
    test.__module__ = module
    return test


def install(
    *,
    cwd: str,
    test_paths: Iterable[str],
    seed: bytes,
    allowed: Iterable[str],
    fd: int,
    test_timeout_s: float | None = None,
    coverage: bool = False,
) -> IntegrityPlugin:
    """Set up every layer in this (the test) process; returns the plugin to hand to ``pytest.main``.

    Must run before pytest imports any test module: the audit hook and the assertion-rewrite pass
    only see what comes after them.
    """
    import _pytest.assertion.rewrite as rewrite

    channel = Channel(fd)
    guard = Guard(cwd, test_paths, channel)
    allowed_set = frozenset(allowed)
    original_rewrite = rewrite.rewrite_asserts

    def rewrite_asserts(
        mod: ast.Module, source: bytes, module_path: str | None = None, config: Any = None
    ) -> None:
        original_rewrite(mod, source, module_path, config)
        # Test modules only: pytest also rewrites the plugins it loads (`-p pytest_asyncio.plugin`),
        # whose comparisons of pytest's own objects are no test's verdict.
        if module_path is None or str(module_path) in guard.test_files:
            PlainCompare().visit(mod)

    def plain(value: Any) -> Any:
        problem = plain_problem(value, guard, allowed_set)
        if problem is not None:
            why = f"a test compared an object whose class from the code under test overrides {problem}"
            guard.violations.append(why)
            channel.send({"t": "violation", "what": why})
            raise AssertionError(f"ponder: {why}; compared as plain data it is not equal")
        return value

    rewrite.rewrite_asserts = rewrite_asserts  # type: ignore[assignment]
    cast("dict[str, Any]", vars(builtins))[PLAIN_NAME] = plain  # a module's vars() is its dict
    plugin = IntegrityPlugin(guard, seed, test_timeout_s, coverage)
    sys.addaudithook(guard.hook)
    return plugin
