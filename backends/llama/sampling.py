"""Token choice and log-probabilities from raw logits, in numpy.

Sampling here rather than in llama.cpp's sampler chain gives exact control over what the
search relies on: `seed + i` per sample, greedy at temperature 0, and logprobs of the model's
own distribution (not the temperature-scaled one), which the LLM-judge PRM reads P(yes) from.

Each sampled token costs a few passes over the 49k-token vocabulary, eight times per batched
step at n=8, so the passes are kept few and fast: one exp of unnormalised weights in float32
(numpy vectorises float32 exp; its float64 exp ran 18x slower on the AMD EPYC VM, 349 against 19
us a vocabulary), and one draw against `u * total` (one `rng.random()` per token, the draw
`Generator.choice(p=...)` makes) found in two levels: sums of blocks of 256 weights in float64,
then one block's running sum, instead of a cumulative sum over the whole vocabulary (a serial
pass, 460 us). For top-p, only the tokens heavy enough to be in the nucleus are sorted,
not the whole vocabulary. The token picked is the one the textbook form (normalise in
float64, full stable sort, `choice`) picks, up to float rounding at a boundary.
"""

from __future__ import annotations

import numpy as np

_FIRST_FLOOR = 1e-3
"""The nucleus is looked for first among tokens whose weight is at least this share of the top one."""
_BLOCK = 256
"""Weights per block of the two-level draw: 192 blocks over SmolLM2's 49,152 tokens."""


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities in float64; the normaliser's exp runs in float32 (vectorised, see above)
    and is summed in float64, which moves a logprob by about 1e-7."""
    top = np.max(logits)
    norm = np.log(np.sum(np.exp(logits.astype(np.float32, copy=False) - top), dtype=np.float64))
    result: np.ndarray = logits.astype(np.float64) - float(top) - norm
    return result


def choose_token(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> int:
    """Greedy when temperature is 0; otherwise sample from the temperature/top-p distribution."""
    if temperature <= 0.0:
        return int(np.argmax(logits))
    scaled = logits.astype(np.float32, copy=False) / np.float32(temperature)
    top = scaled.max()
    weights = np.exp(scaled - top)  # unnormalised probabilities, the largest is 1
    if top_p < 1.0:
        kept, kept_weights = _nucleus(scaled, top, weights, top_p)
        return int(kept[rng.choice(kept.shape[0], p=kept_weights / kept_weights.sum())])
    return _draw(weights, rng.random())


def _draw(weights: np.ndarray, u: float) -> int:
    """The token whose share of the running sum holds `u * total`: the block first, then the token."""
    n = weights.shape[0]
    blocks = -(-n // _BLOCK)
    padded = weights
    if n % _BLOCK:  # a vocabulary that is no multiple of the block: pad with zero weights
        padded = np.zeros(blocks * _BLOCK, dtype=weights.dtype)
        padded[:n] = weights
    cdf = np.cumsum(padded.reshape(blocks, _BLOCK).sum(axis=1, dtype=np.float64))
    target = u * float(cdf[-1])
    block = _first_above(cdf, target)
    start = float(cdf[block - 1]) if block else 0.0
    inner = np.cumsum(padded[block * _BLOCK : (block + 1) * _BLOCK], dtype=np.float64)
    return block * _BLOCK + _first_above(inner, target - start)


def _first_above(cdf: np.ndarray, target: float) -> int:
    """The first index whose running sum exceeds `target`; where rounding put `target` at or past
    the total, the last index that adds weight."""
    index = int(np.searchsorted(cdf, target, side="right"))
    if index >= cdf.shape[0]:
        index = int(np.searchsorted(cdf, cdf[-1], side="left"))
    return index


def _nucleus(
    scaled: np.ndarray, top: np.floating, weights: np.ndarray, top_p: float
) -> tuple[np.ndarray, np.ndarray]:
    """Ids of the smallest most-likely prefix holding `top_p` of the mass, most likely first, and
    their float64 weights (`top` is the largest scaled logit, which `weights` are relative to).

    Only tokens at or above a floor are sorted: first those within `_FIRST_FLOOR` of the top
    weight (a few, on a model's real distributions), and where they hold less than `top_p`, those
    at or above half of `(1 - top_p) * total / n`, which must hold it: all the lighter ones
    together hold less than `1 - top_p` of the mass (the half covers float32 rounding). The kept
    tokens are sorted by descending scaled logit, ties by id, which is the order of the textbook's
    float64 probabilities (float32 weights would tie tokens that float64 keeps apart); a token
    tied with the last one kept has its weight, so it is above the floor too and the tie is
    broken as a sort of the whole vocabulary breaks it.
    """
    total = float(weights.sum(dtype=np.float64))
    target = top_p * total
    last_floor = 0.5 * (1.0 - top_p) * total / weights.shape[0]
    for floor in (max(_FIRST_FLOOR, last_floor), last_floor):
        heavy = np.flatnonzero(weights >= floor)
        order = heavy[np.lexsort((heavy, -scaled[heavy]))]
        sorted_weights = np.exp(scaled[order].astype(np.float64) - np.float64(top))
        cumulative = np.cumsum(sorted_weights)
        if cumulative[-1] >= target or floor == last_floor:
            break
    keep = min(order.shape[0], int(np.searchsorted(cumulative, target)) + 1)
    return order[:keep], sorted_weights[:keep]


def top_alternatives(logp: np.ndarray, k: int) -> list[tuple[int, float]]:
    """The k most likely token ids with their logprobs, best first."""
    if k <= 0:
        return []
    idx = np.argpartition(-logp, k - 1)[:k]
    idx = idx[np.argsort(-logp[idx], kind="stable")]
    return [(int(i), float(logp[i])) for i in idx]
