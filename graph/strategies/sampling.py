"""N independent chains from the root: self-consistency (majority vote) and weighted best-of-N.

Both grow the same tree; they differ only in how the winner is chosen when no candidate passed
the hard gates: self-consistency counts votes per (normalised) answer, best-of-N sums the
verifier's values per answer (Li et al.'s weighted best-of-N), so a confident PRM outweighs a
crowd of weak chains.
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.graph.steps import normalize_answer
from ponder.graph.strategies.base import Plan, Strategy, grow_each, root_item
from ponder.graph.tree import TreeView


class _Chains(Strategy):
    def plan(self, view: TreeView) -> Plan:
        if view.round == 0:
            return Plan([root_item(view.config.n)])
        return Plan(grow_each(view, view.new_live()))

    def _tally(self, view: TreeView, ids: Sequence[str], weighted: bool) -> str | None:
        if not ids:
            return None
        fmt = view.task.answer_format
        totals: dict[str, float] = {}
        best: dict[str, str] = {}
        for nid in ids:
            answer = view[nid]["answer"]
            if answer is None:  # not a candidate: candidates always carry an answer
                continue
            key = normalize_answer(answer, fmt)
            totals[key] = totals.get(key, 0.0) + (view.value(nid) if weighted else 1.0)
            if key not in best or view.value(nid) > view.value(best[key]):
                best[key] = nid
        # Ties: the answer whose best chain is earliest wins (stable across runs).
        winner = max(totals, key=lambda k: (totals[k], -view[best[k]]["seq"]))
        return best[winner]


class SelfConsistency(_Chains):
    name = "self_consistency"

    def choose(self, view: TreeView, ids: Sequence[str]) -> str | None:
        return self._tally(view, ids, weighted=False)

    def describe_choice(self) -> str:
        return "majority vote"


class BestOfN(_Chains):
    name = "best_of_n"

    def choose(self, view: TreeView, ids: Sequence[str]) -> str | None:
        return self._tally(view, ids, weighted=True)

    def describe_choice(self) -> str:
        return "weighted best-of-N"
