"""`ponder analyze`: answer a question over a table, or a word problem, with executed, verified
calculations.

Exit codes: 0 the answer is verified; 1 an answer was found but is unverified (or none was
found); 2 bad input or a failure of ponder's own parts.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ponder.errors import PonderError
from ponder.plugin import cli as shared
from ponder.plugin.search_options import SearchOptions


@shared.search_command
def analyze(
    question: Annotated[str, typer.Option("--question", "-q", help="The question to answer.")],
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            "-d",
            help="Table file: CSV, TSV, JSON or Excel (none for a word problem that states its numbers).",
        ),
    ] = None,
    text: Annotated[
        Path | None, typer.Option("--text", help="Text paragraphs (blank-line separated, or a JSON list).")
    ] = None,
    scale: Annotated[
        str | None,
        typer.Option(
            "--scale", help="Scale of the table's amounts: thousand, million, billion (default: guessed)."
        ),
    ] = None,
    reference: Annotated[
        str | None, typer.Option("--reference", help="Known answer: the result must also match it.")
    ] = None,
    require_agreement: Annotated[
        bool,
        typer.Option(
            "--require-agreement",
            help="Verified also needs two different programs of the search to reach the same value.",
        ),
    ] = False,
    *,
    search: SearchOptions,
    common: shared.CommandOptions,
) -> None:
    """Reason in steps whose Python calculations run in the sandbox over the tables; print the answer,
    whether it is verified (and why not), and the audit trail."""
    from ponder.plugin.analyze.tables import load_paragraphs, load_tables
    from ponder.plugin.analyze.workflow import AnalyzeRequest, format_audit
    from ponder.plugin.analyze.workflow import analyze as run_analysis
    from ponder.plugin.runtime import open_runtime

    if scale is not None and scale not in ("thousand", "million", "billion", "percent"):
        shared.fail(f"--scale {scale!r} is not a scale; use thousand, million, billion or percent")

    async def run() -> Any:
        settings = common.settings()
        overrides = search.overrides(settings, default_strategy="refine")
        request = AnalyzeRequest(
            question=question,
            tables=load_tables(data) if data is not None else [],
            paragraphs=load_paragraphs(text) if text else [],
            scale=scale,
            reference=reference,
            require_agreement=require_agreement,
        )
        async with open_runtime(settings) as rt:
            config = rt.search_config(**overrides)
            with common.progress("analyzing", config) as progress:
                return await run_analysis(request, rt, config, on_event=progress)

    try:
        outcome = asyncio.run(run())
        report = common.write_report(outcome.result)
    except PonderError as exc:
        shared.fail(str(exc))

    summary = outcome.summary()
    summary["report"] = report
    if common.as_json:
        typer.echo(json.dumps(summary, indent=2, default=str))
    else:
        for line in format_audit(outcome):
            typer.echo(line)
        if summary["report"]:
            typer.echo(f"report: {summary['report']}")
    raise typer.Exit(shared.EXIT_OK if outcome.verified else shared.EXIT_NO_FIX)


def register(app: typer.Typer) -> None:
    """Add `analyze` to the root `ponder` app."""
    app.command("analyze")(analyze)
