"""Diverse verifier tree search (DVTS): `n` independent subtrees, each a beam of width one.

The root proposes `n` first steps, one per subtree. In every later round each subtree expands
its single best new partial chain by `expansions_per_node` children. Subtrees never compete
with each other, which keeps the answers diverse where one beam would collapse onto one idea.
"""

from __future__ import annotations

from ponder.graph.strategies.base import Plan, Strategy, grow_each, root_item
from ponder.graph.tree import TreeView


class DVTS(Strategy):
    name = "dvts"

    def plan(self, view: TreeView) -> Plan:
        cfg = view.config
        if view.round == 0:
            return Plan([root_item(cfg.n)])
        by_subtree: dict[str, list[str]] = {}
        for nid in view.new_live():
            by_subtree.setdefault(view.path(nid)[0], []).append(nid)
        best = [view.top(ids, 1)[0] for ids in by_subtree.values()]
        return Plan(grow_each(view, sorted(best, key=lambda i: view[i]["seq"]), cfg.expansions_per_node))
