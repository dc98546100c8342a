"""Search strategies, one small policy per module, looked up by `SearchConfig.strategy`."""

from __future__ import annotations

from ponder.graph.strategies.base import Plan, Strategy
from ponder.graph.strategies.beam import Beam
from ponder.graph.strategies.dvts import DVTS
from ponder.graph.strategies.greedy import Greedy
from ponder.graph.strategies.mcts import MCTS
from ponder.graph.strategies.refine import Refine
from ponder.graph.strategies.sampling import BestOfN, SelfConsistency

STRATEGIES: dict[str, type[Strategy]] = {
    cls.name: cls for cls in (Greedy, SelfConsistency, BestOfN, Beam, DVTS, MCTS, Refine)
}


def get_strategy(name: str) -> Strategy:
    """The strategy called `name`; raises ValueError naming the known ones."""
    try:
        return STRATEGIES[name]()
    except KeyError:
        raise ValueError(f"unknown search strategy {name!r}; use one of {', '.join(STRATEGIES)}") from None


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
