"""Sampler benchmark: microseconds per sampled token, ponder's numpy sampler against the textbook form.

At n=8 the embedded engine samples eight tokens from 49,152 logits after every batched decode, in
Python, so each token's draw is paid eight times per step; at 5 ms a decoded token (README,
"Where the embedded engine's time goes") a sampler of 1 ms a token would be a sixth of the
time. The logits are the embedded model's own, recorded along a greedy decode of a code prompt
(a real distribution: a few heavy tokens and a long tail, unlike random logits), and every
position is sampled by both forms with the same seed, so the script also prints how many picks
agree (the textbook form is `tests/_sampling_reference.py`, which the unit tests hold the fast
form to).

Run: .venv/bin/python benchmarks/bench_sampler.py [--positions 200] [--repeats 3]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ponder.backends.llama.model import default_model_path
from ponder.backends.llama.runtime import DecodeItem, LlamaRuntime
from ponder.backends.llama.sampling import choose_token

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests._sampling_reference: the textbook form
from tests._sampling_reference import reference_choice

PROMPT = '''def running_median(values: list[float]) -> list[float]:
    """The median of each prefix of `values`, in order.

    >>> running_median([3, 1, 2])
    [3, 2.0, 2]
    """
'''
SETTINGS = ((0.8, 1.0), (0.8, 0.95))
"""(temperature, top_p): sampling at the search's temperature without and with its top-p."""

Sampler = Callable[[np.ndarray, float, float, np.random.Generator], int]


def recorded_logits(positions: int) -> list[np.ndarray]:
    """The model's logits at each position of a greedy decode of PROMPT, one thread."""
    rt = LlamaRuntime(default_model_path(), n_ctx=2048, n_seq=1, n_threads=1)
    try:
        ids = rt.tokenize(PROMPT, add_bos=rt.add_bos)
        [logits] = rt.decode([DecodeItem(t, i, 0, i == len(ids) - 1) for i, t in enumerate(ids)])
        rows = []
        for pos in range(len(ids), len(ids) + positions):
            rows.append(logits)
            [logits] = rt.decode([DecodeItem(int(np.argmax(logits)), pos, 0, True)])
        return rows
    finally:
        rt.close()


def per_token_us(
    sampler: Sampler, rows: list[np.ndarray], temperature: float, top_p: float, repeats: int
) -> float:
    """Best of `repeats` passes over the rows (the least disturbed by other work on the machine)."""
    best = float("inf")
    for _ in range(repeats):
        rngs = [np.random.default_rng(seed) for seed in range(len(rows))]  # the engine keeps one a sample
        started = time.perf_counter()
        for rng, row in zip(rngs, rows, strict=True):
            sampler(row, temperature, top_p, rng)
        best = min(best, (time.perf_counter() - started) / len(rows))
    return best * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--positions", type=int, default=200, help="decode positions to sample at")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per sampler (best kept)")
    args = parser.parse_args()
    rows = recorded_logits(args.positions)
    print(f"sampling {len(rows)} positions of the embedded model's logits ({rows[0].shape[0]} tokens each)")
    for temperature, top_p in SETTINGS:
        fast = per_token_us(choose_token, rows, temperature, top_p, args.repeats)
        textbook = per_token_us(reference_choice, rows, temperature, top_p, args.repeats)
        agree = sum(
            choose_token(row, temperature, top_p, np.random.default_rng(seed))
            == reference_choice(row, temperature, top_p, np.random.default_rng(seed))
            for seed, row in enumerate(rows)
        )
        print(
            f"  temperature {temperature}, top_p {top_p}: ponder {fast:6.0f} us a token, textbook "
            f"{textbook:6.0f} us ({textbook / fast:.1f}x); same pick at {agree} of {len(rows)} positions"
        )


if __name__ == "__main__":
    main()
