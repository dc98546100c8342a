"""Where a project's imports resolve from, besides its root: the folders its pytest config puts on
sys.path (`pythonpath`), or `src` in a src layout without one.

The sandbox runs pytest under its own config, because a config among the sources could change
how or whether tests run. So a src-layout project whose tests `import statkit` from
`src/statkit/` failed to collect, and repair had no evidence to localise with. The folders are
read here, on the host, from the project as it was loaded, and every run is given the same ones:
a candidate's edit cannot move them.
"""

from __future__ import annotations

import ast
import configparser
import posixpath
import sys
import tomllib
from collections.abc import Iterable, Mapping

from ponder.plugin.repair.errors import RepairInputError

INI_SECTIONS = (("pytest.ini", "pytest"), ("tox.ini", "pytest"), ("setup.cfg", "tool:pytest"))
"""The ini-style files pytest reads its config from, with the section it looks for."""
SRC = "src"


def import_roots(sources: Mapping[str, str], tests: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The project's import folders, relative to its root, in sys.path order.

    Read as pytest picks its config (pytest.ini, then pyproject.toml's [tool.pytest.ini_options],
    then tox.ini, setup.cfg): the first file with a pytest section decides, and its `pythonpath`
    is used. Without one, `src` is the src layout's root when the tests import a module or
    package that lives directly under it, not at the root and not in the standard library: only
    then, so that a stray `src/random.py` cannot shadow `import random` for a project that never
    meant it.

    Raises:
        RepairInputError: a config file pytest would read cannot be parsed, or a `pythonpath` entry
            leads outside the project (it cannot be carried into the sandbox).
    """
    found = _configured(sources)
    if found is not None:
        name, entries = found
        return tuple(dict.fromkeys(r for r in (_inside(e, name) for e in entries) if r))
    tests = tests or {}
    under_src = top_level_names(sources, SRC)
    at_root = top_level_names([*sources, *tests])
    if (under_src - at_root - sys.stdlib_module_names) & _imported(tests.values()):
        return (SRC,)
    return ()


def _configured(sources: Mapping[str, str]) -> tuple[str, list[str]] | None:
    """(file, pythonpath entries) of the config file pytest would use; None when there is none."""
    for name, section in (INI_SECTIONS[0], ("pyproject.toml", ""), *INI_SECTIONS[1:]):
        text = sources.get(name)
        if text is None:
            continue
        entries = _pyproject(text) if name == "pyproject.toml" else _ini(text, name, section)
        if entries is not None:
            return name, entries
    return None


def _pyproject(text: str) -> list[str] | None:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RepairInputError(
            f"pyproject.toml is not valid TOML ({exc}); fix it or repair with --file"
        ) from exc
    options = data.get("tool", {}).get("pytest", {}).get("ini_options")
    if not isinstance(options, dict):
        return None
    value = options.get("pythonpath", [])
    return value.split() if isinstance(value, str) else [str(v) for v in value]


def _ini(text: str, name: str, section: str) -> list[str] | None:
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=name)
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise RepairInputError(f"{name} cannot be read ({first}); fix it or repair with --file") from exc
    if not parser.has_section(section):
        return None
    return parser.get(section, "pythonpath", fallback="").split()


def _inside(entry: str, name: str) -> str:
    """The entry as a folder relative to the root; "" for the root itself (already on the path)."""
    path = posixpath.normpath(entry.replace("\\", "/"))
    if path.startswith("/") or path == ".." or path.startswith("../"):
        raise RepairInputError(
            f"{name}: pythonpath entry {entry!r} is outside the project, so the sandbox cannot carry it; "
            "repair the folder that holds it"
        )
    return "" if path == "." else path


def top_level_names(paths: Iterable[str], root: str = "") -> set[str]:
    """Import names of the modules and packages directly under `root` ("" for the project root):
    src/shop/cart.py -> shop and src/tool.py -> tool under "src"; tool.py -> tool at the root."""
    prefix = f"{root}/" if root else ""
    return {p[len(prefix) :].split("/", 1)[0].removesuffix(".py") for p in paths if p.startswith(prefix)}


def _imported(texts: Iterable[str]) -> set[str]:
    """Top-level names the test files import (`import shop.cart`, `from shop import cart`)."""
    names: set[str] = set()
    for text in texts:
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


__all__ = ["import_roots", "top_level_names"]
