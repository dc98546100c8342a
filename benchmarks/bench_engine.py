"""Embedded engine benchmark: decode speed, prefill speed, and prefix reuse in a search-shaped load.

Prints ratios, not pass/fail: tree search re-sends each parent's tokens as the prompt of its
children, so what matters is the share of prompt tokens the engine evaluates again. The chain
load generates 4 children of each node along a 6-step chain (each step continues the previous
node by token ids, as the search does) once with the prefix cache and once without, in two
shapes: one request with n=4, and 4 separate requests (siblings with different prompts tails
or from different strategies arrive that way).

Run: .venv/bin/python benchmarks/bench_engine.py [--steps 6] [--children 4] [--step-tokens 48]
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass

from ponder.backends import EmbeddedBackend
from ponder.backends.base import ChatMessage, Completion, GenerationRequest, Usage
from ponder.backends.settings import BackendSettings

TASK = [
    ChatMessage(
        role="system",
        content="You are a careful assistant. Think step by step; write one short step per paragraph.",
    ),
    ChatMessage(
        role="user",
        content=(
            "A warehouse holds 1,240 boxes. Each morning 15% of the boxes are shipped and 85 new "
            "boxes arrive in the afternoon. The manager wants to know how many boxes remain after "
            "three days, whether the number ever drops below 1,000, and by how much the stock "
            "changed in percent. Explain each day's arithmetic separately, then give the answer "
            "on a final line that starts with 'Answer:'."
        ),
    ),
]


@dataclass
class ChainRun:
    usage: Usage
    seconds: float

    @property
    def ms_per_token(self) -> float:
        return 1000 * self.seconds / max(1, self.usage.completion_tokens)

    @property
    def recomputed(self) -> float:
        return (self.usage.prompt_tokens - self.usage.cached_tokens) / max(1, self.usage.prompt_tokens)


async def decode_rate(backend: EmbeddedBackend, tokens: int) -> tuple[float, float]:
    """Single-stream decode tokens/s (prefill excluded) and cold prefill tokens/s."""
    base = GenerationRequest(messages=TASK, temperature=0.9, seed=11, max_tokens=1)
    t0 = time.perf_counter()
    [[first]] = await backend.generate([base])
    prefill_s = time.perf_counter() - t0
    prompt = first.prompt_token_ids
    # Same prompt again: prefill is a one-token cache hit, so the time is decoding.
    t0 = time.perf_counter()
    [[long]] = await backend.generate([base.model_copy(update={"max_tokens": tokens})])
    decode_s = time.perf_counter() - t0
    return len(long.token_ids) / decode_s, len(prompt) / prefill_s


async def chain(
    backend: EmbeddedBackend, *, steps: int, children: int, step_tokens: int, split: bool
) -> ChainRun:
    """Expand `children` siblings per node along a chain of `steps` nodes; sum prompt usage."""
    usage = Usage()
    node_ids = backend.tokenize(backend.render_chat(TASK))
    t0 = time.perf_counter()
    for step in range(steps):
        common = {"temperature": 0.8, "max_tokens": step_tokens, "stop": ["\n\n"], "token_ids": node_ids}
        if split:
            reqs = [GenerationRequest(**common, seed=100 * step + i) for i in range(children)]
        else:
            reqs = [GenerationRequest(**common, n=children, seed=100 * step)]
        rows = await backend.generate(reqs)
        kids: list[Completion] = [c for row in rows for c in row]
        for c in kids:
            usage = usage + c.usage
        chosen = kids[step % children]  # not always the last sibling: its KV sits in a forked sequence
        node_ids = chosen.prompt_token_ids + chosen.token_ids  # ends with the "\n\n" stop tokens
        if chosen.finish_reason != "stop":
            node_ids += backend.tokenize("\n\n")
    return ChainRun(usage, time.perf_counter() - t0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--children", type=int, default=4)
    parser.add_argument("--step-tokens", type=int, default=48)
    parser.add_argument("--decode-tokens", type=int, default=128)
    parser.add_argument("--threads", type=int, default=None, help="llama.cpp threads (default: cores)")
    args = parser.parse_args()
    settings = BackendSettings(n_threads=args.threads)

    async with EmbeddedBackend(settings) as backend:
        tps, prefill_tps = await decode_rate(backend, args.decode_tokens)
        root_tokens = len(backend.tokenize(backend.render_chat(TASK)))
    print(f"decode, single stream:      {tps:7.1f} tokens/s")
    print(f"prefill, cold prompt:       {prefill_tps:7.1f} tokens/s")
    runs = {}
    for mode, cache_mb in (("cache", settings.cache_mb), ("none", 0)):
        for split in (False, True):
            # A fresh engine per run: the root prompt starts cold and counts as recomputed.
            async with EmbeddedBackend(settings.model_copy(update={"cache_mb": cache_mb})) as backend:
                runs[(mode, split)] = await chain(
                    backend,
                    steps=args.steps,
                    children=args.children,
                    step_tokens=args.step_tokens,
                    split=split,
                )

    print(
        f"\nchain: {args.children} children of each node along {args.steps} steps, cold start "
        f"(root prompt {root_tokens} tokens; target <= 15% of prompt tokens recomputed)"
    )
    for split, shape in ((False, f"one request, n={args.children}"), (True, f"{args.children} requests")):
        hit, miss = runs[("cache", split)], runs[("none", split)]
        print(
            f"  {shape:<22} prompt tokens {hit.usage.prompt_tokens:6d}  recomputed "
            f"{hit.recomputed:6.1%} with cache vs {miss.recomputed:6.1%} without  "
            f"({hit.usage.prompt_tokens - hit.usage.cached_tokens} vs "
            f"{miss.usage.prompt_tokens - miss.usage.cached_tokens} tokens)  "
            f"wall {hit.ms_per_token:5.1f} vs {miss.ms_per_token:5.1f} ms per generated token "
            f"({miss.ms_per_token / hit.ms_per_token:.2f}x; sampled texts differ in length, so per token)"
        )
        status = "meets" if hit.recomputed <= 0.15 else "MISSES"
        print(f"  {'':<22} {status} the <= 15% target")


if __name__ == "__main__":
    asyncio.run(main())
