"""Scoring a batch of new nodes: one verifier call, then values, gates and events.

A failed gate prunes the node; a terminal chain with no answer in the task's format fails
without a verifier call (there is nothing to check) and gets feedback saying how to answer.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ponder.graph.events import emit
from ponder.graph.prompts import conditioning
from ponder.graph.state import Node, NodeUpdate
from ponder.graph.tree import ROOT_ID, TreeView
from ponder.graph.types import SearchTask
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.composite import aggregate
from ponder.verifiers.errors import VerifierError
from ponder.verifiers.types import Chain


async def score_pending(
    view: TreeView, verifier: BaseVerifier, elapsed: Callable[[], float]
) -> tuple[dict[str, NodeUpdate], int]:
    """Judge `view.new_ids`; returns (node updates, verifier calls made: 0 or 1).

    Outcome verifiers (`step_level=False`) are only sent finished chains; partial chains then
    keep their parent's value and gate "unknown".
    """
    task, cfg = view.task, view.config
    pending = view.new_ids
    judged = [
        nid
        for nid in pending
        if (view[nid]["answer"] is not None or not view[nid]["terminal"])
        and (verifier.step_level or view[nid]["terminal"])
    ]
    updates: dict[str, NodeUpdate] = {}
    if judged:
        chains = [chain_of(view, nid) for nid in judged]
        scores = await verifier.score(task.verify, chains)
        if len(scores) != len(chains):
            raise VerifierError(
                f"verifier {verifier.name!r} returned {len(scores)} scores for {len(chains)} chains; "
                "a verifier must return one StepScore per chain"
            )
        for nid, s in zip(judged, scores, strict=True):
            updates[nid] = {"score": s.score, "gate": s.gate, "evidence": s.evidence}
    for nid in pending:
        node = view[nid]
        if nid not in updates:
            if node["terminal"] and node["answer"] is None:
                updates[nid] = {
                    "score": 0.0,
                    "gate": "fail",
                    "evidence": {"feedback": no_answer_feedback(task)},
                }
            else:
                updates[nid] = {"score": None, "gate": "unknown", "evidence": {}}
        up = updates[nid]
        path_scores = [v for p in view.path(nid)[:-1] if (v := view[p]["score"]) is not None]
        if (own := up["score"]) is not None:
            path_scores.append(own)
        # A pending node is never the root, so it always has a parent.
        parent_value = view[node["parent"] or ROOT_ID]["value"]
        up["value"] = aggregate(path_scores, cfg.aggregation) if path_scores else parent_value
        up["pruned"] = up["gate"] == "fail"
        up["logprobs"] = None  # consumed by the verifier; not worth checkpointing
        _emit_scored(node, up, elapsed())
    return updates, 1 if judged else 0


def _emit_scored(node: Node, up: NodeUpdate, elapsed_s: float) -> None:
    feedback = up["evidence"].get("feedback")
    at: dict[str, Any] = {"elapsed_s": elapsed_s, "node_id": node["id"], "depth": node["depth"]}
    emit(
        "node_scored",
        **at,
        parent_id=node["parent"],
        score=up["value"],
        gate=up["gate"],
        data={"step_score": up["score"], "terminal": node["terminal"], "feedback": feedback},
    )
    if up["pruned"]:
        emit("node_pruned", **at, parent_id=node["parent"], gate="fail", text=feedback)
    elif node["terminal"] and up["gate"] == "pass":
        emit(
            "answer_found",
            **at,
            score=up["value"],
            gate="pass",
            text=node["answer"],
            data={"source": node["source"]},
        )


def no_answer_feedback(task: SearchTask) -> str:
    how = (
        "a fenced code block with the whole file" if task.answer_format == "code" else "a line 'Answer: ...'"
    )
    return f"no final answer found in the {task.answer_format} format; end with {how}"


def chain_of(view: TreeView, nid: str) -> Chain:
    """The verifier's view of the path ending at `nid`."""
    node = view[nid]
    feedback, _ = conditioning(view, {"node": nid, "k": 1})
    return Chain(
        steps=tuple(view[p]["step"] for p in view.path(nid)),
        terminal=node["terminal"],
        answer=node["answer"],
        step_logprobs=tuple(logprobs) if (logprobs := node.get("logprobs")) else None,
        feedback=feedback,
    )
