"""The `ponder` command: one root app, the exit codes and the options every workflow shares; each
workflow slice (repair/, solve/, analyze/, serve/, mcp/, bench/, admin/) registers its own commands.

Results go to stdout, progress and diagnostics to stderr. Expected failures (bad input, an
unreachable server) end as one line naming the problem and the fix; set PONDER_DEBUG=1 to see
the traceback instead.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape  # messages name extras like 'ponder[server]', not markup

from ponder.errors import PonderError
from ponder.graph.names import StrategyChoice
from ponder.plugin.search_options import SearchOptions, spread
from ponder.verifiers.kinds import PrmKind

if TYPE_CHECKING:
    from ponder.graph.types import SearchConfig, SearchResult
    from ponder.plugin.progress import SearchProgress
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

R = TypeVar("R")

EXIT_ERROR = 2
"""Exit code for bad input and failures of ponder's own parts (distinct from 'no fix found' = 1)."""

EXIT_OK = 0
"""Verified: a fix, an answer that matched its reference, a VERIFIED number."""
EXIT_NO_FIX = 1
"""Nothing verified within the budget (no fix, no answer, UNVERIFIED); files untouched."""

StrategyOpt = Annotated[
    StrategyChoice | None,
    typer.Option(
        "--strategy",
        "-s",
        help="Search strategy, or auto: picked with N from the budget (repair default: refine; "
        "solve: from settings).",
    ),
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


@dataclass(frozen=True, slots=True, kw_only=True)
class CommandOptions:
    """What every search command takes besides the search: the PRM that ranks chains and how the
    result is shown (report folder, JSON or text, progress bar)."""

    prm: PrmKind | None = None
    """`--prm`; `None`: the settings' PRM."""
    report: Path | None = None
    """`--report`: the folder for tree.json and report.html; `None`: no report."""
    as_json: bool = False
    """`--json`: one JSON object on stdout instead of text."""
    quiet: bool = False
    """`--quiet`: no progress bar on stderr."""

    def settings(self) -> PonderSettings:
        """The settings (flags > `PONDER_*` > ponder.toml > defaults) with `--prm` over them."""
        from ponder.plugin.settings import load_settings

        return load_settings({"prm": {"kind": self.prm}})

    def progress(self, label: str, config: SearchConfig) -> SearchProgress:
        """The progress bar on stderr for one search under `config` (off with `--quiet`)."""
        from ponder.plugin.progress import SearchProgress

        return SearchProgress(
            label=label, max_expansions=config.budget.max_expansions, enabled=not self.quiet
        )

    def write_report(self, result: SearchResult | None) -> str | None:
        """Write the search tree to `--report`; the folder as the summary's ``report`` gives it
        (None: no --report, or no search to report)."""
        if self.report is None or result is None:
            return None
        from ponder.graph import write_report

        write_report(result, self.report)
        return str(self.report)


_search_flags = spread(
    SearchOptions,
    strategy=StrategyOpt,
    max_expansions=ExpansionsOpt,
    max_tokens=TokensOpt,
    max_seconds=SecondsOpt,
    seed=SeedOpt,
)
_command_flags = spread(CommandOptions, prm=PrmOpt, report=ReportOpt, as_json=JsonOpt, quiet=QuietOpt)


def search_command(fn: Callable[..., R]) -> Callable[..., R]:
    """Give a command the shared flags: its `SearchOptions` parameter becomes --strategy,
    --max-expansions, --max-tokens, --max-seconds and --seed, its `CommandOptions` parameter
    --prm, --report, --json and --quiet, each in the place the command declares it."""
    return _search_flags(_command_flags(fn))


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one error line to stderr and exit."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
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
        err_console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        err_console.print("interrupted", style="yellow")
        sys.exit(130)
