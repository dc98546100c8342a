"""Step-level beam search with a PRM.

The root proposes `beam_width * expansions_per_node` first steps; after each verify step the
`beam_width` best new partial chains (by aggregated value) each propose `expansions_per_node`
next steps. Finished chains leave the beam as candidates; failed gates are pruned.
"""

from __future__ import annotations

from ponder.graph.strategies.base import Plan, Strategy, grow_each, root_item
from ponder.graph.tree import TreeView


class Beam(Strategy):
    name = "beam"

    def plan(self, view: TreeView) -> Plan:
        cfg = view.config
        if view.round == 0:
            return Plan([root_item(cfg.beam_width * cfg.expansions_per_node)])
        keep = view.top(view.new_live(), cfg.beam_width)
        return Plan(grow_each(view, sorted(keep, key=lambda i: view[i]["seq"]), cfg.expansions_per_node))
