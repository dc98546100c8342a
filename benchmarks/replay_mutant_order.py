"""Replay of the repair tree's first edits: which mutant order reaches the fix in fewest test runs.

`ponder bench --suite repair:...` measures one order per run, a quarter of an hour each. To
compare orders, this script tests every first-level mutant of every dev repair-set case once
(in the sandbox, each case's visible tests) and asks the model for its ranking score, then
replays the edit tree's first 24 edits under each order offline: the root expanded twice with 12
children, each expansion choosing from a window of 36 in the base order (the model's ranking
interleaved with it, `edit_tree.interleave`), tested in waves of 4. A case counts as fixed when a
mutant among its first 24 edits passes every visible test; second edits and hidden tests are
left to the bench. So the replay ranks orders; the README's figures come from the bench.

Run: .venv/bin/python benchmarks/replay_mutant_order.py [--mutants 96] [--data FILE]
     (`--data` keeps the collected mutants, by default the 2026-12-07 collection, so the replay
     alone runs; a new file is collected first, ~20 minutes on 2 cores, most of it in mutants
     that loop until the test-run timeout)
"""

from __future__ import annotations

import argparse
import asyncio
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ponder.plugin.repair.edit_tree import RANK_WINDOW, interleave
from ponder.plugin.repair.mutations import TIE_MARGIN, tiers

ROOT = Path(__file__).resolve().parents[1]
EXPANSIONS, CHILDREN, WINDOW, WAVE = 2, 12, RANK_WINDOW, 4
"""The beam's first round at `--mutants 24`: two expansions of the root, 12 children each, the
ranker choosing among 3x that many (`edit_tree.RANK_WINDOW`), tested 4 at a time."""

Case = dict[str, Any]
Order = Callable[[Case], list[int]]


async def collect(path: Path, limit: int) -> None:
    """Every case's mutants in the operators' order (distance to the focus, operator rank), each
    with its line's suspiciousness, the model's score and its visible-test result."""
    from ponder.plugin.bench.runner import REPAIR_LIMITS
    from ponder.plugin.repair import localize
    from ponder.plugin.repair.mutant_rank import model_scores
    from ponder.plugin.repair.mutations import mutants_across
    from ponder.plugin.repair.project import load_project
    from ponder.plugin.repair.workflow import _with, run_tests
    from ponder.plugin.runtime import open_runtime
    from ponder.plugin.settings import PonderSettings

    done = {json.loads(line)["case"] for line in path.open()} if path.exists() else set()
    cases = sorted(p for p in (ROOT / "benchmarks" / "repair_set").iterdir() if (p / "project").is_dir())
    todo = [c for c in cases if c.name not in done]
    if not todo:
        return
    async with open_runtime(PonderSettings()) as rt:
        sandbox = rt.require_sandbox()
        for case in todo:
            project = load_project(case / "project")
            baseline = await run_tests(sandbox, project, REPAIR_LIMITS, coverage=True)
            target, lines = localize.choose_target(project, baseline)
            py = {p: t for p, t in project.sources.items() if p.endswith(".py")}
            suspects = localize.rank(baseline, py, localize.traceback_lines(baseline, py))
            focus = localize.focus(suspects, (target, lines))
            score_of = {(s.path, s.line): s.score for s in suspects}
            mutants = mutants_across({p: project.sources[p] for p in focus}, focus)[:limit]
            scores = await model_scores(rt.backend, project.sources, mutants)
            rows = []
            for mutant, score in zip(mutants, scores, strict=True):
                report = await run_tests(
                    sandbox, _with(project, {mutant.path: mutant.source}), REPAIR_LIMITS, trusted=project
                )
                rows.append(
                    {
                        "path": mutant.path,
                        "line": mutant.line,
                        "distance": mutant.distance,
                        "suspiciousness": score_of.get((mutant.path, mutant.line), 0.0),
                        "model": score,
                        "fixes": report.all_passed,
                        "what": mutant.description,
                    }
                )
            with path.open("a") as f:
                f.write(json.dumps({"case": case.name, "mutants": rows}) + "\n")
            print(f"{case.name}: {len(rows)} mutants, {sum(r['fixes'] for r in rows)} fix", flush=True)


def tested(case: Case, base: Sequence[int], ranked: bool) -> list[int]:
    """The first edits in the order the tree tests them."""
    mutants = case["mutants"]
    out: list[int] = []
    for _ in range(EXPANSIONS):
        fresh = [i for i in base if i not in out][: CHILDREN * (WINDOW if ranked else 1)]
        if ranked:
            rows = [mutants[i] for i in fresh]
            index = {id(row): i for row, i in zip(rows, fresh, strict=True)}
            by_model = sorted(rows, key=lambda row: -row["model"])
            fresh = [index[id(row)] for row in interleave(by_model, rows)]
        out += fresh[:CHILDREN]
    return out


def runs_to_fix(case: Case, order: Sequence[int]) -> int | None:
    for position, i in enumerate(order):
        if case["mutants"][i]["fixes"]:
            return (position // WAVE + 1) * WAVE
    return None


def operators(case: Case) -> list[int]:
    return list(range(len(case["mutants"])))


def by_tier(margin: float, per_file: bool) -> Callable[[Case], list[int]]:
    """At one distance, the line's tier of suspiciousness (scores within `margin` of a tier's top
    tie), per file or across files; then the operators' order."""

    def order(case: Case) -> list[int]:
        mutants = case["mutants"]
        # across files = every line in one file's tiers
        key = [(m["path"] if per_file else "", m["line"] if per_file else i) for i, m in enumerate(mutants)]
        tier = tiers({k: m["suspiciousness"] for k, m in zip(key, mutants, strict=True)}, margin)
        return sorted(
            range(len(mutants)),
            key=lambda i: (mutants[i]["distance"], tier[key[i]], i),
        )

    return order


def report(cases: list[Case]) -> None:
    bases: dict[str, Order] = {
        "operators (distance, rank)": operators,
        "strict suspiciousness": by_tier(0.0, per_file=False),
        f"tiers {TIE_MARGIN} across files": by_tier(TIE_MARGIN, per_file=False),
        f"tiers {TIE_MARGIN} per file (shipped)": by_tier(TIE_MARGIN, per_file=True),
    }
    print(
        f"{'base order':32} {'fixed':>5} {'ranked':>6}  test runs to the fix, ranked vs not, where both fix"
    )
    for name, base in bases.items():
        plain = {c["case"]: runs_to_fix(c, tested(c, base(c), ranked=False)) for c in cases}
        ranked = {c["case"]: runs_to_fix(c, tested(c, base(c), ranked=True)) for c in cases}
        both = [k for k in plain if plain[k] is not None and ranked[k] is not None]
        a = sum(plain[k] or 0 for k in both)
        b = sum(ranked[k] or 0 for k in both)
        fixed = sum(v is not None for v in plain.values())
        fixed_ranked = sum(v is not None for v in ranked.values())
        saving = f"{b} vs {a} on {len(both)} ({1 - b / a:.0%} fewer)" if a else "-"
        print(f"{name:32} {fixed:>5} {fixed_ranked:>6}  {saving}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--mutants", type=int, default=96, help="first-level mutants per case (the window's reach)"
    )
    parser.add_argument(
        "--data", type=Path, default=ROOT / "benchmarks" / "results" / "mutant_order_20261207.jsonl"
    )
    args = parser.parse_args()
    asyncio.run(collect(args.data, args.mutants))
    report([json.loads(line) for line in args.data.open()])


if __name__ == "__main__":
    main()
