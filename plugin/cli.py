"""The `ponder` command: one root app, the exit codes and the options every workflow shares; each
workflow slice (repair/, solve/, analyze/, serve/, mcp/, bench/, admin/) registers its own commands.

Results go to stdout, progress and diagnostics to stderr. Expected failures (bad input, an
unreachable server) end as one line naming the problem and the fix; set PONDER_DEBUG=1 to see
the traceback instead.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from rich.console import Console

from ponder.errors import PonderError
from ponder.graph.names import StrategyName
from ponder.verifiers.kinds import PrmKind

if TYPE_CHECKING:
    from ponder.graph.types import SearchResult
    from ponder.plugin.settings import PonderSettings

# Only what the shared option declarations need is imported above: Typer reads every command's
# signature at start-up, so the commands import anything else inside their bodies (`ponder --help`
# stays fast; tests/test_lazy_imports.py checks).

app = typer.Typer(
    name="ponder",
    help="System-2 reasoning for agents: verifier-guided search over LLM steps, with sandboxed checks.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    add_completion=False,
)
err_console = Console(stderr=True)

EXIT_ERROR = 2
"""Exit code for bad input and failures of ponder's own parts (distinct from 'no fix found' = 1)."""

EXIT_OK = 0
"""Verified: a fix, an answer that matched its reference, a VERIFIED number."""
EXIT_NO_FIX = 1
"""Nothing verified within the budget (no fix, no answer, UNVERIFIED); files untouched."""

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


def search_overrides(
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


def write_report(result: SearchResult | None, folder: Path | None) -> dict[str, Path]:
    if folder is None or result is None:
        return {}
    from ponder.graph import write_report

    return write_report(result, folder)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one error line to stderr and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _register() -> None:
    from ponder.plugin.admin import engine, sandbox
    from ponder.plugin.analyze import cli as analyze_cli
    from ponder.plugin.bench import cli as bench_cli
    from ponder.plugin.bench import train
    from ponder.plugin.mcp import cli as mcp_cli
    from ponder.plugin.repair import cli as repair_cli
    from ponder.plugin.serve import cli as serve_cli
    from ponder.plugin.solve import cli as solve_cli

    for workflow in (repair_cli, solve_cli, analyze_cli, serve_cli, mcp_cli, bench_cli, train):
        workflow.register(app)
    app.add_typer(
        engine.app, name="engine", help="Run the embedded engine as a local SGLang-compatible server."
    )
    app.add_typer(sandbox.app, name="sandbox", help="Build, check and use the Docker sandbox.")


def main() -> None:
    """Console-script entry point: map ponder's own errors to one line unless debugging."""
    _register()
    try:
        app()
    except PonderError as exc:
        if os.environ.get("PONDER_DEBUG"):
            raise
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        err_console.print("interrupted", style="yellow")
        sys.exit(130)
