"""LangChain/LangGraph surfaces: PonderChatModel, build_reasoning_graph as a subgraph, the tools."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph

from ponder.graph.testing import Context, ScriptedBackend
from ponder.graph.types import Budget, SearchConfig
from ponder.plugin.langchain.chat_model import PonderChatModel
from ponder.plugin.langchain.subgraph import build_reasoning_graph
from ponder.plugin.langchain.tools import make_tools
from ponder.plugin.settings import PonderSettings
from ponder.sandbox import LocalSandbox
from tests._scripted_openai import MODEL, scripted_model

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")
EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
CONFIG = SearchConfig(strategy="greedy", budget=Budget(max_expansions=6))


def _adder(ctx: Context) -> str:
    return "2 + 3 = 5" if not ctx.steps else "Answer: 5"


async def test_chat_model_answers_with_reasoning_and_summary() -> None:
    model = PonderChatModel(backend=ScriptedBackend(_adder), config=CONFIG)
    reply = await model.ainvoke([SystemMessage("Be brief."), HumanMessage("What is 2 + 3?")], reference="5")
    assert isinstance(reply, AIMessage) and reply.content == "5"
    assert reply.additional_kwargs["reasoning_steps"] == ["2 + 3 = 5", "Answer: 5"]
    summary = reply.response_metadata["ponder"]
    assert summary["status"] == "verified" and summary["strategy"] == "greedy"
    assert reply.usage_metadata is not None and reply.usage_metadata["output_tokens"] > 0


def test_chat_model_sync_and_per_call_search_settings() -> None:
    backend = ScriptedBackend(lambda ctx: "Answer: 6")
    model = PonderChatModel(backend=backend, config=CONFIG)
    reply = model.invoke("What is 2 + 3?", reference="5", strategy="best_of_n", n=3)
    summary = reply.response_metadata["ponder"]
    assert reply.content == "6"
    assert summary["status"] == "unverified" and not summary["verified"]  # a wrong answer is never verified
    assert summary["strategy"] == "best_of_n" and backend.log.requests[0].n == 3


async def test_chat_model_as_the_model_of_a_langgraph_agent() -> None:
    model = PonderChatModel(backend=ScriptedBackend(_adder), config=CONFIG)

    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def route(state: MessagesState) -> str:
        return "done" if state["messages"][-1].content else "agent"

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_node("done", lambda state: {})
    builder.add_edge(START, "agent")
    builder.add_conditional_edges("agent", route, ["agent", "done"])
    builder.add_edge("done", END)
    graph = builder.compile(checkpointer=InMemorySaver())
    config = {"configurable": {"thread_id": "t1"}}
    out = await graph.ainvoke({"messages": [HumanMessage("What is 2 + 3?")]}, config)
    assert [m.type for m in out["messages"]] == ["human", "ai"]
    assert out["messages"][-1].content == "5"
    # the conversation continues in the same thread; the model sees the earlier turns
    out = await graph.ainvoke({"messages": [HumanMessage("And again?")]}, config)
    assert [m.type for m in out["messages"]] == ["human", "ai", "human", "ai"]


async def test_reasoning_graph_is_a_subgraph_using_the_parents_checkpointer() -> None:
    backend = ScriptedBackend(_adder)
    reason = build_reasoning_graph(backend=backend, config=CONFIG, reference="5")
    assert reason.checkpointer is None  # so the parent's is used
    builder = StateGraph(MessagesState)
    builder.add_node("reason", reason)
    builder.add_edge(START, "reason")
    builder.add_edge("reason", END)
    saver = InMemorySaver()
    graph = builder.compile(checkpointer=saver)
    config = {"configurable": {"thread_id": "sub"}, "recursion_limit": 200}
    out = await graph.ainvoke({"messages": [HumanMessage("What is 2 + 3?")]}, config)
    reply = out["messages"][-1]
    assert reply.content == "5" and reply.response_metadata["ponder"]["verified"]
    assert set(out) == {"messages"}  # the search's channels stay inside the subgraph
    namespaces = {c.config["configurable"]["checkpoint_ns"] for c in saver.list(None)}
    assert any(ns.startswith("reason:") for ns in namespaces), namespaces  # search steps checkpointed
    out = await graph.ainvoke({"messages": [HumanMessage("And 2 + 3 again?")]}, config)
    assert [m.content for m in out["messages"] if m.type == "ai"] == ["5", "5"]


async def test_analyze_data_tool_returns_a_verified_audited_answer() -> None:
    def policy(ctx: Context) -> str:
        if not ctx.steps:
            return "```python\nrev = t0.iloc[0, 1]\nprev = t0.iloc[0, 2]\nchange = rev - prev\n```"
        return "Answer: 525 million"

    async with LocalSandbox() as sandbox:
        _, analyze_data = make_tools(
            PonderSettings(search=CONFIG), backend=ScriptedBackend(policy), sandbox=sandbox
        )
        out = await analyze_data.ainvoke(
            {"data_path": str(EXAMPLES / "tenk_table.csv"), "question": "Change in revenue FY2022 to FY2023?"}
        )
    assert out["status"] == "verified" and out["value"] == 525 and out["scale"] == "million"
    assert out["audit"][0]["values"]["change"] == 525
    json.dumps(out)  # agents receive it as JSON


async def test_repair_code_tool_returns_the_verified_fix() -> None:
    buggy = "def add(a, b):\n    return a - b\n"
    tests = "from solution import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    fixed = "def add(a, b):\n    return a + b\n"

    async with LocalSandbox() as sandbox:
        repair_code, _ = make_tools(
            PonderSettings(),
            backend=ScriptedBackend(lambda ctx: f"```python\n{fixed}```"),
            sandbox=sandbox,
            search={"budget": {"max_expansions": 2}},
        )
        out = await repair_code.ainvoke({"source": buggy, "tests": tests})
    assert out["status"] == "fixed" and out["fixed_source"] is not None
    assert "a + b" in out["fixed_source"]


@pytest.mark.model
async def test_embedded_model_in_a_langgraph_node(engine_backend: Any) -> None:
    config = SearchConfig(strategy="beam", beam_width=1, max_step_tokens=48, budget=Budget(max_expansions=4))
    model = PonderChatModel(backend=engine_backend, config=config)

    async def agent(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"], reference="5")]}

    builder = StateGraph(MessagesState)
    builder.add_node("agent", agent)
    builder.add_edge(START, "agent")
    builder.add_edge("agent", END)
    out = await builder.compile().ainvoke({"messages": [HumanMessage("What is 2 + 3?")]})
    reply = out["messages"][-1]
    summary = reply.response_metadata["ponder"]
    assert summary["spend"]["expansions"] <= 4 + 2  # budget plus at most one in-flight batch
    assert summary["verified"] == (summary["status"] == "verified")
    if summary["verified"]:
        assert "5" in reply.content
    assert reply.additional_kwargs["reasoning_steps"] or summary["status"] == "no_answer"


def _example(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"example_{name}", EXAMPLES / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_langgraph_agent_example_routes_to_the_reasoning_subgraph() -> None:
    example = _example("langgraph_agent")
    backend = ScriptedBackend(_adder)
    agent = example.build_agent(backend, config=CONFIG, reference="5")
    reply = await example.run(agent, "What is 2 + 3?")
    assert reply.content == "5" and reply.response_metadata["ponder"]["status"] == "verified"
    generated = backend.log.generate_calls
    reply = await example.run(agent, "Hello there")
    assert "numbers" in reply.content and backend.log.generate_calls == generated  # no search for chat


async def test_chat_model_streams_search_progress_then_the_answer() -> None:
    model = PonderChatModel(backend=ScriptedBackend(_adder), config=CONFIG)
    chunks = [chunk async for chunk in model.astream("What is 2 + 3?", reference="5")]
    first_content = next(i for i, c in enumerate(chunks) if c.content)
    progress = [c.additional_kwargs.get("reasoning_content") for c in chunks[:first_content]]
    assert all(progress) and progress[0].startswith("Searching with greedy")
    assert any("2 + 3 = 5" in p for p in progress)  # the first step, as it was generated
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.content == "5" and merged.response_metadata["ponder"]["status"] == "verified"
    assert merged.additional_kwargs["reasoning_steps"] == ["2 + 3 = 5", "Answer: 5"]


WEATHER_CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>'


def _weather_model(messages: list[dict[str, Any]]) -> str:
    """The scripted model of an agent loop: call the tool, then answer from its result."""
    results = [m["content"] for m in messages if "<tool_response>" in str(m.get("content"))]
    if not results:
        return WEATHER_CALL
    result = results[-1].split("\n")[1]
    return f"The tool reports {result}.\nAnswer: Paris is {result}"


@pytest.mark.filterwarnings("ignore:create_react_agent has been moved")
async def test_create_react_agent_runs_a_real_tool_and_answers_from_its_result() -> None:
    from langchain_core.tools import tool
    from langgraph.prebuilt import create_react_agent

    from ponder.backends.openai_compat import OpenAICompatBackend

    ran: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """Current weather in a city."""
        ran.append(city)
        return f"18C and sunny in {city}"

    with scripted_model(_weather_model) as (url, calls):
        backend = OpenAICompatBackend(url, model=MODEL, max_retries=0)
        agent = create_react_agent(PonderChatModel(backend=backend, config=CONFIG), [get_weather])
        out = await agent.ainvoke({"messages": [HumanMessage("What is the weather in Paris?")]})
        await backend.aclose()
    assert ran == ["Paris"]
    assert [m.type for m in out["messages"]] == ["human", "ai", "tool", "ai"]
    call = out["messages"][1].tool_calls[0]
    assert call["name"] == "get_weather" and call["args"] == {"city": "Paris"}
    assert out["messages"][2].tool_call_id == call["id"]
    final = out["messages"][-1]
    assert not final.tool_calls and "18C and sunny in Paris" in final.content
    assert '"name": "get_weather"' in calls[0][0]["content"]  # bind_tools put the tool in the prompt


async def test_chat_model_streams_tool_calls_and_rejects_bad_tool_choice() -> None:
    from ponder.plugin.tool_calls import ToolInputError

    def get_weather(city: str) -> str:
        """Current weather in a city."""
        return city

    with scripted_model(WEATHER_CALL) as (url, _):
        from ponder.backends.openai_compat import OpenAICompatBackend

        backend = OpenAICompatBackend(url, model=MODEL, max_retries=0)
        model = PonderChatModel(backend=backend, config=CONFIG)
        bound = model.bind_tools([get_weather], tool_choice="get_weather")
        chunks = [chunk async for chunk in bound.astream("Weather in Paris?")]
        reply = await model.bind_tools([get_weather], tool_choice="any").ainvoke("Weather in Paris?")
        await backend.aclose()
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert [(c["name"], c["args"]) for c in merged.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert merged.response_metadata["finish_reason"] == "tool_calls"
    assert reply.tool_calls[0]["args"] == {"city": "Paris"}
    assert reply.response_metadata["ponder"]["status"] == "verified"  # "any": a valid call is what was asked
    with pytest.raises(ToolInputError, match="not among the tools"):
        model.bind_tools([get_weather], tool_choice="get_time")
