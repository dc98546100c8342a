"""The search's checkpointed state: plain JSON-like values only.

Everything the graph needs to resume a killed search lives here (the tree, the frontier, what
was spent). The backend and the verifier are live objects and are deliberately absent: they
travel beside the state as the run's `SearchContext` (`ponder.graph.context`), which LangGraph
hands every graph node and never checkpoints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, TypedDict, cast

from ponder.verifiers.types import Evidence, Gate


class NodeUpdate(TypedDict, total=False):
    """The fields of a tree node that change after it is created: the verifier's judgement of
    the chain ending there, and the search statistics strategies keep.

    Every `Node` carries all of them (see `ponder.graph.tree.new_node`); they are optional here
    only so that an update (a verify step, an MCTS backup) names just the fields it sets.
    """

    score: float | None
    """The verifier's score of the chain ending here, in [0, 1]; None until judged."""
    gate: Gate | None
    """The hard verdict; None until judged, "unknown" when nothing could check it."""
    evidence: Evidence
    """Why: what the verifier found (tests run, values computed, feedback for a retry)."""
    value: float | None
    """The step scores along the path aggregated (`SearchConfig.aggregation`)."""
    pruned: bool
    """A hard gate failed: the branch grows no further."""
    visits: int
    """MCTS visit count."""
    value_sum: float
    """MCTS sum of backed-up values."""
    logprobs: list[float] | None
    """The step's token logprobs, kept only until the verifier has read them."""


class Node(NodeUpdate):
    """One tree node: a reasoning step, the chain it ends, and how it was judged."""

    id: str
    seq: int
    """Creation number; every ordering in the search is by `seq`, so runs are repeatable."""
    parent: str | None
    depth: int
    step: str
    ctx_ids: list[int] | None
    """Prompt + generated token ids up to and including this step (what a child sends to
    continue it); None when the backend cannot give ids or the chain is finished."""
    n_tokens: int
    terminal: bool
    answer: str | None
    source: str
    """Who proposed the step: "model", or a seed's source ("mutation")."""
    finish_reason: str | None
    feedback: str | None
    """The failed attempt's feedback this chain was conditioned on (refinement)."""
    prev_answer: str | None
    """The failed attempt's answer this chain was conditioned on (refinement)."""


def merge_nodes(left: Mapping[str, Node] | None, right: Mapping[str, NodeUpdate] | None) -> dict[str, Node]:
    """Reducer for the tree: new ids are added, known ids get the given fields overwritten.

    A graph node returns only the nodes (and fields) it changed, so updates stay small and a
    verify step can set scores without repeating the step text. A new id always arrives as a
    whole `Node` (from `new_node`), so the merged values are whole nodes.
    """
    merged = dict(left or {})
    for node_id, fields in (right or {}).items():
        old = merged.get(node_id)
        merged[node_id] = cast(Node, {**old, **fields} if old is not None else dict(fields))
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
    nodes: Annotated[dict[str, Node], merge_nodes]
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
