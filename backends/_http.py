"""Error mapping and the JSON client shared by the HTTP backends (SGLang native, OpenAI-compatible).

One policy for both clients (the loop itself is `retry.with_retries`): connect errors, dropped
connections and 5xx answers are retried a bounded number of times with exponential backoff; read
timeouts are not (the server is busy generating, and a retry would queue the same work twice).
Every failure leaves as a `BackendError` whose one-line message names the URL, the timeout and
what to check.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx
from pydantic import ValidationError

from ponder.backends.base import GenerationRequest
from ponder.backends.errors import (
    BackendConfigError,
    BackendError,
    BackendResponseError,
    BackendUnavailableError,
)
from ponder.backends.retry import RetryableStatus, RetryPolicy, server_error, with_retries

RETRY_STATUS = frozenset({500, 502, 503, 504})
"""Statuses that mean 'the server is there but failed this time'; 4xx are the caller's fault."""


def http_base_url(url: str, *, server: str) -> str:
    """`url` without its trailing slash; one without an http(s) scheme is a configuration error."""
    if not url.startswith(("http://", "https://")):
        raise BackendConfigError(f"{server} URL {url!r} must start with http:// or https://")
    return url.rstrip("/")


@dataclass(frozen=True, slots=True, kw_only=True)
class Endpoint:
    """Where a server is and what to tell the user when it does not answer."""

    base_url: str
    timeout: httpx.Timeout
    hint: str
    """Appended to unavailability errors, e.g. "is `ponder engine serve` or sglang running at URL?"."""

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def describe_timeouts(self) -> str:
        return f"connect timeout {_fmt(self.timeout.connect)}, read timeout {_fmt(self.timeout.read)}"


def _fmt(seconds: float | None) -> str:
    return "none" if seconds is None else f"{seconds:g}s"


def error_message(body: str, limit: int = 300) -> str:
    """The server's own error text, from SGLang's/OpenAI's `{"error": {"message"}}` or FastAPI's `detail`."""
    text = body
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data.get("detail", data.get("message")))
        if isinstance(err, dict):
            err = err.get("message", err)
        if err is not None:
            text = err if isinstance(err, str) else json.dumps(err)
    text = " ".join(text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def map_httpx_error(exc: Exception, *, url: str, endpoint: Endpoint) -> tuple[BackendError, bool]:
    """Translate an httpx failure (or a retryable status) into our error, and say whether to retry."""
    where = f"{url} ({endpoint.describe_timeouts()})"
    if isinstance(exc, RetryableStatus):
        msg = f"server error {exc.status_code} from {url}: {error_message(exc.body)}"
        return BackendResponseError(msg, url=url, status_code=exc.status_code), True
    if isinstance(exc, httpx.ConnectTimeout):
        msg = f"no connection to {where} within the connect timeout; {endpoint.hint}"
        return BackendUnavailableError(msg, url=url), True
    if isinstance(exc, httpx.ConnectError):
        msg = f"cannot connect to {where}: {_reason(exc)}; {endpoint.hint}"
        return BackendUnavailableError(msg, url=url), True
    if isinstance(exc, httpx.ReadTimeout | httpx.WriteTimeout | httpx.PoolTimeout):
        msg = (
            f"no answer from {where} in time; the server may be overloaded, or raise the read timeout "
            "(backend.timeout_s / PONDER_BACKEND_TIMEOUT_S)"
        )
        return BackendUnavailableError(msg, url=url), False
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        msg = f"connection to {url} dropped mid-request ({_reason(exc)}); {endpoint.hint}"
        return BackendUnavailableError(msg, url=url), True
    if isinstance(exc, httpx.HTTPError):
        msg = f"request to {url} failed: {_reason(exc)}; {endpoint.hint}"
        return BackendUnavailableError(msg, url=url), False
    raise exc


def _reason(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


class JsonClient:
    """One long-lived `httpx.AsyncClient` for one server, with the retry policy and error mapping applied.

    Args:
        endpoint: base URL, timeouts and the hint for unavailability errors.
        policy: retry policy for transient failures.
        headers: sent with every request (e.g. an API key).
        transport: an httpx transport to use instead of the network (tests of the mapping itself).
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        policy: RetryPolicy,
        headers: dict[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.policy = policy
        self._client = httpx.AsyncClient(
            base_url=endpoint.base_url.rstrip("/"),
            timeout=endpoint.timeout,
            headers=headers,
            transport=transport,
            # Generation requests are long; keep a few idle connections to skip reconnects.
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
            trust_env=False,
        )

    async def request(self, method: str, path: str, payload: Any = None) -> httpx.Response:
        """Send one request with retries; returns any answer below 500 (callers judge 4xx themselves)."""
        url = self.endpoint.url(path)

        async def attempt() -> httpx.Response:
            response = await self._client.request(method, path, json=payload)
            if response.status_code in RETRY_STATUS:
                raise server_error(response)
            return response

        return await with_retries(
            attempt,
            policy=self.policy,
            map_error=lambda exc: map_httpx_error(exc, url=url, endpoint=self.endpoint),
        )

    async def json(self, method: str, path: str, payload: Any = None) -> Any:
        """Send one request and parse a 2xx JSON answer; 4xx and bad JSON become `BackendResponseError`."""
        response = await self.request(method, path, payload)
        return expect_json(response, self.endpoint.url(path))

    async def aclose(self) -> None:
        await self._client.aclose()


def expect_json(response: httpx.Response, url: str) -> Any:
    """The JSON body of an answer below 400; an error status or a body that is not JSON raises
    `BackendResponseError` naming `url`."""
    if response.status_code >= 400:
        raise BackendResponseError(
            f"{url} answered {response.status_code}: {error_message(response.text)}",
            url=url,
            status_code=response.status_code,
        )
    try:
        return response.json()
    except ValueError as exc:
        snippet = error_message(response.text, limit=80)
        raise BackendResponseError(
            f"{url} answered {response.status_code} with a body that is not JSON ({snippet!r}); "
            "is this really the server you meant?",
            url=url,
            status_code=response.status_code,
        ) from exc


def revalidate(requests: Sequence[GenerationRequest], url: str) -> list[GenerationRequest]:
    """Re-check requests at the boundary, so ones built with `model_construct` fail before any request."""
    out = []
    for req in requests:
        try:
            out.append(GenerationRequest.model_validate(req.model_dump()))
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "request"
            raise BackendConfigError(
                f"invalid generation request for {url}: {where}: {first['msg']}"
            ) from exc
    return out
