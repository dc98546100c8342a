"""A LangGraph application that hands hard questions to ponder's reasoning subgraph.

    python examples/langgraph_agent.py "3 boxes of 12 eggs, 5 break. How many are left?" --reference 31

The parent graph routes: questions with numbers go to the `reason` node (ponder's search,
compiled without its own checkpointer, so the parent's checkpointer stores the search tree and a
killed run resumes in the same thread); everything else gets a plain reply. The reply says
whether ponder verified it.
"""

from __future__ import annotations

import argparse
import asyncio
import re
from typing import Any

from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.state import CompiledStateGraph

from ponder.backends.base import BaseBackend
from ponder.graph.types import Budget, SearchConfig
from ponder.plugin.langchain.subgraph import build_reasoning_graph

RECURSION_LIMIT = 10_000
"""A search takes three graph steps per round; LangGraph's default limit (25) is for chat loops."""


def needs_reasoning(state: MessagesState) -> str:
    return "reason" if re.search(r"\d", str(state["messages"][-1].content)) else "chat"


def chat(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage("Ask me something with numbers and I will reason it through.")]}


def build_agent(
    backend: BaseBackend, *, config: SearchConfig | None = None, reference: str | None = None
) -> CompiledStateGraph:
    """The parent graph: route, then either reason (ponder subgraph) or chat; checkpointed in memory."""
    config = config or SearchConfig(strategy="beam", beam_width=2, budget=Budget(max_expansions=12))
    builder = StateGraph(MessagesState)
    builder.add_node("reason", build_reasoning_graph(backend=backend, config=config, reference=reference))
    builder.add_node("chat", chat)
    builder.add_conditional_edges(START, needs_reasoning, ["reason", "chat"])
    builder.add_edge("reason", END)
    builder.add_edge("chat", END)
    return builder.compile(checkpointer=InMemorySaver())


async def run(agent: CompiledStateGraph, question: str, thread_id: str = "demo") -> AIMessage:
    config = {"configurable": {"thread_id": thread_id}, "recursion_limit": RECURSION_LIMIT}
    out = await agent.ainvoke({"messages": [HumanMessage(question)]}, config)
    return out["messages"][-1]


async def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("question", nargs="?", default="What is 17 * 3?")
    parser.add_argument("--reference", help="known answer: the reply is verified against it")
    args = parser.parse_args(argv)

    from ponder.backends import make_backend
    from ponder.plugin.settings import load_settings

    backend = make_backend(load_settings().backend)
    try:
        reply = await run(build_agent(backend, reference=args.reference), args.question)
    finally:
        await backend.aclose()
    summary = reply.response_metadata.get("ponder", {})
    print(f"answer: {reply.content}")
    if summary:
        print(f"status: {summary['status']} ({summary['reason']})")
        print("reasoning:\n" + reply.additional_kwargs.get("reasoning_content", ""))


if __name__ == "__main__":
    asyncio.run(main())
