"""Test-feedback refinement (Reflexion / LATS style).

One chain at a time. When an attempt finishes and a hard gate failed it, the next attempt
starts again from the root with the failed answer and the verifier's `evidence["feedback"]`
(e.g. the first failing test and its message) in the prompt, via `SearchTask.feedback_template`.
Up to `1 + refine_rounds` attempts; early stop ends it as soon as one passes.
"""

from __future__ import annotations

from ponder.graph.state import FrontierItem
from ponder.graph.strategies.base import Plan, Strategy, grow_each, root_item
from ponder.graph.tree import ROOT_ID, TreeView

GENERIC_FEEDBACK = "The checks failed without details."


class Refine(Strategy):
    name = "refine"

    def plan(self, view: TreeView) -> Plan:
        state = dict(view.strategy_state)
        attempts = int(state.get("attempts", 0))
        if view.round == 0:
            return Plan([root_item(1)], {"attempts": 1, "since": _next_seq(view)})
        live = view.new_live()
        if live:
            return Plan(grow_each(view, live), state)
        failed = self._last_failure(view, int(state.get("since", 0)))
        if attempts >= 1 + view.config.refine_rounds or failed is None:
            return Plan([], state)
        node = view[failed]
        feedback = (node.get("evidence") or {}).get("feedback") or GENERIC_FEEDBACK
        item: FrontierItem = {**root_item(1), "feedback": str(feedback), "prev_answer": node["answer"]}
        return Plan([item], {"attempts": attempts + 1, "since": _next_seq(view)})

    @staticmethod
    def _last_failure(view: TreeView, since: int) -> str | None:
        """The newest node of the current attempt that a hard gate rejected, if any.

        An attempt that ended without a failed gate (nothing checked it) gives no feedback to
        refine on, so refinement stops there instead of repeating older feedback.
        """
        for nid in sorted(view.nodes, key=lambda i: view[i]["seq"], reverse=True):
            node = view[nid]
            if node["seq"] < since:
                break
            if node["gate"] == "fail" and nid != ROOT_ID:
                return nid
        return None


def _next_seq(view: TreeView) -> int:
    return max(n["seq"] for n in view.nodes.values()) + 1
