"""`ponder repair`: the command-line face of the repair workflow.

Exit codes (`ponder.plugin.cli`): 0 a fix was verified (or every test already passed), 1 no
verified fix within the budget, 2 bad input or a failure of ponder's own parts.
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

# Only what the option declarations need is imported above: Typer reads the signatures at start-up,
# so anything else a command uses is imported inside it to keep `ponder --help` fast.


@shared.search_command
def repair(
    path: Annotated[
        Path | None,
        typer.Argument(help="Project folder with source files and pytest tests.", show_default=False),
    ] = None,
    file: Annotated[Path | None, typer.Option("--file", "-f", help="Repair this one file...")] = None,
    tests: Annotated[
        list[Path] | None, typer.Option("--tests", "-t", help="...against these test files (repeatable).")
    ] = None,
    apply: Annotated[
        bool, typer.Option("--apply", help="Write the verified fix to disk (atomically; keeps NAME.orig).")
    ] = False,
    mutants: Annotated[
        int,
        typer.Option("--mutants", min=0, help="Mutation-operator candidates near failing lines (0 = off)."),
    ] = 24,
    test_timeout: Annotated[
        float | None,
        typer.Option("--test-timeout", min=0.5, help="Seconds per test-suite run in the sandbox."),
    ] = None,
    *,
    search: SearchOptions,
    common: shared.CommandOptions,
) -> None:
    """Find a patch that makes the failing tests pass, verified by running the full suite in the sandbox.

    Prints the diff of the verified fix and a summary; changes nothing on disk without --apply.
    """
    from ponder.plugin.repair.project import load_project
    from ponder.plugin.repair.workflow import repair_project
    from ponder.plugin.runtime import open_runtime
    from ponder.sandbox.types import Limits

    async def run() -> Any:
        settings = common.settings()
        overrides = search.overrides(settings, default_strategy="refine")
        project = load_project(path, file=file, tests=tests or ())
        limits = Limits(timeout_s=test_timeout) if test_timeout else None
        async with open_runtime(settings) as rt:
            config = rt.search_config(**overrides)
            with common.progress("repairing", config) as progress:
                outcome = await repair_project(
                    project, rt, config, max_mutants=mutants, limits=limits, on_event=progress
                )
        return project, outcome

    try:
        project, outcome = asyncio.run(run())
        report = common.write_report(outcome.result)
        backups = _apply(project.root, outcome) if apply and outcome.verified else []
    except PonderError as exc:
        shared.fail(str(exc))

    summary = outcome.summary()
    summary["applied"] = bool(backups)
    summary["backup"] = str(backups[0]) if backups else None
    summary["backups"] = [str(b) for b in backups]
    summary["report"] = report
    if common.as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        _print_repair(outcome, summary)
    raise typer.Exit(shared.EXIT_OK if outcome.status in ("fixed", "nothing_to_fix") else shared.EXIT_NO_FIX)


def _apply(root: Path, outcome: Any) -> list[Path]:
    """Write a verified fix: every file a model edit changed (all or none), or the one file a
    mutation changed; the backups' paths."""
    from ponder.plugin.repair.patching import apply_patch, apply_patches  # lazy: the CLI loads light

    if outcome.patched:
        return apply_patches(root, outcome.patched, outcome.originals)
    if outcome.target is None or outcome.fixed is None:
        return []
    made = apply_patch(root / outcome.target, outcome.fixed, expected_text=outcome.original)
    return [made] if made is not None else []


def _print_repair(outcome: Any, summary: dict[str, Any]) -> None:
    if outcome.status == "nothing_to_fix":
        typer.echo(f"nothing to repair: {outcome.reason}")
        return
    if outcome.verified:
        typer.echo(outcome.diff, nl=False)
        typer.echo(f"verified fix for {outcome.target} from {outcome.source}: {outcome.description}")
    elif outcome.status == "ambiguous":
        typer.echo(outcome.diff, nl=False)
        typer.echo(f"unverified candidate for {outcome.target} from {outcome.source}: {outcome.reason}")
    else:
        typer.echo(f"no verified fix for {outcome.target} within the budget: {outcome.reason}")
    typer.echo(
        f"tests: {outcome.before} → {outcome.after or outcome.before}   "
        f"tokens: {summary['tokens']}   expansions: {summary['expansions']}   "
        f"mutants: {summary['mutants'] - summary['unrun']} of {summary['mutants']} tested   "
        f"time: {summary['seconds']:.1f}s"
    )
    if outcome.suspects:
        typer.echo(f"suspects: {', '.join(outcome.suspects[:3])}")
    if outcome.best:
        typer.echo(f"best candidate: {outcome.best}")
    if outcome.verified and outcome.integrity:
        from ponder.sandbox.integrity import describe as integrity_line

        typer.echo(f"integrity: {integrity_line(outcome.integrity)}")
    if outcome.rejected:
        typer.echo(f"rejected {len(outcome.rejected)} cheating candidate(s), e.g.: {outcome.rejected[0]}")
    if summary["applied"]:
        files = ", ".join(sorted(outcome.patched)) or outcome.target
        typer.echo(f"applied to {files} (backup: {', '.join(summary['backups'])})")
    elif outcome.verified:
        typer.echo("not applied: rerun with --apply to write it")
    if summary["report"]:
        typer.echo(f"report: {summary['report']}")


def register(app: typer.Typer) -> None:
    """Add `repair` to the root `ponder` app."""
    app.command("repair")(repair)


__all__ = ["register"]
