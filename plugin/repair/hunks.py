"""SEARCH/REPLACE hunks: the edits a model writes instead of whole files, read tolerantly and
applied exactly.

A hunk names a file (a path line before it, optional), the lines to find and the lines to put
in their place::

    stats.py
    ```python
    <<<<<<< SEARCH
        for start in range(len(values) - window):
    =======
        for start in range(len(values) - window + 1):
    >>>>>>> REPLACE
    ```

Small models drift from any format: they drop or add the fence, copy the prompt's line numbers,
re-indent what they copy, leave trailing spaces, or write ORIGINAL/UPDATED (aider's older
markers). So *finding* the SEARCH lines is tolerant, in stages that stop at the first one with a
match: the exact lines, then trailing whitespace ignored, then the whole block shifted by one
indentation offset, then all leading whitespace ignored. *Applying* is exact: the matched lines
of the file are replaced and the REPLACE lines shifted by the offset that was found. A SEARCH
that matches nowhere, or in more than one place, is refused with a reason the refinement shows
the model; an edit is never guessed.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from ponder.errors import PonderError


class EditError(PonderError, ValueError):
    """A model's edit cannot be applied; the message names the hunk and how to write it so it can."""


@dataclass(frozen=True, slots=True)
class Hunk:
    number: int
    """1-based position in the reply, for messages."""
    path: str | None
    """The file as the model named it; None when it named none."""
    search: tuple[str, ...]
    replace: tuple[str, ...]


_OPEN = re.compile(r"^\s*<{3,}\s*(?:SEARCH|ORIGINAL|FIND)\b", re.IGNORECASE)
_SPLIT = re.compile(r"^\s*={5,}\s*$")
# ">>>" alone would also be a doctest prompt: a bare close needs five, or the word.
_CLOSE = re.compile(r"^\s*(?:>{3,}\s*(?:REPLACE|UPDATED)\b.*|>{5,}\s*)$", re.IGNORECASE)
_FENCE = re.compile(r"^\s*```")
_GUTTER = re.compile(r"^\s*\d+\s*\|\s?")
"""The line numbers the prompt shows (``  16 |     code``), which models copy into SEARCH."""
_PATH = re.compile(r"[\w.\-/\\]*\w\.[A-Za-z0-9]+")
_PATH_DECORATION = re.compile(r"^(?:[#*>\-\s]|//)*(?:(?:file|path|filename)\s*:\s*)?", re.IGNORECASE)


def has_hunks(text: str) -> bool:
    """Whether `text` holds at least one SEARCH marker (so it is meant as hunks, well-formed or not)."""
    return any(_OPEN.match(line) for line in text.splitlines())


def parse_hunks(text: str) -> list[Hunk]:
    """Every SEARCH/REPLACE hunk of a reply, fenced or not, in order.

    Raises:
        EditError: a hunk is not finished (no ``=======`` or no ``>>>>>>> REPLACE``).
    """
    lines = text.splitlines()
    hunks: list[Hunk] = []
    i = 0
    while i < len(lines):
        if not _OPEN.match(lines[i]):
            i += 1
            continue
        number = len(hunks) + 1
        path = _path_before(lines, i)
        search: list[str] = []
        replace: list[str] = []
        part: list[str] | None = search
        i += 1
        while i < len(lines) and part is not None:
            line = lines[i]
            if part is search and _SPLIT.match(line):
                part = replace
            elif part is replace and _CLOSE.match(line):
                part = None
            elif _OPEN.match(line):
                break
            elif not _FENCE.match(line):
                part.append(line)
            i += 1
        if part is not None:
            missing = "=======" if part is search else ">>>>>>> REPLACE"
            raise EditError(f"hunk {number} is not finished: end its SEARCH/REPLACE block with {missing}")
        found, put = _without_gutter(search, replace)
        hunks.append(Hunk(number, path, tuple(_trim_blank(found)), tuple(_trim_blank(put))))
    return hunks


def _path_before(lines: Sequence[str], marker: int) -> str | None:
    """The file named on the nearest line above a SEARCH marker (fences and blank lines skipped)."""
    for line in reversed(lines[max(0, marker - 4) : marker]):
        if not line.strip():
            continue
        if _FENCE.match(line):
            info = line.strip().strip("`").split()
            named = [w for w in info if _PATH.fullmatch(w) and "." in w]
            if named:
                return named[-1]
            continue
        return path_in(line)
    return None


def path_in(line: str) -> str | None:
    """``stats.py``, ``# File: pkg/a.py``, ``**`a.py`**``, ``In `a.py`:`` → the path; prose → None."""
    bare = _PATH_DECORATION.sub("", line.strip()).strip().strip("`*'\"").rstrip(":").strip("`*'\"")
    if _PATH.fullmatch(bare):
        return bare
    quoted = [w for w in re.findall(r"`([^`\s]+)`", line) if _PATH.fullmatch(w)]
    return quoted[0] if len(quoted) == 1 else None


def _without_gutter(search: list[str], replace: list[str]) -> tuple[list[str], list[str]]:
    """SEARCH and REPLACE lines without the prompt's line numbers, when every SEARCH line has one."""
    numbered = [line for line in search if line.strip()]
    if not numbered or not all(_GUTTER.match(line) for line in numbered):
        return search, replace
    return [_GUTTER.sub("", line, count=1) for line in search], [
        _GUTTER.sub("", line, count=1) for line in replace
    ]


def _trim_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return [line.rstrip("\r") for line in lines[start:end]]


# ---------------------------------------------------------------- finding and applying

Reindent = Callable[[str], str]


def _lead(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _offset(file_line: str, search_line: str) -> Reindent | None:
    """How to move a REPLACE line from the model's indentation to the file's, or None if the two
    leads are not one a prefix of the other."""
    have, wrote = _lead(file_line), _lead(search_line)
    if have.startswith(wrote):
        pad = have[len(wrote) :]
        return lambda line: pad + line if line.strip() else line
    if wrote.startswith(have):
        cut = wrote[len(have) :]
        return lambda line: line[len(cut) :] if line.startswith(cut) else line.lstrip()
    return None


def _same(line: str) -> str:
    return line


def _window(file_lines: Sequence[str], start: int, search: Sequence[str], stage: int) -> Reindent | None:
    """Whether `search` matches `file_lines[start:]` at this tolerance stage, and how to re-indent."""
    pairs = list(zip(file_lines[start : start + len(search)], search, strict=True))
    if stage == 0:
        return _same if all(f == s for f, s in pairs) else None
    if stage == 1:
        return _same if all(f.rstrip() == s.rstrip() for f, s in pairs) else None
    if not all(f.strip() == s.strip() for f, s in pairs):
        return None
    f0, s0 = next((f, s) for f, s in pairs if s.strip())
    move = _offset(f0, s0)
    if move is None or stage == 3:
        return move or _same
    # stage 2: one offset for every line
    if all(move(s).rstrip() == f.rstrip() for f, s in pairs if s.strip()):
        return move
    return None


_STAGES = (0, 1, 2, 3)
"""Exact; trailing whitespace ignored; one indentation offset; all leading whitespace ignored."""


def locate(file_lines: Sequence[str], search: Sequence[str]) -> tuple[list[int], Reindent]:
    """Start indices where `search` matches, at the first stage that matches anywhere."""
    last = len(file_lines) - len(search)
    for stage in _STAGES:
        hits: list[tuple[int, Reindent]] = []
        for start in range(last + 1):
            move = _window(file_lines, start, search, stage)
            if move is not None:
                hits.append((start, move))
        if hits:
            return [h for h, _ in hits], hits[0][1]
    return [], _same


def _closest(file_lines: Sequence[str], search: Sequence[str]) -> str:
    """Where the SEARCH lines nearly match, and the file's line that differs: what the model
    should copy next time ("" when nothing is close)."""
    want = [s.strip() for s in search]
    size = min(len(want), len(file_lines))
    best, at = 0.0, -1
    for start in range(len(file_lines) - size + 1):
        have = [f.strip() for f in file_lines[start : start + size]]
        matcher = difflib.SequenceMatcher(None, "\n".join(want), "\n".join(have), autojunk=False)
        if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best and matcher.ratio() > best:
            best, at = matcher.ratio(), start
    if at < 0 or best <= 0.5:
        return ""
    differs = next((at + k for k in range(size) if file_lines[at + k].strip() != want[k]), at)
    shown = f"`{file_lines[differs].strip()}`"
    if size == 1:
        return f"; the nearest is line {at + 1}: {shown}"
    return f"; the nearest are lines {at + 1}-{at + size}, where line {differs + 1} reads {shown}"


@dataclass(slots=True)
class _Text:
    """A file being edited: its lines without line ends, and how it ends them."""

    lines: list[str]
    newline: str
    final_newline: bool

    @classmethod
    def of(cls, text: str) -> _Text:
        newline = "\r\n" if "\r\n" in text else "\n"
        return cls(
            [line.rstrip("\r") for line in text.split("\n")][: -1 if text.endswith("\n") else None],
            newline,
            text.endswith("\n"),
        )

    def __str__(self) -> str:
        body = self.newline.join(self.lines)
        return body + self.newline if self.final_newline and self.lines else body


def resolve_path(written: str, paths: Sequence[str]) -> str | None:
    """The project path a model meant (``./a.py``, ``a/pkg/a.py`` from a diff, a unique base name)."""
    name = written.replace("\\", "/").strip()
    for prefix in ("./", "a/", "b/"):
        if name.startswith(prefix) and name not in paths:
            name = name[len(prefix) :]
    if name in paths:
        return name
    for match in (
        lambda p: p.endswith("/" + name) or name.endswith("/" + p),
        lambda p: p.rsplit("/", 1)[-1] == name,
    ):
        hits = [p for p in paths if match(p)]
        if len(hits) == 1:
            return hits[0]
    return None


def apply_hunks(
    hunks: Sequence[Hunk], files: Mapping[str, str], *, editable: Sequence[str], prefer: Sequence[str] = ()
) -> dict[str, str]:
    """The new text of every file the hunks change, applied in order (a later hunk sees the earlier).

    Args:
        files: every file a hunk may name, path → text (tests included: the patch guard, not this
            function, refuses edits to them, with the same reason as for any other patch).
        editable: where a hunk that names no file is looked for, after the file of the hunk before
            it and `prefer` (the suspects).

    Raises:
        EditError: a hunk names an unknown file, has an empty SEARCH, matches nothing or more than
            one place, or every hunk leaves its file as it was.
    """
    texts: dict[str, _Text] = {}
    previous: str | None = None
    changed = False
    for hunk in hunks:
        if not hunk.search:
            raise EditError(
                f"hunk {hunk.number} has an empty SEARCH section; put the lines to replace there "
                "(repair edits existing files only)"
            )
        path = _hunk_path(hunk, files, editable, [*([previous] if previous else []), *prefer], texts)
        text = texts.setdefault(path, _Text.of(files[path]))
        starts, move = locate(text.lines, hunk.search)
        if not starts:
            raise EditError(
                f"hunk {hunk.number}: the SEARCH lines match nothing in {path}; copy the lines to change "
                f"exactly as the file has them, without line numbers{_closest(text.lines, hunk.search)}"
            )
        if len(starts) > 1:
            where = ", ".join(str(s + 1) for s in starts[:5])
            raise EditError(
                f"hunk {hunk.number}: the SEARCH lines match {len(starts)} places in {path} (lines {where}); "
                "add a line before or after them so they match one place"
            )
        previous = path
        if hunk.search == hunk.replace:
            continue  # a no-op: the model copied SEARCH into REPLACE
        start = starts[0]
        text.lines[start : start + len(hunk.search)] = [move(line) for line in hunk.replace]
        changed = True
    out = {path: str(text) for path, text in texts.items() if str(text) != files[path]}
    if not changed or not out:
        raise EditError(
            "the edit changes nothing: each REPLACE equals its SEARCH; change the lines that are wrong"
        )
    return out


_FILE_SUFFIX = re.compile(r"\.(?:py|pyi|toml|cfg|ini|txt|json|ya?ml|md|rst)$", re.IGNORECASE)


def _looks_like_a_file(written: str) -> bool:
    """``helpers.py`` or ``pkg/x`` is a file the model meant; ``self.window`` in a sentence is not."""
    return "/" in written or "\\" in written or bool(_FILE_SUFFIX.search(written))


def _hunk_path(
    hunk: Hunk,
    files: Mapping[str, str],
    editable: Sequence[str],
    prefer: Sequence[str],
    texts: Mapping[str, _Text],
) -> str:
    """The file a hunk edits: the one it names, else the preferred file (the hunk before's, then
    the suspects') where its SEARCH lines are found, else the one other source file holding them."""
    if hunk.path is not None:
        path = resolve_path(hunk.path, list(files))
        if path is None and _looks_like_a_file(hunk.path):
            raise EditError(
                f"hunk {hunk.number} names {hunk.path}, which is not a file of this project; "
                f"name one of: {', '.join(editable[:6])}"
            )
        if path is not None:
            return path

    def holds(path: str) -> bool:
        text = texts[path] if path in texts else _Text.of(files[path])
        return bool(locate(text.lines, hunk.search)[0])

    preferred = [p for p in dict.fromkeys(prefer) if p in files]
    for path in preferred:
        if holds(path):
            return path
    others = [p for p in editable if p in files and p not in preferred and holds(p)]
    if len(others) == 1:
        return others[0]
    if others:
        raise EditError(
            f"hunk {hunk.number}: the SEARCH lines are found in {', '.join(others[:4])}; "
            "name the file on the line before the hunk"
        )
    near = preferred[0] if preferred else next(iter(editable), "")
    lines = _Text.of(files[near]).lines if near in files else []
    raise EditError(
        f"hunk {hunk.number}: the SEARCH lines match nothing in the project's source files; copy the "
        f"lines to change exactly as the file has them, without line numbers{_closest(lines, hunk.search)}"
    )
