"""Bench strategies that are not graph strategies: each is a workflow of its own over one that is.

`ponder bench --strategies` takes these names beside the graph strategies (`StrategyName`):
HumanEval's execution-guided selection (`humaneval_select`) and the solve workflow's program mode
(`pal`). The runner looks a name up here first; a name not here is a graph strategy run through
its suite's workflow. Every one of these executes code, so the bench opens a sandbox for them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ponder.graph.types import SearchConfig
from ponder.plugin.bench import humaneval_select, pal
from ponder.plugin.bench.datasets import BenchItem
from ponder.plugin.runtime import Runtime

if TYPE_CHECKING:
    from ponder.plugin.bench.runner import Attempt, BenchPlan

WorkflowFn = Callable[[BenchItem, Runtime, SearchConfig, "BenchPlan"], Awaitable["Attempt"]]
"""One item through a workflow: what the runner calls for every unit."""


@dataclass(frozen=True, slots=True)
class OwnStrategy:
    """A bench strategy with its own workflow, and the graph strategy that draws its samples."""

    search: str
    """The graph strategy (`SearchConfig.strategy`) its searches run."""
    workflow: WorkflowFn


OWN_STRATEGIES: dict[str, OwnStrategy] = {
    humaneval_select.NAME: OwnStrategy(humaneval_select.SAMPLING, humaneval_select.exec_select),
    **{name: OwnStrategy(search, pal.solve_pal) for name, search in pal.SEARCH.items()},
}

__all__ = ["OWN_STRATEGIES", "OwnStrategy", "WorkflowFn"]
