"""`ponder solve`: the command-line face of the solve workflow.

Exit codes (`ponder.plugin.cli`): 0 an answer was found and, when a reference was given, it
matched; 1 no answer, or not the reference; 2 bad input or a failure of ponder's own parts.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ponder.errors import PonderError
from ponder.plugin import cli as shared
from ponder.plugin.search_options import SearchOptions

if TYPE_CHECKING:
    from ponder.graph.types import SearchConfig


@shared.search_command
def solve(
    question: Annotated[str, typer.Argument(help="The problem, in words.", show_default=False)],
    reference: Annotated[
        str | None, typer.Option("--reference", "-r", help="Known answer: the result is checked against it.")
    ] = None,
    n: Annotated[
        int | None, typer.Option("--n", min=1, help="Chains for best-of-N / self-consistency.")
    ] = None,
    program: Annotated[
        bool,
        typer.Option(
            "--program",
            help="Answer with a Python program run in the sandbox: the answer is the number its "
            "solution() returns (with self_consistency, the majority of the N programs' values).",
        ),
    ] = False,
    *,
    search: SearchOptions,
    common: shared.CommandOptions,
) -> None:
    """Solve a math or word problem step by step; with --reference, the answer is verified against it.

    With --program the model writes a program instead, run in the sandbox (PAL).
    """
    from ponder.plugin.runtime import open_runtime
    from ponder.plugin.solve.workflow import solve_question

    async def run() -> Any:
        settings = common.settings()
        async with open_runtime(settings, need_sandbox=program) as rt:
            config: SearchConfig = rt.search_config(n=n, **search.overrides(settings))
            with common.progress("solving", config) as progress:
                return await solve_question(
                    question, rt, config, reference=reference, on_event=progress, program=program
                )

    try:
        outcome = asyncio.run(run())
        report = common.write_report(outcome.result)
    except PonderError as exc:
        shared.fail(str(exc))

    summary = outcome.summary()
    summary["report"] = report
    if common.as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(f"answer: {outcome.answer if outcome.answer is not None else '(none)'}")
        typer.echo(f"status: {outcome.status} ({outcome.detail})")
        if program:
            typer.echo(f"votes: {outcome.votes_line}")
        typer.echo(
            f"strategy: {outcome.result.strategy}   tokens: {summary['tokens']}   "
            f"expansions: {summary['expansions']}   time: {summary['seconds']:.1f}s"
        )
        if summary["report"]:
            typer.echo(f"report: {summary['report']}")
    ok = outcome.answer is not None and (reference is None or outcome.verified)
    raise typer.Exit(shared.EXIT_OK if ok else shared.EXIT_NO_FIX)


def register(app: typer.Typer) -> None:
    """Add `solve` to the root `ponder` app."""
    app.command("solve")(solve)
