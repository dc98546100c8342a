"""Children that something other than the model proposes for a node: the search's second proposer.

Seeds (`SearchTask.seeds`) enter once, as terminal children of the root. Some tasks can do more:
a repair can apply one more mutation operator to the program a node holds, so candidates form a
tree whose children each make one more edit to their parent. An `Expander` is that proposer. The
graph asks it first for every planned expansion; it answers with children (`Proposal`s, possibly
written with the model's help, whose tokens it reports) or with None to let the model expand the
node as usual. The strategies plan as ever: they see the proposals as ordinary nodes.

A proposal that is not terminal but carries an answer is a complete candidate that may still be
expanded: a step-level verifier scores it (e.g. the share of tests passing, a process reward),
and it counts as a candidate once it passes every hard gate (`TreeView.candidates`).
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field

from ponder.backends.base import Usage
from ponder.graph.state import FrontierItem
from ponder.graph.tree import TreeView


@dataclass(frozen=True, slots=True)
class Proposal:
    """One child of an expanded node."""

    answer: str
    """The complete candidate this child holds (a program after one more edit)."""
    step: str
    """What this child changed, for people and the tree export."""
    source: str = "mutation"
    """Who proposed it: reported with the result ("mutation", "model")."""
    terminal: bool = False
    """True: the candidate grows no further (a seed-like final answer)."""
    usage: Usage = field(default_factory=Usage)
    """Model tokens spent writing it, added to the search's spend; a child with completion
    tokens counts as an expansion (`Budget.max_expansions`), an operator's (zero) does not,
    as a seed does not."""


class Expander(abc.ABC):
    """Proposes children for planned expansions; the graph asks it before the model."""

    @abc.abstractmethod
    async def propose(self, view: TreeView, item: FrontierItem) -> list[Proposal] | None:
        """At most ``item["k"]`` children of ``item["node"]``; [] = nothing left to propose there;
        None = not this expander's node, let the model expand it."""
