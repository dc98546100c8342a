"""The strategy protocol: which nodes to expand next, and which candidate wins.

A strategy is a small policy over a `TreeView`; it never calls the backend or the verifier.
The graph asks it for a `Plan` after every verify step and stops when the plan is empty (or a
budget or early stop ends the search first).
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ponder.graph.state import FrontierItem, NodeUpdate
from ponder.graph.tree import ROOT_ID, TreeView
from ponder.graph.types import SearchConfig, StrategyName


@dataclass(slots=True)
class Plan:
    """What to do next. An empty `frontier` ends the search."""

    frontier: list[FrontierItem]
    state: dict[str, Any] = field(default_factory=dict)
    """The strategy's bookkeeping, stored in the checkpoint."""
    updates: dict[str, NodeUpdate] = field(default_factory=dict)
    """Node fields the strategy changed (MCTS visit counts)."""


class Strategy(abc.ABC):
    """One search policy. Subclasses implement `plan`; `choose` defaults to the best value."""

    name: ClassVar[StrategyName]
    """The registry key (`SearchConfig.strategy`); one of `StrategyName`."""

    def temperature(self, config: SearchConfig) -> float:
        """Sampling temperature for this strategy's expansions."""
        return config.temperature

    @abc.abstractmethod
    def plan(self, view: TreeView) -> Plan:
        """The next expansions, given the tree after the last verify step.

        `view.new_ids` are the nodes the last expansion created (already scored);
        `view.round` is 0 before the first expansion (the root has only seed children then).
        """

    def choose(self, view: TreeView, ids: Sequence[str]) -> str | None:
        """The winning candidate among `ids` (terminal nodes with answers): the best value."""
        return view.top(ids, 1)[0] if ids else None

    def describe_choice(self) -> str:
        return "best value"


def grow_each(view: TreeView, ids: Sequence[str], k: int = 1) -> list[FrontierItem]:
    return [{"node": nid, "k": k} for nid in ids]


def root_item(k: int) -> FrontierItem:
    return {"node": ROOT_ID, "k": k}
