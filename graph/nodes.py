"""The graph's nodes: init → verify → select → (expand → verify → select)* → finalize.

Each is a plain async function over `SearchState` that returns only the keys it changes. The
backend, verifier and strategy are bound by `make_nodes` (a closure), never put in the state,
so the state stays checkpointable.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ponder.backends.base import BaseBackend, Completion, GenerationRequest, Usage
from ponder.backends.errors import BackendResponseError
from ponder.graph.budget import exhausted, expansions_left, tokens_left
from ponder.graph.events import emit
from ponder.graph.finalize import build_result
from ponder.graph.prompts import build_request, conditioning, continuation
from ponder.graph.state import FrontierItem, NodeData, SearchState
from ponder.graph.steps import STEP_SEPARATOR, extract_answer, force_cue, has_answer
from ponder.graph.strategies import Strategy, get_strategy
from ponder.graph.tree import ROOT_ID, TreeView, new_node, node_id
from ponder.graph.types import SearchConfig, SearchTask, Spend
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.composite import aggregate
from ponder.verifiers.types import Chain

GraphNode = Callable[[SearchState], Awaitable[dict[str, Any]]]


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
    parsed: dict[str, tuple[SearchTask, SearchConfig, Strategy]] = {}

    def ctx(state: SearchState) -> tuple[SearchTask, SearchConfig, Strategy]:
        # Parsing the task once per run keeps per-node overhead low (it can be large: code files).
        key = f"{id(state['task'])}:{id(state.get('config'))}"
        if key not in parsed:
            parsed.clear()
            cfg = SearchConfig.model_validate(state["config"]) if state.get("config") else config
            parsed[key] = (SearchTask.model_validate(state["task"]), cfg, get_strategy(cfg.strategy))
        return parsed[key]

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
        cue_ids = _tokenize(backend, force_cue(view.task.answer_format)) if caps.token_ids else None
        sep_ids = _tokenize(backend, STEP_SEPARATOR) if caps.token_ids else None
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
        if caps.prefix_cache:
            warm = [
                r.model_copy(update={"n": 1, "max_tokens": 0, "stop": [], "logprobs": False})
                for _, r, _, _ in requests
            ]
            _add_usage(clock.spend, await backend.warm(warm), generated=False)
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
                node = _child(
                    first + i, parent, comp, req, cue, steps, cfg, view.task, sep_ids, item, backend
                )
                nodes[node["id"]] = node
                _add_usage(clock.spend, comp.usage, generated=True, fallback=len(comp.token_ids))
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
        return {
            "nodes": nodes,
            "pending": list(nodes),
            "counter": counter,
            "frontier": [],
            "spend": clock.stop(),
        }

    async def verify(state: SearchState) -> dict[str, Any]:
        clock = _Clock.start(state)
        task, cfg, _ = ctx(state)
        view = view_of(state)
        pending = view.new_ids
        judged = [
            nid
            for nid in pending
            if (view[nid]["answer"] is not None or not view[nid]["terminal"])
            and (verifier.step_level or view[nid]["terminal"])
        ]
        updates: dict[str, NodeData] = {}
        if judged:
            chains = [_chain(view, nid) for nid in judged]
            scores = await verifier.score(task.verify, chains)
            clock.spend.verifier_calls += 1
            if len(scores) != len(chains):
                raise BackendResponseError(
                    f"verifier {verifier.name!r} returned {len(scores)} scores for {len(chains)} chains; "
                    "a verifier must return one StepScore per chain"
                )
            for nid, s in zip(judged, scores, strict=True):
                updates[nid] = {"score": s.score, "gate": s.gate, "evidence": s.evidence}
        for nid in pending:
            node = view[nid]
            if nid not in updates:
                if node["terminal"] and node["answer"] is None:
                    updates[nid] = {"score": 0.0, "gate": "fail", "evidence": {"feedback": _no_answer(task)}}
                else:
                    updates[nid] = {"score": None, "gate": "unknown", "evidence": {}}
            up = updates[nid]
            path_scores = [view[p]["score"] for p in view.path(nid)[:-1] if view[p]["score"] is not None]
            if up["score"] is not None:
                path_scores.append(up["score"])
            up["value"] = (
                aggregate(path_scores, cfg.aggregation) if path_scores else view[node["parent"]]["value"]
            )
            up["pruned"] = up["gate"] == "fail"
            up["logprobs"] = None
            emit(
                "node_scored",
                elapsed_s=clock.elapsed(),
                node_id=nid,
                parent_id=node["parent"],
                depth=node["depth"],
                score=up["value"],
                gate=up["gate"],
                data={
                    "step_score": up["score"],
                    "terminal": node["terminal"],
                    "feedback": up["evidence"].get("feedback"),
                },
            )
            if up["pruned"]:
                emit(
                    "node_pruned",
                    elapsed_s=clock.elapsed(),
                    node_id=nid,
                    parent_id=node["parent"],
                    depth=node["depth"],
                    gate="fail",
                    text=up["evidence"].get("feedback"),
                )
            elif node["terminal"] and up["gate"] == "pass":
                emit(
                    "answer_found",
                    elapsed_s=clock.elapsed(),
                    node_id=nid,
                    depth=node["depth"],
                    score=up["value"],
                    gate="pass",
                    text=node["answer"],
                    data={"source": node["source"]},
                )
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
            frontier = _trim(plan.frontier, expansions_left(cfg.budget, clock.spend))
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


def _no_answer(task: SearchTask) -> str:
    how = (
        "a fenced code block with the whole file" if task.answer_format == "code" else "a line 'Answer: ...'"
    )
    return f"no final answer found in the {task.answer_format} format; end with {how}"


def _tokenize(backend: BaseBackend, text: str) -> list[int] | None:
    if not text:
        return []
    try:
        return backend.tokenize(text)
    except NotImplementedError:
        return None


def _trim(frontier: list[FrontierItem], left: int | None) -> list[FrontierItem]:
    """Cut the planned batch so that the expansion budget is never exceeded."""
    if left is None:
        return frontier
    out: list[FrontierItem] = []
    for item in frontier:
        k = min(item["k"], left)
        if k <= 0:
            break
        out.append({**item, "k": k})
        left -= k
    return out


def _add_usage(spend: Spend, usage: Usage, *, generated: bool, fallback: int = 0) -> None:
    spend.prompt_tokens += usage.prompt_tokens
    spend.tokens_reused += usage.cached_tokens
    if generated:
        spend.tokens_generated += usage.completion_tokens or fallback


def _child(
    number: int,
    parent: NodeData,
    comp: Completion,
    req: GenerationRequest,
    cue: str,
    steps: list[str],
    cfg: SearchConfig,
    task: SearchTask,
    sep_ids: list[int] | None,
    item: FrontierItem,
    backend: BaseBackend,
) -> NodeData:
    """A node for one sampled step."""
    step = (cue + comp.text).strip()
    depth = parent["depth"] + 1
    last = cfg.single_step or depth >= cfg.max_depth
    ids, eos = continuation(comp, req, backend, sep_ids)
    # An empty step after a "stop" finish is the model ending its answer, even without ids.
    ended = eos or (comp.finish_reason == "stop" and not comp.text.strip())
    terminal = last or ended or has_answer(step, task.answer_format)
    answer = extract_answer([*steps, step], task.answer_format) if terminal else None
    ctx_ids = None if terminal else ids
    return new_node(
        number,
        parent=parent["id"],
        depth=depth,
        step=step,
        ctx_ids=ctx_ids,
        n_tokens=comp.usage.completion_tokens or len(comp.token_ids),
        terminal=terminal,
        answer=answer,
        finish_reason=comp.finish_reason,
        feedback=item.get("feedback") if parent["id"] == ROOT_ID else None,
        prev_answer=item.get("prev_answer") if parent["id"] == ROOT_ID else None,
        logprobs=[lp.logprob for lp in comp.logprobs] if comp.logprobs else None,
    )


def _chain(view: TreeView, nid: str) -> Chain:
    node = view[nid]
    path = view.path(nid)
    feedback, _ = conditioning(view, {"node": nid, "k": 1})
    return Chain(
        steps=tuple(view[p]["step"] for p in path),
        terminal=node["terminal"],
        answer=node["answer"],
        step_logprobs=tuple(node["logprobs"]) if node.get("logprobs") else None,
        feedback=feedback,
    )
