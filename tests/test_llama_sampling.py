"""The embedded engine's numpy sampler picks the token the textbook procedure picks.

`choose_token` takes shortcuts for speed (unnormalised float32 weights, a two-level draw over
blocks of the vocabulary, a sort of only the tokens heavy enough for top-p); the reference below
is the plain form it replaced: normalise, sort the whole vocabulary stably, draw with
`Generator.choice`. Equal picks for equal seeds mean the shortcuts keep the seeded semantics
search depends on (`seed + i` per sample, same seed same output).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from ponder.backends.llama.sampling import choose_token, log_softmax
from tests._sampling_reference import reference_choice

VOCAB = 49152


def _logits(rng: np.random.Generator, shape: str) -> np.ndarray:
    logits = (rng.standard_normal(VOCAB) * rng.uniform(1.0, 6.0)).astype(np.float32)
    if shape == "peaked":
        logits[rng.integers(0, VOCAB, 5)] += 15.0
    elif shape == "tied top":
        logits[:40] = logits.max()  # forty tokens tie for the top
    elif shape == "flat":
        # the nucleus is nearly the whole vocabulary
        logits = (rng.standard_normal(VOCAB) * 0.1).astype(np.float32)
    return logits


@pytest.mark.parametrize("shape", ["normal", "peaked", "tied top", "flat"])
@pytest.mark.parametrize(
    ("temperature", "top_p"), [(0.8, 1.0), (1.0, 1.0), (0.7, 0.95), (1.0, 0.5), (1.3, 0.99)]
)
def test_picks_the_reference_token_for_every_seed(shape: str, temperature: float, top_p: float) -> None:
    rng = np.random.default_rng(zlib.crc32(f"{shape}|{temperature}|{top_p}".encode()))
    for _ in range(12):
        logits = _logits(rng, shape)
        seed = int(rng.integers(2**31))
        got = choose_token(logits, temperature, top_p, np.random.default_rng(seed))
        assert got == reference_choice(logits, temperature, top_p, np.random.default_rng(seed))


def test_ties_at_the_nucleus_edge_are_broken_by_token_id_as_a_full_stable_sort_does() -> None:
    logits = np.full(VOCAB, -30.0, dtype=np.float32)
    logits[[9000, 70, 12, 40000, 5]] = 4.0  # five equal tokens hold nearly all the mass
    for seed in range(40):
        for top_p in (0.3, 0.5, 0.7):
            got = choose_token(logits, 1.0, top_p, np.random.default_rng(seed))
            assert got == reference_choice(logits, 1.0, top_p, np.random.default_rng(seed))
        # the nucleus of the lowest ids: 5 and 12 hold 40% of the mass, so p=0.3 keeps only them
        assert choose_token(logits, 1.0, 0.3, np.random.default_rng(seed)) in (5, 12)


def test_greedy_is_argmax_and_consumes_no_randomness() -> None:
    logits = np.random.default_rng(1).standard_normal(VOCAB).astype(np.float32)
    rng = np.random.default_rng(7)
    assert choose_token(logits, 0.0, 0.9, rng) == int(np.argmax(logits))
    assert rng.random() == np.random.default_rng(7).random()


def test_samples_follow_the_distribution() -> None:
    # A small vocabulary: the draw, not the vocabulary's size, is under test here (4000 draws over
    # the full one took 7 s).
    logits = np.full(1024, -50.0, dtype=np.float32)
    logits[[3, 4]] = [np.log(3.0), 0.0]  # 3:1 odds at temperature 1
    rng = np.random.default_rng(0)
    draws = [choose_token(logits, 1.0, 1.0, rng) for _ in range(4000)]
    assert set(draws) == {3, 4}
    assert 0.72 < draws.count(3) / len(draws) < 0.78


def test_log_softmax_matches_float64_and_normalises() -> None:
    """The normaliser's exp runs in float32; the logprobs the judge PRM reads stay within 1e-6 of
    the all-float64 form."""
    rng = np.random.default_rng(3)
    for shape in ("normal", "peaked", "flat"):
        logits = _logits(rng, shape)
        exact = logits.astype(np.float64) - logits.max()
        exact -= np.log(np.sum(np.exp(exact)))
        got = log_softmax(logits)
        assert got.dtype == np.float64
        assert np.max(np.abs(got - exact)) < 1e-6
        assert abs(np.log(np.sum(np.exp(got)))) < 1e-6


def test_a_vocabulary_that_is_no_multiple_of_the_draw_block_picks_the_reference_token() -> None:
    rng = np.random.default_rng(11)
    for size in (1000, 257, 3):
        logits = (rng.standard_normal(size) * 2.0).astype(np.float32)
        for seed in range(30):
            got = choose_token(logits, 0.9, 1.0, np.random.default_rng(seed))
            assert got == reference_choice(logits, 0.9, 1.0, np.random.default_rng(seed))
            assert 0 <= got < size
