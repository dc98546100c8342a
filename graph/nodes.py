"""The graph's nodes: init → verify → select → (expand → verify → select)* → finalize.

Each is a plain async function over `SearchState` that returns only the keys it changes. The
backend and verifier come from the run's `SearchContext` (LangGraph's `Runtime.context`), never
from the state, so the state stays checkpointable and one compiled graph serves every search.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from langgraph.runtime import Runtime

from ponder.backends.base import BaseBackend, Capabilities, Completion, GenerationRequest
from ponder.backends.errors import BackendResponseError
from ponder.graph.budget import exhausted, expansions_left, tokens_left, trim_frontier
from ponder.graph.context import SearchContext, context_of
from ponder.graph.events import emit
from ponder.graph.expander import Proposal
from ponder.graph.expansion import add_usage, add_warm_usage, floor_reuse, make_child
from ponder.graph.finalize import build_result
from ponder.graph.prompts import build_request
from ponder.graph.scoring import score_pending
from ponder.graph.state import FrontierItem, Node, SearchState
from ponder.graph.steps import STEP_SEPARATOR, force_cue
from ponder.graph.tree import ROOT_ID, TreeView, new_node, node_id
from ponder.graph.types import SearchConfig, SearchTask, Spend


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


def _view(ctx: SearchContext, state: SearchState, new_ids: list[str] | None = None) -> TreeView:
    run = ctx.settings(state)
    return TreeView(
        state["nodes"],
        task=run.task,
        config=run.config,
        strategy_state=state.get("strategy_state") or {},
        new_ids=state.get("pending", []) if new_ids is None else new_ids,
        round_=state.get("round", 0),
    )


def fit_to_backend(config: SearchConfig, caps: Capabilities) -> SearchConfig:
    """The config a backend can run: one that can continue neither token ids nor a partial
    assistant turn (a plain OpenAI-compatible server) cannot resume a chain mid-answer, so each
    child is a whole reply, with room for the steps it would have taken."""
    return config if caps.token_ids or caps.continue_prefix else config.whole_replies()


async def init(state: SearchState, runtime: Runtime[SearchContext]) -> dict[str, Any]:
    """The root and the seeds; the context's config, fitted to the backend, becomes the run's
    stored config."""
    ctx = context_of(runtime)
    config = fit_to_backend(ctx.config, ctx.backend.capabilities)
    task = SearchTask.model_validate(state["task"])
    nodes: dict[str, Node] = {ROOT_ID: new_node(0, parent=None, depth=0)}
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
            "single_step": config.single_step,
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


async def expand(state: SearchState, runtime: Runtime[SearchContext]) -> dict[str, Any]:
    """One batched generate call for the whole frontier; every sample becomes a child node.
    Items the run's expander answers get its children instead (`ponder.graph.expander`)."""
    ctx = context_of(runtime)
    backend = ctx.backend
    clock = _Clock.start(state)
    run = ctx.settings(state)
    cfg = run.config
    view = _view(ctx, state, [])
    counter = state["counter"]
    left = tokens_left(cfg.budget, clock.spend)
    max_tokens = cfg.max_step_tokens if left is None else max(1, min(cfg.max_step_tokens, left))
    caps = backend.capabilities
    cue_ids = await ctx.token_ids(force_cue(view.task.answer_format)) if caps.token_ids else None
    sep_ids = await ctx.token_ids(STEP_SEPARATOR) if caps.token_ids else None
    requests: list[tuple[FrontierItem, GenerationRequest, str, int]] = []
    nodes: dict[str, Node] = {}
    for item in state["frontier"]:
        proposals = await ctx.expander.propose(view, item) if ctx.expander is not None else None
        if proposals is not None:
            for proposal in proposals[: item["k"]]:
                node = _proposed(counter, view[item["node"]], proposal, cfg.max_depth)
                counter += 1
                nodes[node["id"]] = node
                add_usage(clock.spend, proposal.usage, generated=True)
                # Like a seed, an operator's child costs no model call: only written ones count.
                clock.spend.expansions += 1 if proposal.usage.completion_tokens else 0
                _emit_expanded(node, clock, proposal.source)
            continue
        req, cue = build_request(
            view,
            item,
            backend=backend,
            first_child=node_id(counter),
            max_tokens=max_tokens,
            temperature=run.strategy.temperature(cfg),
            cue_ids=cue_ids,
        )
        requests.append((item, req, cue, counter))
        counter += item["k"]
    reused_before = clock.spend.tokens_reused
    outputs = await _generate(backend, [r for _, r, _, _ in requests], clock.spend) if requests else []
    for (item, req, cue, first), samples in zip(requests, outputs, strict=True):
        parent = view[item["node"]]
        steps = [view[nid]["step"] for nid in view.path(item["node"])]
        for i, comp in enumerate(samples[: item["k"]]):
            node = await make_child(
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
            _emit_expanded(node, clock, "model")
    floor_reuse(clock.spend, reused_before)
    return {"nodes": nodes, "pending": list(nodes), "counter": counter, "frontier": [], "spend": clock.stop()}


async def _generate(
    backend: BaseBackend, requests: list[GenerationRequest], spend: Spend
) -> list[list[Completion]]:
    """The frontier's one batched generate call (after a prefix-cache warm-up where there is one)."""
    if backend.capabilities.prefix_cache:
        warm = [
            r.model_copy(update={"n": 1, "max_tokens": 0, "stop": [], "logprobs": False}) for r in requests
        ]
        add_warm_usage(spend, await backend.warm(warm))
    outputs = await backend.generate(requests)
    if len(outputs) != len(requests):
        raise BackendResponseError(
            f"backend {backend.name!r} returned {len(outputs)} results for {len(requests)} requests; "
            "a backend must answer every request"
        )
    return outputs


def _proposed(number: int, parent: Node, proposal: Proposal, max_depth: int) -> Node:
    """The node for an expander's child (`ponder.graph.expander`); at the depth limit it is
    terminal, as a model's step there is."""
    depth = parent["depth"] + 1
    return new_node(
        number,
        parent=parent["id"],
        depth=depth,
        step=proposal.step,
        n_tokens=proposal.usage.completion_tokens,
        terminal=proposal.terminal or depth >= max_depth,
        answer=proposal.answer,
        source=proposal.source,
    )


def _emit_expanded(node: Node, clock: _Clock, source: str) -> None:
    emit(
        "node_expanded",
        elapsed_s=clock.elapsed(),
        node_id=node["id"],
        parent_id=node["parent"],
        depth=node["depth"],
        text=node["step"],
        data={
            "terminal": node["terminal"],
            "answer": node["answer"],
            "source": source,
            "spend": clock.spend.model_dump(),
        },
    )


async def verify(state: SearchState, runtime: Runtime[SearchContext]) -> dict[str, Any]:
    """One verifier call for the nodes the last expansion (or init) created."""
    clock = _Clock.start(state)
    ctx = context_of(runtime)
    updates, called = await score_pending(_view(ctx, state), ctx.verifier, clock.elapsed)
    clock.spend.verifier_calls += called
    return {"nodes": updates, "spend": clock.stop()}


async def select(state: SearchState, runtime: Runtime[SearchContext]) -> dict[str, Any]:
    """Stop (verified, budget) or ask the strategy for the next frontier."""
    clock = _Clock.start(state)
    ctx = context_of(runtime)
    run = ctx.settings(state)
    cfg = run.config
    view = _view(ctx, state)
    out: dict[str, Any] = {"pending": [], "round": view.round + 1, "frontier": []}
    if run.task.early_stop and any(view[c]["gate"] == "pass" for c in view.candidates()):
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
        plan = run.strategy.plan(view)
        out["strategy_state"] = plan.state
        if plan.updates:
            out["nodes"] = plan.updates
        frontier = trim_frontier(plan.frontier, expansions_left(cfg.budget, clock.spend))
        out["frontier"] = frontier
        if not frontier:
            out["stop_reason"] = "done"
    out["spend"] = clock.stop()
    return out


async def finalize(state: SearchState, runtime: Runtime[SearchContext]) -> dict[str, Any]:
    """The `SearchResult`, stored in the state so a finished thread answers without searching."""
    clock = _Clock.start(state)
    ctx = context_of(runtime)
    run = ctx.settings(state)
    view = _view(ctx, state, [])
    spend_dump = clock.stop()
    result = build_result(view, run.strategy, Spend.model_validate(spend_dump), state.get("stop_reason"))
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
