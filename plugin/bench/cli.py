"""`ponder bench`: accuracy against compute on real benchmark data, resumable, with a plot.

    ponder bench --suite gsm8k --strategies greedy,self_consistency --budgets 256,1024 --limit 20

Writes to --out: results.jsonl (one line per item × strategy × budget × seed; a re-run skips what
is there), summary.json / summary.md (the table, also printed on stdout), accuracy.png and run.json
(what ran, on what machine, with which command).
"""

from __future__ import annotations

import asyncio
import shlex
from pathlib import Path
from typing import Annotated, Any, get_args

import typer

from ponder.errors import PonderError
from ponder.plugin.bench import SUITE_NAMES
from ponder.plugin.cli import QuietOpt, err_console, fail


def _split(value: str, what: str) -> tuple[str, ...]:
    parts = tuple(p.strip() for p in value.split(",") if p.strip())
    if not parts:
        raise typer.BadParameter(f"give at least one {what}, comma-separated")
    return parts


def _ints(value: str, what: str) -> tuple[int, ...]:
    try:
        numbers = tuple(int(p) for p in _split(value, what))
    except ValueError:
        raise typer.BadParameter(f"{what}s must be whole numbers, comma-separated (got {value!r})") from None
    if what == "budget" and any(b < 1 for b in numbers):
        raise typer.BadParameter("budgets are generated tokens per item and must be >= 1")
    return numbers


def _command(plan: Any, backend: str | None, backend_url: str | None, folder: Path) -> str:
    """The command line that reproduces this run (recorded in run.json, cited in RESULTS.md)."""
    args = ["ponder", "bench", "--suite", plan.suite, "--strategies", ",".join(plan.strategies)]
    args += ["--budgets", ",".join(map(str, plan.budgets)), "--seeds", ",".join(map(str, plan.seeds))]
    args += ["--n", str(plan.n)]
    if plan.limit is not None:
        args += ["--limit", str(plan.limit)]
    if plan.data is not None:
        args += ["--data", str(plan.data)]
    if plan.mutants:
        args += ["--mutants", str(plan.mutants)]
    if backend:
        args += ["--backend", backend]
    if backend_url:
        args += ["--backend-url", backend_url]
    return shlex.join([*args, "--out", str(folder)])


def bench(
    suite: Annotated[str, typer.Option("--suite", help=f"One of: {', '.join(SUITE_NAMES)}.")] = "gsm8k",
    data: Annotated[
        Path | None,
        typer.Option("--data", help="The suite's data file (default: its dev split in ../shared/datasets)."),
    ] = None,
    strategies: Annotated[
        str,
        typer.Option(
            "--strategies",
            help="Comma-separated strategies: the search strategies, exec_select (HumanEval), pal and "
            "pal_sc (solve suites, program mode); greedy is the System-1 reference.",
        ),
    ] = "greedy,self_consistency",
    budgets: Annotated[
        str, typer.Option("--budgets", help="Comma-separated generated-token budgets per item.")
    ] = "512,2048",
    seeds: Annotated[str, typer.Option("--seeds", help="Comma-separated sampling seeds.")] = "0",
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N items.")] = None,
    backend: Annotated[
        str | None,
        typer.Option("--backend", help="Backend kind: embedded, sglang or openai (else settings)."),
    ] = None,
    backend_url: Annotated[
        str | None, typer.Option("--backend-url", help="Server URL for sglang/openai backends.")
    ] = None,
    n: Annotated[int, typer.Option("--n", min=1, help="Chains for self-consistency / best-of-N / DVTS.")] = 4,
    mutants: Annotated[
        int, typer.Option("--mutants", min=0, help="Repair suites: mutation seeds (0 = the model alone).")
    ] = 0,
    out: Annotated[
        Path | None, typer.Option("--out", help="Results folder (default: bench-results/<suite>).")
    ] = None,
    summary_only: Annotated[
        bool,
        typer.Option(
            "--summary-only",
            help="Run nothing: summarize and plot every result of the suite already in --out.",
        ),
    ] = False,
    quiet: QuietOpt = False,
    ray: Annotated[
        str | None,
        typer.Option(
            "--ray",
            metavar="ADDRESS",
            help="Spread items over a Ray cluster (same results, same resume): local, auto or ray://HOST:PORT.",
        ),
    ] = None,
) -> None:
    """Run a benchmark suite through ponder's workflows and report accuracy vs tokens per item."""
    from ponder.graph.types import StrategyChoice
    from ponder.plugin.bench.datasets import BenchItem
    from ponder.plugin.bench.plot import plot_accuracy
    from ponder.plugin.bench.progress import BenchProgress
    from ponder.plugin.bench.report import format_table, summarize, write_summary
    from ponder.plugin.bench.run_info import write_run_info
    from ponder.plugin.bench.runner import BenchPlan, run_bench
    from ponder.plugin.bench.store import RESULTS_FILE, ResultStore
    from ponder.plugin.bench.strategies import OWN_STRATEGIES
    from ponder.plugin.runtime import open_runtime
    from ponder.plugin.settings import load_settings

    known = (*get_args(StrategyChoice), *OWN_STRATEGIES)
    names = _split(strategies, "strategy")
    unknown = [s for s in names if s not in known]
    if unknown:
        raise typer.BadParameter(f"unknown strategy {unknown[0]!r}; choose from {', '.join(known)}")
    folder = out or Path("bench-results") / suite
    plan = BenchPlan(
        suite=suite,
        strategies=names,
        budgets=_ints(budgets, "budget"),
        seeds=_ints(seeds, "seed"),
        limit=limit,
        data=data,
        n=n,
        mutants=mutants,
    )

    async def run() -> list[dict[str, Any]]:
        items = plan.items()
        store = ResultStore(folder / RESULTS_FILE)
        if summary_only:
            # Every result of the suite in the folder: runs with other grids add up to one table.
            found = [r for r in store.results() if r.suite == suite]
            if not found:
                raise PonderError(
                    f"no {suite} results in {store.path} to summarize; run without --summary-only"
                )
            return summarize(found)
        await _run(items, store)
        wanted = {
            (suite, item.item_id, strategy, budget, seed)
            for item in items
            for strategy, budget, seed in plan.cells()
        }
        return summarize([r for r in store.results() if r.key in wanted])

    async def _run(items: list[BenchItem], store: ResultStore) -> None:
        settings = load_settings({"backend": {"kind": backend, "url": backend_url}})
        async with open_runtime(settings, need_sandbox=plan.needs_sandbox()) as rt:
            write_run_info(folder, plan, rt, _command(plan, backend, backend_url, folder))
            total = len(items) * len(plan.cells())
            with BenchProgress(total, label=f"bench {suite}", enabled=not quiet) as progress:
                if ray is None:
                    await run_bench(plan, rt, store, on_result=progress)
                else:
                    from ponder.plugin.bench.ray_runner import run_bench_ray

                    await run_bench_ray(plan, rt, store, address=ray, on_result=progress)

    try:
        rows = asyncio.run(run())
        paths = write_summary(rows, folder)
        plot = plot_accuracy(rows, folder / "accuracy.png")
    except PonderError as exc:
        fail(str(exc))
    typer.echo(format_table(rows))
    err_console.print(
        f"results: {folder / RESULTS_FILE}   summary: {paths['summary_md']}   plot: {plot}", highlight=False
    )


def register(app: typer.Typer) -> None:
    """Add `bench` to the root `ponder` app."""
    app.command("bench")(bench)
