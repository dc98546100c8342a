"""Labelled candidates for the learned PRM: the embedded model's own samples, marked right or wrong
by executing a check (the extracted number against the computed or gold answer).

    python benchmarks/make_verifier_data.py --source gsm8k --items 24 --samples 4
    python benchmarks/make_verifier_data.py --source arith --items 48 --samples 4 --max-tokens 64
    python benchmarks/make_verifier_data.py --skip 24 --items 200 --out benchmarks/data/eval_gsm8k.jsonl

The third writes an evaluation set: GSM8K dev items after the 24 the shipped weights were trained
on, for `bench_learned_prm.py --eval`, which refuses a file that shares an item with the training data.

Two sources. `gsm8k`: GSM8K dev items, checked as ponder's bench checks them. `arith`: one- and
two-step word problems built from a seeded generator, whose answers are computed; they exist
because the 135M model answers almost no GSM8K item right (0 of 16 samples in a first probe), and a
verifier cannot learn "right" from a set with no right candidates.

Writes benchmarks/data/verifier_<source>.jsonl (one candidate per line: item id, question, text,
token logprobs, extracted answer, gold, label) and, beside it, verifier_<source>.meta.json with the
file's sha256, the model file's sha256, the generation settings and the date. Deterministic for a
given model and llama.cpp build (seeded sampling), and resumable: items already in the file are
skipped, so an interrupted run continues where it stopped. `ponder train-verifier` reads the file.

Only dev items: the split into training and set-aside items is made by `train-verifier`, by item.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import hashlib
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

from ponder.backends.base import BaseBackend, GenerationRequest
from ponder.plugin.bench.datasets import BenchItem, check_gsm8k, load_items
from ponder.plugin.solve.prompts import solve_messages
from ponder.verifiers.answers import extract_answer

DATA_DIR = Path(__file__).resolve().parent / "data"
WAVE_ITEMS = 4
"""Items per generate call: 4 items x 4 samples fill the embedded engine's 16 KV sequences."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_NAMES = ("Ana", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana")
_THINGS = ("apples", "marbles", "stickers", "pencils", "cookies", "stamps")
_TEMPLATES = (
    ("{n} has {a} {t} and gets {b} more. How many {t} does {n} have now?", lambda a, b, c: a + b),
    ("{n} has {a} bags with {b} {t} in each bag. How many {t} are there in all?", lambda a, b, c: a * b),
    ("{n} has {s} {t} and gives {b} of them away. How many {t} are left?", lambda a, b, c: a + 10 - b),
    (
        "{n} has {a} {t}, gets {b} more and then gives {c} away. How many {t} are left?",
        lambda a, b, c: a + b - c,
    ),
)


def arith_items(count: int, seed: int) -> list[BenchItem]:
    """One- and two-step problems on one-digit numbers: what the 135M model gets right often enough
    to learn from (with two-digit, two-step problems it got 1 of 16 samples right)."""
    rng = random.Random(seed)
    items = []
    for i in range(count):
        template, value = _TEMPLATES[i % len(_TEMPLATES)]
        a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 4)
        question = template.format(n=rng.choice(_NAMES), t=rng.choice(_THINGS), a=a, b=b, c=c, s=a + 10)
        items.append(BenchItem("arith", str(i), question, str(value(a, b, c)), {}))
    return items


def _done_items(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return {json.loads(line)["item"] for line in path.read_text(encoding="utf-8").splitlines() if line}


def _label(item: BenchItem, text: str) -> tuple[str | None, bool]:
    answer = extract_answer(text, "number")
    return answer, answer is not None and check_gsm8k(item, answer)


async def _generate(
    backend: BaseBackend, items: list[BenchItem], args: argparse.Namespace, first_index: int
) -> list[dict[str, Any]]:
    requests = [
        GenerationRequest(
            messages=solve_messages(item.question),
            n=args.samples,
            max_tokens=args.max_tokens,
            temperature=args.temperature,
            seed=args.seed + 1000 * (first_index + k),
            logprobs=True,
        )
        for k, item in enumerate(items)
    ]
    rows = []
    for item, samples in zip(items, await backend.generate(requests), strict=True):
        for s, completion in enumerate(samples):
            answer, ok = _label(item, completion.text)
            rows.append(
                {
                    "item": f"{item.suite}/{item.item_id}",
                    "sample": s,
                    "kind": "math",
                    "question": item.question,
                    "text": completion.text,
                    "logprobs": [round(lp.logprob, 3) for lp in completion.logprobs or []],
                    "finish": completion.finish_reason,
                    "answer": answer,
                    "gold": item.gold,
                    "label": int(ok),
                }
            )
    return rows


async def _run(args: argparse.Namespace) -> None:
    from ponder.backends import EmbeddedBackend

    items = (
        load_items("gsm8k")[args.skip : args.skip + args.items]
        if args.source == "gsm8k"
        else arith_items(args.items, args.seed)
    )
    done = _done_items(args.out)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    async with EmbeddedBackend() as backend:
        model_path = backend.model_path
        for first in range(0, len(items), WAVE_ITEMS):
            wave = [it for it in items[first : first + WAVE_ITEMS] if f"{it.suite}/{it.item_id}" not in done]
            if not wave:
                continue
            rows = await _generate(backend, wave, args, args.skip + first)
            with args.out.open("a", encoding="utf-8") as fh:
                fh.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
            right = sum(r["label"] for r in rows)
            print(
                f"items {first + 1}-{first + len(wave)}: {right}/{len(rows)} right "
                f"({time.perf_counter() - start:.0f}s)",
                file=sys.stderr,
                flush=True,
            )
    _sort(args.out)
    meta = {
        "data": args.out.name,
        "source": args.source,
        "data_sha256": sha256_file(args.out),
        "model": model_path.name,
        "model_sha256": sha256_file(model_path),
        "items": args.items,
        "skip": args.skip,
        "samples": args.samples,
        "max_tokens": args.max_tokens,
        "temperature": args.temperature,
        "seed": args.seed,
        "label": "extract_answer(text, 'number') equals the gold by math_equal (check_gsm8k)",
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "command": "python benchmarks/make_verifier_data.py " + " ".join(sys.argv[1:]),
    }
    args.out.with_suffix(".meta.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(meta, indent=2))


def _sort(path: Path) -> None:
    """One order whatever the resume history, so the hash depends only on the content."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    rows.sort(key=lambda r: (r["item"], r["sample"]))
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", choices=("gsm8k", "arith"), default="gsm8k")
    parser.add_argument("--items", type=int, default=48, help="first N GSM8K dev items, or N word problems")
    parser.add_argument("--skip", type=int, default=0, help="GSM8K: start after the first K dev items")
    parser.add_argument("--samples", type=int, default=4, help="samples per item")
    parser.add_argument("--max-tokens", type=int, default=160)
    parser.add_argument("--temperature", type=float, default=0.8)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, help="default: benchmarks/data/verifier_<source>.jsonl")
    args = parser.parse_args()
    args.out = args.out or DATA_DIR / f"verifier_{args.source}.jsonl"
    asyncio.run(_run(args))


if __name__ == "__main__":
    main()
