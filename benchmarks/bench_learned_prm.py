"""The learned PRM beside the judge and confidence PRMs, on the candidates `train-verifier` set aside.

    python benchmarks/bench_learned_prm.py [--weights FILE] [--json out.json]

Rebuilds the item split from the weights' seed (so the same set-aside items, never seen in
training), scores each item's samples together with LearnedPRM, JudgePRM (SmolLM2-135M, P(yes))
and ConfidencePRM (both signals), and prints per source the AUROC of each and the accuracy of
majority voting against score-weighted voting at the same N. Needs the embedded model (judge).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from ponder.verifiers import Chain, ConfidencePRM, JudgePRM, VerifyTask
from ponder.verifiers._learned_train import Row, auroc, read_rows, selection, split_items
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.learned import LearnedPRM, load_weights

DATA = Path(__file__).resolve().parent / "data"


def _chain(row: Row) -> Chain:
    steps = tuple(p.strip() for p in re.split(r"\n\s*\n", row.candidate.text) if p.strip()) or ("",)
    return Chain(
        steps=steps, terminal=True, answer=row.candidate.answer, step_logprobs=row.candidate.logprobs
    )


async def _scores(prm: BaseVerifier, rows: list[Row]) -> list[float]:
    """One call per item: its samples are siblings, as in a search."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[r.item].append(i)
    out = [0.0] * len(rows)
    for idx in groups.values():
        task = VerifyTask(kind="math", question=rows[idx[0]].candidate.question)
        for i, s in zip(idx, await prm.score(task, [_chain(rows[i]) for i in idx]), strict=True):
            out[i] = s.score
    return out


async def _run(args: argparse.Namespace) -> dict[str, Any]:
    from ponder.backends import EmbeddedBackend

    weights = load_weights(args.weights)
    rows = read_rows(sorted(DATA / name for name in weights.meta["data"]))
    _, holdout = split_items(rows, weights.meta["seed"])
    rows = [r for r in rows if r.item in holdout]
    scored: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    learned = LearnedPRM(weights)
    async with EmbeddedBackend() as backend:
        for name, prm in (
            ("learned", learned),
            ("confidence_mean", ConfidencePRM(mode="mean")),
            ("confidence_lowest_window", ConfidencePRM(mode="lowest_window", window=8)),
            ("judge", JudgePRM(backend)),
        ):
            start = time.perf_counter()
            scored[name] = await _scores(prm, rows)
            seconds[name] = round(time.perf_counter() - start, 1)
            print(f"{name}: scored {len(rows)} candidates in {seconds[name]}s", file=sys.stderr, flush=True)
    await learned.aclose()
    report: dict[str, Any] = {"weights": weights.meta["data_sha256"], "seconds": seconds, "by_source": {}}
    for source in sorted({r.source for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.source == source]
        sub = [rows[i] for i in idx]
        labels = [r.label for r in sub]
        report["by_source"][source] = {
            "items": len({r.item for r in sub}),
            "candidates": len(sub),
            "right": sum(labels),
            "auroc": {name: auroc([s[i] for i in idx], labels) for name, s in scored.items()},
            "selection": {name: selection(sub, [s[i] for i in idx]) for name, s in scored.items()},
        }
    return report


def _print(report: dict[str, Any]) -> None:
    for source, row in report["by_source"].items():
        print(
            f"{source}: {row['items']} set-aside items, {row['candidates']} candidates, {row['right']} right"
        )
        for name, value in row["auroc"].items():
            sel = row["selection"][name]
            print(
                f"  {name:<26} AUROC={'n/a' if value is None else f'{value:.3f}'}  "
                f"weighted {sel['weighted']['right']}/{sel['items']} {sel['weighted']['ci95']}  "
                f"best-of-N {sel['best_of_n']['right']}/{sel['items']}"
            )
        any_sel = next(iter(row["selection"].values()))
        print(
            f"  majority voting: {any_sel['majority']['right']}/{any_sel['items']} "
            f"{any_sel['majority']['ci95']}; "
            f"any sample right: {any_sel['oracle']['right']}/{any_sel['items']}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weights", type=Path, help="default: the shipped weights")
    parser.add_argument("--json", type=Path, help="also write the report here")
    args = parser.parse_args()
    report = asyncio.run(_run(args))
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
