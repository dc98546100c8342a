"""The awaitable text verbs (`atokenize`, `adetokenize`, `arender_chat`) the graph calls.

A served tokenizer is a network round trip: inside the event loop it must be awaited over the
backend's one long-lived client, not made blocking with a client per call. The SGLang look-alike
below answers `/v1/tokenize` and `/v1/detokenize` in the shapes SGLang's HTTP server returns
(python/sglang/srt/entrypoints/http_server.py: `{"tokens", "count", "max_model_len"}` for one
prompt string and `{"text"}`), over real HTTP on loopback, and records which TCP connection each
request came in on.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pytest
from fastapi import FastAPI, Request

from ponder.backends import SGLangBackend
from ponder.backends.base import BaseBackend, Capabilities, ChatMessage, Completion, GenerationRequest
from ponder.backends.errors import BackendResponseError

ServeApp = Callable[[Any], str]


def _tokenizer_app(*, broken: bool = False) -> tuple[FastAPI, list[tuple[str, int]]]:
    """Tokens are code points; `broken` answers a tokenize with a payload missing `tokens`."""
    app = FastAPI()
    seen: list[tuple[str, int]] = []

    @app.post("/v1/tokenize")
    async def tokenize(request: Request) -> Any:
        body = await request.json()
        seen.append(("tokenize", request.client.port if request.client else -1))
        if broken:
            return {"count": 1}
        ids = [ord(c) for c in body["prompt"]]
        return {"tokens": ids, "count": len(ids), "max_model_len": 2048}

    @app.post("/v1/detokenize")
    async def detokenize(request: Request) -> Any:
        body = await request.json()
        seen.append(("detokenize", request.client.port if request.client else -1))
        return {"text": "".join(chr(t) for t in body["tokens"])}

    return app, seen


async def test_async_verbs_round_trip_over_one_connection(serve_app: ServeApp) -> None:
    app, seen = _tokenizer_app()
    async with SGLangBackend(serve_app(app)) as backend:
        ids = await backend.atokenize("héllo")
        text = await backend.adetokenize(ids)
        again = await backend.atokenize("x")
    assert ids == [ord(c) for c in "héllo"] and text == "héllo" and again == [ord("x")]
    assert [verb for verb, _ in seen] == ["tokenize", "detokenize", "tokenize"]
    assert len({port for _, port in seen}) == 1, f"one kept-alive connection, saw {seen}"


async def test_blocking_conveniences_reuse_one_client_and_close_with_the_backend(serve_app: ServeApp) -> None:
    app, seen = _tokenizer_app()
    backend = SGLangBackend(serve_app(app))
    assert backend.tokenize("ab") == [97, 98]
    assert backend.detokenize([97, 98]) == "ab"
    assert len({port for _, port in seen}) == 1, f"one kept-alive connection, saw {seen}"
    client = backend._sync_client
    await backend.aclose()
    assert client is not None and client.is_closed and backend._sync_client is None


async def test_a_payload_without_tokens_names_the_url_and_the_field(serve_app: ServeApp) -> None:
    app, _ = _tokenizer_app(broken=True)
    url = serve_app(app)
    async with SGLangBackend(url) as backend:
        with pytest.raises(BackendResponseError, match=r"/v1/tokenize.*`tokens`"):
            await backend.atokenize("a")


class _Letters(BaseBackend):
    """An in-process backend that defines only the blocking verbs, as most in-process ones do."""

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            logprobs=False, top_logprobs=False, n=False, token_ids=True, prefix_cache=False, seed=False
        )

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        raise AssertionError("not called")

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def detokenize(self, token_ids: Sequence[int]) -> str:
        return "".join(map(chr, token_ids))

    def render_chat(self, messages: Sequence[ChatMessage], assistant_prefix: str | None = None) -> str:
        return "|".join(m.content for m in messages) + (assistant_prefix or "")


async def test_in_process_backends_get_the_async_verbs_from_their_blocking_ones() -> None:
    backend = _Letters()
    assert await backend.atokenize("hi") == [104, 105]
    assert await backend.adetokenize([104, 105]) == "hi"
    rendered = await backend.arender_chat([ChatMessage(role="user", content="q")], "A:")
    assert rendered == "qA:"


async def test_a_backend_without_a_tokenizer_says_so_from_the_async_verb_too() -> None:
    class _NoTokenizer(_Letters):
        tokenize = BaseBackend.tokenize  # type: ignore[assignment]

    with pytest.raises(NotImplementedError, match="tokenize is not supported by _NoTokenizer"):
        await _NoTokenizer().atokenize("x")


async def test_token_counts_never_cost_a_round_trip(serve_app: ServeApp) -> None:
    """Counting for budgets runs in loops (fitting a prompt): an in-process tokenizer counts
    exactly, a served one is estimated from the characters instead of asked once per count."""
    assert _Letters().count_tokens("héllo") == 5
    app, seen = _tokenizer_app()
    async with SGLangBackend(serve_app(app)) as backend:
        assert backend.count_tokens("x" * 30) == 10
    assert seen == [], "no /v1/tokenize request"
