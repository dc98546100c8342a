"""A project as repair sees it: which files are code under test, which are tests, which are data.

Read from a folder (a git checkout through git, so ``.gitignore`` holds) or from one file and its
tests. Data files (JSON cases, fixtures, binaries) are carried read-only with the tests and are
never repair targets; limits are by size, not by extension.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ponder.plugin.repair.errors import RepairInputError
from ponder.plugin.repair.import_roots import import_roots
from ponder.plugin.repair.patching import is_test_path

SKIP_DIRS = {".git", ".hg", ".venv", "venv", "env", "__pycache__", "node_modules", "build", "dist", ".tox"}
CONFIG_FILES = ("pytest.ini", "pyproject.toml", "setup.cfg", "tox.ini")
"""Carried with the sources because code may read them; the sandbox runs pytest with its own
config, so they cannot change how (or whether) tests run. Imports resolve from the project root
and from the folders `import_roots` reads from them (`Project.pythonpath`)."""
MAX_FILES = 5000
MAX_BYTES = 20_000_000
"""Everything carried into the sandbox for one run (it travels in every request)."""
MAX_FILE_BYTES = 5_000_000
"""One data file; larger ones are left out (and listed in `Project.skipped`)."""


@dataclass(frozen=True, slots=True)
class Project:
    """A project's text, keyed by path relative to `root` (as the sandbox lays it out)."""

    root: Path
    sources: dict[str, str]
    """Code under test, plus pytest config files; one of them is the repair target."""
    tests: dict[str, str]
    """Test modules and conftest files: run, hashed, never edited."""
    data: dict[str, bytes] = field(default_factory=dict)
    """Every other file the tests may read (JSON cases, fixtures, templates, binaries): carried
    read-only with the tests, hashed like them, never a repair target."""
    skipped: tuple[str, ...] = ()
    """Files left out for their size (over MAX_FILE_BYTES)."""
    pythonpath: tuple[str, ...] = ()
    """Folders imports resolve from besides the root (`import_roots`: the project's pytest
    `pythonpath`, or a src layout's `src`), read from the project as loaded; every sandbox run of
    it gets the same ones."""

    def checked_files(self) -> dict[str, str | bytes]:
        """What the sandbox runs as tests: the test files and the data they read, read-only."""
        return {**self.tests, **self.data}


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RepairInputError(f"cannot read {path}: {exc}; pass a readable UTF-8 file") from exc


def load_project(
    path: Path | None = None, *, file: Path | None = None, tests: Sequence[Path] = ()
) -> Project:
    """Collect the sources and tests of a folder, or of one file and its test files.

    Raises:
        RepairInputError: nothing to test or nothing to fix, with the flag that fixes it.
    """
    if file is not None:
        return _load_files(file, tests)
    if path is None:
        raise RepairInputError(
            "nothing to repair: pass a project folder, or --file buggy.py --tests test_x.py"
        )
    if path.is_file():
        if not tests:
            raise RepairInputError(f"{path} is a file: pass its tests too (--file {path} --tests test_x.py)")
        return _load_files(path, tests)
    if not path.is_dir():
        raise RepairInputError(f"{path} does not exist; pass a project folder or --file/--tests")
    sources: dict[str, str] = {}
    test_files: dict[str, str] = {}
    data: dict[str, bytes] = {}
    skipped: list[str] = []
    total = 0
    for key in _project_files(path):
        file_path = path / key
        size = file_path.stat().st_size
        if not key.endswith(".py") and key not in CONFIG_FILES and size > MAX_FILE_BYTES:
            skipped.append(key)
            continue
        total += size
        if len(sources) + len(test_files) + len(data) >= MAX_FILES or total > MAX_BYTES:
            raise RepairInputError(
                f"{path} has more than {MAX_FILES} files or {MAX_BYTES // 1_000_000} MB to carry into "
                "the sandbox; point repair at the package folder, .gitignore the bulk, or use --file/--tests"
            )
        if key.endswith(".py"):
            (test_files if is_test_path(key) else sources)[key] = _read(file_path)
        elif key in CONFIG_FILES:
            sources[key] = _read(file_path)
        else:
            data[key] = file_path.read_bytes()
    for extra in tests:
        test_files[extra.name] = _read(extra)
    if not any(is_test_path(p) and Path(p).name != "conftest.py" for p in test_files):
        raise RepairInputError(f"no tests found in {path}: add test_*.py or pass --tests")
    if not any(p.endswith(".py") for p in sources):
        raise RepairInputError(f"no source files found in {path}: nothing to repair besides tests")
    return Project(
        root=path,
        sources=sources,
        tests=test_files,
        data=data,
        skipped=tuple(skipped),
        pythonpath=import_roots(sources, test_files),
    )


def _project_files(root: Path) -> list[str]:
    """The project's files, relative and sorted: what git tracks or would track (``.gitignore``
    respected) in a checkout, else every file outside build, cache and hidden folders."""
    if (root / ".git").exists() and shutil.which("git"):
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            capture_output=True,
            timeout=60,
            check=False,
        )
        if listed.returncode == 0:
            names = {n for n in listed.stdout.decode("utf-8", "replace").split("\0") if n}
            return sorted(n for n in names if (root / n).is_file() and not _skipped(Path(n)))
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not _skipped(p.relative_to(root))
    )


def _skipped(rel: Path) -> bool:
    return any(part in SKIP_DIRS or part.startswith(".") or part.endswith(".egg-info") for part in rel.parts)


def _load_files(file: Path, tests: Sequence[Path]) -> Project:
    if not file.is_file():
        raise RepairInputError(f"{file} does not exist; pass the file to repair with --file")
    if not tests:
        raise RepairInputError(f"no tests given for {file}: pass --tests test_x.py")
    if is_test_path(file.name):
        raise RepairInputError(f"{file} is a test file; pass the code under test with --file")
    test_files = {}
    for t in tests:
        if not t.is_file():
            raise RepairInputError(f"test file {t} does not exist; check --tests")
        test_files[t.name] = _read(t)
    # Flattened next to each other so `import buggy` in the tests finds the file in the sandbox.
    return Project(root=file.parent, sources={file.name: _read(file)}, tests=test_files)
