"""One compiled search graph, many searches: each run's backend, verifier and config arrive as
LangGraph's runtime context (`SearchContext`), never through the state or a per-search build."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, get_args

import pytest
from langchain_core.messages import HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.runtime import Runtime
from pydantic import ValidationError

from ponder.graph import (
    STRATEGIES,
    SearchConfig,
    SearchContext,
    SearchResult,
    StrategyName,
    build_search_graph,
)
from ponder.graph.context import ContextError
from ponder.graph.testing import (
    BackendLog,
    Context,
    ScriptedBackend,
    ScriptedVerifier,
    path_policy,
    text_task,
)
from ponder.graph.types import Budget
from ponder.plugin.langchain.subgraph import build_reasoning_graph
from ponder.verifiers.types import Chain, StepScore

RUN = {"recursion_limit": 1000}


def neutral(chain: Chain) -> StepScore:
    return StepScore(score=0.5)


def answers(text: str) -> ScriptedBackend:
    """A model that answers `text` at once, after echoing the question it was asked."""
    return ScriptedBackend(lambda ctx: f"Answer: {text} to {ctx.messages[-1].content}")


async def search(context: SearchContext, question: str = "q") -> SearchResult:
    graph = build_search_graph()
    final = await graph.ainvoke({"task": text_task(question).model_dump(mode="json")}, RUN, context=context)
    return SearchResult.model_validate(final["result"])


async def test_one_compiled_graph_serves_concurrent_searches_with_their_own_backend_and_config() -> None:
    assert build_search_graph() is build_search_graph()
    one, many = answers("one"), answers("many")
    greedy = SearchContext(
        backend=one, verifier=ScriptedVerifier(neutral), config=SearchConfig(strategy="greedy")
    )
    sampled = SearchContext(
        backend=many, verifier=ScriptedVerifier(neutral), config=SearchConfig(strategy="best_of_n", n=3)
    )
    a, b = await asyncio.gather(search(greedy), search(sampled))

    assert (a.strategy, a.answer, a.spend.expansions) == ("greedy", "one to q", 1)
    assert (b.strategy, b.answer, b.spend.expansions) == ("best_of_n", "many to q", 3)
    assert [r.n for r in one.log.requests] == [1] and [r.n for r in many.log.requests] == [3]
    assert one.log.requests[0].temperature == 0.0 and many.log.requests[0].temperature == 0.8
    assert a.tree["config"]["strategy"] == "greedy" and b.tree["config"]["n"] == 3


async def test_a_context_reused_for_another_task_searches_that_task() -> None:
    context = SearchContext(backend=answers("x"), verifier=ScriptedVerifier(neutral))
    first, second = await search(context, "first?"), await search(context, "second?")
    assert (first.answer, second.answer) == ("x to first?", "x to second?")


async def test_a_checkpointer_binds_a_copy_and_leaves_the_shared_graph_alone() -> None:
    saver = InMemorySaver()
    shared = build_search_graph()
    bound = build_search_graph(checkpointer=saver)
    assert bound.checkpointer is saver and shared.checkpointer is None
    assert all(bound.nodes[name] is node for name, node in shared.nodes.items())  # nothing recompiled

    context = SearchContext(backend=answers("y"), verifier=ScriptedVerifier(neutral))
    run = {**RUN, "configurable": {"thread_id": "t"}}
    await bound.ainvoke({"task": text_task().model_dump(mode="json")}, run, context=context)
    # The context stays out of the checkpoint: every saved state is plain JSON.
    snapshots = [snap async for snap in bound.aget_state_history(run)]
    assert snapshots and all(json.dumps(snap.values) for snap in snapshots)


async def test_running_without_a_context_says_how_to_pass_one() -> None:
    graph = build_search_graph()
    with pytest.raises(ContextError, match=r"not a SearchContext; run it as graph\.ainvoke\(state, context="):
        await graph.ainvoke({"task": text_task().model_dump(mode="json")}, RUN)


def test_an_unknown_strategy_fails_when_the_context_is_made() -> None:
    bad = SearchConfig.model_construct(strategy="nope")  # skips the Literal check on purpose
    with pytest.raises(ValueError, match="unknown search strategy 'nope'; use one of greedy, "):
        SearchContext(backend=answers("z"), verifier=ScriptedVerifier(neutral), config=bad)


def test_strategy_names_are_exactly_the_registry() -> None:
    assert sorted(get_args(StrategyName)) == sorted(STRATEGIES)
    assert all(cls.name == name for name, cls in STRATEGIES.items())
    with pytest.raises(ValidationError, match="strategy"):
        SearchConfig(strategy="nope")  # type: ignore[arg-type]


@dataclass(frozen=True)
class AppContext:
    """A user application's own runtime context, which the nested search must not see."""

    user: str


async def test_the_reasoning_subgraph_brings_its_own_context_inside_a_graph_with_another() -> None:
    seen: list[Any] = []

    def note(state: MessagesState, runtime: Runtime[AppContext]) -> dict[str, Any]:
        seen.append(runtime.context)
        return {}

    def adder(ctx: Context) -> str:
        return "2 + 3 = 5" if not ctx.steps else "Answer: 5"

    config = SearchConfig(strategy="greedy", budget=Budget(max_expansions=4))
    builder = StateGraph(MessagesState, context_schema=AppContext)
    builder.add_node("note", note)
    builder.add_node(
        "reason", build_reasoning_graph(backend=ScriptedBackend(adder), config=config, reference="5")
    )
    builder.add_edge(START, "note")
    builder.add_edge("note", "reason")
    builder.add_edge("reason", END)
    saver = InMemorySaver()
    graph = builder.compile(checkpointer=saver)
    run = {**RUN, "configurable": {"thread_id": "app"}}
    out = await graph.ainvoke(
        {"messages": [HumanMessage("What is 2 + 3?")]}, run, context=AppContext(user="ada")
    )
    assert seen == [AppContext(user="ada")]
    reply = out["messages"][-1]
    assert reply.content == "5" and reply.response_metadata["ponder"]["verified"]
    # The search still checkpoints as a subgraph, in the parent's thread.
    namespaces = {c.config["configurable"]["checkpoint_ns"] for c in saver.list(None)}
    nested = [ns.split("|") for ns in namespaces if "|" in ns]
    assert any(outer.startswith("reason:") and inner.startswith("search:") for outer, inner in nested), (
        namespaces
    )


class Crash(Exception):
    """Stands in for a killed process in the middle of a generate call."""


def _app(backend: ScriptedBackend, saver: InMemorySaver) -> Any:
    config = SearchConfig(strategy="best_of_n", n=2, max_depth=8)
    reason = build_reasoning_graph(backend=backend, config=config, verifier=ScriptedVerifier(neutral))
    builder = StateGraph(MessagesState)
    builder.add_node("reason", reason)
    builder.add_edge(START, "reason")
    builder.add_edge("reason", END)
    return builder.compile(checkpointer=saver)


async def test_a_crashed_reasoning_subgraph_resumes_in_the_parents_thread_without_redoing_work() -> None:
    def crash_on_fourth(log: BackendLog) -> None:
        if log.generate_calls == 4:
            raise Crash("killed mid-generate")

    saver = InMemorySaver()
    run = {**RUN, "configurable": {"thread_id": "crash"}}
    with pytest.raises(Crash):
        await _app(ScriptedBackend(path_policy(6), on_generate=crash_on_fourth), saver).ainvoke(
            {"messages": [HumanMessage("q")]}, run
        )
    # A new process: a new backend (so a new context), the same thread.
    again = ScriptedBackend(path_policy(6))
    out = await _app(again, saver).ainvoke(None, run)
    assert again.log.generate_calls == 3  # rounds 4-6; the three completed rounds are not redone
    assert out["messages"][-1].content == "1.0/2.0/3.0/4.0/5.0/6.0"
