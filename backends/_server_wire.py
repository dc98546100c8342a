"""What both API surfaces of `ponder engine serve` share: the refusal, its error body, the request
builder and the disconnect watch.

SGLang's native routes (`_server_sglang`) and the OpenAI routes (`_server_openai`) read different
JSON but end in the same `GenerationRequest`, fail with the same `{"error": {"message"}}` body
(which OpenAI SDKs also read) and stop decoding when the client hangs up; keeping those here means
the two surfaces cannot drift apart on them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from ponder.backends.base import GenerationRequest

T = TypeVar("T")


class ApiError(Exception):
    """A request this server refuses; becomes a 400 with SGLang's `{"error": {"message"}}` body."""


def error_response(status: int, message: str, kind: str = "BadRequestError") -> JSONResponse:
    """SGLang's error body (`{"error": {"message"}}`), which OpenAI SDKs also read."""
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


def build_request(**fields: Any) -> GenerationRequest:
    """A GenerationRequest from wire fields (`None` = default); validation errors become a 400."""
    try:
        return GenerationRequest(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "request"
        raise ApiError(f"invalid request: {where}: {err['msg']}") from exc


def batch(value: str | list[str] | list[int] | list[list[int]]) -> list[str | list[int]]:
    """One input (a text, or a list of token ids) or a batch of them, as a batch. pydantic has
    already picked one member of the union, so a list holds ints only or inputs only."""
    if isinstance(value, str):
        return [value]
    ids = [v for v in value if isinstance(v, int)]
    if value and len(ids) == len(value):
        return [ids]
    return [v for v in value if not isinstance(v, int)]


async def until_disconnect(work: Awaitable[T], request: Request, poll_s: float = 0.25) -> T:
    """Await `work`, cancelling it if the client goes away (so the engine stops decoding for nobody)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=poll_s)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                raise asyncio.CancelledError("client disconnected")
    finally:
        if not task.done():
            task.cancel()
