"""Checking the files a caller hands over and packing them for the trip into a sandbox."""

from __future__ import annotations

import hashlib
import io
import posixpath
import tarfile
from collections.abc import Iterable, Mapping

from ponder.sandbox.errors import SandboxConfigError
from ponder.sandbox.types import Files

CONFTEST = "conftest.py"


def normalize_files(files: Files, *, what: str = "files") -> dict[str, bytes]:
    """Return ``{clean relative path: bytes}``; reject anything that could land outside the work dir.

    Raises:
        SandboxConfigError: an absolute path, a ``..`` component, an empty or NUL-containing name.
    """
    return {
        _inside(raw, what): content.encode("utf-8") if isinstance(content, str) else bytes(content)
        for raw, content in files.items()
    }


def normalize_import_roots(roots: Iterable[str]) -> list[str]:
    """The folders a run puts on sys.path, each relative and inside the work dir.

    Raises:
        SandboxConfigError: as `normalize_files` for a path that escapes the work dir.
    """
    return list(dict.fromkeys(_inside(raw, "pythonpath") for raw in roots))


def _inside(raw: str, what: str) -> str:
    path = posixpath.normpath(raw.replace("\\", "/"))
    if (
        not raw
        or "\x00" in raw
        or path.startswith(("/", "../"))
        or path in (".", "..")
        or ".." in path.split("/")
    ):
        raise SandboxConfigError(f"{what}: path {raw!r} escapes the work dir; use a relative path inside it")
    return path


def split_tests(sources: Files, tests: Files) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Validate a run_tests call: tests are trusted harness files, sources are untrusted code.

    A ``conftest.py`` can rewrite every test outcome through pytest hooks, so it is only accepted
    among the tests (hashed, read-only), never among the sources.
    """
    src = normalize_files(sources, what="sources")
    tst = normalize_files(tests, what="tests")
    if not tst:
        raise SandboxConfigError("run_tests: no test files given; pass at least one test_*.py in `tests`")
    if overlap := sorted(set(src) & set(tst)):
        raise SandboxConfigError(f"run_tests: {overlap[0]!r} is both a source and a test; rename one")
    if bad := sorted(p for p in src if posixpath.basename(p) == CONFTEST):
        raise SandboxConfigError(
            f"sources: {bad[0]!r} would run as pytest plugin code; pass conftest.py files in `tests`"
        )
    return src, tst


def pytest_targets(tests: Iterable[str]) -> list[str]:
    """The test files pytest is pointed at (conftest and helper files are only imported)."""
    return sorted(p for p in tests if p.endswith(".py") and posixpath.basename(p) != CONFTEST)


def digests(files: Mapping[str, bytes]) -> dict[str, str]:
    return {path: hashlib.sha256(data).hexdigest() for path, data in files.items()}


def tar_bytes(
    files: Mapping[str, bytes], *, prefix: str = "", file_mode: int = 0o644, dir_mode: int | None = None
) -> bytes:
    """An uncompressed tar of `files` under `prefix`, owned by root.

    With `dir_mode`, parent directories are included with that mode (the harness side uses 1777 so
    the sandbox user can add files next to read-only tests but not replace them); without it, tar
    creates missing parents itself as the extracting user.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        if dir_mode is not None:
            dirs = sorted({posixpath.dirname(p) for p in files} - {""})
            for d in _with_parents(dirs):
                info = tarfile.TarInfo(posixpath.join(prefix, d))
                info.type, info.mode = tarfile.DIRTYPE, dir_mode
                tar.addfile(info)
        for path, data in sorted(files.items()):
            info = tarfile.TarInfo(posixpath.join(prefix, path))
            info.size, info.mode = len(data), file_mode
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _with_parents(dirs: Iterable[str]) -> list[str]:
    out: set[str] = set()
    for d in dirs:
        while d:
            out.add(d)
            d = posixpath.dirname(d)
    return sorted(out)
