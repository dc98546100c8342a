"""Classic program-repair mutation operators, applied around the lines a failing test points at.

A weak local model rarely writes a whole correct file, but many real bugs are one token wrong: an
off-by-one bound, a flipped comparison, ``+`` for ``-``. Each operator here rewrites exactly one
source span (found with `ast` positions; an insertion replaces an empty one), so the resulting
diff touches only the mutated expression and the file's formatting and comments stay as they were.
The mutants become `Seed`s of the search and are verified by the same test run as model candidates.

Operators (name → what it does):
  flip-comparison   ``<``↔``<=``, ``<``↔``>``, ``==``↔``!=``, ``is``↔``is not``, ``in``↔``not in``
  shift-constant    an integer literal ±1 (a scaling one never to 1: `x // 1` deletes the scaling)
  shift-bound       a range argument, an index, a slice bound or a compared value ``± 1``
  swap-arithmetic   ``+``↔``-``, ``*``↔``/``, ``*``↔``**``, ``/``↔``//``, ``&``↔``|``, ``<<``↔``>>``
                    (also ``+=``…)
  swap-boolean      ``and``↔``or``
  negate-condition  ``if c`` → ``if not (c)`` (and ``not c`` → ``c``); ``True``↔``False``
  swap-operands     ``a - b`` → ``b - a`` for non-commutative operators; ``f(a, b)`` → ``f(b, a)``
  swap-call         ``min``↔``max``, ``any``↔``all``, ``math.floor``↔``math.ceil`` (the name only)
  replace-variable  a local variable read where another local of the same function was meant;
                    ``self.x`` read in a method that has a local ``x`` → ``x``
  insert-return     a function body's last statement, an expression, → ``return <expr>``
  delete-statement  an assignment or expression statement in a function body → ``pass``
  insert-guard      ``if not v: continue`` before a loop body's first use of `v` (the loop's
                    variable or one the body assigns); ``if not x: return 0`` (``0.0`` for ``/``)
                    before a statement dividing by a parameter `x` or ``len(x)``

Mutants go nearest a suspect line first; at one distance, the likelier line first (its tier of
suspiciousness, `tiers`), then the rank (`OPERATORS`). The one-token
operators come first, commonest first; swap-call is one too, placed before replace-variable since a
call site gives one mutant where a read gives one per other local. insert-return comes before
delete-statement: it is proposed at most once per function, and a value computed and dropped at the
end is a common slip. insert-guard comes last, as the most speculative: every loop variable and
every division by a parameter gets one, and most code needs none.

The code is split by job: `mutation_spans` (source positions and operator tokens),
`mutation_operators` (the walk that proposes edits), `mutation_inserts` (the operators that add a
statement) and this module (ranking, applying and checking them).
"""

from __future__ import annotations

import ast
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ponder.plugin.repair.mutation_operators import Collector
from ponder.plugin.repair.mutation_spans import Positions

OPERATORS = (
    "flip-comparison",
    "shift-constant",
    "shift-bound",
    "swap-arithmetic",
    "swap-boolean",
    "negate-condition",
    "swap-operands",
    "swap-call",
    "replace-variable",
    "insert-return",
    "delete-statement",
    "insert-guard",
)
"""In rank order for mutants at the same distance: the commonest one-token bugs first."""


@dataclass(frozen=True, slots=True)
class Mutant:
    """One single-span rewrite of a file, with where and what, ready to be verified.

    An insertion (insert-guard) replaces an empty span: `original` is ``""`` and `line` is the line
    the inserted text starts on, that of the statement it now precedes."""

    operator: str
    path: str
    line: int
    original: str
    """The source text of the span that was replaced."""
    replacement: str
    source: str
    """The whole mutated file."""
    distance: int
    """Lines between the mutation and the nearest failing line (0 = on it)."""

    @property
    def description(self) -> str:
        """One line for the report; an insertion's lines are joined (``if not x: continue``)."""
        if not self.original:
            return (
                f"{self.operator} at {self.path}:{self.line}: insert `{' '.join(self.replacement.split())}`"
            )
        return f"{self.operator} at {self.path}:{self.line}: `{self.original}` → `{self.replacement}`"


def _distance(line: int, focus: Collection[int]) -> int:
    return min((abs(line - f) for f in focus), default=0)


def generate_mutants(
    source: str,
    *,
    path: str = "<source>",
    focus_lines: Collection[int] = (),
    max_mutants: int = 32,
    max_distance: int | None = None,
) -> list[Mutant]:
    """Every distinct, parseable single-span mutant of `source`, nearest to `focus_lines` first.

    Args:
        source: the file's text.
        path: used in descriptions only.
        focus_lines: 1-based lines implicated by failing tests; empty = no preference (file order).
        max_mutants: cap after ranking; 0 returns nothing.
        max_distance: drop mutants further than this many lines from every focus line.

    Returns:
        Mutants ranked by (distance to a focus line, operator rank, line), without duplicates and
        without any that fail to parse or that equal the original.
    """
    if max_mutants <= 0:
        return []
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []  # nothing to anchor operators on; the model has to fix syntax
    data = source.encode("utf-8")
    pos = Positions(data)
    collector = Collector(pos)
    collector.visit(tree)
    rank = {name: i for i, name in enumerate(OPERATORS)}
    edits = sorted(
        collector.edits,
        key=lambda e: (_distance(e.line, focus_lines), rank[e.operator], e.line, e.start),
    )
    mutants: list[Mutant] = []
    seen = {source}
    for edit in edits:
        distance = _distance(edit.line, focus_lines)
        if max_distance is not None and focus_lines and distance > max_distance:
            continue
        mutated = (data[: edit.start] + edit.replacement.encode("utf-8") + data[edit.end :]).decode("utf-8")
        if mutated in seen:
            continue
        seen.add(mutated)
        try:
            ast.parse(mutated)
        except SyntaxError:
            continue
        mutants.append(
            Mutant(
                operator=edit.operator,
                path=path,
                line=edit.line,
                original=pos.text(edit.start, edit.end),
                replacement=edit.replacement,
                source=mutated,
                distance=distance,
            )
        )
        if len(mutants) >= max_mutants:
            break
    return mutants


def mutants_across(
    sources: Mapping[str, str],
    focus: Mapping[str, Collection[int]],
    *,
    per_file: int = 256,
    scores: Mapping[tuple[str, int], float] | None = None,
) -> list[Mutant]:
    """The mutants of several files, each nearest its own suspect lines, merged in one order.

    A bug in a helper module and the caller the test calls often score alike; mutating only the
    top file misses the helper. Here every suspect file gets its mutants and they are ranked
    together by (distance to a suspect line, the line's tier, operator rank, the file's place in
    `focus`), so the mutants on suspect lines of every file come before any mutant further away.

    `scores` (path, line) -> suspiciousness (`localize.rank`) orders the mutants at one distance
    by their line's tier in its file (`tiers`): the focus holds every line within FOCUS_SHARE of
    the top suspect, and on the repair set mutating the likelier lines first finds the fix in
    fewer test runs than the operators' rank alone (README, "Dev repair set").
    """
    rank = {name: i for i, name in enumerate(OPERATORS)}
    order = {path: i for i, path in enumerate(focus)}
    found = [
        m
        for path in focus
        if path in sources
        for m in generate_mutants(sources[path], path=path, focus_lines=focus[path], max_mutants=per_file)
    ]
    tier = tiers(scores or {})
    unscored = max(tier.values(), default=0) + 1  # a line no failing test ran
    return sorted(
        found,
        key=lambda m: (m.distance, tier.get((m.path, m.line), unscored), rank[m.operator], order[m.path]),
    )


TIE_MARGIN = 0.05
"""Suspiciousness closer than this to a tier's top is that tier: with a handful of tests, Ochiai
scores this close (0.67 and 0.63 for the two lines of a two-edit bug) do not tell the lines
apart, and one of them taking every first edit would leave the other's fix untried."""


def tiers(scores: Mapping[tuple[str, int], float], margin: float = TIE_MARGIN) -> dict[tuple[str, int], int]:
    """Each line's tier of suspiciousness within its file, 0 for the file's most suspicious
    lines: a tier holds the lines within `margin` of its top score.

    Per file, because a helper's lines score lower than its caller's whenever passing tests run
    the helper too (0.58 against 1.0 for a two-file bug): ranked across files, every mutant of
    the caller would come before the helper's; ranked per file, the top lines of each go first,
    as the focus intends (`localize.focus`)."""
    out: dict[tuple[str, int], int] = {}
    path, tier, top = None, -1, math.inf
    for key in sorted(scores, key=lambda k: (k[0], -scores[k])):
        if key[0] != path:
            path, tier, top = key[0], -1, math.inf
        if scores[key] < top - margin:
            tier, top = tier + 1, scores[key]
        out[key] = tier
    return out
