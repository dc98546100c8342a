"""The reward server's settings and its HTTP client, shared by both PRM protocols (`prm_http`).

Every failure to use the server (unreachable, too slow, an error status, a payload that is not the
configured protocol's) becomes one `RewardServerError` whose message names the URL and the setting
to change. `PrmSettings` embeds `RewardServerSettings`, so every settings load (and `ponder --help`)
imports this module: httpx is imported only where a client is made or an error classified.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ponder.backends.retry import RetryableStatus, RetryPolicy, server_error, with_retries
from ponder.verifiers.errors import VerifierError
from ponder.verifiers.step_format import PLAIN, QWEN_MATH_PRM, StepFormat, get_step_format

if TYPE_CHECKING:
    import httpx

RewardProtocol = Literal["sglang_classify", "vllm_pooling"]
RewardMapping = Literal["sigmoid", "identity"]
StepOutput = Literal["probs", "logits"]


class RewardServerError(VerifierError):
    """The reward server could not be used: unreachable, too slow, an error status, or a payload
    that does not match the configured protocol. `url` and `status_code` are kept for callers."""

    def __init__(self, message: str, *, url: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status_code = status_code


class RewardServerSettings(BaseModel):
    """Where the reward model is served, how to talk to it, and how its numbers become scores."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    """Base URL of the server, e.g. http://127.0.0.1:30000 (the endpoint path is added)."""
    protocol: RewardProtocol = "sglang_classify"
    """`sglang_classify` (sequence reward per step prefix) or `vllm_pooling` (step-tag PRM)."""
    model: str | None = None
    """Model name sent as `model`; `None` = omitted (the server's only model)."""
    step_format: StepFormat | None = None
    """How steps are laid out; a `StepFormat` or its name. `None` = `plain` for
    `sglang_classify`, `qwen-math-prm` for `vllm_pooling`."""
    reward_mapping: RewardMapping = "sigmoid"
    """`sglang_classify`: `sigmoid` for raw logits (most reward heads), `identity` for models
    that already output a probability (values outside [0, 1] are then an error)."""
    reward_offset: float = 0.0
    """`sigmoid` mapping: score = sigmoid((reward - offset) / temperature)."""
    reward_temperature: float = Field(default=1.0, gt=0)
    """`sigmoid` mapping: spreads or sharpens rewards whose scale is not ~1."""
    step_output: StepOutput = "probs"
    """`vllm_pooling`: rows are probabilities (vLLM's step pooler applies softmax by default)
    or raw two-class logits (softmax applied here)."""
    pooling_task: str | None = None
    """`vllm_pooling`: sent as `task` when set (newer vLLM names per-token pooling tasks)."""
    score_all_prefixes: bool = False
    """`sglang_classify`: also score every earlier prefix of each chain and report them in
    `evidence["step_scores"]` (cheap: the prefixes share the radix cache)."""
    timeout_s: float = Field(default=60.0, gt=0)
    """Seconds to wait for one answer before reporting the server too slow."""
    connect_timeout_s: float = Field(default=5.0, gt=0)
    """Seconds to wait for a TCP connection before reporting the server unreachable."""
    max_retries: int = Field(default=2, ge=0, le=10)
    """Retries after connect errors, 429 and 5xx answers, with exponential backoff."""
    backoff_s: float = Field(default=0.5, ge=0)
    """First retry delay in seconds; doubles each retry."""

    @field_validator("step_format", mode="before")
    @classmethod
    def _named_format(cls, value: object) -> object:
        return get_step_format(value) if isinstance(value, str) else value

    def resolved_step_format(self) -> StepFormat:
        """The layout in use, with the protocol's default filled in."""
        if self.step_format is not None:
            return self.step_format
        return QWEN_MATH_PRM if self.protocol == "vllm_pooling" else PLAIN


class RewardClient:
    """POSTs JSON with explicit timeouts and the backends' retry loop (429 and 5xx are retried too);
    every failure becomes a `RewardServerError`."""

    def __init__(self, settings: RewardServerSettings, client: httpx.AsyncClient | None) -> None:
        self._settings = settings
        self._base = settings.url.rstrip("/")
        self._own = client is None
        # Uncapped: `backoff_s` and `max_retries` (at most 10) are what bound the waits here.
        self._policy = RetryPolicy(
            max_retries=settings.max_retries, backoff_s=settings.backoff_s, max_backoff_s=math.inf
        )
        import httpx

        self._client = client or httpx.AsyncClient(
            timeout=httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s)
        )

    async def post(self, path: str, payload: dict[str, Any]) -> Any:
        url = f"{self._base}{path}"

        async def attempt() -> httpx.Response:
            response = await self._client.post(url, json=payload)
            if response.status_code == 429 or response.status_code >= 500:
                raise server_error(response)
            return response

        response = await with_retries(
            attempt,
            policy=self._policy,
            map_error=lambda exc: self._map_error(exc, url),
            note_attempts=False,
        )
        if response.status_code >= 400:
            raise self._status_error(url, response.status_code, response.text)
        try:
            return response.json()
        except ValueError as exc:
            raise RewardServerError(
                f"reward server {url} returned non-JSON: {response.text[:200]!r}; "
                f"is protocol {self._settings.protocol!r} right for this server?",
                url=url,
                status_code=response.status_code,
            ) from exc

    def _map_error(self, exc: Exception, url: str) -> tuple[RewardServerError, bool]:
        """A failed attempt → our error, and whether it is worth a retry.

        A retryable error is only raised once the retries are spent, so its message can say how
        many attempts were made.
        """
        import httpx

        s = self._settings
        attempts = s.max_retries + 1
        if isinstance(exc, RetryableStatus):
            return self._status_error(url, exc.status_code, exc.body), True
        if isinstance(exc, httpx.ConnectTimeout):
            msg = (
                f"reward server {url} unreachable: no connection within {s.connect_timeout_s:g}s after "
                f"{attempts} attempts; check the host and port or raise connect_timeout_s"
            )
            return RewardServerError(msg, url=url), True
        if isinstance(exc, httpx.TimeoutException):
            # The server took the request: resending it would only double the wait.
            msg = (
                f"reward server {url} did not answer within {s.timeout_s:g}s "
                f"({type(exc).__name__}); raise timeout_s or check the server's load"
            )
            return RewardServerError(msg, url=url), False
        if isinstance(exc, httpx.TransportError):
            msg = (
                f"reward server {url} unreachable after {attempts} attempts ({type(exc).__name__}: "
                f"{exc}); start it (e.g. `python -m sglang.launch_server --model-path <reward model> "
                "--is-embedding`) or fix the URL"
            )
            return RewardServerError(msg, url=url), True
        raise exc

    def _status_error(self, url: str, status_code: int, body: str) -> RewardServerError:
        s = self._settings
        return RewardServerError(
            f"reward server {url} answered HTTP {status_code}: {body[:200]!r}; "
            f"check that it serves a reward model for protocol {s.protocol!r} (model={s.model!r})",
            url=url,
            status_code=status_code,
        )

    def shape_error(self, path: str, problem: str) -> RewardServerError:
        url = f"{self._base}{path}"
        return RewardServerError(
            f"reward server {url} returned an unexpected payload ({problem}); "
            f"is protocol {self._settings.protocol!r} right for this server?",
            url=url,
        )

    async def aclose(self) -> None:
        if self._own:
            await self._client.aclose()
