"""ConfidencePRM: exact arithmetic on token logprobs, a neutral score when there are none.

(The run on real generation logprobs from the embedded model is in test_verify_prm_judge.py,
which shares the loaded model.)
"""

from __future__ import annotations

import math

import pytest

from ponder.verifiers import Chain, Composite, VerifyTask
from ponder.verifiers.confidence import ConfidencePRM, lowest_window_confidence, mean_confidence

TASK = VerifyTask(kind="text", question="q")


def test_mean_and_lowest_window() -> None:
    lps = [-0.1, -0.1, -3.0, -2.0, -0.1, -0.1]
    assert mean_confidence(lps) == pytest.approx(math.exp(sum(lps) / 6))
    assert lowest_window_confidence(lps, 2) == pytest.approx(math.exp(-2.5))
    assert lowest_window_confidence(lps, 6) == pytest.approx(mean_confidence(lps))
    assert lowest_window_confidence(lps, 50) == pytest.approx(mean_confidence(lps))  # shorter than a window


async def test_lowest_window_catches_a_guess_that_the_mean_hides() -> None:
    fluent = Chain(steps=("s",), step_logprobs=(-0.6,) * 20)
    guessed = Chain(steps=("s",), step_logprobs=(-0.05,) * 16 + (-2.5,) * 4)
    by_mean = await ConfidencePRM(mode="mean").score(TASK, [fluent, guessed])
    by_window = await ConfidencePRM(mode="lowest_window", window=4).score(TASK, [fluent, guessed])
    assert by_mean[1].score > by_mean[0].score  # the mean prefers the guess...
    assert by_window[1].score < by_window[0].score  # ...the lowest window does not
    assert by_window[1].score == pytest.approx(math.exp(-2.5))
    assert by_window[1].evidence == {
        "mode": "lowest_window",
        "mean_confidence": pytest.approx(by_mean[1].score),
        "lowest_window_confidence": pytest.approx(math.exp(-2.5)),
        "window": 4,
        "tokens": 20,
    }
    assert all(r.gate == "unknown" for r in by_mean + by_window)  # confidence never gates


async def test_without_logprobs_the_score_is_neutral_and_says_why() -> None:
    none, empty = await ConfidencePRM().score(
        TASK, [Chain(steps=("s",)), Chain(steps=("s",), step_logprobs=())]
    )
    assert (none.score, none.gate) == (0.5, "unknown")
    assert "backend returned none (ask for logprobs=True)" in none.evidence["reason"]
    assert empty.evidence["reason"] == "the latest step has no tokens"


async def test_impossible_token_stays_finite() -> None:
    [s] = await ConfidencePRM(window=2).score(
        TASK, [Chain(steps=("s",), step_logprobs=(-0.1, -math.inf, -0.1))]
    )
    assert s.score == pytest.approx(math.exp(-50.05))


async def test_bad_input_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"must be <= 0, got 0\.5; pass log-probabilities"):
        await ConfidencePRM().score(TASK, [Chain(steps=("s",), step_logprobs=(0.5,))])
    with pytest.raises(ValueError, match="unknown confidence mode 'median'"):
        ConfidencePRM(mode="median")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least 1 token"):
        ConfidencePRM(window=0)


async def test_works_inside_a_composite() -> None:
    chain = Chain(steps=("s",), step_logprobs=(-0.5, -0.5))
    [s] = await Composite([ConfidencePRM(mode="mean")]).score(TASK, [chain])
    assert s.score == pytest.approx(math.exp(-0.5))
    assert s.evidence["verifiers"]["confidence"]["evidence"]["tokens"] == 2
