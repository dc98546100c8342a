"""`ponder serve`: run the OpenAI-compatible server (loopback by default)."""

from __future__ import annotations

from typing import Annotated

import typer

from ponder.errors import PonderError
from ponder.plugin.cli import err_console, fail

LOOPBACK = "127.0.0.1"


def serve(
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; keep loopback unless you set --api-key.")
    ] = LOOPBACK,
    port: Annotated[int, typer.Option("--port", "-p", min=0, max=65535, help="TCP port.")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option("--api-key", envvar="PONDER_API_KEY", help="Require 'Authorization: Bearer <key>'."),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level.")] = "info",
) -> None:
    """Serve /v1/chat/completions and /v1/models: each answer is a search (model `ponder-<strategy>`)."""
    try:
        import uvicorn

        from ponder.plugin.serve.app import create_app, model_ids
    except ImportError as exc:
        fail(f"`ponder serve` needs the server extra ({exc.name} is missing): pip install 'ponder[server]'")
    from ponder.plugin.settings import load_settings

    try:
        settings = load_settings()
    except PonderError as exc:
        fail(str(exc))
    if host not in (LOOPBACK, "localhost", "::1") and api_key is None:
        err_console.print(
            f"[yellow]warning:[/] serving on {host} without --api-key: anyone who can reach it can use it"
        )
    err_console.print(
        f"ponder serve: http://{host}:{port}/v1  backend: {settings.backend.kind}  "
        f"models: {', '.join(model_ids())}"
    )
    uvicorn.run(create_app(settings, api_key=api_key), host=host, port=port, log_level=log_level)


def register(app: typer.Typer) -> None:
    """Add `serve` to the root `ponder` app."""
    app.command("serve")(serve)
