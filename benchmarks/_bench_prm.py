"""PRM quality rows for bench_verifiers.py: AUROC at telling right from wrong, on the embedded model.

Two set-ups, both small and honest (the judge is a 135M model; expect figures near 0.5):
  1. gold vs perturbed GSM8K solutions: the gold solution's last computation step against the
     same solution with that step's result changed by ~20% (and the answer with it). JudgePRM
     scores the last step.
  2. real model samples labelled by execution: SmolLM2 answers small arithmetic questions; an
     answer is correct when its last number equals the computed result. ConfidencePRM (both
     signals) and JudgePRM score each sample.

Run alone: `python benchmarks/_bench_prm.py [--items N]`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ponder.backends.base import BaseBackend, ChatMessage, GenerationRequest
from ponder.verifiers import Chain, ConfidencePRM, JudgePRM, VerifyTask

DATASETS = Path(
    os.environ.get("PONDER_DATASETS", Path(__file__).resolve().parents[2] / "shared" / "datasets")
)

_CALC = re.compile(r"<<[^>]*>>")
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


def auroc(positives: Sequence[float], negatives: Sequence[float]) -> float | None:
    """P(a random positive outscores a random negative), ties counting half; None if a class is empty."""
    if not positives or not negatives:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in positives for n in negatives)
    return wins / (len(positives) * len(negatives))


def gsm8k_pairs(limit: int) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """(question, gold steps, perturbed steps) where only the last step's result differs."""
    pairs = []
    for line in (DATASETS / "gsm8k_dev.jsonl").read_text().splitlines():
        record = json.loads(line)
        body, _, answer = record["answer"].rpartition("####")
        steps = [_CALC.sub("", s).strip() for s in body.strip().splitlines() if s.strip()]
        answer = answer.strip().replace(",", "")
        if not steps:
            continue
        last = steps[-1]
        hits = [m for m in _NUMBER.finditer(last) if m.group().replace(",", "") == answer]
        if not hits:
            continue
        value = float(answer)
        wrong = value + max(1, round(abs(value) * 0.2))
        wrong_text = str(int(wrong)) if wrong == int(wrong) else f"{wrong:g}"
        m = hits[-1]
        bad_last = last[: m.start()] + wrong_text + last[m.end() :]
        gold = (*steps[:-1], f"{last}\nAnswer: {answer}")
        bad = (*steps[:-1], f"{bad_last}\nAnswer: {wrong_text}")
        pairs.append((record["question"], gold, bad))
        if len(pairs) >= limit:
            break
    return pairs


def arithmetic_items(limit: int, seed: int = 0) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    items = []
    for _ in range(limit):
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        op = rng.choice(["+", "*", "-"])
        value = a + b if op == "+" else a * b if op == "*" else a - b
        items.append((f"What is {a} {op} {b}? Reply with the number only.", value))
    return items


def _last_number(text: str) -> float | None:
    found = _NUMBER.findall(text)
    return float(found[-1].replace(",", "")) if found else None


async def _judge_gold_vs_perturbed(backend: BaseBackend, items: int) -> dict[str, Any]:
    pairs = gsm8k_pairs(items)
    judge = JudgePRM(backend)
    start = time.perf_counter()
    pos, neg = [], []
    for question, gold, bad in pairs:
        task = VerifyTask(kind="math", question=question)
        good_s, bad_s = await judge.score(task, [Chain(steps=gold), Chain(steps=bad)])
        pos.append(good_s.score)
        neg.append(bad_s.score)
    return {
        "verifier": "JudgePRM (SmolLM2-135M, P(yes) from logprobs)",
        "data": "GSM8K gold vs perturbed last step",
        "positives": len(pos),
        "negatives": len(neg),
        "auroc": auroc(pos, neg),
        "seconds": round(time.perf_counter() - start, 1),
    }


async def _samples_by_execution(backend: BaseBackend, items: int) -> list[dict[str, Any]]:
    questions = arithmetic_items(items)
    start = time.perf_counter()
    requests = [
        GenerationRequest(
            messages=[ChatMessage(role="user", content=q)],
            n=2,
            max_tokens=16,
            temperature=0.8,
            seed=11 + i,
            logprobs=True,
        )
        for i, (q, _) in enumerate(questions)
    ]
    rows = await backend.generate(requests)
    gen_s = time.perf_counter() - start
    labelled: list[tuple[VerifyTask, list[Chain], list[bool]]] = []
    for (question, value), samples in zip(questions, rows, strict=True):
        chains = [
            Chain(steps=(c.text,), terminal=True, step_logprobs=tuple(lp.logprob for lp in c.logprobs or []))
            for c in samples
        ]
        oks = [_last_number(c.text) == value for c in samples]
        labelled.append((VerifyTask(kind="math", question=question), chains, oks))
    out = []
    for name, prm in (
        ("ConfidencePRM mean", ConfidencePRM(mode="mean")),
        ("ConfidencePRM lowest window (4)", ConfidencePRM(mode="lowest_window", window=4)),
        ("JudgePRM (SmolLM2-135M, logprobs)", JudgePRM(backend)),
    ):
        start = time.perf_counter()
        pos, neg = [], []
        for task, chains, oks in labelled:  # one call per question: its samples are siblings
            for result, ok in zip(await prm.score(task, chains), oks, strict=True):
                (pos if ok else neg).append(result.score)
        out.append(
            {
                "verifier": name,
                "data": "SmolLM2 samples on small arithmetic, labelled by execution",
                "positives": len(pos),
                "negatives": len(neg),
                "auroc": auroc(pos, neg),
                "seconds": round(time.perf_counter() - start + (gen_s if "Confidence" in name else 0), 1),
            }
        )
    return out


async def _rows(items: int) -> list[dict[str, Any]]:
    from ponder.backends import EmbeddedBackend

    async with EmbeddedBackend() as backend:
        return [await _judge_gold_vs_perturbed(backend, items), *await _samples_by_execution(backend, items)]


def prm_rows(items: int = 20) -> list[dict[str, Any]]:
    """AUROC rows for the PRMs; needs the `local` extra (embedded model). `items` per set-up."""
    return asyncio.run(_rows(items))


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=20, help="problems per set-up")
    args = parser.parse_args()
    for row in prm_rows(args.items):
        print(
            f"{row['verifier']:<46} {row['data']:<58} pos={row['positives']:<3} neg={row['negatives']:<3} "
            f"AUROC={_fmt(row['auroc'])}  ({row['seconds']}s)"
        )
