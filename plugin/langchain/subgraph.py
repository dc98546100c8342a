"""`build_reasoning_graph`: ponder's search as a node of a user's LangGraph application.

The returned graph takes and returns `messages` (like `MessagesState`), so it drops into any
chat-style graph: the last user turn is searched and the reply appended as an `AIMessage`
(see `PonderChatModel` for its fields). The shared search graph is nested as a subgraph, run by
a node that hands it this graph's backend, verifier and config as its `SearchContext`; the whole
thing is compiled without a checkpointer, so LangGraph gives it the parent's: the search tree is
checkpointed in the parent's thread and a killed run resumes there.

    builder = StateGraph(MessagesState)
    builder.add_node("reason", build_reasoning_graph(backend=backend, config=SearchConfig()))
    builder.add_edge(START, "reason")
    graph = builder.compile(checkpointer=InMemorySaver())
"""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.graph.state import CompiledStateGraph

from ponder.backends.base import BaseBackend
from ponder.graph.context import SearchContext
from ponder.graph.search import build_search_graph
from ponder.graph.state import SearchState
from ponder.graph.types import SearchConfig, SearchResult
from ponder.plugin.chat_task import build_chat_task, chat_verifier, search_summary
from ponder.plugin.langchain.chat_model import result_message, to_chat_messages
from ponder.verifiers.base import BaseVerifier


class ReasoningInput(TypedDict):
    messages: Annotated[list[AnyMessage], add_messages]


class ReasoningOutput(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    ponder: dict[str, Any]
    """The search summary (status, verified, reason, spend) of the latest reply."""


# mypy run on the source folders (`mypy plugin graph …`) cannot follow setuptools' editable-install
# finder, so `ponder.*` imports are Any there and a TypedDict base looks like `object`; run on the
# `ponder` package itself, this line checks clean.
class ReasoningState(SearchState, total=False):  # type: ignore[call-arg]
    """The search's channels plus the conversation; only `messages` and `ponder` leave the graph."""

    messages: Annotated[list[AnyMessage], add_messages]
    ponder: dict[str, Any]


def build_reasoning_graph(
    *,
    backend: BaseBackend,
    config: SearchConfig | None = None,
    verifier: BaseVerifier | None = None,
    reference: str | None = None,
    name: str = "ponder_reasoning",
) -> CompiledStateGraph:
    """A compiled messages-in, messages-out graph that answers the last user turn by search.

    Args:
        backend: the model.
        config: strategy and budget; `SearchConfig()` when None.
        verifier: default: math verifier when `reference` is given, else the confidence PRM.
        reference: a known answer the reply is checked against (tests, evaluations).
        name: the graph's name in traces and streams.
    """
    context = SearchContext(
        backend=backend, verifier=verifier or chat_verifier(reference), config=config or SearchConfig()
    )
    graph = build_search_graph()

    def prepare(state: ReasoningState) -> dict[str, Any]:
        task = build_chat_task(to_chat_messages(state["messages"]), reference=reference)
        return {"task": task.model_dump(mode="json")}

    async def search(state: ReasoningState, config: RunnableConfig) -> dict[str, Any]:
        # The search cannot take the parent's context (that is the user's application's), so it
        # is invoked here with its own; `config` carries the parent's checkpointer and namespace,
        # so the search still checkpoints (and resumes) as a subgraph.
        return await graph.ainvoke(state, config, context=context)

    def respond(state: ReasoningState) -> dict[str, Any]:
        result = SearchResult.model_validate(state["result"])
        return {
            "messages": [result_message(result, backend, name)],
            "ponder": search_summary(result),
        }

    builder = StateGraph(ReasoningState, input_schema=ReasoningInput, output_schema=ReasoningOutput)
    builder.add_node("prepare", prepare)
    builder.add_node("search", search)
    builder.add_node("respond", respond)
    builder.add_edge(START, "prepare")
    builder.add_edge("prepare", "search")
    builder.add_edge("search", "respond")
    builder.add_edge("respond", END)
    return builder.compile(name=name)
