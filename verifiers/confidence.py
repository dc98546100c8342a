"""Confidence PRM: the generating model's own token log-probabilities as a step score.

It costs nothing (the logprobs come with generation) and needs no second model, which makes it
the PRM of last resort on a laptop. Two signals: the mean logprob of the step (its geometric
mean token probability) and the lowest mean over a sliding window of tokens, which catches a
short stretch where the model was guessing inside an otherwise fluent step (the "lowest group
confidence" of DeepConf, arXiv 2508.15260). Neither knows whether the step is right; they only
say whether the model was sure, so this PRM never gates.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.types import Chain, Evidence, StepScore, VerifyTask

ConfidenceMode = Literal["mean", "lowest_window"]

LOGPROB_FLOOR = -100.0
"""Logprobs below this are treated as this (exp(-100) is already 0 for any ranking)."""


def mean_confidence(logprobs: Sequence[float]) -> float:
    """exp(mean logprob): the geometric mean probability of the chosen tokens."""
    return math.exp(math.fsum(logprobs) / len(logprobs))


def lowest_window_confidence(logprobs: Sequence[float], window: int) -> float:
    """exp of the lowest mean logprob over any `window` consecutive tokens (whole step if shorter)."""
    if len(logprobs) <= window:
        return mean_confidence(logprobs)
    total = math.fsum(logprobs[:window])
    lowest = total
    for i in range(window, len(logprobs)):
        total += logprobs[i] - logprobs[i - window]
        lowest = min(lowest, total)
    return math.exp(lowest / window)


class ConfidenceEvidence(Evidence, total=False):
    """Both confidence signals of the latest step, whichever one is the score."""

    mode: ConfidenceMode
    mean_confidence: float
    lowest_window_confidence: float
    window: int
    """Tokens per window of the lowest-window signal."""
    tokens: int


class ConfidencePRM(BaseVerifier):
    """Scores a chain's latest step by how confident the model was while writing it.

    Reads `Chain.step_logprobs` (ask the backend for `logprobs=True`). Without them the score is
    a neutral 0.5 and the evidence says why, so a search still runs on backends that return none.

    Example:
        ```python
        prm = ConfidencePRM(mode="lowest_window", window=8)
        [s] = await prm.score(task, [Chain(steps=("x = 2",), step_logprobs=(-0.1, -0.3, -2.0))])
        ```
    """

    name = "confidence"
    step_level = True

    def __init__(self, *, mode: ConfidenceMode = "lowest_window", window: int = 16) -> None:
        """Choose the signal.

        Args:
            mode: Which signal is the score; both are always in the evidence.
            window: Tokens per window for `lowest_window`.
        """
        if mode not in ("mean", "lowest_window"):
            raise ValueError(f"unknown confidence mode {mode!r}; use 'mean' or 'lowest_window'")
        if window < 1:
            raise ValueError(f"window must be at least 1 token, got {window}")
        self.mode: ConfidenceMode = mode
        self.window = window

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        """Pure arithmetic on the chains' logprobs; no I/O."""
        return [self._one(chain) for chain in chains]

    def _one(self, chain: Chain) -> StepScore:
        logprobs = chain.step_logprobs
        if not logprobs:
            reason = (
                "no token logprobs for the latest step: the backend returned none (ask for logprobs=True)"
                if logprobs is None
                else "the latest step has no tokens"
            )
            return StepScore(score=0.5, evidence={"reason": reason})
        bad = [lp for lp in logprobs if not (lp <= 0.0 and not math.isnan(lp))]
        if bad:
            raise ValueError(
                f"token logprobs must be <= 0, got {bad[0]}; pass log-probabilities, not probabilities"
            )
        # A -inf logprob (probability 0 under the sampler's filtering) would turn the window sums
        # into nan; a floor keeps them finite and still scores the step as near-certainly unsure.
        floored = [max(lp, LOGPROB_FLOOR) for lp in logprobs]
        mean = mean_confidence(floored)
        lowest = lowest_window_confidence(floored, self.window)
        evidence: ConfidenceEvidence = {
            "mode": self.mode,
            "mean_confidence": mean,
            "lowest_window_confidence": lowest,
            "window": self.window,
            "tokens": len(logprobs),
        }
        return StepScore(score=mean if self.mode == "mean" else lowest, evidence=evidence)
