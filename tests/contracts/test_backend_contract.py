"""What every `BaseBackend` shows, whichever engine is behind it (see backends/base.py).

Each test runs over `subject` (tests/contracts/conftest.py): the embedded llama.cpp engine, the
SGLang and OpenAI-compatible clients against the toy engine on loopback, and the SGLang client
against `ponder engine serve` over the real model. Assertions hold for any model: greedy
decoding is deterministic, a seed reproduces its samples, a stop string cuts where it first
occurs, a token-id continuation extends its parent exactly. Optional behaviour is asserted where
`capabilities` claims it, so a capability that is claimed and missing fails here.
Implementation-specific cases (wire payloads, KV cache bookkeeping, emulation) stay in
tests/test_backend_<name>.py.
"""

from __future__ import annotations

import asyncio
import math
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ponder.backends import EmbeddedBackend, OpenAICompatBackend, SGLangBackend
from ponder.backends.base import (
    BaseBackend,
    Capabilities,
    ChatMessage,
    Completion,
    GenerationRequest,
    Usage,
)
from ponder.backends.errors import BackendError, BackendResponseError, BackendUnavailableError
from ponder.backends.settings import BackendSettings
from tests.conftest import free_port
from tests.contracts.conftest import COUNTING, QUESTION, BackendSubject, ServedSubject


async def _one(backend: BaseBackend, **kw: object) -> Completion:
    [[c]] = await backend.generate([GenerationRequest(**kw)])  # type: ignore[arg-type]
    return c


async def _supports(verb: Callable[[], Awaitable[object]]) -> bool:
    """Whether an optional verb is offered (the base class raises NotImplementedError)."""
    try:
        await verb()
    except NotImplementedError:
        return False
    return True


def _unique(words: int = 30) -> str:
    """Text no other test sends, so prefix-cache hits can only come from the test itself."""
    return f"Notes {uuid.uuid4().hex[:8]}: " + " ".join(["river stone lamp orbit"] * (words // 4))


# ---- what every backend does ---------------------------------------------------------------------


async def test_capabilities_describe_the_backend_without_a_call(subject: BackendSubject) -> None:
    caps = subject.backend.capabilities
    assert isinstance(caps, Capabilities) and caps == subject.backend.capabilities
    assert isinstance(subject.backend.name, str) and subject.backend.name != "backend"


async def test_one_list_per_request_with_n_samples_in_request_order(subject: BackendSubject) -> None:
    backend = subject.backend
    short, long, middle = "Hi.", COUNTING + " " + COUNTING, COUNTING
    rows = await backend.generate(
        [
            GenerationRequest(prompt=short, max_tokens=2, temperature=0),
            GenerationRequest(prompt=long, max_tokens=3, temperature=1.0, n=3, seed=5),
            GenerationRequest(prompt=middle, max_tokens=4, temperature=0),
        ]
    )
    assert [len(r) for r in rows] == [1, 3, 1]
    firsts = [r[0].usage.prompt_tokens for r in rows]
    assert firsts[0] < firsts[2] < firsts[1], f"rows out of request order: prompt tokens {firsts}"
    for row, limit in zip(rows, (2, 3, 4), strict=True):
        assert all(c.finish_reason in ("stop", "length") for c in row)
        # Totals, not per sample: an OpenAI response's usage covers all its choices and is booked
        # on the first one.
        assert 0 < sum(c.usage.completion_tokens for c in row) <= limit * len(row)
        if backend.capabilities.token_ids:
            assert all(c.usage.completion_tokens == len(c.token_ids) <= limit for c in row)
    # The prompt is booked once per request, on its first sample.
    assert [c.usage.prompt_tokens for c in rows[1][1:]] == [0, 0]


async def test_greedy_is_deterministic_and_messages_render_like_the_prompt(subject: BackendSubject) -> None:
    backend = subject.backend
    c = await _one(backend, messages=QUESTION, temperature=0.0, max_tokens=12)
    again = await _one(backend, messages=QUESTION, temperature=0.0, max_tokens=12)
    assert c.text.strip() and (again.text, again.token_ids) == (c.text, c.token_ids)
    assert c.usage.prompt_tokens > 0 and 0 < c.usage.completion_tokens <= 12
    if not await _supports(lambda: backend.arender_chat(QUESTION)):
        return
    rendered = await backend.arender_chat(QUESTION)
    raw = await _one(backend, prompt=rendered, temperature=0.0, max_tokens=12)
    assert (raw.text, raw.token_ids) == (c.text, c.token_ids)
    if backend.capabilities.token_ids:
        assert c.prompt_token_ids == await backend.atokenize(rendered)
        assert c.usage.prompt_tokens == len(c.prompt_token_ids)
        if c.finish_reason == "length":
            assert c.text == await backend.adetokenize(c.token_ids)


async def test_max_tokens_ends_a_sample_with_length(subject: BackendSubject) -> None:
    c = await _one(subject.backend, prompt=COUNTING, temperature=0.0, max_tokens=3)
    assert (c.finish_reason, c.usage.completion_tokens) == ("length", 3)


async def test_stop_string_cuts_text_at_first_occurrence(subject: BackendSubject) -> None:
    backend = subject.backend
    free = await _one(backend, messages=QUESTION, temperature=0.0, max_tokens=30)
    assert len(free.text) > 16, free.text
    stop = free.text[10:14]
    cut = await _one(backend, messages=QUESTION, temperature=0.0, max_tokens=30, stop=["#never#", stop])
    assert cut.finish_reason == "stop"
    assert cut.text == free.text[: free.text.find(stop)] and stop not in cut.text
    assert cut.token_ids == free.token_ids[: len(cut.token_ids)]


async def test_seed_reproduces_samples_and_sample_i_uses_seed_plus_i(subject: BackendSubject) -> None:
    backend = subject.backend
    if not backend.capabilities.seed:
        pytest.skip(f"{backend.name} does not claim to honour seeds")
    # A prompt of its own: on llama.cpp a sample can flip when the same prompt's KV comes from a
    # different cache history (another test's generations), which is not what is checked here.
    ask = [ChatMessage(role="user", content=f"{_unique(8)}. {QUESTION[0].content}")]
    req = GenerationRequest(messages=ask, temperature=1.0, max_tokens=16, n=3, seed=123)
    [first] = await backend.generate([req])
    [second] = await backend.generate([req])
    _same_samples(subject, first, second)
    if backend.capabilities.sampling:
        assert len({c.text for c in first}) >= 2, "independent samples, not copies"
    shifted = await _one(backend, messages=ask, temperature=1.0, max_tokens=16, seed=124)
    _same_samples(subject, [shifted], first[1:2])


def _same_samples(subject: BackendSubject, got: list[Completion], want: list[Completion]) -> None:
    """Equal samples; a known llama.cpp flip is an xfail with its reason, not a pass or a silent skip.

    Seen with the embedded engine (directly and behind `ponder engine serve`) once earlier tests
    have filled its KV slots: the same seeded request sampled twice in a row diverges after a few
    tokens, while the same test alone, or after any single one of the others, reproduces.
    """
    same = [(c.text, c.token_ids) for c in got] == [(c.text, c.token_ids) for c in want]
    if not same and subject.toy is None:
        pytest.xfail("llama.cpp: a seeded sample changed with the engine's KV-cache history (reported)")
    assert same, f"{[c.text for c in got]} != {[c.text for c in want]}"


async def test_token_ids_round_trip_and_continue_a_parent_exactly(subject: BackendSubject) -> None:
    backend = subject.backend
    if not backend.capabilities.token_ids:
        pytest.skip(f"{backend.name} does not claim token-id input")
    text = "Seven apples, 3 pears."
    ids = await backend.atokenize(text)
    assert ids and await backend.adetokenize(ids) == text
    [[whole], [parent]] = await backend.generate(
        [
            GenerationRequest(prompt=COUNTING, max_tokens=12, temperature=0),
            GenerationRequest(prompt=COUNTING, max_tokens=6, temperature=0),
        ]
    )
    assert parent.finish_reason == "length"
    child_ids = parent.prompt_token_ids + parent.token_ids
    child = await _one(backend, token_ids=child_ids, max_tokens=6, temperature=0)
    assert parent.token_ids + child.token_ids == whole.token_ids
    assert child.prompt_token_ids == child_ids
    if backend.capabilities.prefix_cache:
        assert child.usage.cached_tokens >= len(parent.prompt_token_ids)


async def test_logprobs_are_returned_only_when_asked(subject: BackendSubject) -> None:
    backend = subject.backend
    if not backend.capabilities.logprobs:
        pytest.skip(f"{backend.name} does not claim logprobs")
    k = 3 if backend.capabilities.top_logprobs else 0
    c = await _one(backend, messages=QUESTION, temperature=0.0, max_tokens=8, logprobs=True, top_logprobs=k)
    assert c.logprobs is not None and len(c.logprobs) == c.usage.completion_tokens
    if backend.capabilities.token_ids:
        assert [lp.token_id for lp in c.logprobs] == c.token_ids
    for lp in c.logprobs:
        assert lp.logprob <= 0.0 and len(lp.top) <= k
        if k:
            assert lp.top, "alternatives were asked for"
            assert math.isclose(lp.logprob, max(lp.top.values()), abs_tol=1e-5)  # greedy takes the best
            assert sum(math.exp(v) for v in lp.top.values()) <= 1.0 + 1e-5
    plain = await _one(backend, messages=QUESTION, temperature=0.0, max_tokens=8)
    assert plain.logprobs is None


async def test_warm_prefills_for_siblings_where_a_prefix_cache_is_claimed(subject: BackendSubject) -> None:
    backend = subject.backend
    req = GenerationRequest(prompt=_unique(80), n=3, max_tokens=4, temperature=1.0)
    usage = await backend.warm([req])
    if not backend.capabilities.prefix_cache:
        assert usage == Usage(), "warm is a no-op without a prefix cache"
        return
    assert usage.prompt_tokens > 0 and usage.completion_tokens == 0
    [row] = await backend.generate([req])
    assert row[0].usage.cached_tokens >= usage.prompt_tokens - 1
    assert [c.usage.prompt_tokens for c in row[1:]] == [0, 0]


async def test_cancelling_generate_is_prompt_and_leaves_the_backend_usable(subject: BackendSubject) -> None:
    if subject.slow_request is None:
        pytest.skip("no request here is slow enough to cancel without stalling the shared engine")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.01)
            ticks += 1

    tick_task = asyncio.create_task(ticker())
    task = asyncio.create_task(subject.backend.generate([subject.slow_request]))
    await asyncio.sleep(0.5)
    assert not task.done(), "the slow request finished before it could be cancelled"
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    if subject.toy is not None:
        subject.toy.delay_s = 0.0
        # The server sees the connection go away long before its seconds of "work" would end.
        assert await asyncio.to_thread(subject.toy.disconnected.wait, 2.0)
    started = time.monotonic()
    quick = await _one(subject.backend, prompt="Hello", max_tokens=1)
    waited = time.monotonic() - started
    tick_task.cancel()
    assert quick.usage.completion_tokens == 1
    assert waited < 3.0, f"the cancelled request kept the backend busy for {waited:.1f}s"
    assert ticks >= 20, "generate blocked the event loop"


# ---- where it cannot work, the error names the place ---------------------------------------------


@dataclass(frozen=True)
class Nowhere:
    """A backend aimed at a place with nothing there, and what its error must say."""

    make: Callable[[], BaseBackend]
    place: str
    fixes: tuple[str, ...]


def _sglang_nowhere(tmp: Path) -> Nowhere:
    url = f"http://127.0.0.1:{free_port()}"
    return Nowhere(
        lambda: SGLangBackend(url, connect_timeout_s=1, max_retries=1),
        url,
        ("ponder engine serve", "connect timeout 1s"),
    )


def _openai_nowhere(tmp: Path) -> Nowhere:
    url = f"http://127.0.0.1:{free_port()}/v1"
    return Nowhere(
        lambda: OpenAICompatBackend(url, model="m", connect_timeout_s=1, max_retries=1),
        url,
        ("connect timeout 1s", "2 attempts"),
    )


def _embedded_nowhere(tmp: Path) -> Nowhere:
    pytest.importorskip("llama_cpp")
    path = tmp / "absent.gguf"
    return Nowhere(
        lambda: EmbeddedBackend(BackendSettings(model_path=path)), str(path), ("PONDER_BACKEND_MODEL_PATH",)
    )


@pytest.mark.parametrize(
    "nowhere",
    [
        pytest.param(_embedded_nowhere, id="embedded"),
        pytest.param(_sglang_nowhere, id="sglang"),
        pytest.param(_openai_nowhere, id="openai"),
    ],
)
async def test_a_backend_pointed_nowhere_fails_fast_naming_the_place_and_the_fix(
    tmp_path: Path, nowhere: Callable[[Path], Nowhere]
) -> None:
    case = nowhere(tmp_path)
    started = time.monotonic()
    with pytest.raises(BackendError) as info:
        async with case.make() as backend:  # the embedded engine refuses a missing file at once
            await backend.generate([GenerationRequest(messages=QUESTION)])
    assert time.monotonic() - started < 5
    message = str(info.value)
    assert case.place in message and "\n" not in message
    assert all(fix in message for fix in case.fixes), message
    if isinstance(info.value, BackendUnavailableError):
        assert info.value.url is not None and info.value.url.startswith(case.place)


# ---- clients of a server: retries, timeouts -----------------------------------------------------


async def test_server_errors_are_retried_with_backoff_then_reported(served: ServedSubject) -> None:
    served.toy.fail = (503, "engine overloaded")
    async with served.connect(max_retries=2) as backend:
        with pytest.raises(BackendResponseError, match="engine overloaded") as info:
            await backend.generate([GenerationRequest(prompt="x", max_tokens=2)])
    hits = served.toy.hits
    assert len(hits) == 3 and info.value.status_code == 503
    assert "3 attempts" in str(info.value) and served.url.split("/v1")[0] in str(info.value)
    gaps = [hits[1] - hits[0], hits[2] - hits[1]]
    assert gaps[0] >= 0.15 and gaps[1] >= 0.3  # exponential backoff (0.2 s, then 0.4 s, ±20%)


async def test_client_errors_are_not_retried(served: ServedSubject) -> None:
    served.toy.fail = (400, "input is too long")
    async with served.connect(max_retries=2) as backend:
        with pytest.raises(BackendResponseError, match="input is too long") as info:
            await backend.generate([GenerationRequest(prompt="x", max_tokens=2)])
    assert len(served.toy.hits) == 1 and info.value.status_code == 400


async def test_a_slow_server_is_a_read_timeout_naming_the_url(served: ServedSubject) -> None:
    served.toy.delay_s = 0.5
    async with served.connect(timeout_s=0.5, max_retries=0) as backend:
        started = time.monotonic()
        with pytest.raises(BackendUnavailableError, match="in time") as info:
            await backend.generate([GenerationRequest(prompt="x", max_tokens=8, temperature=0)])
    assert time.monotonic() - started < 3
    assert served.url.split("/v1")[0] in str(info.value) and "timeout" in str(info.value)
