"""`ponder mcp`: serve ponder's tools to MCP clients, over stdio (default) or streamable HTTP.

Over stdio, stdout is the protocol: everything ponder says goes to stderr, and the SDK points
fd 1 at stderr while serving so nothing a library prints can corrupt the stream.
"""

from __future__ import annotations

import ipaddress
from typing import Annotated

import typer

from ponder.errors import PonderError
from ponder.plugin.cli import err_console, fail
from ponder.plugin.serve.cli import LOOPBACK


def exposure_warning(host: str, api_key: str | None) -> str | None:
    """The warning for an HTTP server others can reach without a key (None when there is no risk)."""
    if api_key is not None or host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: it may resolve to anything
    return (
        f"serving MCP on {host} without --api-key: anyone who can reach it can use its model and "
        "sandbox, and write fixes to files here (repair_code apply=true)"
    )


def mcp(
    http: Annotated[
        int | None,
        typer.Option(
            "--http",
            metavar="PORT",
            min=1,
            max=65535,
            help="Serve streamable HTTP on this port (endpoint /mcp) instead of stdio.",
        ),
    ] = None,
    host: Annotated[
        str, typer.Option("--host", help="Address for --http; keep loopback unless you set --api-key.")
    ] = LOOPBACK,
    api_key: Annotated[
        str | None,
        typer.Option(
            "--api-key",
            envvar="PONDER_MCP_API_KEY",
            help="With --http: require 'Authorization: Bearer <key>'.",
        ),
    ] = None,
    log_level: Annotated[str, typer.Option("--log-level", help="uvicorn log level for --http.")] = "warning",
) -> None:
    """Serve repair_code, analyze_table, solve and think as MCP tools (backend and sandbox from settings)."""
    try:
        from ponder.plugin.mcp.server import create_mcp_server
    except ImportError as exc:
        fail(
            f"`ponder mcp` needs the mcp SDK 2.x ({exc.name or 'mcp'} is missing or too old): "
            "pip install 'ponder[server]' 'mcp>=2'"
        )
    from ponder.plugin.settings import load_settings

    try:
        settings = load_settings()
    except PonderError as exc:
        fail(str(exc))
    server = create_mcp_server(settings)
    if http is None:
        if api_key is not None:
            err_console.print("[yellow]warning:[/] --api-key has no effect over stdio; it applies to --http")
        err_console.print(f"ponder mcp: stdio  backend: {settings.backend.kind}", highlight=False)
        server.run("stdio")
        return

    import anyio

    from ponder.plugin.mcp.http import MCP_PATH, serve_http

    if (warning := exposure_warning(host, api_key)) is not None:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    shown = f"[{host}]" if ":" in host else host
    err_console.print(
        f"ponder mcp: http://{shown}:{http}{MCP_PATH}  backend: {settings.backend.kind}", highlight=False
    )
    anyio.run(lambda: serve_http(server, host=host, port=http, api_key=api_key, log_level=log_level))


def register(app: typer.Typer) -> None:
    """Add `mcp` to the root `ponder` app."""
    app.command("mcp")(mcp)
