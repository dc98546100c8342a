"""The learned PRM beside the judge and confidence PRMs, on the candidates `train-verifier` set aside.

    python benchmarks/bench_learned_prm.py [--weights FILE] [--json out.json]
    python benchmarks/bench_learned_prm.py --eval benchmarks/data/eval_gsm8k.jsonl \
        --prms learned,confidence_mean,confidence_lowest_window

Rebuilds the item split from the weights' seed (so the same set-aside items, never seen in
training), scores each item's samples together with LearnedPRM, JudgePRM (SmolLM2-135M, P(yes))
and ConfidencePRM (both signals), and prints per source the AUROC of each and the accuracy of
majority voting against score-weighted voting at the same N, with the exact McNemar p-value of
the two on the same samples. Needs the embedded model (judge). `--eval FILE` scores a candidates
file made apart from the training data instead (`make_verifier_data.py --skip`); it is refused if
it shares an item with the weights' training files. The judge costs ~10 s a candidate on two
cores, so `--prms` can leave it out.
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

from ponder.plugin.bench.stats import mcnemar
from ponder.verifiers import Chain, ConfidencePRM, JudgePRM, VerifyTask
from ponder.verifiers._learned_eval import auroc, item_picks, selection
from ponder.verifiers._learned_train import Row, read_rows, split_items
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.learned import LearnedPRM, load_weights

DATA = Path(__file__).resolve().parent / "data"
PRMS = ("learned", "confidence_mean", "confidence_lowest_window", "judge")


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
    rows = _rows(weights.meta, args.eval)
    scored: dict[str, list[float]] = {}
    seconds: dict[str, float] = {}
    learned = LearnedPRM(weights)
    async with EmbeddedBackend() as backend:
        prms: dict[str, BaseVerifier] = {
            "learned": learned,
            "confidence_mean": ConfidencePRM(mode="mean"),
            "confidence_lowest_window": ConfidencePRM(mode="lowest_window", window=8),
            "judge": JudgePRM(backend),
        }
        for name in args.prms:
            prm = prms[name]
            start = time.perf_counter()
            scored[name] = await _scores(prm, rows)
            seconds[name] = round(time.perf_counter() - start, 1)
            print(f"{name}: scored {len(rows)} candidates in {seconds[name]}s", file=sys.stderr, flush=True)
    await learned.aclose()
    report: dict[str, Any] = {
        "weights": weights.meta["data_sha256"],
        "eval": str(args.eval) if args.eval else None,
        "seconds": seconds,
        "by_source": {},
    }
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
            "weighted_vs_majority": {name: _paired(sub, [s[i] for i in idx]) for name, s in scored.items()},
        }
    return report


def _rows(meta: dict[str, Any], eval_file: Path | None) -> list[Row]:
    """The candidates to score: the weights' own set-aside items, or an evaluation file that shares
    no item with the training files (else its AUROC would measure memory, not ranking)."""
    trained = read_rows(sorted(DATA / name for name in meta["data"]))
    if eval_file is None:
        _, holdout = split_items(trained, meta["seed"])
        return [r for r in trained if r.item in holdout]
    rows = read_rows([eval_file])
    shared = {r.item for r in rows} & {r.item for r in trained}
    if shared:
        raise SystemExit(
            f"error: {eval_file} shares {len(shared)} items with the training data (e.g. {min(shared)}); "
            "make it with make_verifier_data.py --skip N past the trained items"
        )
    return rows


def _paired(rows: list[Row], scores: list[float]) -> dict[str, Any]:
    """Weighted against majority voting on the same samples: discordant items and McNemar's p."""
    picks = item_picks(rows, scores)
    test = mcnemar(picks["weighted"], picks["majority"])
    return {"weighted_only": test.a_only, "majority_only": test.b_only, "p_value": round(test.p_value, 4)}


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
            paired = row["weighted_vs_majority"][name]
            print(
                f"  {'':<26} weighted vs majority: +{paired['weighted_only']}/-{paired['majority_only']}, "
                f"McNemar p = {paired['p_value']}"
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
    parser.add_argument("--eval", type=Path, help="score this candidates file instead of the set-aside items")
    parser.add_argument(
        "--prms",
        type=lambda text: [p.strip() for p in text.split(",") if p.strip()],
        default=list(PRMS),
        help=f"comma-separated, of: {', '.join(PRMS)}",
    )
    args = parser.parse_args()
    unknown = sorted(set(args.prms) - set(PRMS))
    if unknown:
        parser.error(f"unknown --prms {', '.join(unknown)}; choose from {', '.join(PRMS)}")
    report = asyncio.run(_run(args))
    _print(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
