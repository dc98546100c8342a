"""`ponder mcp --http PORT`: the MCP server over streamable HTTP, with an optional bearer key.

The SDK's streamable-HTTP app serves ``/mcp`` (and guards loopback against DNS rebinding); this
adds ``GET /health`` for supervisors and, with a key, refuses every other request without
``Authorization: Bearer <key>``. The key check wraps the whole app rather than using the SDK's
OAuth machinery: a shared secret is what `ponder serve` takes, and what MCP clients can send as
a plain header.
"""

from __future__ import annotations

import secrets
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from ponder.plugin.mcp.server import PonderMCP

MCP_PATH = "/mcp"
OPEN_PATHS = frozenset({"/health"})


class BearerKey:
    """ASGI middleware: HTTP requests need ``Authorization: Bearer <key>`` (401 otherwise)."""

    def __init__(self, app: ASGIApp, key: str) -> None:
        self.app = app
        self._expected = f"Bearer {key}".encode()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] not in OPEN_PATHS:
            given = dict(scope["headers"]).get(b"authorization", b"")
            if not secrets.compare_digest(given, self._expected):
                refusal = JSONResponse(
                    {"error": "invalid or missing API key; send 'Authorization: Bearer <key>'"},
                    status_code=401,
                )
                await refusal(scope, receive, send)
                return
        await self.app(scope, receive, send)


def http_app(server: PonderMCP, *, host: str, api_key: str | None = None) -> ASGIApp:
    """The ASGI app: MCP at ``/mcp``, ``/health``, behind the key when one is given."""

    @server.custom_route("/health", methods=["GET"])
    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    app = server.streamable_http_app(streamable_http_path=MCP_PATH, host=host)
    return BearerKey(app, api_key) if api_key else app


async def serve_http(
    server: PonderMCP, *, host: str, port: int, api_key: str | None = None, log_level: str = "warning"
) -> None:
    """Serve until interrupted (the server's lifespan closes the backend and sandbox)."""
    import uvicorn

    config: Any = uvicorn.Config(
        http_app(server, host=host, api_key=api_key), host=host, port=port, log_level=log_level
    )
    await uvicorn.Server(config).serve()
