"""Turning a verified candidate into a change on disk, safely: the diff users read, the guard that
rejects patches which make tests pass by not running them, and an atomic apply with a backup.

A candidate for a repair is the full new text of one source file. Passing the test suite is only
evidence if the tests themselves ran unchanged, so `check_patch` rejects, before anything runs,
a candidate that targets a test file or introduces a way to skip, abort or rewrite tests
(``pytest.skip``, skip/xfail markers, ``sys.exit``, pytest hooks, deleting or writing test
files). The sandbox additionally hashes test files around each run; both layers are needed
because a guard over source text cannot see every dynamic trick, and a hash cannot see a skip.
"""

from __future__ import annotations

import ast
import difflib
import hashlib
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

from ponder.errors import PonderError


class PatchError(PonderError):
    """A patch could not be applied (file changed since it was read, not writable...)."""


def unified_diff(old: str, new: str, path: str) -> str:
    """A ``git diff``-style unified diff of one file (``a/path`` → ``b/path``), "" when equal."""
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{path}",
        tofile=f"b/{path}",
    )
    out = []
    for line in lines:
        out.append(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n")
    return "".join(out)


def is_test_path(path: str) -> bool:
    """Whether pytest would treat `path` as test code (test modules, conftest, files under tests/)."""
    p = Path(path)
    name = p.name
    return (
        name == "conftest.py"
        or (name.startswith("test_") and name.endswith(".py"))
        or name.endswith("_test.py")
        or any(part in ("tests", "test") for part in p.parts[:-1])
    )


@dataclass(frozen=True, slots=True)
class Verdict:
    """Whether a candidate may be verified at all; `reason` names the first cheat found."""

    ok: bool
    reason: str = ""


# Constructs that make a test run lie about what it checked, each with the reason shown to users.
# Attributes matched on any receiver are names that ordinary code hardly uses for anything else.
_SUSPECT_ATTRS: dict[str, str] = {
    "skip": "skips tests",
    "skipif": "skips tests",
    "skipTest": "skips tests",
    "xfail": "marks tests as expected failures",
    "importorskip": "skips tests",
    "unlink": "deletes files",
    "rmtree": "deletes files",
    "settrace": "rewires the interpreter",
    "setprofile": "rewires the interpreter",
}
# Module functions matched only as `module.attr`, because the bare names (`remove`, `exit`) are common.
_SUSPECT_CALLS: dict[tuple[str, str], str] = {
    **{("os", a): "deletes or moves files" for a in ("remove", "rmdir", "removedirs", "rename", "replace")},
    **{("os", a): "ends the test process" for a in ("_exit", "abort", "kill", "killpg")},
    ("os", "system"): "runs shell commands",
    ("shutil", "move"): "moves files",
    ("sys", "exit"): "exits the test process",
    ("sys", "modules"): "rewrites imported modules",
}
_SUSPECT_NAMES: dict[str, str] = {
    "pytest": "imports pytest into the code under test",
    "_pytest": "imports pytest internals",
    "unittest": "imports unittest into the code under test",
    "builtins": "rewrites builtins",
    "__builtins__": "rewrites builtins",
    "atexit": "registers exit hooks",
    "signal": "installs signal handlers",
    "subprocess": "runs other programs",
    "exec": "executes generated code",
    "eval": "executes generated code",
    "__import__": "imports dynamically",
    "exit": "exits the test process",
    "quit": "exits the test process",
    "SystemExit": "exits the test process",
    "KeyboardInterrupt": "interrupts the test process",
}
_TEST_FILE_TEXT = re.compile(r"(^|[/\\])(test_\w*\.py|\w*_test\.py|conftest\.py|pytest\.ini|tox\.ini)\b")


def _suspects(tree: ast.AST) -> Counter[str]:
    """Every suspicious construct in `tree`, as reasons counted, so old and new code can be compared."""
    found: Counter[str] = Counter()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in _SUSPECT_ATTRS:
            found[f"uses .{node.attr} ({_SUSPECT_ATTRS[node.attr]})"] += 1
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and (node.value.id, node.attr) in _SUSPECT_CALLS
        ):
            found[f"uses {node.value.id}.{node.attr} ({_SUSPECT_CALLS[node.value.id, node.attr]})"] += 1
        elif isinstance(node, ast.Name) and node.id in _SUSPECT_NAMES:
            found[f"uses {node.id} ({_SUSPECT_NAMES[node.id]})"] += 1
        elif isinstance(node, ast.Import | ast.ImportFrom):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
            for module in modules:
                root = module.split(".")[0]
                if root in _SUSPECT_NAMES:
                    found[f"imports {root} ({_SUSPECT_NAMES[root]})"] += 1
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("pytest_"):
            found[f"defines pytest hook {node.name} (changes how tests run)"] += 1
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and target.id in ("pytest_plugins", "collect_ignore"):
                    found[f"sets {target.id} (changes how tests run)"] += 1
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and _TEST_FILE_TEXT.search(node.value)
        ):
            found[f"names test file {node.value!r} (may read or rewrite tests)"] += 1
    return found


def check_patch(
    path: str,
    original: str,
    candidate: str,
    *,
    test_paths: Collection[str] = (),
) -> Verdict:
    """Reject candidates that would make the test suite pass without the code being fixed.

    Only constructs that the candidate *adds* count: a project that legitimately calls
    ``os.remove`` keeps doing so, but a fix that starts calling ``sys.exit`` is refused.

    Args:
        path: the file the candidate replaces.
        original: its current text.
        candidate: the proposed full new text.
        test_paths: the project's test files (a candidate may not target them).
    """
    if path in test_paths or is_test_path(path):
        return Verdict(False, f"patch edits test file {path}")
    if not candidate.strip():
        return Verdict(False, f"patch deletes the contents of {path}")
    try:
        new_tree = ast.parse(candidate)
    except SyntaxError:
        return Verdict(True)  # not a cheat, just broken: the verifier reports the syntax error
    try:
        old_found = _suspects(ast.parse(original))
    except SyntaxError:
        old_found = Counter()
    added = _suspects(new_tree) - old_found
    if added:
        return Verdict(False, f"patch {next(iter(added))}; tests must run unchanged")
    return Verdict(True)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _backup_path(path: Path) -> Path:
    candidate = path.with_name(path.name + ".orig")
    n = 1
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.orig.{n}")
        n += 1
    return candidate


def apply_patch(
    path: Path, new_text: str, *, expected_text: str | None = None, backup: bool = True
) -> Path | None:
    """Replace `path`'s contents with `new_text` atomically; return the backup's path.

    The new text is written to a temporary file in the same directory, flushed to disk and moved
    over the original with `os.replace`, so a crash leaves either the old or the new file, never
    half of one. The backup (``name.py.orig``, or ``.orig.N`` if that exists) is a copy made first.

    Args:
        expected_text: the text the patch was computed against; if the file changed since, nothing is
            written (another editor or a second run got there first).

    Raises:
        PatchError: the file changed, or could not be written (message names the file and the fix).
    """
    try:
        current = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise PatchError(f"cannot read {path}: {exc.strerror}; check the path and permissions") from exc
    if expected_text is not None and current != expected_text:
        raise PatchError(f"{path} changed while ponder was searching; nothing written, run repair again")
    backup_path = None
    try:
        if backup:
            backup_path = _backup_path(path)
            shutil.copy2(path, backup_path)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".ponder-tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
                handle.write(new_text)
                handle.flush()
                os.fsync(handle.fileno())
            shutil.copymode(path, tmp)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise PatchError(f"cannot write {path}: {exc.strerror}; check that the folder is writable") from exc
    return backup_path
