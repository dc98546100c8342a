"""An HTTP server speaking SGLang's native API subset (plus OpenAI `/v1/*`) over any `BaseBackend`.

`ponder engine serve` runs it over the embedded llama.cpp engine, so a laptop gets a local
SGLang-compatible endpoint and `SGLangBackend` is tested end to end over real HTTP. Shapes follow
SGLang's `GenerateReqInput` / `SamplingParams` (srt/managers/io_struct.py,
srt/sampling/sampling_params.py) and its `meta_info`; what a plain `BaseBackend` cannot honour is
refused with a 400 naming the parameter, never silently ignored.

Differences from SGLang, on purpose:
* a seeded request with `n > 1` samples with seeds `seed + i` (ponder's contract);
* `stop_token_ids` are applied to the finished sample (the tokens after the stop id are dropped);
* `/generate` does not stream (`stream: true` is refused);
* `/v1/tokenize` uses the backend's tokenizer as is (`add_special_tokens` is accepted and
  ignored: the embedded engine adds BOS itself where the model wants one).

The app is split by job: `_server_sglang` (SGLang's `/generate`: its request read, its results
shaped), `_server_openai` (the `/v1` routes), `_server_wire` (the refusal, the error body and the
disconnect watch both share) and this module (the app, its error handlers and SGLang's
health/info routes).
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

import ponder
from ponder.backends import _server_sglang
from ponder.backends._server_openai import (
    DEFAULT_CHAT_MAX_TOKENS,
    ChatCompletionBody,
    CompletionBody,
    DetokenizeBody,
    TokenizeBody,
    add_openai_routes,
)
from ponder.backends._server_sglang import DEFAULT_MAX_NEW_TOKENS, GenerateBody
from ponder.backends._server_wire import ApiError, error_response
from ponder.backends.base import BaseBackend, GenerationRequest
from ponder.backends.errors import BackendConfigError, BackendError

__all__ = [
    "DEFAULT_CHAT_MAX_TOKENS",
    "DEFAULT_MAX_NEW_TOKENS",
    "ChatCompletionBody",
    "CompletionBody",
    "DetokenizeBody",
    "GenerateBody",
    "TokenizeBody",
    "create_engine_app",
]
"""The request models and defaults stay importable from here, where they were first defined."""


def create_engine_app(
    backend: BaseBackend,
    *,
    model_name: str | None = None,
    model_path: str | Path | None = None,
    context_length: int | None = None,
) -> FastAPI:
    """A FastAPI app serving `backend` with SGLang's native endpoints and OpenAI's `/v1` subset.

    Args:
        backend: any backend; the app does not close it (its owner does).
        model_name: the id `/v1/models` lists; default: the file name of `model_path`, else the backend name.
        model_path: reported by `/get_model_info`; default: `backend.model_path` when it has one.
        context_length: reported by `/v1/models` and `/get_server_info`; default: `backend.n_ctx` if present.
    """
    path = model_path if model_path is not None else getattr(backend, "model_path", None)
    name = model_name or (Path(path).name if path else backend.name)
    n_ctx = context_length if context_length is not None else getattr(backend, "n_ctx", None)
    app = FastAPI(title="ponder engine", version=ponder.__version__)

    @app.exception_handler(ApiError)
    async def _refused(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(400, str(exc))

    @app.exception_handler(BackendConfigError)
    async def _bad_config(_: Request, exc: BackendConfigError) -> JSONResponse:
        return error_response(400, str(exc))

    @app.exception_handler(BackendError)
    async def _backend_failed(_: Request, exc: BackendError) -> JSONResponse:
        return error_response(500, str(exc), kind="InternalServerError")

    @app.get("/health")
    async def health() -> Response:
        return Response(status_code=200)

    @app.get("/health_generate")
    async def health_generate() -> Response:
        probe = GenerationRequest(prompt="ping", max_tokens=1, temperature=0.0)
        try:
            await asyncio.wait_for(backend.generate([probe]), timeout=60)
        except (BackendError, TimeoutError):
            return Response(status_code=503)
        return Response(status_code=200)

    # sglang-router registers a worker by GET /health, /server_info and /model_info (its newer name).
    @app.get("/model_info")
    @app.get("/get_model_info")
    async def get_model_info() -> dict[str, Any]:
        return {
            "model_path": str(path) if path else name,
            "tokenizer_path": str(path) if path else name,
            "is_generation": True,
            "preferred_sampling_params": None,
            "weight_version": "default",
        }

    async def server_info() -> dict[str, Any]:
        return {
            "model_path": str(path) if path else name,
            "served_model_name": name,
            "context_length": n_ctx,
            "version": ponder.__version__,
            "engine": "ponder",
            "backend": backend.name,
            "capabilities": asdict(backend.capabilities),
        }

    app.get("/get_server_info")(server_info)
    app.get("/server_info")(server_info)

    @app.api_route("/flush_cache", methods=["GET", "POST"])
    async def flush_cache() -> Response:
        flush = getattr(backend, "flush_cache", None)
        if flush is None:
            return Response(f"Cache flushed (the {backend.name} backend keeps nothing to flush).\n")
        result = flush()
        if asyncio.iscoroutine(result):
            await result
        return Response("Cache flushed.\n")

    @app.api_route("/generate", methods=["POST", "PUT"])
    async def generate(body: GenerateBody, request: Request) -> Any:
        return await _server_sglang.generate(backend, body, request)

    add_openai_routes(app, backend, name, n_ctx)
    return app
