"""Token choice and log-probabilities from raw logits, in numpy.

Sampling here rather than in llama.cpp's sampler chain gives exact control over what the
search relies on: `seed + i` per sample, greedy at temperature 0, and logprobs of the model's
own distribution (not the temperature-scaled one), which the LLM-judge PRM reads P(yes) from.

Each sampled token costs a few passes over the 49k-token vocabulary, eight times per batched
step at n=8, so the passes are kept few: one exp and one cumulative sum of unnormalised
weights, compared against `u * total` (one `rng.random()` per token, the draw
`Generator.choice(p=...)` makes), and for top-p a partial sort of the few tokens that hold the
mass instead of an argsort of the whole vocabulary. The token picked is the one the textbook
form (normalise, full stable sort, `choice`) picks, up to float rounding at a boundary.
"""

from __future__ import annotations

import numpy as np

_NUCLEUS_FIRST_K = 64
"""Candidates the top-p partial sort starts with; it widens eightfold until the nucleus fits."""


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - float(np.max(logits))
    result: np.ndarray = shifted - np.log(np.sum(np.exp(shifted)))
    return result


def choose_token(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> int:
    """Greedy when temperature is 0; otherwise sample from the temperature/top-p distribution."""
    if temperature <= 0.0:
        return int(np.argmax(logits))
    scaled = (logits / temperature).astype(np.float64)
    weights = np.exp(scaled - scaled.max())  # unnormalised probabilities, the largest is 1
    if top_p < 1.0:
        kept = _nucleus(weights, top_p)
        kept_weights = weights[kept]
        return int(kept[rng.choice(kept.shape[0], p=kept_weights / kept_weights.sum())])
    cdf = np.cumsum(weights)
    index = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    if index >= cdf.shape[0]:  # u * total rounded up to the total: the last token with weight
        index = int(np.searchsorted(cdf, cdf[-1], side="left"))
    return index


def _nucleus(weights: np.ndarray, top_p: float) -> np.ndarray:
    """Ids of the smallest most-likely prefix holding `top_p` of the mass, most likely first.

    The order is that of a stable sort by descending weight (ties by id); the prefix is taken from
    the k heaviest tokens once it ends strictly inside them and strictly above the next weight,
    so a token tied with the last one kept cannot lie outside the k; otherwise k grows.
    """
    n = weights.shape[0]
    target = top_p * float(weights.sum())
    k = min(n, _NUCLEUS_FIRST_K)
    while True:
        heavy = np.argpartition(-weights, k - 1)[:k] if k < n else np.arange(n)
        order = heavy[np.lexsort((heavy, -weights[heavy]))]
        sorted_weights = weights[order]
        keep = int(np.searchsorted(np.cumsum(sorted_weights), target)) + 1
        if k == n:
            return order[: min(keep, n)]
        if keep < k and sorted_weights[keep] < sorted_weights[keep - 1]:
            return order[:keep]
        k = min(n, k * 8)


def top_alternatives(logp: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k most likely token ids with their logprobs, best first."""
    if k <= 0:
        return []
    idx = np.argpartition(-logp, k - 1)[:k]
    idx = idx[np.argsort(-logp[idx], kind="stable")]
    return [(int(i), float(logp[i])) for i in idx]
