"""The patch guard's tables: the modules, attributes and names a repair candidate may not add.

Each entry maps a name to the reason a finding shows, so a rejected candidate says why. The
visitor (`guard_visitor`) resolves aliases first and then asks `lookup`; what is decided on
purpose, and why the guard exists at all, is written in `guard_rules`.
"""

from __future__ import annotations

import builtins
import re
import sys

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

ATTRIBUTE_PATH = re.compile(r"^[\w.{}\[\]!:]*\.[\w.{}\[\]!:]*$")
"""A string shaped like an attribute path (`"a.f_back"`, `"{0.__globals__}"`), not like prose."""
DEVICE_PATH = re.compile(r"^/(proc|dev)(/|$)")
HARMLESS_DEVICES = frozenset({"/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"})
TEST_FILE_TEXT = re.compile(r"(^|[/\\])(test_\w*\.py|\w*_test\.py|conftest\.py|pytest\.ini|tox\.ini)\b")
TEST_MODULE = re.compile(r"^(test_\w*|\w+_test|conftest)$")


def lookup(dotted: str, *, rooted: bool = True) -> tuple[str, str] | None:
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
