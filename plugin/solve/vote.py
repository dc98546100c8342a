"""Majority vote over executed values: program-mode self-consistency.

Self-consistency over text counts answers by how they are written ("18", "$18.00", "18 dollars"
are one vote each after normalisation, "18.0000001" another). Over executed values the question is
only which number the most programs computed, so values vote together when they are equal within
`REL_TOL` (relative, with the same value as an absolute floor, as `math_equal` compares).

The rule, in order:
1. a value some candidate verified (it passed the hard gate: only possible with a reference)
   beats any value no candidate verified;
2. then the value computed by the most programs;
3. ties go to the value whose first program came earliest in the tree (stable across runs, the
   same tie rule as the text strategies' vote).

Each group is represented by its first member's value, so a chain of near-equal values cannot
drift a group wider than the tolerance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ponder.verifiers.answers import number_text

REL_TOL = 1e-6


@dataclass(frozen=True, slots=True)
class Ballot:
    """One program's executed value, in tree order."""

    node_id: str
    value: float
    verified: bool = False


@dataclass(slots=True)
class VoteGroup:
    """The programs whose values agree, led by the first of them."""

    value: float
    """The first member's value: the group's answer."""
    nodes: list[str] = field(default_factory=list)
    verified: bool = False
    order: int = 0
    """Position of the first member among the ballots (the tie-break)."""

    @property
    def votes(self) -> int:
        return len(self.nodes)

    @property
    def answer(self) -> str:
        return number_text(self.value)

    def to_dict(self) -> dict[str, Any]:
        return {"answer": self.answer, "votes": self.votes, "verified": self.verified, "nodes": self.nodes}


def agree(a: float, b: float, rel_tol: float = REL_TOL) -> bool:
    """Whether two executed values are one answer."""
    return abs(a - b) <= rel_tol * max(1.0, abs(b))


def tally(ballots: Sequence[Ballot], rel_tol: float = REL_TOL) -> list[VoteGroup]:
    """The groups of agreeing values, the winner first (see the module docstring for the rule)."""
    groups: list[VoteGroup] = []
    for order, ballot in enumerate(ballots):
        group = next((g for g in groups if agree(ballot.value, g.value, rel_tol)), None)
        if group is None:
            group = VoteGroup(value=ballot.value, order=order)
            groups.append(group)
        group.nodes.append(ballot.node_id)
        group.verified = group.verified or ballot.verified
    return sorted(groups, key=lambda g: (not g.verified, -g.votes, g.order))
