"""Run `ponder bench --suite humaneval` with `exec_select` registered as runner.py will register it.

Until the two registration lines land in plugin/bench/runner.py and plugin/cli_bench.py (see
plugin/bench/humaneval_select.py), this applies them in-process: `exec_select` items run
`runner.run_item` with the codegen workflow swapped for `humaneval_select.exec_select` and the
graph strategy it samples with, then are recorded under their own name.

    python benchmarks/results/humaneval_20261202/run.py --n 4 --limit 20 \
        --out benchmarks/results/humaneval_20261202/n4
"""

from __future__ import annotations

import argparse
import asyncio
import shlex
import sys
from pathlib import Path

from ponder.plugin.bench import humaneval_select, runner
from ponder.plugin.bench.report import format_table, summarize, write_summary
from ponder.plugin.bench.store import RESULTS_FILE, ItemResult, ResultStore
from ponder.plugin.runtime import Runtime, open_runtime
from ponder.plugin.settings import load_settings

_run_item = runner.run_item


async def run_item(
    item: runner.BenchItem, rt: Runtime, plan: runner.BenchPlan, strategy: str, budget: int, seed: int
) -> ItemResult:
    if strategy != humaneval_select.NAME:
        return await _run_item(item, rt, plan, strategy, budget, seed)
    saved = runner.WORKFLOWS["codegen"]
    runner.WORKFLOWS["codegen"] = humaneval_select.exec_select
    try:
        result = await _run_item(item, rt, plan, humaneval_select.SAMPLING, budget, seed)
    finally:
        runner.WORKFLOWS["codegen"] = saved
    return result.model_copy(update={"strategy": humaneval_select.NAME})


async def main(args: argparse.Namespace) -> None:
    runner.run_item = run_item  # type: ignore[assignment]
    plan = runner.BenchPlan(
        suite="humaneval",
        strategies=tuple(args.strategies.split(",")),
        budgets=(args.budget,),
        limit=args.limit,
        n=args.n,
    )
    out = Path(args.out)
    store = ResultStore(out / RESULTS_FILE)
    async with open_runtime(load_settings({}), need_sandbox=True) as rt:
        runner.write_run_info(out, plan, rt, shlex.join(["python", *sys.argv]))
        items = plan.items()
        total = len(items) * len(plan.cells())
        with runner.BenchProgress(total, label="bench humaneval") as progress:
            await runner.run_bench(plan, rt, store, on_result=progress)
    rows = summarize(store.results())
    write_summary(rows, out)
    print(format_table(rows))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--strategies", default="greedy,exec_select")
    parser.add_argument("--n", type=int, default=4)
    parser.add_argument("--budget", type=int, default=2048)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--out", required=True)
    asyncio.run(main(parser.parse_args()))
