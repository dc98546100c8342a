"""Do the tests pin the boundary a fix chose? A fix's comparisons, and their strict/non-strict twins.

A fix that changes ``now < expires_at`` into ``now > expires_at`` passes tests that never look at
the instant ``now == expires_at``; so would ``now >= expires_at``, and only one of the two is
right. Tests that accept both cannot vouch for either, whatever the search found first: the
repair set's one wrong "verified" fix was exactly this. So for every comparison a fix writes or
changes (``<``, ``<=``, ``>``, ``>=``), the twin on the other side of the boundary is run too; a
twin that passes every test makes the fix ambiguous rather than verified, and the report names
both, so a person can add the boundary test that decides.

Only the comparisons the fix touched are twinned: a boundary the fix left alone is the project's
own, not the fix's claim.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ponder.plugin.repair.mutation_spans import CMP_TEXT, CMP_TOKEN, Positions, token_edits

TWIN = {"<": "<=", "<=": "<", ">": ">=", ">=": ">"}
"""Each ordering comparison and the one that differs from it only at equality."""
_ORDERING = re.compile(r"(?<![<>=!-])(?:<=|>=|<|>)(?![<>=])")
"""Ordering comparison tokens in a line of code (not ``<<``, ``>>``, ``->``)."""


@dataclass(frozen=True, slots=True)
class Twin:
    """A fix with one of its comparisons moved across the boundary."""

    path: str
    line: int
    written: str
    """The comparison as the fix writes it."""
    twin: str
    files: dict[str, str]
    """The fix's changed files with this one comparison flipped."""

    def __str__(self) -> str:
        return f"{self.path}:{self.line} `{self.written}` vs `{self.twin}`"


def _touched_lines(old: str, new: str) -> dict[int, str | None]:
    """1-based lines of `new` the fix changed or added → the old line it replaced (None: added)."""
    old_lines, new_lines = old.splitlines(), new.splitlines()
    touched: dict[int, str | None] = {}
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        paired = tag == "replace" and i2 - i1 == j2 - j1
        for offset, j in enumerate(range(j1, j2)):
            touched[j + 1] = old_lines[i1 + offset] if paired else None
    return touched


def boundary_twins(originals: Mapping[str, str], fixed: Mapping[str, str]) -> list[Twin]:
    """The twins of every ordering comparison the fix changed or added, across its files.

    Args:
        originals: the project's files as they were (a path missing here is a new file).
        fixed: the fix's changed files, path → new text.
    """
    twins: list[Twin] = []
    for path in sorted(fixed):
        new, old = fixed[path], originals.get(path, "")
        if not path.endswith(".py"):
            continue
        try:
            tree = ast.parse(new)
        except SyntaxError:
            continue
        touched = _touched_lines(old, new)
        new_lines = new.splitlines()
        pos = Positions(new.encode("utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Compare) or node.lineno not in touched:
                continue
            before = touched[node.lineno]
            if before is not None and _ORDERING.findall(before) == _ORDERING.findall(
                new_lines[node.lineno - 1]
            ):
                continue  # the fix left this line's comparisons as they were
            left: ast.expr = node.left
            for op, right in zip(node.ops, node.comparators, strict=True):
                current = CMP_TEXT[type(op)]
                if current in TWIN:
                    twins += _twins_of(path, old, fixed, pos, node.lineno, left, right, current)
                left = right
    return twins


def _twins_of(
    path: str,
    old: str,
    fixed: Mapping[str, str],
    pos: Positions,
    line: int,
    left: ast.expr,
    right: ast.expr,
    current: str,
) -> list[Twin]:
    """The twin of the comparison `left current right` in `fixed[path]`, unless it is the code as
    it was (that already failed) or its token cannot be found unambiguously."""
    out = []
    start, end = pos.span(left)[0], pos.span(right)[1]
    for edit in token_edits(pos, "boundary", line, left, right, CMP_TOKEN, current, [TWIN[current]]):
        replacement = edit.replacement.encode("utf-8")
        data = pos.data[: edit.start] + replacement + pos.data[edit.end :]
        text = data.decode("utf-8")
        if text == old:
            continue
        flipped = data[start : end + len(replacement) - (edit.end - edit.start)].decode("utf-8")
        out.append(Twin(path, line, pos.text(start, end), flipped, {**fixed, path: text}))
    return out
