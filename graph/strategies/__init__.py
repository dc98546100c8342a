"""Search strategies, one small policy per module, looked up by `SearchConfig.strategy`."""

from __future__ import annotations

from ponder.graph.strategies.base import Plan, Strategy
from ponder.graph.strategies.beam import Beam
from ponder.graph.strategies.dvts import DVTS
from ponder.graph.strategies.greedy import Greedy
from ponder.graph.strategies.mcts import MCTS
from ponder.graph.strategies.refine import Refine
from ponder.graph.strategies.sampling import BestOfN, SelfConsistency
from ponder.graph.types import StrategyName

STRATEGIES: dict[StrategyName, type[Strategy]] = {
    cls.name: cls for cls in (Greedy, SelfConsistency, BestOfN, Beam, DVTS, MCTS, Refine)
}
"""Every strategy by its `name`; its keys are exactly `StrategyName` (tests/test_graph_context.py)."""


def get_strategy(name: str) -> Strategy:
    """The strategy called `name`; raises ValueError naming the known ones."""
    found = next((cls for key, cls in STRATEGIES.items() if key == name), None)
    if found is None:
        raise ValueError(f"unknown search strategy {name!r}; use one of {', '.join(STRATEGIES)}")
    return found()


__all__ = [
    "DVTS",
    "MCTS",
    "STRATEGIES",
    "Beam",
    "BestOfN",
    "Greedy",
    "Plan",
    "Refine",
    "SelfConsistency",
    "Strategy",
    "get_strategy",
]
