"""The strategy names, apart from the types that use them.

Why a module of its own: the CLI declares its `--strategy` choices from this Literal at start-up,
and importing `ponder.graph.types` for it would load pydantic models and the backend interface
before `ponder --help` prints anything. The registry (`ponder.graph.strategies`) is keyed by it and
a test checks that the two agree.
"""

from __future__ import annotations

from typing import Literal

StrategyName = Literal["greedy", "self_consistency", "best_of_n", "beam", "dvts", "mcts", "refine"]
