"""The strategy names, apart from the types that use them.

Why a module of its own: the CLI declares its `--strategy` choices from this Literal at start-up,
and importing `ponder.graph.types` for it would load pydantic models and the backend interface
before `ponder --help` prints anything. The registry (`ponder.graph.strategies`) is keyed by it and
a test checks that the two agree.

`StrategyChoice` is what a user may ask for: a concrete strategy, or "auto", which is not a
strategy of its own but a lookup (`ponder.graph.strategies.auto`) that picks a concrete one and
its N from the budget before the search starts; keeping it out of `StrategyName` keeps the
registry equal to the names it can run.
"""

from __future__ import annotations

from typing import Literal

StrategyName = Literal["greedy", "self_consistency", "best_of_n", "beam", "dvts", "mcts", "refine"]

AUTO: Literal["auto"] = "auto"
"""The choice that resolves to a concrete strategy from the budget (see `StrategyChoice`)."""

StrategyChoice = Literal[StrategyName, "auto"]
"""Every name a config, flag or request may give: the `StrategyName`s and "auto" (flat: nested
Literals merge, so `typing.get_args` lists plain strings)."""
