"""The search's checkpointed state: plain JSON-like values only.

Everything the graph needs to resume a killed search lives here (the tree, the frontier, what
was spent). The backend and the verifier are runtime objects and are deliberately absent: they
are bound by `build_search_graph` and never checkpointed.
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

NodeData = dict[str, Any]
"""One tree node (see `ponder.graph.tree.new_node` for the fields)."""


def merge_nodes(left: dict[str, NodeData] | None, right: dict[str, NodeData] | None) -> dict[str, NodeData]:
    """Reducer for the tree: new ids are added, known ids get the given fields overwritten.

    A graph node returns only the nodes (and fields) it changed, so updates stay small and a
    verify step can set scores without repeating the step text.
    """
    merged = dict(left or {})
    for node_id, fields in (right or {}).items():
        old = merged.get(node_id)
        merged[node_id] = {**old, **fields} if old is not None else dict(fields)
    return merged


class FrontierItem(TypedDict, total=False):
    """One planned expansion: ask for `k` children of `node`.

    `feedback`/`prev_answer` condition the children on an earlier failed attempt (refinement).
    """

    node: str
    k: int
    feedback: str | None
    prev_answer: str | None


class SearchState(TypedDict, total=False):
    """The state machine's channels; each graph node returns only the keys it changes."""

    task: dict[str, Any]
    """`SearchTask.model_dump(mode="json")`."""
    config: dict[str, Any]
    """`SearchConfig.model_dump(mode="json")`; stored so a resumed search keeps its settings."""
    nodes: Annotated[dict[str, NodeData], merge_nodes]
    frontier: list[FrontierItem]
    pending: list[str]
    """Nodes created by the last expansion (or the seeds) that still need scoring."""
    counter: int
    """Next node number; ids are `n<counter>` so the same run always yields the same ids."""
    round: int
    """Completed select steps."""
    spend: dict[str, Any]
    """`Spend.model_dump()`, updated by every graph node."""
    strategy_state: dict[str, Any]
    """The strategy's own bookkeeping (MCTS phase, refinement attempts), JSON-like."""
    stop_reason: str | None
    result: dict[str, Any] | None
    """`SearchResult.model_dump(mode="json")`, set by finalize."""
