"""Read-only helpers over the tree stored in `SearchState.nodes`.

Strategies see the tree through `TreeView`: children in creation order, paths, live leaves and
candidates. Ordering is always by creation (`seq`), never by dict or set order, so the same run
always makes the same choices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ponder.graph.state import Node
from ponder.graph.types import SearchConfig, SearchTask

ROOT_ID = "n0"
NEUTRAL_VALUE = 0.5
"""Value of a node nothing has judged yet (an outcome verifier on a partial chain)."""


def node_id(number: int) -> str:
    return f"n{number}"


def new_node(
    number: int,
    *,
    parent: str | None,
    depth: int,
    step: str = "",
    ctx_ids: list[int] | None = None,
    n_tokens: int = 0,
    terminal: bool = False,
    answer: str | None = None,
    source: str = "model",
    finish_reason: str | None = None,
    feedback: str | None = None,
    prev_answer: str | None = None,
    logprobs: list[float] | None = None,
) -> Node:
    """A fresh, unscored node, with every field set (they are documented on `Node`)."""
    return {
        "id": node_id(number),
        "seq": number,
        "parent": parent,
        "depth": depth,
        "step": step,
        "ctx_ids": ctx_ids,
        "n_tokens": n_tokens,
        "terminal": terminal,
        "answer": answer,
        "source": source,
        "finish_reason": finish_reason,
        "feedback": feedback,
        "prev_answer": prev_answer,
        "logprobs": logprobs,
        "score": None,
        "gate": None,
        "evidence": {},
        "value": None,
        "pruned": False,
        "visits": 0,
        "value_sum": 0.0,
    }


class TreeView:
    """A strategy's window on the tree (cheap to build: indexes children once)."""

    def __init__(
        self,
        nodes: Mapping[str, Node],
        *,
        task: SearchTask,
        config: SearchConfig,
        strategy_state: Mapping[str, Any],
        new_ids: Iterable[str] = (),
        round_: int = 0,
    ) -> None:
        self.nodes = nodes
        self.task = task
        self.config = config
        self.strategy_state = dict(strategy_state)
        self.new_ids = list(new_ids)
        self.round = round_
        self._children: dict[str, list[str]] = {}
        for node in sorted(nodes.values(), key=lambda n: n["seq"]):
            if node["parent"] is not None:
                self._children.setdefault(node["parent"], []).append(node["id"])

    def __getitem__(self, nid: str) -> Node:
        return self.nodes[nid]

    def children(self, nid: str) -> list[str]:
        return self._children.get(nid, [])

    def path(self, nid: str) -> list[str]:
        """Ids from the root's first child down to `nid` (the root itself is not a step)."""
        out: list[str] = []
        cur: str | None = nid
        while cur is not None and cur != ROOT_ID:
            out.append(cur)
            cur = self.nodes[cur]["parent"]
        return out[::-1]

    def value(self, nid: str) -> float:
        v = self.nodes[nid]["value"]
        return NEUTRAL_VALUE if v is None else float(v)

    def is_live(self, nid: str) -> bool:
        """Can still be expanded: not terminal, not pruned, below max depth."""
        n = self.nodes[nid]
        return not n["terminal"] and not n["pruned"] and n["depth"] < self.config.max_depth

    def new_live(self) -> list[str]:
        """Nodes from the last expansion that can grow further."""
        return [nid for nid in self.new_ids if self.is_live(nid)]

    def candidates(self) -> list[str]:
        """Nodes with an answer that are finished, in creation order (failed ones included):
        terminal ones, and expandable ones (`ponder.graph.expander`) once they passed every gate."""
        return [
            nid
            for nid in self._ordered()
            if self.nodes[nid]["answer"] is not None
            and (self.nodes[nid]["terminal"] or self.nodes[nid]["gate"] == "pass")
        ]

    def top(self, ids: Iterable[str], k: int) -> list[str]:
        """The `k` best by value; ties go to the earlier node."""
        return sorted(ids, key=lambda i: (-self.value(i), self.nodes[i]["seq"]))[:k]

    def _ordered(self) -> list[str]:
        return sorted(self.nodes, key=lambda i: self.nodes[i]["seq"])
