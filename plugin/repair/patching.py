"""Turning a verified candidate into a change on disk, safely: the diff users read, the guard that
rejects patches which make tests pass by not running them, and an atomic apply with a backup.

A candidate for a repair is the full new text of each source file it changes (a model's hunks
are applied first, see `ponder.plugin.repair.edits`). Passing the test suite is only
evidence if the tests themselves ran unchanged, so `check_patch` rejects, before anything runs,
a candidate that targets a test file or pytest's configuration, or introduces a way to skip, abort
or rewrite tests, to reach into the test process (frames, ``gc``, ``importlib``, raw descriptors)
or to make wrong results compare equal; the rules live in `ponder.plugin.repair.guard_rules`. The sandbox
additionally hashes test files and seals the report; both layers are needed because a guard over
source cannot see every dynamic trick, and a hash cannot see a skip.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shutil
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from ponder.errors import PonderError
from ponder.plugin.repair.guard_rules import added_constructs


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


_RUNNER_FILES = frozenset({"pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml"})
_STARTUP_FILES = frozenset({"sitecustomize.py", "usercustomize.py"})


def _runs_before_tests(path: str) -> str:
    """Why editing `path` changes how or whether tests run at all ("" for ordinary source)."""
    name = Path(path).name
    if name in _RUNNER_FILES:
        return "configures pytest"
    if name in _STARTUP_FILES or name.endswith(".pth"):
        return "runs at interpreter start-up, before pytest"
    return ""


def check_patch(
    path: str,
    original: str,
    candidate: str,
    *,
    test_paths: Collection[str] = (),
) -> Verdict:
    """Reject candidates that would make the test suite pass without the code being fixed.

    Only constructs that the candidate *adds* count (see `ponder.plugin.repair.guard_rules`): a project
    that legitimately calls ``os.remove`` keeps doing so, but a fix that starts calling
    ``sys.exit`` is refused. The reason is one line naming the construct and its line, e.g.
    ``rejected: adds gc.get_objects (line 12): introspection of the test process; ...``.

    Args:
        path: the file the candidate replaces.
        original: its current text.
        candidate: the proposed full new text.
        test_paths: the project's test files (a candidate may not target them).
    """
    if path in test_paths or is_test_path(path):
        return Verdict(False, f"rejected: patch edits test file {path}; tests must run unchanged")
    if why := _runs_before_tests(path):
        return Verdict(False, f"rejected: patch edits {path}, which {why}; tests must run unchanged")
    if not candidate.strip():
        return Verdict(False, f"rejected: patch deletes the contents of {path}")
    try:
        added = added_constructs(original, candidate)
    except (SyntaxError, ValueError):
        return Verdict(True)  # not a cheat, just broken: the verifier reports the syntax error
    except (RecursionError, MemoryError):  # the parser's or the guard's stack ran out
        return Verdict(False, "rejected: the patch nests code too deeply to be checked")
    if not added:
        return Verdict(True)
    more = f" (+{len(added) - 1} more)" if len(added) > 1 else ""
    return Verdict(False, f"rejected: adds {added[0].describe()}{more}; tests must run unchanged")


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


def apply_patches(
    root: Path, patched: Mapping[str, str], originals: Mapping[str, str], *, backup: bool = True
) -> list[Path]:
    """Write a fix that changes several files: each atomically (see `apply_patch`), none if any of
    them changed since it was read; returns the backups' paths.

    Args:
        patched: path relative to `root` → new text.
        originals: the same paths → the text the fix was computed against.

    Raises:
        PatchError: a file changed or could not be read (nothing written), or one could not be
            written (the files before it are written and keep their backups; the message says which).
    """
    for rel in patched:
        path = root / rel
        try:
            current = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise PatchError(f"cannot read {path}: {exc.strerror}; check the path and permissions") from exc
        if rel in originals and current != originals[rel]:
            raise PatchError(f"{path} changed while ponder was searching; nothing written, run repair again")
    backups = []
    for rel, text in patched.items():
        made = apply_patch(root / rel, text, expected_text=originals.get(rel), backup=backup)
        if made is not None:
            backups.append(made)
    return backups
