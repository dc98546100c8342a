"""Greedy chain-of-thought: one chain, temperature 0 — the System-1 baseline."""

from __future__ import annotations

from ponder.graph.strategies.base import Plan, Strategy, grow_each, root_item
from ponder.graph.tree import TreeView
from ponder.graph.types import SearchConfig


class Greedy(Strategy):
    name = "greedy"

    def temperature(self, config: SearchConfig) -> float:
        return 0.0

    def plan(self, view: TreeView) -> Plan:
        if view.round == 0:
            return Plan([root_item(1)])
        return Plan(grow_each(view, view.new_live()))
