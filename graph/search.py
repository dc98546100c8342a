"""The search API: build the LangGraph state machine, run it, stream it, resume it.

    result = await run_search(task, config, backend=backend, verifier=verifier)

    async for item in stream_search(task, config, backend=b, verifier=v):
        ...  # SearchEvents as they happen, then the SearchResult

With a checkpointer and a `thread_id`, a search killed mid-way resumes where its last
completed graph node left off: expansions already made are not generated again.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.state import CompiledStateGraph
from langgraph.types import Durability

from ponder.backends.base import BaseBackend
from ponder.graph import nodes
from ponder.graph.checkpoint import CheckpointerLike, open_checkpointer
from ponder.graph.context import SearchContext
from ponder.graph.expander import Expander
from ponder.graph.state import SearchState
from ponder.graph.types import SearchConfig, SearchEvent, SearchResult, SearchTask
from ponder.verifiers.base import BaseVerifier

RECURSION_LIMIT = 1_000_000
"""Each round is three graph steps; budgets, not LangGraph's step limit, end a search."""


async def _after_select(state: SearchState) -> str:
    # Async on purpose: LangGraph runs a sync branch function in a thread pool, a per-round
    # thread hop that costs more than the routing itself.
    return "expand" if state.get("frontier") and not state.get("stop_reason") else "finalize"


@functools.cache
def _compiled() -> CompiledStateGraph[SearchState, SearchContext, SearchState, SearchState]:
    builder = StateGraph(SearchState, context_schema=SearchContext)
    builder.add_node("init", nodes.init)
    builder.add_node("expand", nodes.expand)
    builder.add_node("verify", nodes.verify)
    builder.add_node("select", nodes.select)
    builder.add_node("finalize", nodes.finalize)
    builder.add_edge(START, "init")
    builder.add_edge("init", "verify")
    builder.add_edge("expand", "verify")
    builder.add_edge("verify", "select")
    builder.add_conditional_edges("select", _after_select, ["expand", "finalize"])
    builder.add_edge("finalize", END)
    return builder.compile(name="ponder_search")


def build_search_graph(
    *, checkpointer: BaseCheckpointSaver[Any] | None = None
) -> CompiledStateGraph[SearchState, SearchContext, SearchState, SearchState]:
    """The compiled search graph, shared by every search; the run's dependencies come per call.

    Input: `{"task": task.model_dump(mode="json")}` and `context=SearchContext(backend=...,
    verifier=..., config=...)`; the final state's `"result"` holds
    `SearchResult.model_dump(mode="json")`. Events are written to the custom stream
    (`stream_mode="custom"`). Without a checkpointer it is usable as a subgraph in a larger
    LangGraph application (it then checkpoints into the parent's); the parent's node passes the
    context (see `ponder.plugin.langchain.subgraph`).

    The graph is compiled once; a checkpointer gives a shallow copy bound to that saver.
    """
    graph = _compiled()
    return graph if checkpointer is None else graph.copy(update={"checkpointer": checkpointer})


async def stream_search(
    task: SearchTask,
    config: SearchConfig,
    *,
    backend: BaseBackend,
    verifier: BaseVerifier,
    checkpointer: CheckpointerLike = None,
    thread_id: str | None = None,
    on_event: Callable[[SearchEvent], None] | None = None,
    expander: Expander | None = None,
) -> AsyncIterator[SearchEvent | SearchResult]:
    """Run a search, yielding its events and, last, the `SearchResult`.

    With a checkpointer and the `thread_id` of an unfinished search, that search is resumed
    (the stored task and config win); for a finished one its stored result is returned.
    `expander` proposes children before the model does (`ponder.graph.expander`).

    Raises:
        ValueError: `config.strategy` names no strategy.
    """
    context = SearchContext(backend=backend, verifier=verifier, config=config, expander=expander)
    async with open_checkpointer(checkpointer) as saver:
        graph = build_search_graph(checkpointer=saver)
        run_config: RunnableConfig = {
            "configurable": {"thread_id": thread_id or uuid.uuid4().hex},
            "recursion_limit": RECURSION_LIMIT,
        }
        inp: SearchState | None = {"task": task.model_dump(mode="json")}
        if saver is not None and thread_id is not None:
            snapshot = await graph.aget_state(run_config)
            if snapshot.values:
                if not snapshot.next and snapshot.values.get("result"):
                    yield SearchResult.model_validate(snapshot.values["result"])
                    return
                inp = None
        final: dict[str, Any] = {}
        # "sync": each step's checkpoint is on disk before the next step starts, so a killed
        # search loses at most the step that was running.
        durability: Durability | None = "sync" if saver is not None else None
        async for mode, chunk in graph.astream(
            inp, run_config, context=context, stream_mode=["custom", "values"], durability=durability
        ):
            if mode == "custom" and isinstance(chunk, SearchEvent):
                if on_event is not None:
                    on_event(chunk)
                yield chunk
            elif mode == "values" and isinstance(chunk, dict):
                final = chunk
        yield SearchResult.model_validate(final["result"])


async def run_search(
    task: SearchTask,
    config: SearchConfig,
    *,
    backend: BaseBackend,
    verifier: BaseVerifier,
    checkpointer: CheckpointerLike = None,
    thread_id: str | None = None,
    on_event: Callable[[SearchEvent], None] | None = None,
    expander: Expander | None = None,
) -> SearchResult:
    """Run a search to the end; `on_event` sees every event as it happens."""
    result: SearchResult | None = None
    async for item in stream_search(
        task,
        config,
        backend=backend,
        verifier=verifier,
        checkpointer=checkpointer,
        thread_id=thread_id,
        on_event=on_event,
        expander=expander,
    ):
        if isinstance(item, SearchResult):
            result = item
    assert result is not None  # stream_search always ends with the result
    return result
