"""What a repair reply changes: SEARCH/REPLACE hunks, else rewritten functions, else a whole file.

The prompt asks for hunks (`ponder.plugin.repair.hunks`), so the tokens a fix costs scale with the fix
rather than with the file. Models do not always comply, and two other shapes carry a fix just as
well, so they are read too, from the reply's last fenced block:

* one or more rewritten functions or classes (imports and new helpers allowed): each replaces
  the definition of the same name, found in the suspect file first, then in the project; a
  method written at the left margin is re-indented into its class;
* anything else is the whole new text of the suspect file (or of the file named on the line
  above the block), as before hunks existed.

Mutation seeds are whole files by construction. Every shape ends as the same value, an `Edit`:
the new text of each file it changes, which the guard, the sandbox run, the diff and ``--apply``
consume alike.
"""

from __future__ import annotations

import ast
import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from ponder.plugin.repair.hunks import EditError, apply_hunks, has_hunks, parse_hunks, path_in, resolve_path

EditKind = Literal["hunks", "functions", "file"]
Definition = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef
_DEF = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
_IMPORT = (ast.Import, ast.ImportFrom)
_FENCE_OPEN = re.compile(r"^[ \t]*```[^\n]*\n", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Edit:
    """The files a reply changes, path → new text, and in what shape the model wrote it."""

    files: dict[str, str]
    kind: EditKind
    detail: str
    """For people: ``1 hunk in stats.py``, ``rewritten mean in stats.py``, ``whole file stats.py``."""

    def primary(self, target: str) -> str:
        """The file reported as "the" fix: the suspect file if the edit touches it, else its first file."""
        return target if target in self.files else next(iter(self.files))


def read_edit(
    text: str,
    answer: str | None,
    *,
    sources: Mapping[str, str],
    tests: Mapping[str, str],
    target: str,
    suspects: Sequence[str] = (),
) -> Edit:
    """The edit in a reply (`text`, whose last fenced block the search extracted as `answer`).

    Args:
        sources: the code under test, path → text; tests: the test files (a hunk may name one:
            the patch guard then refuses it, as it refuses any patch to a test).
        target: the suspect file; a whole-file reply replaces it.
        suspects: files in the order the fault localisation ranks them, for hunks that name none.

    Raises:
        EditError: the reply holds hunks that cannot be applied (the message says why), or no code.
    """
    editable = [p for p in sources if p.endswith(".py")]
    if has_hunks(text):
        hunks = parse_hunks(text)
        files = apply_hunks(hunks, {**sources, **tests}, editable=editable, prefer=[target, *suspects])
        count = f"{len(hunks)} hunk{'s' if len(hunks) > 1 else ''}"
        return Edit(files, "hunks", f"{count} in {', '.join(sorted(files))}")
    if answer is None or not answer.strip():
        raise EditError("no code found in the reply; answer with SEARCH/REPLACE blocks")
    named = _block_path(text, answer, [*sources, *tests])
    if named is None:
        rewritten = rewritten_definitions(answer, sources, prefer=[target, *suspects])
        if rewritten is not None:
            return rewritten
    path = named or target
    return Edit({path: answer}, "file", f"whole file {path}")


def _block_path(text: str, answer: str, paths: Sequence[str]) -> str | None:
    """The project file named on the line above the fenced block that holds `answer`, if any."""
    at = text.rfind(answer)
    if at < 0:
        return None
    opens = list(_FENCE_OPEN.finditer(text, 0, at + 1))
    if not opens:
        return None
    fence = opens[-1]
    info = fence.group(0).strip().strip("`").split()
    written = next((w for w in info if "." in w and resolve_path(w, paths)), None)
    if written is None:
        before = text[: fence.start()].rstrip("\n").rsplit("\n", 1)[-1]
        written = path_in(before) if before.strip() else None
    return resolve_path(written, paths) if written else None


# ---------------------------------------------------------------- rewritten definitions


@dataclass(frozen=True, slots=True)
class _Place:
    path: str
    start: int
    """0-based first line (the first decorator's)."""
    end: int
    """0-based line after the definition."""
    indent: str
    top: int
    """0-based first line of the top-level statement holding it (its class, for a method)."""


def _span(node: ast.stmt) -> tuple[int, int]:
    first = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))])
    return first - 1, node.end_lineno or node.lineno


def _definitions(text: str) -> list[tuple[ast.stmt, str, int]]:
    """Top-level definitions and class methods of a module, each with its indentation and the
    first line of the top-level statement it belongs to."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    out: list[tuple[ast.stmt, str, int]] = []
    for node in tree.body:
        if isinstance(node, _DEF):
            top = _span(node)[0]
            out.append((node, "", top))
            if isinstance(node, ast.ClassDef):
                out.extend((sub, " " * sub.col_offset, top) for sub in node.body if isinstance(sub, _DEF))
    return out


def _find(name: str, sources: Mapping[str, str], prefer: Sequence[str]) -> _Place | None:
    """Where `name` is defined: at top level in the first preferred file that has it, else the one
    top-level definition or method of that name in the project.

    Raises:
        EditError: several methods of that name, and none at top level.
    """
    order = list(dict.fromkeys([*(p for p in prefer if p in sources), *sorted(sources)]))
    methods: list[_Place] = []
    for path in order:
        if not path.endswith(".py"):
            continue
        for node, indent, top in _definitions(sources[path]):
            if getattr(node, "name", None) != name:
                continue
            start, end = _span(node)
            if not indent:
                return _Place(path, start, end, indent, top)
            methods.append(_Place(path, start, end, indent, top))
    if len(methods) > 1:
        where = ", ".join(f"{m.path}:{m.start + 1}" for m in methods[:4])
        raise EditError(
            f"the rewritten {name} matches several methods ({where}); "
            "reply with a SEARCH/REPLACE hunk instead"
        )
    return methods[0] if methods else None


def rewritten_definitions(block: str, sources: Mapping[str, str], *, prefer: Sequence[str]) -> Edit | None:
    """The edit of a block made only of definitions (and imports), at least one of which the project
    has; None when the block is something else (a whole file, most likely).

    Known definitions are replaced where they are; new ones go at module level in front of the
    first replaced one (in front of its class, for a method); imports the file lacks go after its
    last import.
    """
    try:
        tree = ast.parse(block)
    except (SyntaxError, ValueError, RecursionError):
        return None
    if not tree.body or not all(isinstance(n, _DEF + _IMPORT) for n in tree.body):
        return None
    lines = block.splitlines()
    places: list[tuple[_Place, Definition]] = []
    new: list[Definition] = []
    for node in tree.body:
        if isinstance(node, _DEF):
            place = _find(node.name, sources, prefer)
            if place is None:
                new.append(node)
            else:
                places.append((place, node))
    if not places:
        return None
    home = places[0][0].path
    edits: dict[str, list[tuple[int, int, list[str]]]] = {}
    for place, node in places:
        start, end = _span(node)
        body = [place.indent + line if line.strip() else line for line in lines[start:end]]
        edits.setdefault(place.path, []).append((place.start, place.end, body))
    if new:
        first = min(place.top for place, _ in places if place.path == home)
        helpers = [line for node in new for line in [*lines[slice(*_span(node))], "", ""]]
        edits[home].append((first, first, helpers))
    imports = [lines[i] for node in tree.body if isinstance(node, _IMPORT) for i in range(*_span(node))]
    files = {
        path: _splice(sources[path], spans, imports if path == home else []) for path, spans in edits.items()
    }
    names = ", ".join(node.name for _, node in places)
    return Edit(files, "functions", f"rewritten {names} in {', '.join(sorted(files))}")


def _splice(text: str, spans: list[tuple[int, int, list[str]]], imports: list[str]) -> str:
    """`text` with each (start, end) line range replaced, bottom up, and missing imports added."""
    lines = text.splitlines()
    ordered = sorted(spans, key=lambda s: (s[0], s[1]), reverse=True)
    if any(lower[1] > upper[0] for upper, lower in itertools.pairwise(ordered) if lower[1] > lower[0]):
        raise EditError(
            "the rewritten definitions overlap (a class and one of its methods); "
            "reply with SEARCH/REPLACE hunks"
        )
    for start, end, body in ordered:
        lines[start:end] = body
    have = {line.strip() for line in lines}
    missing = [line for line in imports if line.strip() not in have]
    if missing:
        at = _after_imports(text)
        lines[at:at] = missing
    return "\n".join(lines) + ("\n" if text.endswith("\n") or not text else "")


def _after_imports(text: str) -> int:
    """The line after a module's last top-level import (after its docstring when it has none)."""
    try:
        body = ast.parse(text).body
    except (SyntaxError, ValueError, RecursionError):
        return 0
    ends = [n.end_lineno or n.lineno for n in body if isinstance(n, _IMPORT)]
    if ends:
        return max(ends)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant):
        return body[0].end_lineno or 0
    return 0
