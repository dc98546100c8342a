"""A scripted model behind a real OpenAI-compatible HTTP server on loopback.

Attack and contract tests drive the real CLI (`ponder repair`, `ponder analyze`) with
`backend.kind=openai` pointed here, so every layer between the model's words and the verdict is
the shipped one: the `openai` SDK client, the prompts, the search, the guard, the sandbox. The
"model" is a function from the request's messages to the reply text, so a test fixes exactly what
the candidate says (a hostile patch, a wrong-cell calculation) without depending on a real model.

Only ``POST /v1/chat/completions`` (non-streaming, ``n`` honoured) and ``GET /v1/models`` are
served: that is all `OpenAICompatBackend` uses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI, Request

from tests.conftest import LoopbackServer

Reply = Callable[[list[dict[str, Any]]], str]
"""Messages of one request (OpenAI shape: role, content) -> the completion's text."""

MODEL = "scripted"


def scripted_app(reply: Reply, calls: list[list[dict[str, Any]]] | None = None) -> FastAPI:
    """An ASGI app answering every chat completion with `reply(messages)`; records requests in `calls`."""
    app = FastAPI()

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "tests"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> dict[str, Any]:
        body = await request.json()
        messages = body.get("messages") or []
        if calls is not None:
            calls.append(messages)
        n = int(body.get("n") or 1)
        choices = []
        for index in range(n):
            text = reply(messages)
            choices.append(
                {
                    "index": index,
                    "message": {"role": "assistant", "content": text},
                    "finish_reason": "stop",
                    "logprobs": None,
                }
            )
        prompt_tokens = sum(len(str(m.get("content", ""))) // 4 for m in messages)
        completion_tokens = sum(len(c["message"]["content"]) // 4 + 1 for c in choices)
        return {
            "id": f"chatcmpl-{time.monotonic_ns()}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model") or MODEL,
            "choices": choices,
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    return app


@contextmanager
def scripted_model(reply: Reply | str) -> Iterator[tuple[str, list[list[dict[str, Any]]]]]:
    """Serve `reply` (a function, or one fixed text) on 127.0.0.1; yields (base URL with /v1, calls).

    Point the CLI at it with ``PONDER_BACKEND_KIND=openai``, ``PONDER_BACKEND_URL=<url>``,
    ``PONDER_BACKEND_MODEL=scripted`` (see `openai_env`).
    """
    fn: Reply = (lambda _messages: reply) if isinstance(reply, str) else reply
    calls: list[list[dict[str, Any]]] = []
    server = LoopbackServer(scripted_app(fn, calls))
    url = server.start() + "/v1"
    try:
        yield url, calls
    finally:
        server.stop()


def openai_env(url: str) -> dict[str, str]:
    """Environment that points every ponder surface at the scripted model."""
    return {
        "PONDER_BACKEND_KIND": "openai",
        "PONDER_BACKEND_URL": url,
        "PONDER_BACKEND_MODEL": MODEL,
        "PONDER_BACKEND_API_KEY": "test",
    }
