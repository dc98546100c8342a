"""`ponder serve`: an OpenAI-compatible chat server whose every answer is a verifier-guided search.

Any OpenAI client gets System-2 answers by pointing `base_url` here. The strategy comes from the
model name (``ponder-beam``, ``ponder-mcts``, ... or plain ``ponder`` for the configured one) or
from extra body fields (``{"strategy", "budget": {...}, "n", "max_depth", ..., "reference"}``).
Streaming is real: the search's events are sent as ``reasoning_content`` deltas while it runs,
then the answer as ``content`` deltas (or ``tool_calls`` deltas), then ``[DONE]``. A request
with ``tools`` may get ``tool_calls`` back (OpenAI shape, ``finish_reason: "tool_calls"``); a call
whose arguments do not parse or fail the tool's schema, or that breaks ``tool_choice``, is pruned
by the search and never returned. Searches run on the event loop and await
the backend, so concurrent requests interleave (the embedded engine serialises model calls
internally without blocking the loop).

    app = create_app(load_settings(), api_key="secret")
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, get_args

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ponder.backends.base import BaseBackend
from ponder.errors import PonderError
from ponder.graph.types import SearchConfig, SearchResult, StrategyChoice
from ponder.plugin.chat_task import (
    build_chat_task,
    chat_messages,
    chat_search_config,
    chat_verifier,
    chosen_reply,
    describe_event,
    reasoning_steps,
    search_summary,
)
from ponder.plugin.runtime import merge_search_config
from ponder.plugin.settings import PonderSettings
from ponder.plugin.tool_calls import ToolPolicy, ToolReply, tool_policy

MODEL_PREFIX = "ponder"
STRATEGIES: tuple[str, ...] = get_args(StrategyChoice)
"""Every strategy a model name may pick (`ponder-<strategy>`), "auto" included."""
SEARCH_KEYS = frozenset(SearchConfig.model_fields) - {"budget"}
"""Body fields passed to the search as they are (`budget` is merged field by field)."""
ANSWER_CHUNK_CHARS = 24


class ChatRequest(BaseModel):
    """The OpenAI chat-completions body; unknown fields are kept (extra_body lands here)."""

    model_config = ConfigDict(extra="allow")
    model: str = MODEL_PREFIX
    messages: list[dict[str, Any]]
    stream: bool = False
    stream_options: dict[str, Any] | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    reference: str | None = None
    budget: dict[str, Any] | None = None
    tools: Any = None
    """Checked by `tool_policy`, whose errors name the field and the fix (pydantic's would not)."""
    tool_choice: Any = None
    parallel_tool_calls: Any = None


def model_ids() -> list[str]:
    """Every model name the server answers to: plain `ponder` and one per strategy."""
    return [MODEL_PREFIX, *(f"{MODEL_PREFIX}-{s}" for s in STRATEGIES)]


def _error(
    status: int, message: str, kind: str = "invalid_request_error", code: str | None = None
) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": code, "param": None}}, status)


class _RequestError(Exception):
    def __init__(self, status: int, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def search_config(base: SearchConfig, req: ChatRequest) -> SearchConfig:
    """The request's search: model name picks the strategy; body fields override single settings."""
    overrides: dict[str, Any] = {}
    if req.model != MODEL_PREFIX:
        strategy = req.model.removeprefix(f"{MODEL_PREFIX}-")
        if not req.model.startswith(f"{MODEL_PREFIX}-") or strategy not in STRATEGIES:
            raise _RequestError(
                404,
                f"model {req.model!r} does not exist; use one of {', '.join(model_ids())}",
                "model_not_found",
            )
        overrides["strategy"] = strategy
    extra = req.model_extra or {}
    overrides.update({k: v for k, v in extra.items() if k in SEARCH_KEYS})
    budget = dict(req.budget or {})
    cap = req.max_completion_tokens or req.max_tokens
    if cap is not None and "max_tokens" not in budget:
        budget["max_tokens"] = cap
    overrides["budget"] = budget
    try:
        return merge_search_config(base, overrides)
    except PonderError as exc:
        raise _RequestError(400, str(exc)) from exc


def request_tools(req: ChatRequest) -> ToolPolicy | None:
    """The request's tools; the legacy `functions` API is refused rather than silently dropped."""
    if {"functions", "function_call"} & set(req.model_extra or {}):
        raise _RequestError(
            400,
            "the legacy 'functions' and 'function_call' fields are not supported; send "
            "'tools' ([{'type': 'function', 'function': {...}}]) and 'tool_choice' instead",
        )
    return tool_policy(req.tools, req.tool_choice, req.parallel_tool_calls)


class _Parts:
    """The backend, built on first use unless given; closed at shutdown only when built here."""

    def __init__(self, settings: PonderSettings, backend: BaseBackend | None) -> None:
        self.settings = settings
        self._backend = backend
        self._owned = False
        self._lock = asyncio.Lock()

    async def backend(self) -> BaseBackend:
        async with self._lock:
            if self._backend is None:
                from ponder.backends import make_backend

                self._backend = await asyncio.to_thread(make_backend, self.settings.backend)
                self._owned = True
            return self._backend

    async def aclose(self) -> None:
        if self._owned and self._backend is not None:
            await self._backend.aclose()
            self._backend = None


def _usage(backend: BaseBackend, result: SearchResult, reply: ToolReply | None) -> dict[str, Any]:
    completion = result.spend.tokens_generated
    answer = (result.answer or "") if reply is None else reply.visible_text()
    answer_tokens = min(completion, backend.count_tokens(answer))
    prompt = result.spend.prompt_tokens
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "completion_tokens_details": {"reasoning_tokens": completion - answer_tokens},
        "prompt_tokens_details": {"cached_tokens": result.spend.tokens_reused},
    }


def _finish_reason(result: SearchResult, reply: ToolReply | None = None) -> str:
    if reply is not None and reply.finish_reason is not None:
        return reply.finish_reason
    return "length" if result.answer is None and result.stop_reason == "budget" else "stop"


def create_app(
    settings: PonderSettings | None = None,
    *,
    backend: BaseBackend | None = None,
    api_key: str | None = None,
) -> FastAPI:
    """The FastAPI app.

    Args:
        settings: backend and default search; `PonderSettings()` when None.
        backend: a built backend to use (the caller closes it); else built from settings on the
            first request and closed at shutdown.
        api_key: when set, every request needs ``Authorization: Bearer <api_key>`` (401 otherwise).
    """
    settings = settings or PonderSettings()
    parts = _Parts(settings, backend)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await parts.aclose()

    app = FastAPI(title="ponder", version="0.1.0", lifespan=lifespan)

    @app.middleware("http")
    async def check_key(request: Request, call_next: Any) -> Any:
        if api_key is not None and request.url.path.startswith("/v1/"):
            given = request.headers.get("authorization", "")
            if not secrets.compare_digest(given.encode(), f"Bearer {api_key}".encode()):
                return _error(
                    401,
                    "invalid or missing API key; send 'Authorization: Bearer <key>'",
                    code="invalid_api_key",
                )
        return await call_next(request)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        created = int(time.time())
        data = [{"id": m, "object": "model", "created": created, "owned_by": "ponder"} for m in model_ids()]
        return {"object": "list", "data": data}

    @app.post("/v1/chat/completions", response_model=None)
    async def chat_completions(request: Request) -> JSONResponse | StreamingResponse:
        try:
            req = ChatRequest.model_validate(await request.json())
            tools = request_tools(req)
            config = chat_search_config(search_config(settings.search, req), tools)
            task = build_chat_task(chat_messages(req.messages), reference=req.reference, tools=tools)
        except _RequestError as exc:
            return _error(exc.status, str(exc), code=exc.code)
        except (ValidationError, PonderError, json.JSONDecodeError) as exc:
            return _error(400, f"bad request body: {str(exc).splitlines()[0]}")
        try:
            model_backend = await parts.backend()
        except PonderError as exc:
            return _error(503, f"the backend is unavailable: {exc}", kind="server_error")
        verifier = chat_verifier(req.reference, tools)
        meta = {"id": f"chatcmpl-{uuid.uuid4().hex}", "created": int(time.time()), "model": req.model}
        if req.stream:
            include_usage = bool((req.stream_options or {}).get("include_usage"))
            return StreamingResponse(
                _stream(meta, task, config, model_backend, verifier, include_usage, tools),
                media_type="text/event-stream",
                headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            )
        from ponder.graph import run_search

        try:
            result = await run_search(task, config, backend=model_backend, verifier=verifier)
        except PonderError as exc:
            return _error(502, f"the search failed: {exc}", kind="server_error")
        reply = chosen_reply(result, tools)
        message: dict[str, Any] = {
            "role": "assistant",
            "content": (result.answer or "") if reply is None else reply.content,
            "reasoning_content": "\n\n".join(reasoning_steps(result)),
        }
        if reply is not None and reply.calls:
            message["tool_calls"] = reply.openai_calls()
        return JSONResponse(
            {
                **meta,
                "object": "chat.completion",
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "finish_reason": _finish_reason(result, reply),
                        "logprobs": None,
                    }
                ],
                "usage": _usage(model_backend, result, reply),
                "ponder": search_summary(result, reply),
            }
        )

    return app


def _sse(payload: dict[str, Any] | str) -> bytes:
    body = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
    return f"data: {body}\n\n".encode()


async def _stream(
    meta: dict[str, Any],
    task: Any,
    config: SearchConfig,
    backend: BaseBackend,
    verifier: Any,
    include_usage: bool,
    tools: ToolPolicy | None = None,
) -> AsyncIterator[bytes]:
    """SSE chunks: role, reasoning per search event as it happens, the answer (prose, then tool
    calls: each call's id and name, then its arguments), finish, usage, [DONE]."""
    from ponder.graph import stream_search

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
        choice = {"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}
        return _sse({**meta, "object": "chat.completion.chunk", "choices": [choice], **extra})

    yield chunk({"role": "assistant", "content": ""})
    result: SearchResult | None = None
    try:
        async for item in stream_search(task, config, backend=backend, verifier=verifier):
            if isinstance(item, SearchResult):
                result = item
            elif (line := describe_event(item)) is not None:
                yield chunk({"reasoning_content": line})
    except PonderError as exc:
        yield _sse({"error": {"message": f"the search failed: {exc}", "type": "server_error", "code": None}})
        yield _sse("[DONE]")
        return
    assert result is not None  # stream_search always ends with the result
    reply = chosen_reply(result, tools)
    answer = (result.answer or "") if reply is None else (reply.content or "")
    for start in range(0, len(answer), ANSWER_CHUNK_CHARS):
        yield chunk({"content": answer[start : start + ANSWER_CHUNK_CHARS]})
    for index, call in enumerate(reply.openai_calls() if reply is not None else []):
        head = {**call, "function": {"name": call["function"]["name"], "arguments": ""}}
        yield chunk({"tool_calls": [{"index": index, **head}]})
        arguments = call["function"]["arguments"]
        for start in range(0, len(arguments), ANSWER_CHUNK_CHARS):
            piece = arguments[start : start + ANSWER_CHUNK_CHARS]
            yield chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
    yield chunk({}, _finish_reason(result, reply), ponder=search_summary(result, reply))
    if include_usage:
        yield _sse(
            {
                **meta,
                "object": "chat.completion.chunk",
                "choices": [],
                "usage": _usage(backend, result, reply),
            }
        )
    yield _sse("[DONE]")
