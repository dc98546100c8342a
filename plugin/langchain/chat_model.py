"""`PonderChatModel`: a LangChain chat model whose every reply is a verifier-guided search.

Swap it in for any chat model and an agent gets System-2 answers without other changes: the
reply's `content` is the chosen answer, `additional_kwargs["reasoning_content"]` holds the
chosen chain's steps, and `response_metadata["ponder"]` says whether the answer was verified,
why, and what the search spent. `bind_tools` offers tools the OpenAI way, so LangGraph's
`create_react_agent` runs on it: a reply may carry `tool_calls`, each checked against its
tool's schema and the `tool_choice` before it is returned.

    model = PonderChatModel(backend=EmbeddedBackend(), config=SearchConfig(strategy="beam"))
    reply = await model.ainvoke("What is 17 * 3?", reference="51")
    reply.response_metadata["ponder"]["status"]  # "verified"
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import LanguageModelInput
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call, tool_call_chunk
from langchain_core.messages.utils import convert_to_openai_messages
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import BaseModel, ConfigDict, Field

from ponder.backends.base import BaseBackend, ChatMessage
from ponder.graph.types import SearchConfig, SearchResult
from ponder.plugin.chat_task import (
    build_chat_task,
    chat_messages,
    chat_search_config,
    chat_verifier,
    chosen_reply,
    describe_event,
    reasoning_steps,
    search_summary,
    with_tool_check,
)
from ponder.plugin.runtime import merge_search_config
from ponder.plugin.tool_calls import ToolPolicy, tool_policy
from ponder.verifiers.base import BaseVerifier

_TOOL_KWARGS = ("tools", "tool_choice", "parallel_tool_calls")


def to_chat_messages(messages: Sequence[BaseMessage]) -> list[ChatMessage]:
    """LangChain messages as ponder messages, through their OpenAI form so that the server and
    the chat model render one history (tool calls and tool results included) the same way."""
    return chat_messages(convert_to_openai_messages(list(messages)))


def openai_tool_choice(choice: Any) -> Any:
    """`bind_tools`' `tool_choice` in OpenAI's spelling: a bare tool name becomes a named choice."""
    if choice is True or choice == "any":  # LangChain's "some tool must be called"
        return "required"
    if choice is False:
        return "none"
    if isinstance(choice, str) and choice not in ("none", "auto", "required"):
        return {"type": "function", "function": {"name": choice}}
    return choice


def result_message(
    result: SearchResult, backend: BaseBackend, model_name: str, tools: ToolPolicy | None = None
) -> AIMessage:
    """The search result as one AIMessage: answer (or tool calls), reasoning, summary, token usage."""
    steps = reasoning_steps(result)
    reply = chosen_reply(result, tools)
    answer = (result.answer or "") if reply is None else (reply.content or "")
    made = zip(reply.ids, reply.calls, strict=True) if reply is not None else iter(())
    calls = [tool_call(name=c.name, args=c.arguments, id=i) for i, c in made]
    completion = result.spend.tokens_generated
    visible = answer if reply is None else reply.visible_text()
    answer_tokens = min(completion, backend.count_tokens(visible))
    finish = "tool_calls" if calls else "stop"
    return AIMessage(
        content=answer,
        tool_calls=calls,
        additional_kwargs={"reasoning_content": "\n\n".join(steps), "reasoning_steps": steps},
        response_metadata={
            "model_name": model_name,
            "finish_reason": finish,
            "ponder": search_summary(result, reply),
        },
        usage_metadata={
            "input_tokens": result.spend.prompt_tokens,
            "output_tokens": completion,
            "total_tokens": result.spend.prompt_tokens + completion,
            "output_token_details": {"reasoning": completion - answer_tokens},
        },
    )


class PonderChatModel(BaseChatModel):
    """A chat model that searches (strategy + budget in `config`) and verifies before it answers.

    Per-call keyword arguments (or `.bind(...)`): `reference` (a known answer; the math verifier
    then gates it), `tools` / `tool_choice` / `parallel_tool_calls` in OpenAI's shape (what
    `bind_tools` binds) and any `SearchConfig` field (`strategy`, `n`, `budget={...}`, ...).
    """

    model_config = ConfigDict(arbitrary_types_allowed=True)

    backend: BaseBackend
    verifier: BaseVerifier | None = None
    """Default: math verifier when a `reference` is given, else the confidence PRM."""
    config: SearchConfig = Field(default_factory=SearchConfig)
    model_name: str = "ponder"

    @property
    def _llm_type(self) -> str:
        return "ponder"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_name": self.model_name, "strategy": self.config.strategy}

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type[BaseModel] | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | dict[str, Any] | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """This model with `tools` offered on every call.

        Args:
            tools: LangChain tools, functions, pydantic models or OpenAI tool dicts.
            tool_choice: "auto" (default), "none", "required" or "any" (a call is needed), or a
                tool's name (that tool must be called).
            kwargs: further per-call arguments (`parallel_tool_calls=False`, search fields).

        Raises:
            ToolInputError: a tool whose schema is not valid, or a choice naming no given tool.
        """
        formatted = [convert_to_openai_tool(t) for t in tools]
        choice = openai_tool_choice(tool_choice)
        tool_policy(formatted, choice, kwargs.get("parallel_tool_calls"))  # bad input fails here, not later
        if choice is not None:
            kwargs["tool_choice"] = choice
        return self.bind(tools=formatted, **kwargs)

    def _prepare(
        self, messages: list[BaseMessage], kwargs: dict[str, Any]
    ) -> tuple[Any, SearchConfig, Any, ToolPolicy | None]:
        reference = kwargs.pop("reference", None)
        tools = tool_policy(*(kwargs.pop(k, None) for k in _TOOL_KWARGS))
        config = chat_search_config(merge_search_config(self.config, kwargs), tools)
        ref = None if reference is None else str(reference)
        task = build_chat_task(to_chat_messages(messages), reference=ref, tools=tools)
        verifier = (
            chat_verifier(ref, tools) if self.verifier is None else with_tool_check(self.verifier, tools)
        )
        return task, config, verifier, tools

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        from ponder.graph import run_search

        task, config, verifier, tools = self._prepare(messages, kwargs)
        result = await run_search(task, config, backend=self.backend, verifier=verifier)
        message = result_message(result, self.backend, self.model_name, tools)
        return ChatResult(
            generations=[ChatGeneration(message=message)],
            llm_output={"ponder": message.response_metadata["ponder"]},
        )

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        """Search progress as `reasoning_content` chunks while the search runs, then the answer.

        Merged, the chunks equal `ainvoke`'s message except that `reasoning_content` holds the
        progress log (the chosen steps stay in `reasoning_steps`). Tool calls come whole, in the
        last chunk.
        """
        from ponder.graph import stream_search

        task, config, verifier, tools = self._prepare(messages, kwargs)
        async for item in stream_search(task, config, backend=self.backend, verifier=verifier):
            if isinstance(item, SearchResult):
                final = result_message(item, self.backend, self.model_name, tools)
                kwargs_out = {"reasoning_steps": final.additional_kwargs["reasoning_steps"]}
                chunks = [
                    tool_call_chunk(name=c["name"], args=json.dumps(c["args"]), id=c["id"], index=i)
                    for i, c in enumerate(final.tool_calls)
                ]
                yield ChatGenerationChunk(
                    message=AIMessageChunk(
                        content=final.content,
                        tool_call_chunks=chunks,
                        additional_kwargs=kwargs_out,
                        response_metadata=final.response_metadata,
                        usage_metadata=final.usage_metadata,
                    )
                )
            elif (line := describe_event(item)) is not None:
                chunk = ChatGenerationChunk(
                    message=AIMessageChunk(content="", additional_kwargs={"reasoning_content": line})
                )
                if run_manager is not None:
                    await run_manager.on_llm_new_token("", chunk=chunk)
                yield chunk

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        """Sync entry: runs the async search on a private loop (in a worker thread if a loop is running)."""
        coro_args = (messages, stop, None)
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self._agenerate(*coro_args, **kwargs))
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            return pool.submit(asyncio.run, self._agenerate(*coro_args, **kwargs)).result()
