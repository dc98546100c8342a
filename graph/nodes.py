"""The graph's nodes: init → verify → select → (expand → verify → select)* → finalize.

Each is a plain async function over `SearchState` that returns only the keys it changes. The
backend, verifier and strategy are bound by `make_nodes` (a closure), never put in the state,
so the state stays checkpointable.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, Protocol

from ponder.backends.base import BaseBackend, GenerationRequest
from ponder.backends.errors import BackendResponseError
from ponder.graph.budget import exhausted, expansions_left, tokens_left, trim_frontier
from ponder.graph.events import emit
from ponder.graph.expansion import add_usage, add_warm_usage, floor_reuse, make_child, tokenize_or_none
from ponder.graph.finalize import build_result
from ponder.graph.prompts import build_request
from ponder.graph.scoring import score_pending
from ponder.graph.state import FrontierItem, NodeData, SearchState
from ponder.graph.steps import STEP_SEPARATOR, force_cue
from ponder.graph.strategies import Strategy, get_strategy
from ponder.graph.tree import ROOT_ID, TreeView, new_node, node_id
from ponder.graph.types import SearchConfig, SearchTask, Spend
from ponder.verifiers.base import BaseVerifier


class GraphNode(Protocol):
    """One graph node. A protocol rather than a `Callable` alias: LangGraph's `add_node` overloads
    match a node by its parameter *name* `state`, which a `Callable` type does not carry."""

    def __call__(self, state: SearchState) -> Awaitable[dict[str, Any]]: ...


@dataclass(slots=True)
class _Clock:
    """Adds a graph node's own run time to `Spend.seconds` (so resumed searches keep counting)."""

    spend: Spend
    t0: float

    @classmethod
    def start(cls, state: SearchState) -> _Clock:
        return cls(Spend.model_validate(state.get("spend") or {}), time.perf_counter())

    def elapsed(self) -> float:
        return self.spend.seconds + time.perf_counter() - self.t0

    def stop(self) -> dict[str, Any]:
        self.spend.seconds = self.elapsed()
        return self.spend.model_dump()


def make_nodes(*, backend: BaseBackend, verifier: BaseVerifier, config: SearchConfig) -> dict[str, GraphNode]:
    """The five graph nodes, bound to `backend` and `verifier`.

    `config` seeds a new search; a resumed search reads its own config back from the state.
    """
    # Parsing the task once per run keeps per-node overhead low (it can be large: code files).
    # The cache holds the raw dicts it parsed, so an identity check cannot be fooled by a reused id.
    parsed: list[Any] = [None, None, None]

    def ctx(state: SearchState) -> tuple[SearchTask, SearchConfig, Strategy]:
        raw_task, raw_cfg = state["task"], state.get("config")
        if parsed[0] is not raw_task or parsed[1] is not raw_cfg:
            cfg = SearchConfig.model_validate(raw_cfg) if raw_cfg else config
            parsed[:] = [
                raw_task,
                raw_cfg,
                (SearchTask.model_validate(raw_task), cfg, get_strategy(cfg.strategy)),
            ]
        return parsed[2]

    # Fixed strings are tokenized once per graph: a remote tokenizer is a round trip.
    tokenized: dict[str, list[int] | None] = {}

    def token_ids_of(text: str) -> list[int] | None:
        if text not in tokenized:
            tokenized[text] = tokenize_or_none(backend, text)
        return tokenized[text]

    def view_of(state: SearchState, new_ids: list[str] | None = None) -> TreeView:
        task, cfg, _ = ctx(state)
        return TreeView(
            state["nodes"],
            task=task,
            config=cfg,
            strategy_state=state.get("strategy_state") or {},
            new_ids=state.get("pending", []) if new_ids is None else new_ids,
            round_=state.get("round", 0),
        )

    async def init(state: SearchState) -> dict[str, Any]:
        task = SearchTask.model_validate(state["task"])
        get_strategy(config.strategy)  # fail before any work on a bad name
        nodes: dict[str, NodeData] = {ROOT_ID: new_node(0, parent=None, depth=0)}
        for i, seed in enumerate(task.seeds, start=1):
            nodes[node_id(i)] = new_node(
                i,
                parent=ROOT_ID,
                depth=1,
                step=seed.description or seed.answer,
                terminal=True,
                answer=seed.answer,
                source=seed.source,
            )
        emit(
            "search_started",
            elapsed_s=0.0,
            data={
                "strategy": config.strategy,
                "seeds": len(task.seeds),
                "budget": config.budget.model_dump(),
            },
        )
        return {
            "config": config.model_dump(mode="json"),
            "nodes": nodes,
            "pending": [nid for nid in nodes if nid != ROOT_ID],
            "counter": len(nodes),
            "round": 0,
            "frontier": [],
            "spend": Spend().model_dump(),
            "strategy_state": {},
            "stop_reason": None,
            "result": None,
        }

    async def expand(state: SearchState) -> dict[str, Any]:
        clock = _Clock.start(state)
        _, cfg, strategy = ctx(state)
        view = view_of(state, [])
        counter = state["counter"]
        left = tokens_left(cfg.budget, clock.spend)
        max_tokens = cfg.max_step_tokens if left is None else max(1, min(cfg.max_step_tokens, left))
        caps = backend.capabilities
        cue_ids = token_ids_of(force_cue(view.task.answer_format)) if caps.token_ids else None
        sep_ids = token_ids_of(STEP_SEPARATOR) if caps.token_ids else None
        requests: list[tuple[FrontierItem, GenerationRequest, str, int]] = []
        for item in state["frontier"]:
            req, cue = build_request(
                view,
                item,
                backend=backend,
                first_child=node_id(counter),
                max_tokens=max_tokens,
                temperature=strategy.temperature(cfg),
                cue_ids=cue_ids,
            )
            requests.append((item, req, cue, counter))
            counter += item["k"]
        reused_before = clock.spend.tokens_reused
        if caps.prefix_cache:
            warm = [
                r.model_copy(update={"n": 1, "max_tokens": 0, "stop": [], "logprobs": False})
                for _, r, _, _ in requests
            ]
            add_warm_usage(clock.spend, await backend.warm(warm))
        outputs = await backend.generate([r for _, r, _, _ in requests])
        if len(outputs) != len(requests):
            raise BackendResponseError(
                f"backend {backend.name!r} returned {len(outputs)} results for {len(requests)} requests; "
                "a backend must answer every request"
            )
        nodes: dict[str, NodeData] = {}
        for (item, req, cue, first), samples in zip(requests, outputs, strict=True):
            parent = view[item["node"]]
            steps = [view[nid]["step"] for nid in view.path(item["node"])]
            for i, comp in enumerate(samples[: item["k"]]):
                node = make_child(
                    first + i,
                    parent,
                    comp,
                    req=req,
                    cue=cue,
                    steps=steps,
                    config=cfg,
                    task=view.task,
                    sep_ids=sep_ids,
                    item=item,
                    backend=backend,
                )
                nodes[node["id"]] = node
                add_usage(clock.spend, comp.usage, generated=True, fallback=len(comp.token_ids))
                clock.spend.expansions += 1
                emit(
                    "node_expanded",
                    elapsed_s=clock.elapsed(),
                    node_id=node["id"],
                    parent_id=parent["id"],
                    depth=node["depth"],
                    text=node["step"],
                    data={
                        "terminal": node["terminal"],
                        "answer": node["answer"],
                        "source": "model",
                        "spend": clock.spend.model_dump(),
                    },
                )
        floor_reuse(clock.spend, reused_before)
        return {
            "nodes": nodes,
            "pending": list(nodes),
            "counter": counter,
            "frontier": [],
            "spend": clock.stop(),
        }

    async def verify(state: SearchState) -> dict[str, Any]:
        clock = _Clock.start(state)
        view = view_of(state)
        updates, called = await score_pending(view, verifier, clock.elapsed)
        clock.spend.verifier_calls += called
        return {"nodes": updates, "spend": clock.stop()}

    async def select(state: SearchState) -> dict[str, Any]:
        clock = _Clock.start(state)
        task, cfg, strategy = ctx(state)
        view = view_of(state)
        out: dict[str, Any] = {"pending": [], "round": view.round + 1, "frontier": []}
        if task.early_stop and any(view[c]["gate"] == "pass" for c in view.candidates()):
            out["stop_reason"] = "verified"
        elif (limit := exhausted(cfg.budget, clock.spend)) is not None:
            out["stop_reason"] = "budget"
            emit(
                "budget_hit",
                elapsed_s=clock.elapsed(),
                text=limit,
                data={"limit": limit, "spend": clock.spend.model_dump()},
            )
        else:
            plan = strategy.plan(view)
            out["strategy_state"] = plan.state
            if plan.updates:
                out["nodes"] = plan.updates
            frontier = trim_frontier(plan.frontier, expansions_left(cfg.budget, clock.spend))
            out["frontier"] = frontier
            if not frontier:
                out["stop_reason"] = "done"
        out["spend"] = clock.stop()
        return out

    async def finalize(state: SearchState) -> dict[str, Any]:
        clock = _Clock.start(state)
        _task, _cfg, strategy = ctx(state)
        view = view_of(state, [])
        spend_dump = clock.stop()
        result = build_result(view, strategy, Spend.model_validate(spend_dump), state.get("stop_reason"))
        emit(
            "search_finished",
            elapsed_s=result.spend.seconds,
            node_id=result.node_id,
            score=result.score,
            text=result.status,
            data={
                "verified": result.verified,
                "stop_reason": result.stop_reason,
                "spend": result.spend.model_dump(),
            },
        )
        return {"result": result.model_dump(mode="json"), "spend": spend_dump}

    return {"init": init, "expand": expand, "verify": verify, "select": select, "finalize": finalize}
