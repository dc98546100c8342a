"""Picking the answer: a passing candidate first, otherwise the strategy's rule.

`verified` is true only when the chosen candidate passed every hard gate; otherwise the result
says why not (what failed, what was never checked) so a user never mistakes a guess for a fix.
"""

from __future__ import annotations

from ponder.graph.export import export_tree
from ponder.graph.strategies import Strategy
from ponder.graph.tree import TreeView
from ponder.graph.types import SearchResult, Spend, StopReason

_STOP: dict[str, StopReason] = {"verified": "verified", "budget": "budget", "done": "done"}


def build_result(view: TreeView, strategy: Strategy, spend: Spend, stop_reason: str | None) -> SearchResult:
    """The `SearchResult` for the finished tree."""
    cands = view.candidates()
    passing = [c for c in cands if view[c]["gate"] == "pass"]
    unfailed = [c for c in cands if view[c]["gate"] != "fail"]
    failed = len(cands) - len(unfailed)
    if passing:
        chosen = strategy.choose(view, passing)
        reason = "passed every hard gate"
    else:
        chosen = strategy.choose(view, unfailed or cands)
        unchecked = len(unfailed)
        reason = (
            f"no candidate passed every hard gate ({failed} failed, {unchecked} not checked by a hard gate); "
            f"chosen by {strategy.describe_choice()}"
        )
    stop: StopReason = _STOP.get(stop_reason or "done", "done")
    if stop == "done" and not unfailed:
        stop = "exhausted"
    candidates = [
        {
            "node_id": c,
            "answer": view[c]["answer"],
            "score": view[c]["value"],
            "gate": view[c]["gate"],
            "source": view[c]["source"],
            "depth": view[c]["depth"],
        }
        for c in cands
    ]
    tree = export_tree(
        view.nodes,
        chosen=chosen,
        spend=spend,
        strategy=view.config.strategy,
        question=view.task.verify.question,
        config=view.config.model_dump(mode="json"),
    )
    if chosen is None:
        what = "the budget ran out" if stop == "budget" else "every chain ended"
        return SearchResult(
            answer=None,
            verified=False,
            status="no_answer",
            spend=spend,
            stop_reason=stop,
            tree=tree,
            strategy=view.config.strategy,
            candidates=candidates,
            reason=f"no chain reached an answer before {what}",
        )
    node = view[chosen]
    verified = node["gate"] == "pass"
    if not verified and node["gate"] == "fail" and node["evidence"].get("feedback"):
        reason += f"; its failure: {node['evidence']['feedback']}"
    return SearchResult(
        answer=node["answer"],
        verified=verified,
        status="verified" if verified else "unverified",
        reason=reason,
        score=node["value"],
        source=node["source"],
        node_id=chosen,
        evidence=dict(node["evidence"]),
        spend=spend,
        stop_reason=stop,
        tree=tree,
        strategy=view.config.strategy,
        candidates=candidates,
    )
