"""The package boundaries of DESIGN.md, read from the source: one-way imports and no import cycle.

plugin → graph → verifiers → (backends, sandbox), graph → backends, verifiers → backends; the
namespace root (`ponder.errors`, `ponder._lazy`, `ponder._ast_text`) is below them all. The check
reads each module's AST (no import is executed), so a violation is caught before it can cost a
circular-import error at run time.

Two views of the imports are used:
- the **direction** rule counts every import, module-level, function-local and under
  `TYPE_CHECKING` alike: a type-only or deferred import upward still couples a lower package to
  a higher one;
- the **cycle** rule counts what runs when a module is imported: module-level statements
  (class bodies, try/except and ordinary `if` blocks included), but not `if TYPE_CHECKING:` blocks
  and not function bodies. Those two are how the package `__init__`s and the CLI stay lazy on
  purpose (`ponder/_lazy.py`), and they cannot deadlock an import.
"""

from __future__ import annotations

import ast
import functools
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("plugin", "graph", "verifiers", "sandbox", "backends")

ALLOWED: dict[str, frozenset[str]] = {
    "plugin": frozenset({"graph", "verifiers", "backends", "sandbox"}),
    "graph": frozenset({"verifiers", "backends"}),
    "verifiers": frozenset({"backends", "sandbox"}),
    "backends": frozenset(),
    "sandbox": frozenset(),
    "": frozenset(),
}
"""The sub-packages each layer may import ("" is the namespace root); any may import the root."""


def package_modules(root: Path) -> dict[str, Path]:
    """Every module of the distribution by its `ponder.*` name, read from the real folders (the
    links under ponder/ point at them)."""
    modules = {}
    for path in sorted((root / "ponder").glob("*.py")):
        modules["ponder" if path.stem == "__init__" else f"ponder.{path.stem}"] = path
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(["ponder", *parts])] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _statements(body: list[ast.stmt], *, at_import: bool) -> Iterator[ast.stmt]:
    """The statements of `body`, nested blocks included; with `at_import`, only those that run when
    the module is imported (no function bodies, no `if TYPE_CHECKING:` branch)."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            if not at_import:
                yield from _statements(stmt.body, at_import=at_import)
            continue
        if isinstance(stmt, ast.If) and _is_type_checking(stmt.test):
            if not at_import:
                yield from _statements(stmt.body, at_import=at_import)
            yield from _statements(stmt.orelse, at_import=at_import)
            continue
        blocks: list[list[ast.stmt]] = [
            getattr(stmt, name) for name in ("body", "orelse", "finalbody") if hasattr(stmt, name)
        ]
        blocks += [handler.body for handler in getattr(stmt, "handlers", [])]
        blocks += [case.body for case in getattr(stmt, "cases", [])]
        for block in blocks:
            yield from _statements(block, at_import=at_import)


@functools.cache
def _parse(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def imported_modules(name: str, path: Path, known: dict[str, Path], *, at_import: bool) -> set[str]:
    """The modules of `known` that `name` imports (`from a import b` counts a.b when b is a module)."""
    package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
    found: set[str] = set()
    for stmt in _statements(_parse(path).body, at_import=at_import):
        if isinstance(stmt, ast.Import):
            found.update(alias.name for alias in stmt.names)
        elif isinstance(stmt, ast.ImportFrom):
            if stmt.level:
                base = package[: len(package) - stmt.level + 1]
                module = ".".join([*base, *([stmt.module] if stmt.module else [])])
            else:
                module = stmt.module or ""
            found.add(module)
            found.update(f"{module}.{alias.name}" for alias in stmt.names)
    return {module for module in found if module in known and module != name}


def import_graph(root: Path, *, at_import: bool) -> dict[str, set[str]]:
    known = package_modules(root)
    return {name: imported_modules(name, path, known, at_import=at_import) for name, path in known.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (Tarjan's algorithm, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, successors = work[-1]
            successor = next(successors, None)
            if successor is not None:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph.get(successor, ())))))
                elif successor in on_stack:
                    low[node] = min(low[node], index[successor])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in PACKAGES else ""


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    """Each import that leaves its layer for one that `ALLOWED` does not list, as a sentence."""
    problems = []
    for module, imported in sorted(graph.items()):
        for target in sorted(imported):
            source_layer, target_layer = layer(module), layer(target)
            if target_layer not in (source_layer, "") and target_layer not in ALLOWED[source_layer]:
                may = ", ".join(sorted(ALLOWED[source_layer])) or "only the namespace root"
                problems.append(
                    f"{module} imports {target}: {source_layer or 'the root'} may import {may}; move "
                    "what both need down to the package that owns it (or the namespace root)"
                )
    return problems


# ---------------------------------------------------------------------------------------- the tree


def test_the_package_has_no_import_cycle() -> None:
    graph = import_graph(ROOT, at_import=True)
    assert len(graph) > 100, "the scan found too few modules: is the layout still ponder/ + folders?"
    assert cycles(graph) == []


def test_imports_point_one_way_down_the_layers() -> None:
    assert upward_imports(import_graph(ROOT, at_import=False)) == []


LONG_MODULE = 400
WHY_ONE_FILE = re.compile(r"\bone (?:long )?file\b", re.I)
"""How a long module's docstring gives its reason ("Why one long file: it runs standalone...")."""


def test_a_long_module_says_at_its_top_why_it_is_one_file() -> None:
    """Small modules with one job: a module over 400 lines must say why it cannot be split (the
    sandbox harness and the integrity plugin are each copied whole into the container)."""
    texts = {name: path.read_text(encoding="utf-8") for name, path in package_modules(ROOT).items()}
    long = {name: text for name, text in texts.items() if len(text.splitlines()) > LONG_MODULE}
    assert "ponder.sandbox.harness" in long  # the rule is exercised by a module it allows
    unexplained = [
        n for n, text in long.items() if not WHY_ONE_FILE.search(ast.get_docstring(ast.parse(text)) or "")
    ]
    assert unexplained == []


# -------------------------------------------------------------------------- the checks themselves


def _tree(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "ponder").mkdir()
    (tmp_path / "ponder" / "__init__.py").write_text("")
    for package in PACKAGES:
        (tmp_path / package).mkdir()
        (tmp_path / package / "__init__.py").write_text("")
    for name, text in files.items():
        (tmp_path / name).write_text(textwrap.dedent(text))
    return tmp_path


def test_a_cycle_is_found_through_relative_and_from_imports(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "graph/a.py": "from . import b\n",
            "graph/b.py": "from ponder.graph.c import thing\n",
            "graph/c.py": "import ponder.graph.a\nthing = 1\n",
        },
    )
    graph = import_graph(root, at_import=True)
    assert cycles(graph) == [["ponder.graph.a", "ponder.graph.b", "ponder.graph.c"]]


def test_deferred_imports_close_no_cycle_but_still_count_for_direction(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "graph/a.py": "from ponder.graph import b\n",
            "graph/b.py": """
                from typing import TYPE_CHECKING
                if TYPE_CHECKING:
                    from ponder.graph import a
                def later():
                    from ponder.plugin import cli
            """,
            "plugin/cli.py": "",
        },
    )
    assert cycles(import_graph(root, at_import=True)) == []
    assert cycles(import_graph(root, at_import=False)) == [["ponder.graph.a", "ponder.graph.b"]]
    problems = upward_imports(import_graph(root, at_import=False))
    assert [p.split(":")[0] for p in problems] == [
        "ponder.graph.b imports ponder.plugin",
        "ponder.graph.b imports ponder.plugin.cli",
    ]
    assert "graph may import backends, verifiers; move" in problems[0]


def test_imports_in_try_blocks_and_class_bodies_run_at_import(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            "sandbox/a.py": "try:\n    from ponder.sandbox import b\nexcept ImportError:\n    pass\n",
            "sandbox/b.py": "class B:\n    from ponder.sandbox import a\n",
        },
    )
    assert cycles(import_graph(root, at_import=True)) == [["ponder.sandbox.a", "ponder.sandbox.b"]]
