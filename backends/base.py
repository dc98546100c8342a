"""The one interface every generation backend implements.

A backend turns a batch of `GenerationRequest`s into completions. Requests in one batch may
share a prefix (siblings of one search node); backends that can exploit that (SGLang's radix
cache, the embedded engine's KV state cache) do, and report reused prompt tokens in
`Usage.cached_tokens`.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

Role = Literal["system", "user", "assistant"]


class ChatMessage(BaseModel):
    """One chat turn."""

    model_config = ConfigDict(frozen=True)
    role: Role
    content: str


class GenerationRequest(BaseModel):
    """What to generate. Exactly one of `messages`, `prompt`, `token_ids` is the input.

    `messages` are rendered with the model's chat template. `prompt` is raw text (already
    templated). `token_ids` continues a parent: the parent's prompt ids + output ids (+ new ids),
    which lets prefix caches match exactly. `assistant_prefix` is text appended after the chat
    template's assistant header (so the model continues a partial answer); it is only valid
    with `messages`.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    messages: list[ChatMessage] | None = None
    prompt: str | None = None
    token_ids: list[int] | None = None
    assistant_prefix: str | None = None
    n: int = Field(default=1, ge=1, le=256)
    """Number of independent samples for this input."""
    temperature: float = Field(default=0.7, ge=0.0, le=5.0)
    """0 means greedy."""
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    max_tokens: int = Field(default=256, ge=0, le=131072)
    """Maximum new tokens; 0 = prefill only (warms a prefix cache)."""
    stop: list[str] = Field(default_factory=list)
    """Stop strings; the matched string is not included in `Completion.text`."""
    seed: int | None = None
    """Sampling seed; `None` means nondeterministic. Sample i of n uses `seed + i`."""
    logprobs: bool = False
    """Return the chosen tokens' log-probabilities."""
    top_logprobs: int = Field(default=0, ge=0, le=20)
    """How many alternatives per position to return with the logprobs (0 = none)."""

    @model_validator(mode="after")
    def _one_input(self) -> GenerationRequest:
        given = [x is not None for x in (self.messages, self.prompt, self.token_ids)]
        if sum(given) != 1:
            raise ValueError("give exactly one of messages, prompt or token_ids")
        if self.assistant_prefix is not None and self.messages is None:
            raise ValueError("assistant_prefix needs messages (it continues the assistant turn)")
        if self.top_logprobs and not self.logprobs:
            raise ValueError("top_logprobs needs logprobs=True")
        return self


@dataclass(slots=True)
class TokenLogprob:
    """Log-probability of one generated token, with optional alternatives."""

    token_id: int | None
    text: str | None
    logprob: float
    top: dict[str, float] = field(default_factory=dict)
    """Alternatives at this position: token text -> logprob (empty unless asked)."""


FinishReason = Literal["stop", "length", "abort"]


@dataclass(slots=True)
class Usage:
    """Token accounting. `cached_tokens` counts prompt tokens that were not recomputed."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.cached_tokens + other.cached_tokens,
        )


@dataclass(slots=True)
class Completion:
    """One sample.

    `prompt_token_ids` + `token_ids` is what a child request sends as `token_ids` to continue
    this completion; `prompt_token_ids` is empty where the backend cannot tokenize.
    """

    text: str
    token_ids: list[int]
    finish_reason: FinishReason
    prompt_token_ids: list[int] = field(default_factory=list)
    logprobs: list[TokenLogprob] | None = None
    usage: Usage = field(default_factory=Usage)
    """Usage attributed to this sample (prompt tokens are attributed to the first sample of a request)."""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a backend can do natively, so callers degrade gracefully instead of failing."""

    logprobs: bool
    """Per-token logprobs of generated tokens."""
    top_logprobs: bool
    """Alternatives per position (needed to read P(yes) from one token)."""
    n: bool
    """`n > 1` in one request (otherwise the backend emulates it with parallel requests)."""
    token_ids: bool
    """Accepts token-id input (exact continuation of a parent)."""
    prefix_cache: bool
    """Reuses KV for shared prefixes across requests."""
    seed: bool
    """Honours `seed` (same seed, same output)."""
    sampling: bool = True
    """Samples at temperature > 0 (False for greedy-only backends: n samples would be identical)."""
    local_tokenizer: bool = True
    """`tokenize` costs no round trip (an in-process tokenizer), so `count_tokens` is exact; a served
    one would block the event loop once per count, so counts are estimated instead."""
    continue_prefix: bool = True
    """Continues a partial assistant message (`assistant_prefix`). Plain OpenAI-compatible servers
    cannot, so a step-by-step search over one without token ids writes whole replies instead."""


CHARS_PER_TOKEN = 3
"""Token estimate where no local tokenizer counts: about 4 characters per token in English prose,
fewer in code and numbers, so 3 errs towards counting more."""


class BaseBackend(abc.ABC):
    """A source of completions. One verb is required (`generate`); the rest have defaults.

    `generate` returns one list per request, of length `request.n`, in request order. It may
    run requests concurrently. It raises `BackendError` subclasses only; a sample that hit its
    token limit is a result (`finish_reason="length"`), not an error.
    """

    name: str = "backend"

    @property
    @abc.abstractmethod
    def capabilities(self) -> Capabilities:
        """What this backend supports natively."""

    @abc.abstractmethod
    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        """Generate `n` completions for each request."""

    async def warm(self, requests: Sequence[GenerationRequest]) -> Usage:
        """Prefill the prompts of `requests` so that later requests sharing them hit the cache.

        A no-op for backends without a prefix cache.
        """
        return Usage()

    # The graph awaits the `a*` verbs: a served tokenizer is a round trip that must not stall the
    # event loop other searches share. The defaults call the blocking verbs, which is right for
    # in-process tokenizers (microseconds); served backends override them.

    async def atokenize(self, text: str) -> list[int]:
        """Token ids of `text` (no special tokens added), awaitable. Backends that cannot tokenize raise."""
        return self.tokenize(text)

    async def adetokenize(self, token_ids: Sequence[int]) -> str:
        """Text of `token_ids`, awaitable."""
        return self.detokenize(token_ids)

    async def arender_chat(self, messages: Sequence[ChatMessage], assistant_prefix: str | None = None) -> str:
        """The prompt text the model sees for `messages`, awaitable."""
        return self.render_chat(messages, assistant_prefix)

    def count_tokens(self, text: str) -> int:
        """Tokens in `text` without a round trip, for budgeting (fitting a prompt, a step, usage):
        exact where the tokenizer is in-process, else characters / 3 (conservative for code)."""
        if self.capabilities.local_tokenizer:
            try:
                return len(self.tokenize(text))
            except NotImplementedError:
                pass
        return -(-len(text) // CHARS_PER_TOKEN)

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text` (no special tokens added). Backends that cannot tokenize raise.

        A convenience for code outside the event loop; inside it, await `atokenize`."""
        raise NotImplementedError(f"tokenize is not supported by {self.__class__.__name__}")

    def detokenize(self, token_ids: Sequence[int]) -> str:
        """Text of `token_ids`."""
        raise NotImplementedError(f"detokenize is not supported by {self.__class__.__name__}")

    def render_chat(self, messages: Sequence[ChatMessage], assistant_prefix: str | None = None) -> str:
        """The prompt text the model sees for `messages` (chat template + assistant header)."""
        raise NotImplementedError(f"render_chat is not supported by {self.__class__.__name__}")

    async def aclose(self) -> None:
        """Release connections, threads, model memory."""
        return None

    async def __aenter__(self) -> BaseBackend:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
