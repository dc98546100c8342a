"""The textbook sampler the embedded engine's fast one must agree with, for its test and its benchmark.

Normalise in float64, sort the whole vocabulary stably for top-p, draw with `Generator.choice`:
the plain form `ponder.backends.llama.sampling.choose_token` replaced. Equal picks for equal seeds
mean the fast form keeps the seeded semantics the search depends on; the benchmark prints what
the shortcuts save (benchmarks/bench_sampler.py).
"""

from __future__ import annotations

import numpy as np


def reference_choice(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> int:
    if temperature <= 0.0:
        return int(np.argmax(logits))
    scaled = (logits / temperature).astype(np.float64)
    probs = np.exp(scaled - scaled.max())
    probs /= probs.sum()
    if top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        keep = int(np.searchsorted(np.cumsum(probs[order]), top_p)) + 1
        kept = order[:keep]
        return int(kept[rng.choice(keep, p=probs[kept] / probs[kept].sum())])
    return int(rng.choice(probs.shape[0], p=probs / probs.sum()))
