"""The `ponder` command: one root app; each workflow registers its own commands.

Results go to stdout, progress and diagnostics to stderr. Expected failures (bad input, an
unreachable server) end as one line naming the problem and the fix; set PONDER_DEBUG=1 to see
the traceback instead.
"""

from __future__ import annotations

import os
import sys
from typing import NoReturn

import typer
from rich.console import Console

from ponder.errors import PonderError

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


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one error line to stderr and exit."""
    err_console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def _register() -> None:
    from ponder.plugin import (
        cli_analyze,
        cli_bench,
        cli_engine,
        cli_mcp,
        cli_repair,
        cli_sandbox,
        cli_serve,
        cli_train,
    )

    cli_repair.register(app)
    cli_analyze.register(app)
    cli_serve.register(app)
    cli_mcp.register(app)
    cli_bench.register(app)
    cli_train.register(app)
    app.add_typer(
        cli_engine.app, name="engine", help="Run the embedded engine as a local SGLang-compatible server."
    )
    app.add_typer(cli_sandbox.app, name="sandbox", help="Build, check and use the Docker sandbox.")


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
