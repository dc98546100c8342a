"""Token choice and log-probabilities from raw logits, in numpy.

Sampling here rather than in llama.cpp's sampler chain gives exact control over what the
search relies on: `seed + i` per sample, greedy at temperature 0, and logprobs of the model's
own distribution (not the temperature-scaled one), which the LLM-judge PRM reads P(yes) from.
"""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - float(np.max(logits))
    result: np.ndarray = shifted - np.log(np.sum(np.exp(shifted)))
    return result


def choose_token(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> int:
    """Greedy when temperature is 0; otherwise sample from the temperature/top-p distribution."""
    if temperature <= 0.0:
        return int(np.argmax(logits))
    logp = log_softmax(logits / temperature)
    probs = np.exp(logp)
    if top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        cumulative = np.cumsum(probs[order])
        keep = int(np.searchsorted(cumulative, top_p)) + 1  # smallest prefix with mass >= top_p
        kept = order[:keep]
        kept_probs = probs[kept] / probs[kept].sum()
        return int(kept[rng.choice(keep, p=kept_probs)])
    return int(rng.choice(probs.shape[0], p=probs / probs.sum()))


def top_alternatives(logp: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k most likely token ids with their logprobs, best first."""
    if k <= 0:
        return []
    idx = np.argpartition(-logp, k - 1)[:k]
    idx = idx[np.argsort(-logp[idx], kind="stable")]
    return [(int(i), float(logp[i])) for i in idx]
