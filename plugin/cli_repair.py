"""`ponder repair` and `ponder solve`: the command-line faces of the repair and solve workflows.

Exit codes are part of the interface, so scripts can branch on them:
  0  repair: a fix was verified (or every test already passed); solve: an answer was found and,
     when a reference was given, it matched
  1  repair: no verified fix within the budget; solve: no answer, or not the reference
  2  bad input or a failure of ponder's own parts (one line on stderr says what and how to fix)
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ponder.errors import PonderError
from ponder.graph.types import StrategyName
from ponder.plugin.cli import EXIT_ERROR, fail
from ponder.verifiers.prm import PrmKind

if TYPE_CHECKING:
    from ponder.graph.types import SearchConfig, SearchResult
    from ponder.plugin.settings import PonderSettings

# Only what the option declarations need is imported above: Typer reads the signatures at start-up,
# so anything else a command uses is imported inside it to keep `ponder --help` fast.

EXIT_OK = 0
EXIT_NO_FIX = 1

StrategyOpt = Annotated[
    StrategyName | None,
    typer.Option("--strategy", "-s", help="Search strategy (repair default: refine; solve: from settings)."),
]
ExpansionsOpt = Annotated[
    int | None, typer.Option("--max-expansions", min=1, help="Budget: model expansions (children generated).")
]
TokensOpt = Annotated[int | None, typer.Option("--max-tokens", min=1, help="Budget: generated tokens.")]
SecondsOpt = Annotated[
    float | None, typer.Option("--max-seconds", min=0.1, help="Budget: wall-clock seconds.")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Sampling seed (same seed, same search).")]
PrmOpt = Annotated[
    PrmKind | None,
    typer.Option(
        "--prm",
        help="Process reward model that ranks chains under the hard checks: none, served (prm.server "
        "in settings), judge or confidence (else settings; default none).",
    ),
]
ReportOpt = Annotated[
    Path | None,
    typer.Option("--report", help="Write the search tree (tree.json + report.html) to this folder."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object instead of text.")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar on stderr.")]


def _search_overrides(
    settings: PonderSettings,
    *,
    strategy: str | None,
    default_strategy: str | None,
    max_expansions: int | None,
    max_tokens: int | None,
    max_seconds: float | None,
    seed: int | None,
) -> dict[str, Any]:
    """Flags over settings; a workflow default strategy applies only when no setting chose one."""
    if (
        strategy is None
        and default_strategy is not None
        and "strategy" not in settings.search.model_fields_set
    ):
        strategy = default_strategy
    budget = {"max_expansions": max_expansions, "max_tokens": max_tokens, "max_seconds": max_seconds}
    return {
        "strategy": strategy,
        "seed": seed,
        "budget": {k: v for k, v in budget.items() if v is not None},
    }


def _write_report(result: SearchResult | None, folder: Path | None) -> dict[str, Path]:
    if folder is None or result is None:
        return {}
    from ponder.graph import write_report

    return write_report(result, folder)


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
    strategy: StrategyOpt = None,
    max_expansions: ExpansionsOpt = None,
    max_tokens: TokensOpt = None,
    max_seconds: SecondsOpt = None,
    seed: SeedOpt = None,
    prm: PrmOpt = None,
    report: ReportOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Find a patch that makes the failing tests pass, verified by running the full suite in the sandbox.

    Prints the diff of the verified fix and a summary; changes nothing on disk without --apply.
    """
    from ponder.plugin.progress import SearchProgress
    from ponder.plugin.project import load_project
    from ponder.plugin.repair import repair_project
    from ponder.plugin.runtime import open_runtime
    from ponder.plugin.settings import load_settings
    from ponder.sandbox.types import Limits

    async def run() -> Any:
        settings = load_settings({"prm": {"kind": prm}})
        overrides = _search_overrides(
            settings,
            strategy=strategy,
            default_strategy="refine",
            max_expansions=max_expansions,
            max_tokens=max_tokens,
            max_seconds=max_seconds,
            seed=seed,
        )
        project = load_project(path, file=file, tests=tests or ())
        limits = Limits(timeout_s=test_timeout) if test_timeout else None
        async with open_runtime(settings) as rt:
            config = rt.search_config(**overrides)
            with SearchProgress(
                label="repairing", max_expansions=config.budget.max_expansions, enabled=not quiet
            ) as progress:
                outcome = await repair_project(
                    project, rt, config, max_mutants=mutants, limits=limits, on_event=progress
                )
        return project, outcome

    try:
        project, outcome = asyncio.run(run())
        written = _write_report(outcome.result, report)
        backups = _apply(project.root, outcome) if apply and outcome.verified else []
    except PonderError as exc:
        fail(str(exc))

    summary = outcome.summary()
    summary["applied"] = bool(backups)
    summary["backup"] = str(backups[0]) if backups else None
    summary["backups"] = [str(b) for b in backups]
    summary["report"] = str(report) if written else None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        _print_repair(outcome, summary)
    raise typer.Exit(EXIT_OK if outcome.status in ("fixed", "nothing_to_fix") else EXIT_NO_FIX)


def _apply(root: Path, outcome: Any) -> list[Path]:
    """Write a verified fix: every file a model edit changed (all or none), or the one file a
    mutation changed; the backups' paths."""
    from ponder.plugin.patching import apply_patch, apply_patches  # lazy: the CLI loads light

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


def solve(
    question: Annotated[str, typer.Argument(help="The problem, in words.", show_default=False)],
    reference: Annotated[
        str | None, typer.Option("--reference", "-r", help="Known answer: the result is checked against it.")
    ] = None,
    strategy: StrategyOpt = None,
    n: Annotated[
        int | None, typer.Option("--n", min=1, help="Chains for best-of-N / self-consistency.")
    ] = None,
    max_expansions: ExpansionsOpt = None,
    max_tokens: TokensOpt = None,
    max_seconds: SecondsOpt = None,
    seed: SeedOpt = None,
    prm: PrmOpt = None,
    report: ReportOpt = None,
    as_json: JsonOpt = False,
    quiet: QuietOpt = False,
) -> None:
    """Solve a math or word problem step by step; with --reference, the answer is verified against it."""
    from ponder.plugin.progress import SearchProgress
    from ponder.plugin.runtime import open_runtime
    from ponder.plugin.settings import load_settings
    from ponder.plugin.solve import solve_question

    async def run() -> Any:
        settings = load_settings({"prm": {"kind": prm}})
        overrides = _search_overrides(
            settings,
            strategy=strategy,
            default_strategy=None,
            max_expansions=max_expansions,
            max_tokens=max_tokens,
            max_seconds=max_seconds,
            seed=seed,
        )
        async with open_runtime(settings, need_sandbox=False) as rt:
            config: SearchConfig = rt.search_config(n=n, **overrides)
            with SearchProgress(
                label="solving", max_expansions=config.budget.max_expansions, enabled=not quiet
            ) as progress:
                return await solve_question(question, rt, config, reference=reference, on_event=progress)

    try:
        outcome = asyncio.run(run())
        written = _write_report(outcome.result, report)
    except PonderError as exc:
        fail(str(exc))

    summary = outcome.summary()
    summary["report"] = str(report) if written else None
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
    else:
        typer.echo(f"answer: {outcome.answer if outcome.answer is not None else '(none)'}")
        detail = {
            "verified": f"matches the reference {reference}",
            "wrong": f"does not match the reference {reference}",
            "unchecked": "no reference given, so the answer is not verified",
            "no_answer": outcome.result.reason or "the search produced no answer",
        }[outcome.status]
        typer.echo(f"status: {outcome.status} ({detail})")
        typer.echo(
            f"strategy: {outcome.result.strategy}   tokens: {summary['tokens']}   "
            f"expansions: {summary['expansions']}   time: {summary['seconds']:.1f}s"
        )
        if summary["report"]:
            typer.echo(f"report: {summary['report']}")
    ok = outcome.answer is not None and (reference is None or outcome.verified)
    raise typer.Exit(EXIT_OK if ok else EXIT_NO_FIX)


def register(app: typer.Typer) -> None:
    """Add `repair` and `solve` to the root `ponder` app."""
    app.command("repair")(repair)
    app.command("solve")(solve)


__all__ = ["EXIT_ERROR", "EXIT_NO_FIX", "EXIT_OK", "register"]
