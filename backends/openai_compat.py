"""Any OpenAI-compatible server (vLLM, SGLang's `/v1`, llama.cpp servers, OpenAI) as a `BaseBackend`.

One adapter, many providers: the server is a base URL, a key and a model name. Chat messages go
to `/chat/completions`; raw text and token ids go to `/completions` (token ids only where the
server takes them: vLLM and SGLang do, llama.cpp's Python server does not, so that capability
is configured, not guessed).

Features are used when present and emulated when absent, so callers never need to know which
server is behind the URL:
* `n > 1`: asked natively first; a server that answers with fewer choices (llama.cpp ignores
  `n`) is remembered and the missing samples come from parallel requests with seeds `seed + i`;
* logprobs: requested when asked; a server that omits them yields `Completion.logprobs = None`;
* `usage.prompt_tokens_details.cached_tokens` is reported when the server sends it.

The SDK's own retries are off: `retry.with_retries` applies the same bounded backoff and the same
one-line errors as the SGLang client.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import openai
from openai import AsyncOpenAI

from ponder.backends._http import http_base_url, revalidate
from ponder.backends.base import (
    BaseBackend,
    Capabilities,
    Completion,
    FinishReason,
    GenerationRequest,
    TokenLogprob,
    Usage,
)
from ponder.backends.errors import (
    BackendConfigError,
    BackendError,
    BackendResponseError,
    BackendUnavailableError,
    ModelNotFoundError,
)
from ponder.backends.retry import RetryPolicy, with_retries
from ponder.backends.settings import BackendSettings

DEFAULT_CAPABILITIES = Capabilities(
    logprobs=True, top_logprobs=True, n=True, token_ids=False, prefix_cache=False, seed=True
)
"""What is assumed until the server shows otherwise (`n`) or the caller configures it."""


class OpenAICompatBackend(BaseBackend):
    """Completions from an OpenAI-compatible HTTP API through the official `openai` SDK.

    Args:
        base_url: the API root including `/v1`, e.g. `http://127.0.0.1:8000/v1`.
        model: model name; `None` = the first one `GET /models` lists.
        api_key: bearer key; `None` = `OPENAI_API_KEY`, else a placeholder local servers accept.
        timeout_s: read timeout for one request, in seconds.
        connect_timeout_s: seconds to wait for a TCP connection.
        max_retries: retries on connect errors, 429 and 5xx answers.
        capabilities: what the server supports, when you know better than the defaults
            (e.g. `token_ids=True` for vLLM/SGLang); given capabilities are not re-discovered.
        continue_final_message: the server honours vLLM/SGLang's `continue_final_message`, which
            `assistant_prefix` needs (otherwise such requests are refused before sending).
        max_concurrency: requests in flight at once for one `generate` call.
    """

    name = "openai"

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None = None,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        connect_timeout_s: float = 5.0,
        max_retries: int = 2,
        capabilities: Capabilities | None = None,
        continue_final_message: bool = False,
        max_concurrency: int = 16,
    ) -> None:
        base = http_base_url(base_url, server="OpenAI-compatible")
        if max_concurrency < 1:
            raise BackendConfigError(f"max_concurrency must be at least 1, got {max_concurrency}")
        self.base_url = base
        self.model = model
        self._timeout = openai.Timeout(timeout_s, connect=connect_timeout_s)
        self._client = AsyncOpenAI(
            base_url=self.base_url,
            api_key=api_key or os.environ.get("OPENAI_API_KEY") or "not-needed",
            timeout=self._timeout,
            max_retries=0,
        )
        self._policy = RetryPolicy(max_retries=max_retries)
        self._configured = capabilities
        self._caps = replace(capabilities or DEFAULT_CAPABILITIES, continue_prefix=continue_final_message)
        self._continue_final = continue_final_message
        self._limit = asyncio.Semaphore(max_concurrency)
        self._model_lock = asyncio.Lock()

    @classmethod
    def from_settings(cls, settings: BackendSettings) -> OpenAICompatBackend:
        """Build from `[backend]` settings (kind = "openai"); the URL is required."""
        if not settings.url:
            raise BackendConfigError(
                "backend.kind=openai needs backend.url, e.g. http://127.0.0.1:8000/v1 "
                "(set PONDER_BACKEND_URL or [backend] url in ponder.toml)"
            )
        return cls(
            settings.url,
            model=settings.model,
            api_key=settings.api_key,
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
            max_retries=settings.max_retries,
            continue_final_message=settings.continue_final_message,
        )

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    async def aclose(self) -> None:
        await self._client.close()

    # -- plumbing -------------------------------------------------------------------------------

    def _where(self) -> str:
        t = self._timeout
        return f"{self.base_url} (connect timeout {t.connect:g}s, read timeout {t.read:g}s)"

    def _map_error(self, exc: Exception) -> tuple[BackendError, bool]:
        """SDK exceptions → ours, plus whether the failure is worth a retry."""
        model = self.model or "?"
        if isinstance(exc, openai.APITimeoutError):
            msg = (
                f"no answer from {self._where()} in time; the server may be overloaded, "
                "or raise backend.timeout_s"
            )
            return BackendUnavailableError(msg, url=self.base_url), False
        if isinstance(exc, openai.APIConnectionError):
            cause = " ".join(str(exc.__cause__ or exc).split())
            msg = (
                f"cannot connect to {self._where()}: {cause}; is the OpenAI-compatible server running "
                f"at {self.base_url} (the URL usually ends in /v1)?"
            )
            return BackendUnavailableError(msg, url=self.base_url), True
        if isinstance(exc, openai.APIStatusError):
            status = exc.status_code
            text = " ".join(str(exc.message).split())[:300]
            if status in (401, 403):
                msg = (
                    f"{self.base_url} rejected the API key ({status}: {text}); "
                    "set backend.api_key or OPENAI_API_KEY"
                )
                return BackendConfigError(msg), False
            if status == 404 and "model" in text.lower():
                msg = (
                    f"model {model!r} not found at {self.base_url} ({text}); "
                    f"pick one from GET {self.base_url}/models"
                )
                return ModelNotFoundError(msg), False
            msg = f"{self.base_url} answered {status} for model {model!r}: {text}"
            retry = status >= 500 or status == 429
            return BackendResponseError(msg, url=self.base_url, status_code=status), retry
        if isinstance(exc, openai.OpenAIError):
            msg = (
                f"{self.base_url} answered with a payload the SDK cannot read ({exc}); "
                "is it OpenAI-compatible?"
            )
            return BackendResponseError(msg, url=self.base_url), False
        raise exc

    async def _call(self, fn: Any, /, **kwargs: Any) -> Any:
        async def attempt() -> Any:
            async with self._limit:
                return await fn(**kwargs)

        return await with_retries(attempt, policy=self._policy, map_error=self._map_error)

    async def resolve_model(self) -> str:
        """The model name to send: the configured one, else the first that `/models` lists."""
        async with self._model_lock:
            if self.model is None:
                page = await self._call(self._client.models.list)
                ids = [m.id for m in getattr(page, "data", [])]
                if not ids:
                    raise ModelNotFoundError(
                        f"{self.base_url}/models lists no model; "
                        "start the server with a model or set backend.model"
                    )
                self.model = ids[0]
            return self.model

    # -- generation -----------------------------------------------------------------------------

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        requests = revalidate(requests, self.base_url)
        for req in requests:
            self._check_supported(req)
        if not requests:
            return []
        model = await self.resolve_model()
        return list(await asyncio.gather(*(self._one(req, model) for req in requests)))

    def _check_supported(self, req: GenerationRequest) -> None:
        if req.token_ids is not None and not self._caps.token_ids:
            raise BackendConfigError(
                f"{self.base_url} is not known to accept token-id prompts; pass "
                "capabilities=Capabilities(..., token_ids=True) if it does (vLLM, SGLang), or send text"
            )
        if req.assistant_prefix is not None and not self._continue_final:
            raise BackendConfigError(
                f"assistant_prefix needs a server that continues the final message (vLLM, SGLang: pass "
                f"continue_final_message=True); {self.base_url} is not known to, so send a raw prompt instead"
            )

    async def _one(self, req: GenerationRequest, model: str) -> list[Completion]:
        if req.max_tokens == 0:
            # No OpenAI endpoint prefills without generating; there is nothing to warm either.
            return [Completion(text="", token_ids=[], finish_reason="length") for _ in range(req.n)]
        emulate = req.n > 1 and not self._caps.n
        first = await self._request(req, model, 1 if emulate else req.n, req.seed)
        missing = req.n - len(first)
        if missing <= 0:
            return first[: req.n]
        if req.n > 1 and self._configured is None and self._caps.n:
            self._caps = replace(self._caps, n=False)  # the server ignored n: emulate from now on
        have = len(first)
        seeds = [None if req.seed is None else req.seed + have + i for i in range(missing)]
        rest = await asyncio.gather(*(self._request(req, model, 1, s) for s in seeds))
        return first + [c for row in rest for c in row]

    async def _request(
        self, req: GenerationRequest, model: str, n: int, seed: int | None
    ) -> list[Completion]:
        common: dict[str, Any] = {
            "model": model,
            "n": n,
            "temperature": req.temperature,
            "top_p": req.top_p,
            "max_tokens": req.max_tokens,
        }
        if req.stop:
            common["stop"] = list(req.stop)
        if seed is not None:
            common["seed"] = seed
        if req.messages is not None:
            messages = [{"role": m.role, "content": m.content} for m in req.messages]
            extra: dict[str, Any] = {}
            if req.assistant_prefix is not None:
                messages.append({"role": "assistant", "content": req.assistant_prefix})
                extra = {"continue_final_message": True, "add_generation_prompt": False}
            if req.logprobs:
                common["logprobs"] = True
                if req.top_logprobs:
                    common["top_logprobs"] = req.top_logprobs
            response = await self._call(
                self._client.chat.completions.create, messages=messages, extra_body=extra or None, **common
            )
            texts = [
                (c.message.content or "", c.finish_reason, _chat_logprobs(c.logprobs))
                for c in response.choices
            ]
        else:
            if req.logprobs:
                common["logprobs"] = req.top_logprobs
            prompt: Any = req.prompt if req.prompt is not None else list(req.token_ids or [])
            response = await self._call(self._client.completions.create, prompt=prompt, **common)
            texts = [
                (c.text or "", c.finish_reason, _completion_logprobs(c.logprobs)) for c in response.choices
            ]
        usage = _usage(response.usage)
        if usage.cached_tokens and not self._caps.prefix_cache and self._configured is None:
            self._caps = replace(self._caps, prefix_cache=True)
        out = []
        for k, (text, finish, logprobs) in enumerate(texts):
            out.append(
                Completion(
                    text=text,
                    token_ids=[],
                    finish_reason=_finish(finish),
                    prompt_token_ids=list(req.token_ids or []),
                    logprobs=logprobs if req.logprobs else None,
                    # One response's usage covers all its choices: book it on the first.
                    usage=usage if k == 0 else Usage(),
                )
            )
        return out


def _finish(reason: str | None) -> FinishReason:
    return "length" if reason == "length" else "abort" if reason == "abort" else "stop"


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) if details is not None else None
    return Usage(
        prompt_tokens=int(usage.prompt_tokens or 0),
        completion_tokens=int(usage.completion_tokens or 0),
        cached_tokens=int(cached or 0),
    )


def _chat_logprobs(logprobs: Any) -> list[TokenLogprob] | None:
    content = getattr(logprobs, "content", None) if logprobs is not None else None
    if not content:
        return None
    return [
        TokenLogprob(
            token_id=None,
            text=item.token,
            logprob=float(item.logprob),
            top={t.token: float(t.logprob) for t in item.top_logprobs or []},
        )
        for item in content
    ]


def _completion_logprobs(logprobs: Any) -> list[TokenLogprob] | None:
    if logprobs is None or not getattr(logprobs, "tokens", None):
        return None
    tops = logprobs.top_logprobs or []
    return [
        TokenLogprob(
            token_id=None,
            text=token,
            logprob=float(lp if lp is not None else float("-inf")),
            top={k: float(v) for k, v in (tops[i] or {}).items()} if i < len(tops) else {},
        )
        for i, (token, lp) in enumerate(zip(logprobs.tokens, logprobs.token_logprobs or [], strict=False))
    ]
