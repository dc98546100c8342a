"""`PonderChatModel`: a LangChain chat model whose every reply is a verifier-guided search.

Swap it in for any chat model and an agent gets System-2 answers without other changes: the
reply's `content` is the chosen answer, `additional_kwargs["reasoning_content"]` holds the
chosen chain's steps, and `response_metadata["ponder"]` says whether the answer was verified,
why, and what the search spent.

    model = PonderChatModel(backend=EmbeddedBackend(), config=SearchConfig(strategy="beam"))
    reply = await model.ainvoke("What is 17 * 3?", reference="51")
    reply.response_metadata["ponder"]["status"]  # "verified"
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from collections.abc import AsyncIterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models.chat_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import ConfigDict, Field

from ponder.backends.base import BaseBackend, ChatMessage
from ponder.graph.types import SearchConfig, SearchResult
from ponder.plugin.chat_task import (
    build_chat_task,
    chat_verifier,
    count_tokens,
    describe_event,
    reasoning_steps,
    search_summary,
)
from ponder.plugin.runtime import merge_search_config
from ponder.verifiers.base import BaseVerifier

_ROLES = {"system": "system", "human": "user", "ai": "assistant", "tool": "user", "function": "user"}


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "\n".join(p if isinstance(p, str) else str(p.get("text", "")) for p in content)


def to_chat_messages(messages: Sequence[BaseMessage]) -> list[ChatMessage]:
    """LangChain messages as ponder messages; tool results become user turns (the search has no tools)."""
    out = []
    for message in messages:
        role = _ROLES.get(message.type, "user")
        out.append(ChatMessage(role=role, content=_text(message)))  # type: ignore[arg-type]
    return out


def result_message(result: SearchResult, backend: BaseBackend, model_name: str) -> AIMessage:
    """The search result as one AIMessage: answer, reasoning, summary and token usage."""
    steps = reasoning_steps(result)
    answer = result.answer or ""
    completion = result.spend.tokens_generated
    answer_tokens = min(completion, count_tokens(backend, answer))
    return AIMessage(
        content=answer,
        additional_kwargs={"reasoning_content": "\n\n".join(steps), "reasoning_steps": steps},
        response_metadata={"model_name": model_name, "ponder": search_summary(result)},
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
    then gates it) and any `SearchConfig` field (`strategy`, `n`, `budget={...}`, ...).
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

    def _prepare(self, messages: list[BaseMessage], kwargs: dict[str, Any]) -> tuple[Any, SearchConfig, Any]:
        reference = kwargs.pop("reference", None)
        config = merge_search_config(self.config, kwargs)
        task = build_chat_task(
            to_chat_messages(messages), reference=None if reference is None else str(reference)
        )
        return task, config, self.verifier or chat_verifier(task.verify.inputs.get("reference"))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        from ponder.graph import run_search

        task, config, verifier = self._prepare(messages, kwargs)
        result = await run_search(task, config, backend=self.backend, verifier=verifier)
        message = result_message(result, self.backend, self.model_name)
        return ChatResult(
            generations=[ChatGeneration(message=message)], llm_output={"ponder": search_summary(result)}
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
        progress log (the chosen steps stay in `reasoning_steps`).
        """
        from ponder.graph import stream_search

        task, config, verifier = self._prepare(messages, kwargs)
        async for item in stream_search(task, config, backend=self.backend, verifier=verifier):
            if isinstance(item, SearchResult):
                final = result_message(item, self.backend, self.model_name)
                kwargs_out = {"reasoning_steps": final.additional_kwargs["reasoning_steps"]}
                yield ChatGenerationChunk(
                    message=AIMessageChunk(
                        content=final.content,
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
