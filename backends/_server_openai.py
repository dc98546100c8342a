"""The OpenAI-compatible `/v1` routes of `ponder engine serve`: models, chat and text completions,
and vLLM's tokenize/detokenize.

OpenAI SDKs, LangChain and `ponder`'s own `OpenAICompatBackend` talk to the engine through these,
so their request and response shapes follow OpenAI's (usage with `prompt_tokens_details`, chat and
completion logprobs in their two different layouts). Content is text only; `stream` and `echo` are
refused rather than ignored. `server` mounts them next to SGLang's native routes.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any, Literal

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field

from ponder.backends._server_wire import ApiError, batch, build_request, until_disconnect
from ponder.backends.base import BaseBackend, ChatMessage, Completion

DEFAULT_CHAT_MAX_TOKENS = 512
"""Used when an OpenAI chat request gives no `max_tokens` (OpenAI's own default is 'until done')."""


class _OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]] | None = ""

    def to_chat(self) -> ChatMessage:
        content = self.content or ""
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if p.get("type") == "text")
        role = "system" if self.role == "developer" else self.role
        return ChatMessage(role=role, content=content)


class _OpenAICommon(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    n: int = Field(default=1, ge=1, le=256)
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])


class ChatCompletionBody(_OpenAICommon):
    """OpenAI `/v1/chat/completions` request (text content only)."""

    messages: list[_OpenAIMessage]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None


class CompletionBody(_OpenAICommon):
    """OpenAI `/v1/completions` request; `prompt` may be text or token ids, single or batched."""

    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int = 16
    logprobs: int | None = None
    echo: bool = False


class TokenizeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    prompt: str | list[str]
    add_special_tokens: bool = True


class DetokenizeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tokens: list[int] | list[list[int]]
    skip_special_tokens: bool = True


def add_openai_routes(app: FastAPI, backend: BaseBackend, name: str, n_ctx: int | None) -> None:
    """Mount the `/v1` routes on `app`: `name` is the model id listed, `n_ctx` the context reported."""

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        card = {"id": name, "object": "model", "created": 0, "owned_by": "ponder", "root": name}
        if n_ctx:
            card["max_model_len"] = n_ctx
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionBody, request: Request) -> dict[str, Any]:
        if body.stream:
            raise ApiError("stream=true is not supported by `ponder engine serve`; send stream=false")
        if body.top_logprobs and not body.logprobs:
            raise ApiError("top_logprobs needs logprobs=true")
        req = build_request(
            messages=[m.to_chat() for m in body.messages],
            n=body.n,
            temperature=body.temperature,
            top_p=body.top_p,
            max_tokens=body.max_completion_tokens or body.max_tokens or DEFAULT_CHAT_MAX_TOKENS,
            stop=body.stops(),
            seed=body.seed,
            logprobs=body.logprobs,
            top_logprobs=body.top_logprobs or 0,
        )
        [row] = await until_disconnect(backend.generate([req]), request)
        choices = [
            {
                "index": k,
                "message": {"role": "assistant", "content": c.text},
                "finish_reason": c.finish_reason,
                "logprobs": _chat_logprobs(c) if body.logprobs else None,
            }
            for k, c in enumerate(row)
        ]
        return _openai_response("chat.completion", body.model or name, choices, row)

    @app.post("/v1/completions")
    async def completions(body: CompletionBody, request: Request) -> dict[str, Any]:
        if body.stream or body.echo:
            raise ApiError("stream and echo are not supported by `ponder engine serve`; send false")
        prompts = batch(body.prompt)
        top = body.logprobs or 0
        reqs = [
            build_request(
                prompt=p if isinstance(p, str) else None,
                token_ids=p if isinstance(p, list) else None,
                n=body.n,
                temperature=body.temperature,
                top_p=body.top_p,
                max_tokens=body.max_tokens,
                stop=body.stops(),
                seed=body.seed,
                logprobs=body.logprobs is not None,
                top_logprobs=min(top, 20),
            )
            for p in prompts
        ]
        rows = await until_disconnect(backend.generate(reqs), request)
        choices = [
            {
                "index": i * body.n + k,
                "text": c.text,
                "finish_reason": c.finish_reason,
                "logprobs": _completion_logprobs(c) if body.logprobs is not None else None,
            }
            for i, row in enumerate(rows)
            for k, c in enumerate(row)
        ]
        return _openai_response("text_completion", body.model or name, choices, [c for r in rows for c in r])

    @app.post("/v1/tokenize")
    @app.post("/tokenize", include_in_schema=False)
    async def tokenize(body: TokenizeBody) -> dict[str, Any]:
        try:
            if isinstance(body.prompt, str):
                ids = backend.tokenize(body.prompt)
                return {"tokens": ids, "count": len(ids), "max_model_len": n_ctx or -1}
            many = [backend.tokenize(p) for p in body.prompt]
        except NotImplementedError as exc:
            raise ApiError(str(exc)) from exc
        return {"tokens": many, "count": [len(x) for x in many], "max_model_len": n_ctx or -1}

    @app.post("/v1/detokenize")
    @app.post("/detokenize", include_in_schema=False)
    async def detokenize(body: DetokenizeBody) -> dict[str, Any]:
        try:
            nested = [ids for ids in body.tokens if isinstance(ids, list)]
            if nested:
                return {"text": [backend.detokenize(ids) for ids in nested]}
            return {"text": backend.detokenize([t for t in body.tokens if isinstance(t, int)])}
        except NotImplementedError as exc:
            raise ApiError(str(exc)) from exc


def _openai_response(
    kind: str, model: str, choices: list[dict[str, Any]], completions: Sequence[Completion]
) -> dict[str, Any]:
    prompt = sum(c.usage.prompt_tokens for c in completions)
    generated = sum(len(c.token_ids) for c in completions)
    cached = sum(c.usage.cached_tokens for c in completions)
    return {
        "id": f"{'chatcmpl' if kind.startswith('chat') else 'cmpl'}-{uuid.uuid4().hex}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": generated,
            "total_tokens": prompt + generated,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def _chat_logprobs(c: Completion) -> dict[str, Any]:
    return {
        "content": [
            {
                "token": lp.text or "",
                "logprob": lp.logprob,
                "bytes": list((lp.text or "").encode()),
                "top_logprobs": [
                    {"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in lp.top.items()
                ],
            }
            for lp in c.logprobs or []
        ]
    }


def _completion_logprobs(c: Completion) -> dict[str, Any]:
    offsets, pos = [], 0
    for lp in c.logprobs or []:
        offsets.append(pos)
        pos += len(lp.text or "")
    return {
        "tokens": [lp.text or "" for lp in c.logprobs or []],
        "token_logprobs": [lp.logprob for lp in c.logprobs or []],
        "top_logprobs": [dict(lp.top) for lp in c.logprobs or []],
        "text_offset": offsets,
    }
