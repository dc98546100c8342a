"""Monte-Carlo tree search with verifier values (PUCT selection, rollouts, backpropagation).

One iteration: descend from the root by PUCT to a node with fewer than `expansions_per_node`
children; expand it; back up each new child's verifier value; roll the best new child out one
step at a time (k=1) to a terminal; back up the terminal's value (0 if a hard gate failed). The
search runs `n` iterations (or until a budget or early stop ends it). Rollout steps are real
tree nodes, so later iterations can branch off them.
"""

from __future__ import annotations

import math
from typing import Any

from ponder.graph.state import NodeUpdate
from ponder.graph.strategies.base import Plan, Strategy
from ponder.graph.tree import ROOT_ID, TreeView


class MCTS(Strategy):
    name = "mcts"

    def plan(self, view: TreeView) -> Plan:
        cfg = view.config
        state: dict[str, Any] = dict(view.strategy_state)
        stats = _Stats(view)
        if view.round == 0:
            return Plan([{"node": ROOT_ID, "k": cfg.expansions_per_node}], {"phase": "expand", "iter": 0})
        phase = state.get("phase")
        if phase == "expand":
            for nid in view.new_ids:
                stats.backup(nid, _leaf_value(view, nid))
            live = view.top(view.new_live(), 1)
            if live:
                return Plan([{"node": live[0], "k": 1}], {**state, "phase": "rollout"}, stats.updates)
        elif phase == "rollout":
            live = view.new_live()
            if live:
                return Plan([{"node": live[0], "k": 1}], state, stats.updates)
            for nid in view.new_ids:
                stats.backup(nid, _leaf_value(view, nid))
        iteration = int(state.get("iter", 0)) + 1
        if iteration >= cfg.n:
            return Plan([], {"phase": "done", "iter": iteration}, stats.updates)
        target = _descend(view, stats, ROOT_ID)
        if target is None:
            return Plan([], {"phase": "exhausted", "iter": iteration}, stats.updates)
        k = cfg.expansions_per_node - len(view.children(target))
        return Plan([{"node": target, "k": k}], {"phase": "expand", "iter": iteration}, stats.updates)


def _leaf_value(view: TreeView, nid: str) -> float:
    return 0.0 if view[nid]["pruned"] else view.value(nid)


class _Stats:
    """Visit counts and value sums, read from the tree and updated in place for this plan."""

    def __init__(self, view: TreeView) -> None:
        self.view = view
        self.updates: dict[str, NodeUpdate] = {}

    def get(self, nid: str) -> tuple[int, float]:
        node = self.updates.get(nid) or self.view[nid]
        return int(node["visits"]), float(node["value_sum"])

    def backup(self, nid: str, value: float) -> None:
        cur: str | None = nid
        while cur is not None:
            visits, total = self.get(cur)
            self.updates[cur] = {"visits": visits + 1, "value_sum": total + value}
            cur = self.view[cur]["parent"]


def _descend(view: TreeView, stats: _Stats, nid: str) -> str | None:
    """The node to expand next under `nid`, or None when its subtree has nothing left to grow."""
    cfg = view.config
    node = view[nid]
    if nid != ROOT_ID and (node["terminal"] or node["pruned"]):
        return None
    kids = view.children(nid)
    if node["depth"] < cfg.max_depth and len(kids) < cfg.expansions_per_node:
        return nid
    parent_visits, _ = stats.get(nid)
    prior = 1.0 / max(1, len(kids))

    def puct(cid: str) -> tuple[float, int]:
        visits, total = stats.get(cid)
        q = total / visits if visits else view.value(cid)
        u = cfg.c_puct * prior * math.sqrt(max(1, parent_visits)) / (1 + visits)
        return (-(q + u), view[cid]["seq"])

    for cid in sorted(kids, key=puct):
        found = _descend(view, stats, cid)
        if found is not None:
            return found
    return None
