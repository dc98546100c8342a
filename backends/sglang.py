"""SGLang's native HTTP API as a `BaseBackend` (the primary backend on GPUs).

Why native `/generate` and not `/v1/chat/completions`: only the native API takes and returns
token ids, which is what lets a child node continue its parent *exactly* (prompt ids + output
ids), so RadixAttention reuses the parent's KV instead of recomputing it, and it always reports
`meta_info.cached_tokens`.

How inputs become ids:
* `messages` are rendered with a client-side chat template (ChatML by default, see
  `chat_templates`), because the native API takes text;
* text (rendered or `prompt`) is tokenized by the server's own tokenizer through `/v1/tokenize`
  (newer SGLang and `ponder engine serve` offer it), then sent as `input_ids`, so every
  `Completion` carries `prompt_token_ids` for exact continuation. Servers without that endpoint
  get `text` instead and `prompt_token_ids` stays empty.

Batching rules (SGLang's): one `/generate` may carry many prompts, but all entries must share
the same `n`, so requests are grouped by `n`. A seeded request with `n > 1` is expanded into `n`
entries with seeds `seed + i` (SGLang would give all `n` copies the same seed); its shared
prompt is prefilled once first (`max_new_tokens: 0`), as SGLang itself does for native `n`.

The client is split by job: `_sglang_wire` (the entries, the `/generate` body and the answers read
back) and this module (tokenizing, grouping and posting them).
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import httpx

from ponder.backends._http import (
    Endpoint,
    JsonClient,
    error_message,
    expect_json,
    http_base_url,
    map_httpx_error,
    revalidate,
)
from ponder.backends._sglang_wire import (
    TOKENIZER_MODEL,
    Entry,
    Pending,
    Sample,
    bad_payload,
    completions,
    detokenize_body,
    generate_payload,
    json_object,
    parse_result,
    text_of,
    tokenize_body,
    tokens_of,
    uniform_groups,
)
from ponder.backends.base import BaseBackend, Capabilities, ChatMessage, Completion, GenerationRequest, Usage
from ponder.backends.chat_templates import ChatTemplate, chatml, resolve_template
from ponder.backends.errors import BackendConfigError, BackendResponseError
from ponder.backends.retry import RetryPolicy
from ponder.backends.settings import BackendSettings

DEFAULT_URL = "http://127.0.0.1:30000"


class SGLangBackend(BaseBackend):
    """Completions from an SGLang server (or `ponder engine serve`) over its native HTTP API.

    Args:
        url: base URL of the server, e.g. `http://127.0.0.1:30000`.
        timeout_s: read timeout for one request, in seconds.
        connect_timeout_s: seconds to wait for a TCP connection.
        max_retries: retries on connect errors, dropped connections and 5xx answers.
        chat_template: how `messages` become prompt text: a name from `chat_templates.TEMPLATES`
            or a callable `(messages, assistant_prefix) -> str`.
        top_k: SGLang `top_k` sent with every request (`None` = the server's default, -1 = off).
        stop_token_ids: token ids that end a sample, sent with every request.
        api_key: sent as a bearer token (SGLang's `--api-key`).
        transport: an httpx transport to use instead of the network (tests).

    Example:
        ```python
        async with SGLangBackend("http://127.0.0.1:30000") as backend:
            [[c]] = await backend.generate([GenerationRequest(prompt="2+2=", max_tokens=4)])
        ```
    """

    name = "sglang"

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 2,
        chat_template: str | ChatTemplate = chatml,
        top_k: int | None = None,
        stop_token_ids: Sequence[int] = (),
        api_key: str | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        base = http_base_url(url, server="SGLang")
        if top_k is not None and top_k != -1 and top_k < 1:
            raise BackendConfigError(f"top_k={top_k} is invalid for SGLang at {url}: use -1 (off) or >= 1")
        if any(t < 0 for t in stop_token_ids):
            raise BackendConfigError(f"stop_token_ids must be non-negative ids, got {list(stop_token_ids)}")
        if isinstance(chat_template, str):
            chat_template = resolve_template(chat_template)
        self.url = base
        self._template = chat_template
        self._top_k = top_k
        self._stop_token_ids = list(stop_token_ids)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._endpoint = Endpoint(
            base_url=self.url,
            timeout=httpx.Timeout(timeout_s, connect=connect_timeout_s),
            hint=f"is `ponder engine serve` or an SGLang server running at {self.url}?",
        )
        self._http = JsonClient(
            self._endpoint,
            policy=RetryPolicy(max_retries=max_retries),
            headers=self._headers,
            transport=transport,
        )
        self._can_tokenize: bool | None = None
        """Whether the server offers /v1/tokenize; `None` until the first text input asks."""
        self._broadcast_only = False
        """Set once the server refused a list of `sampling_params` (sglang-router does; SGLang reads it)."""
        self._sync_client: httpx.Client | None = None
        """For the blocking `tokenize`/`detokenize` conveniences only; the graph awaits the async ones."""

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> SGLangBackend:
        """Build from `[backend]` settings (kind = "sglang")."""
        return cls(
            settings.url or DEFAULT_URL,
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
            max_retries=settings.max_retries,
            api_key=settings.api_key,
            chat_template=settings.chat_template,
        )

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            logprobs=True,
            top_logprobs=True,
            n=True,
            token_ids=True,
            prefix_cache=True,
            seed=True,
            local_tokenizer=False,  # /v1/tokenize is a round trip
        )

    # -- text <-> ids -------------------------------------------------------------------------

    def render_chat(self, messages: Sequence[ChatMessage], assistant_prefix: str | None = None) -> str:
        return self._template(messages, assistant_prefix)

    async def _tokenize_prompts(self, texts: Sequence[str]) -> list[list[int]] | None:
        """Token ids of each prompt by the server's tokenizer, or `None` if it offers no /v1/tokenize."""
        if not texts or self._can_tokenize is False:
            return None if self._can_tokenize is False else []
        response = await self._http.request(
            "POST",
            "/v1/tokenize",
            {"model": TOKENIZER_MODEL, "prompt": list(texts), "add_special_tokens": True},
        )
        if 400 <= response.status_code < 500:
            # Absent (older SGLang) or shaped differently: fall back to sending text, once and for all.
            self._can_tokenize = False
            return None
        data = expect_json(response, self._endpoint.url("/v1/tokenize"))
        tokens = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(tokens, list) or len(tokens) != len(texts):
            raise bad_payload(self._endpoint.url("/v1/tokenize"), "`tokens` with one id list per prompt")
        self._can_tokenize = True
        return [[int(t) for t in ids] for ids in tokens]

    async def atokenize(self, text: str) -> list[int]:
        """Token ids of `text` by the server's /v1/tokenize, over the backend's one async client."""
        data = json_object(
            await self._http.json("POST", "/v1/tokenize", tokenize_body(text)), self._tokenize_url
        )
        return tokens_of(data, self._tokenize_url)

    async def adetokenize(self, token_ids: Sequence[int]) -> str:
        """Text of `token_ids` by the server's /v1/detokenize."""
        data = await self._http.json("POST", "/v1/detokenize", detokenize_body(token_ids))
        return text_of(json_object(data, self._detokenize_url), self._detokenize_url)

    def tokenize(self, text: str) -> list[int]:
        """Blocking /v1/tokenize, for callers outside the event loop (inside it, await `atokenize`)."""
        return tokens_of(self._sync_post("/v1/tokenize", tokenize_body(text)), self._tokenize_url)

    def detokenize(self, token_ids: Sequence[int]) -> str:
        """Blocking /v1/detokenize, for callers outside the event loop."""
        data = self._sync_post("/v1/detokenize", detokenize_body(token_ids))
        return text_of(data, self._detokenize_url)

    @property
    def _tokenize_url(self) -> str:
        return self._endpoint.url("/v1/tokenize")

    @property
    def _detokenize_url(self) -> str:
        return self._endpoint.url("/v1/detokenize")

    def _sync_post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """POST over the backend's one blocking client, made on first use and closed by `aclose`."""
        url = self._endpoint.url(path)
        if self._sync_client is None:
            self._sync_client = httpx.Client(
                timeout=self._endpoint.timeout, headers=self._headers, trust_env=False
            )
        try:
            response = self._sync_client.post(url, json=payload)
        except httpx.HTTPError as exc:
            error, _ = map_httpx_error(exc, url=url, endpoint=self._endpoint)
            raise error from exc
        return json_object(expect_json(response, url), url)

    # -- server endpoints -----------------------------------------------------------------------

    async def health(self) -> None:
        """Return if `/health` answers 200, else raise `BackendUnavailableError` or `BackendResponseError`."""
        response = await self._http.request("GET", "/health")
        if response.status_code != 200:
            raise BackendResponseError(
                f"{self._endpoint.url('/health')} answered {response.status_code}: the server is not healthy",
                url=self._endpoint.url("/health"),
                status_code=response.status_code,
            )

    async def model_info(self) -> dict[str, Any]:
        """`/get_model_info`: model_path, tokenizer_path, is_generation, …"""
        data = await self._http.json("GET", "/get_model_info")
        if not isinstance(data, dict):
            raise bad_payload(self._endpoint.url("/get_model_info"), "a JSON object")
        return data

    async def server_info(self) -> dict[str, Any]:
        """`/get_server_info`, falling back to `/server_info` on servers older than the rename."""
        response = await self._http.request("GET", "/get_server_info")
        path = "/get_server_info"
        if response.status_code == 404:
            path = "/server_info"
            response = await self._http.request("GET", path)
        data = expect_json(response, self._endpoint.url(path))
        if not isinstance(data, dict):
            raise bad_payload(self._endpoint.url(path), "a JSON object")
        return data

    async def flush_cache(self) -> None:
        """Empty the server's prefix cache (`/flush_cache`); SGLang refuses while requests run."""
        response = await self._http.request("POST", "/flush_cache")
        if response.status_code != 200:
            url = self._endpoint.url("/flush_cache")
            raise BackendResponseError(
                f"{url} refused to flush ({response.status_code}: {error_message(response.text)}); "
                "it only flushes when no request is running",
                url=url,
                status_code=response.status_code,
            )

    # -- generation -----------------------------------------------------------------------------

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        requests = revalidate(requests, self.url)
        if not requests:
            return []
        entries, prompt_ids = await self._entries(requests)
        pending = [Pending(prompt_ids=ids) for ids in prompt_ids]

        # Prefill each input that several entries share once, so they all hit the radix cache.
        counts: dict[tuple[Any, ...], list[Entry]] = defaultdict(list)
        for entry in entries:
            counts[entry.key].append(entry)
        shared = [group[0] for group in counts.values() if len(group) > 1]
        if shared:
            warmed = await self._post_generate(shared, warm=True)
            for entry, sample in zip(shared, warmed, strict=True):
                pending[entry.request].extra_recomputed += max(0, sample.prompt_tokens - sample.cached_tokens)

        by_n: dict[int, list[Entry]] = defaultdict(list)
        for entry in entries:
            by_n[entry.n].append(entry)
        groups = list(by_n.values())
        answers = await asyncio.gather(*(self._post_generate(group) for group in groups))
        for group, samples in zip(groups, answers, strict=True):
            for i, entry in enumerate(group):
                pending[entry.request].samples.extend(samples[i * entry.n : (i + 1) * entry.n])
        return [completions(p) for p in pending]

    async def warm(self, requests: Sequence[GenerationRequest]) -> Usage:
        """Prefill each distinct input once (`max_new_tokens: 0`) so siblings sent next reuse it."""
        requests = revalidate(requests, self.url)
        if not requests:
            return Usage()
        entries, _ = await self._entries(requests, expand=False)
        unique = list({entry.key: entry for entry in entries}.values())
        samples = await self._post_generate(unique, warm=True)
        return Usage(
            prompt_tokens=sum(s.prompt_tokens for s in samples),
            cached_tokens=sum(s.cached_tokens for s in samples),
        )

    async def aclose(self) -> None:
        if self._sync_client is not None:
            self._sync_client.close()
            self._sync_client = None
        await self._http.aclose()

    async def _entries(
        self, requests: Sequence[GenerationRequest], *, expand: bool = True
    ) -> tuple[list[Entry], list[list[int]]]:
        """Turn requests into batch entries (text tokenized by the server where it can)."""
        texts: dict[int, str] = {}
        for i, req in enumerate(requests):
            if req.messages is not None:
                texts[i] = self.render_chat(req.messages, req.assistant_prefix)
            elif req.prompt is not None:
                texts[i] = req.prompt
        ids_by_index: dict[int, list[int]] = {}
        if texts:
            tokenized = await self._tokenize_prompts(list(texts.values()))
            if tokenized is not None:
                ids_by_index = dict(zip(texts, tokenized, strict=True))
        entries: list[Entry] = []
        prompt_ids: list[list[int]] = []
        for i, req in enumerate(requests):
            ids = list(req.token_ids) if req.token_ids is not None else ids_by_index.get(i)
            text = None if ids is not None else texts[i]
            prompt_ids.append(ids or [])
            if expand and req.seed is not None and req.n > 1:
                entries.extend(Entry(i, ids, text, 1, req.seed + k, req) for k in range(req.n))
            else:
                entries.append(Entry(i, ids, text, req.n, req.seed, req))
        return entries, prompt_ids

    async def _post_generate(self, entries: Sequence[Entry], *, warm: bool = False) -> list[Sample]:
        """POST one `/generate` per input kind (ids or text) and return samples in entry order.

        A server that reads one `sampling_params` object per request (sglang-router answers a list
        with 422) gets, from then on, one broadcast body per distinct params, posted together.
        """
        with_ids = [e for e in entries if e.input_ids is not None]
        if with_ids and len(with_ids) < len(entries):
            return await self._post_groups(
                entries, [with_ids, [e for e in entries if e.input_ids is None]], warm
            )
        broadcast = self._broadcast_only
        top_k, stop_ids = self._top_k, self._stop_token_ids
        payload = generate_payload(
            entries, top_k=top_k, stop_token_ids=stop_ids, warm=warm, broadcast=broadcast
        )
        per_entry = isinstance(payload["sampling_params"], list)
        if per_entry and broadcast:
            groups = uniform_groups(entries, top_k=top_k, stop_token_ids=stop_ids, warm=warm)
            return await self._post_groups(entries, groups, warm)
        url = self._endpoint.url("/generate")
        response = await self._http.request("POST", "/generate", payload)
        if per_entry and response.status_code == 422 and "sampling_params" in response.text:
            self._broadcast_only = True
            return await self._post_generate(entries, warm=warm)
        data = expect_json(response, url)
        results = [data] if isinstance(data, dict) else data
        expected = sum(1 if warm else e.n for e in entries)
        if not isinstance(results, list) or len(results) != expected:
            got = len(results) if isinstance(results, list) else type(results).__name__
            raise bad_payload(url, f"{expected} results (got {got})")
        return [parse_result(r, url) for r in results]

    async def _post_groups(
        self, entries: Sequence[Entry], groups: list[list[Entry]], warm: bool
    ) -> list[Sample]:
        """Post each group of `entries` at once, and return the samples in the order of `entries`."""
        answers = await asyncio.gather(*(self._post_generate(group, warm=warm) for group in groups))
        by_entry: dict[int, list[Sample]] = {}
        for group, samples in zip(groups, answers, strict=True):
            rest = iter(samples)
            for e in group:
                by_entry[id(e)] = [next(rest) for _ in range(1 if warm else e.n)]
        return [s for e in entries for s in by_entry[id(e)]]
