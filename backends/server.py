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
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any, Literal, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import ponder
from ponder.backends.base import BaseBackend, ChatMessage, Completion, GenerationRequest
from ponder.backends.errors import BackendConfigError, BackendError

T = TypeVar("T")

DEFAULT_MAX_NEW_TOKENS = 128
"""SGLang's default `max_new_tokens`."""
DEFAULT_CHAT_MAX_TOKENS = 512
"""Used when an OpenAI chat request gives no `max_tokens` (OpenAI's own default is 'until done')."""

# Sampling parameters this server accepts only at SGLang's neutral value (anything else needs an
# engine feature a plain BaseBackend does not have).
_NEUTRAL_SAMPLING: dict[str, Any] = {
    "min_p": 0.0,
    "frequency_penalty": 0.0,
    "presence_penalty": 0.0,
    "repetition_penalty": 1.0,
    "min_new_tokens": 0,
    "ignore_eos": False,
    "no_stop_trim": False,
    "regex": None,
    "json_schema": None,
    "ebnf": None,
    "structural_tag": None,
    "stop_regex": None,
    "logit_bias": None,
    "custom_params": None,
    "skip_special_tokens": True,
    "spaces_between_special_tokens": True,
}
_SAMPLING_KEYS = {
    "max_new_tokens",
    "temperature",
    "top_p",
    "top_k",
    "stop",
    "stop_token_ids",
    "n",
    "sampling_seed",
    *_NEUTRAL_SAMPLING,
}
# GenerateReqInput fields that need engine features we do not have; refused when set.
_UNSUPPORTED_INPUTS = (
    "input_embeds",
    "image_data",
    "video_data",
    "audio_data",
    "lora_path",
    "session_params",
    "custom_logit_processor",
    "return_hidden_states",
    "token_ids_logprob",
)


class _ApiError(Exception):
    """A request this server refuses; becomes a 400 with SGLang's `{"error": {"message"}}` body."""


class GenerateBody(BaseModel):
    """The subset of SGLang's `GenerateReqInput` this server reads (other fields are ignored)."""

    model_config = ConfigDict(extra="allow")

    text: str | list[str] | None = None
    input_ids: list[int] | list[list[int]] | None = None
    sampling_params: dict[str, Any] | list[dict[str, Any]] | None = None
    return_logprob: bool | list[bool] | None = None
    logprob_start_len: int | list[int] | None = None
    top_logprobs_num: int | list[int] | None = None
    return_text_in_logprobs: bool = False
    stream: bool = False
    rid: str | list[str] | None = None


class _OpenAIMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[dict[str, Any]] | None = ""

    def to_chat(self) -> ChatMessage:
        content = self.content or ""
        if isinstance(content, list):
            content = "".join(p.get("text", "") for p in content if p.get("type") == "text")
        role = "system" if self.role == "developer" else self.role
        return ChatMessage(role=role, content=content)


class _OpenAICommon(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str | None = None
    n: int = Field(default=1, ge=1, le=256)
    temperature: float | None = None
    top_p: float | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])


class ChatCompletionBody(_OpenAICommon):
    """OpenAI `/v1/chat/completions` request (text content only)."""

    messages: list[_OpenAIMessage]
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    logprobs: bool = False
    top_logprobs: int | None = None


class CompletionBody(_OpenAICommon):
    """OpenAI `/v1/completions` request; `prompt` may be text or token ids, single or batched."""

    prompt: str | list[str] | list[int] | list[list[int]]
    max_tokens: int = 16
    logprobs: int | None = None
    echo: bool = False


class TokenizeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    prompt: str | list[str]
    add_special_tokens: bool = True


class DetokenizeBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tokens: list[int] | list[list[int]]
    skip_special_tokens: bool = True


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

    @app.exception_handler(_ApiError)
    async def _refused(_: Request, exc: _ApiError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(BackendConfigError)
    async def _bad_config(_: Request, exc: BackendConfigError) -> JSONResponse:
        return _error(400, str(exc))

    @app.exception_handler(BackendError)
    async def _backend_failed(_: Request, exc: BackendError) -> JSONResponse:
        return _error(500, str(exc), kind="InternalServerError")

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
        entries = _generate_entries(body)
        started = time.perf_counter()
        rows = await _until_disconnect(backend.generate([e.request for e in entries]), request)
        latency = time.perf_counter() - started
        out = [
            _sglang_result(backend, entry, c, k, row, latency)
            for entry, row in zip(entries, rows, strict=True)
            for k, c in enumerate(row)
        ]
        single = isinstance(body.text, str) or (
            body.input_ids is not None and (not body.input_ids or isinstance(body.input_ids[0], int))
        )
        return out[0] if single and len(out) == 1 else out

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        card = {"id": name, "object": "model", "created": 0, "owned_by": "ponder", "root": name}
        if n_ctx:
            card["max_model_len"] = n_ctx
        return {"object": "list", "data": [card]}

    @app.post("/v1/chat/completions")
    async def chat_completions(body: ChatCompletionBody, request: Request) -> dict[str, Any]:
        if body.stream:
            raise _ApiError("stream=true is not supported by `ponder engine serve`; send stream=false")
        if body.top_logprobs and not body.logprobs:
            raise _ApiError("top_logprobs needs logprobs=true")
        req = _build_request(
            messages=[m.to_chat() for m in body.messages],
            n=body.n,
            temperature=body.temperature,
            top_p=body.top_p,
            max_tokens=body.max_completion_tokens or body.max_tokens or DEFAULT_CHAT_MAX_TOKENS,
            stop=body.stops(),
            seed=body.seed,
            logprobs=body.logprobs,
            top_logprobs=body.top_logprobs or 0,
        )
        [row] = await _until_disconnect(backend.generate([req]), request)
        choices = [
            {
                "index": k,
                "message": {"role": "assistant", "content": c.text},
                "finish_reason": c.finish_reason,
                "logprobs": _chat_logprobs(c) if body.logprobs else None,
            }
            for k, c in enumerate(row)
        ]
        return _openai_response("chat.completion", body.model or name, choices, row)

    @app.post("/v1/completions")
    async def completions(body: CompletionBody, request: Request) -> dict[str, Any]:
        if body.stream or body.echo:
            raise _ApiError("stream and echo are not supported by `ponder engine serve`; send false")
        prompts = _batch(body.prompt)
        top = body.logprobs or 0
        reqs = [
            _build_request(
                prompt=p if isinstance(p, str) else None,
                token_ids=p if isinstance(p, list) else None,
                n=body.n,
                temperature=body.temperature,
                top_p=body.top_p,
                max_tokens=body.max_tokens,
                stop=body.stops(),
                seed=body.seed,
                logprobs=body.logprobs is not None,
                top_logprobs=min(top, 20),
            )
            for p in prompts
        ]
        rows = await _until_disconnect(backend.generate(reqs), request)
        choices = [
            {
                "index": i * body.n + k,
                "text": c.text,
                "finish_reason": c.finish_reason,
                "logprobs": _completion_logprobs(c) if body.logprobs is not None else None,
            }
            for i, row in enumerate(rows)
            for k, c in enumerate(row)
        ]
        return _openai_response("text_completion", body.model or name, choices, [c for r in rows for c in r])

    @app.post("/v1/tokenize")
    @app.post("/tokenize", include_in_schema=False)
    async def tokenize(body: TokenizeBody) -> dict[str, Any]:
        try:
            if isinstance(body.prompt, str):
                ids = backend.tokenize(body.prompt)
                return {"tokens": ids, "count": len(ids), "max_model_len": n_ctx or -1}
            many = [backend.tokenize(p) for p in body.prompt]
        except NotImplementedError as exc:
            raise _ApiError(str(exc)) from exc
        return {"tokens": many, "count": [len(x) for x in many], "max_model_len": n_ctx or -1}

    @app.post("/v1/detokenize")
    @app.post("/detokenize", include_in_schema=False)
    async def detokenize(body: DetokenizeBody) -> dict[str, Any]:
        try:
            nested = [ids for ids in body.tokens if isinstance(ids, list)]
            if nested:
                return {"text": [backend.detokenize(ids) for ids in nested]}
            return {"text": backend.detokenize([t for t in body.tokens if isinstance(t, int)])}
        except NotImplementedError as exc:
            raise _ApiError(str(exc)) from exc

    return app


# -- /generate ---------------------------------------------------------------------------------


class _Entry:
    """One prompt of a /generate batch with what the response needs to know about it."""

    def __init__(
        self, request: GenerationRequest, rid: str, stop_ids: set[int], text_in_logprobs: bool
    ) -> None:
        self.request = request
        self.rid = rid
        self.stop_ids = stop_ids
        self.text_in_logprobs = text_in_logprobs


def _batch(value: str | list[str] | list[int] | list[list[int]]) -> list[str | list[int]]:
    """One input (a text, or a list of token ids) or a batch of them, as a batch. pydantic has
    already picked one member of the union, so a list holds ints only or inputs only."""
    if isinstance(value, str):
        return [value]
    ids = [v for v in value if isinstance(v, int)]
    if value and len(ids) == len(value):
        return [ids]
    return [v for v in value if not isinstance(v, int)]


def _pick(value: Any, i: int, count: int, field: str) -> Any:
    """SGLang's per-entry fields are a scalar for all entries or a list with one item per entry."""
    if isinstance(value, list):
        if len(value) != count:
            raise _ApiError(f"{field} has {len(value)} items but the batch has {count} prompts")
        return value[i]
    return value


def _generate_entries(body: GenerateBody) -> list[_Entry]:
    if body.stream:
        raise _ApiError("stream=true is not supported by `ponder engine serve`; send stream=false")
    extra = body.model_extra or {}
    for key in _UNSUPPORTED_INPUTS:
        if extra.get(key):
            raise _ApiError(f"{key} is not supported by `ponder engine serve`")
    if (body.text is None) == (body.input_ids is None):
        raise _ApiError("give exactly one of text or input_ids")
    if body.text is not None:
        inputs = _batch(body.text)
    else:
        inputs = _batch(body.input_ids) if body.input_ids else [[]]
    count = len(inputs)
    if count == 0:
        raise _ApiError("the batch is empty")
    entries = []
    for i, item in enumerate(inputs):
        params = _pick(body.sampling_params or {}, i, count, "sampling_params") or {}
        logprob = bool(_pick(body.return_logprob, i, count, "return_logprob"))
        top = int(_pick(body.top_logprobs_num, i, count, "top_logprobs_num") or 0)
        rid = _pick(body.rid, i, count, "rid") or uuid.uuid4().hex
        stop_ids = {int(t) for t in params.get("stop_token_ids") or []}
        req = _sglang_request(item, params, logprob, top)
        entries.append(_Entry(req, str(rid), stop_ids, body.return_text_in_logprobs))
    return entries


def _sglang_request(
    item: str | list[int], params: dict[str, Any], logprob: bool, top: int
) -> GenerationRequest:
    unknown = sorted(set(params) - _SAMPLING_KEYS)
    if unknown:
        raise _ApiError(f"unknown sampling parameter(s): {', '.join(unknown)}")
    for key, neutral in _NEUTRAL_SAMPLING.items():
        if key in params and params[key] != neutral:
            raise _ApiError(
                f"sampling parameter {key}={params[key]!r} is not supported by `ponder engine serve` "
                f"(only {neutral!r})"
            )
    temperature = params.get("temperature", 1.0)
    if temperature < 0:
        raise _ApiError(f"sampling parameter temperature={temperature} must be non-negative")
    top_k = params.get("top_k", -1)
    if top_k == 1:
        temperature = 0.0  # top-1 sampling is greedy decoding
    elif top_k not in (-1, 0):
        raise _ApiError(
            f"sampling parameter top_k={top_k} is not supported by `ponder engine serve` (only -1 or 1)"
        )
    stop = params.get("stop") or []
    return _build_request(
        prompt=item if isinstance(item, str) else None,
        token_ids=item if isinstance(item, list) else None,
        n=params.get("n", 1),
        temperature=0.0 if temperature < 1e-6 else temperature,
        top_p=params.get("top_p"),
        max_tokens=params.get("max_new_tokens", DEFAULT_MAX_NEW_TOKENS),
        stop=[stop] if isinstance(stop, str) else list(stop),
        seed=params.get("sampling_seed"),
        logprobs=logprob,
        top_logprobs=top if logprob else 0,
    )


def _build_request(**fields: Any) -> GenerationRequest:
    """A GenerationRequest from wire fields (`None` = default); validation errors become a 400."""
    try:
        return GenerationRequest(**{k: v for k, v in fields.items() if v is not None})
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "request"
        raise _ApiError(f"invalid request: {where}: {err['msg']}") from exc


def _sglang_result(
    backend: BaseBackend, entry: _Entry, c: Completion, k: int, row: Sequence[Completion], latency: float
) -> dict[str, Any]:
    """One completion in SGLang's `{text, output_ids, meta_info}` shape."""
    ids, text, logprobs, finish = list(c.token_ids), c.text, c.logprobs, c.finish_reason
    matched: int | str | None = None
    cut = next((i for i, t in enumerate(ids) if t in entry.stop_ids), None)
    if cut is not None:
        matched, ids = ids[cut], ids[: cut + 1]
        text = backend.detokenize(ids[:cut])
        logprobs = logprobs[: cut + 1] if logprobs is not None else None
        finish = "stop"
    elif finish == "stop" and entry.request.stop:
        matched = _matched_stop(backend, ids, text, entry.request.stop)
    # All samples of a prompt share its prefill: the first carries the work, later ones reused it.
    prompt_tokens = row[0].usage.prompt_tokens
    cached = c.usage.cached_tokens if k == 0 else prompt_tokens
    if finish == "length":
        reason: dict[str, Any] = {"type": "length", "length": len(ids)}
    elif finish == "abort":
        reason = {"type": "abort", "message": "aborted"}
    else:
        reason = {"type": "stop", "matched": matched}
    meta: dict[str, Any] = {
        "id": entry.rid if len(row) == 1 else f"{entry.rid}-{k}",
        "finish_reason": reason,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(ids),
        "cached_tokens": cached,
        "e2e_latency": latency,
    }
    if entry.request.logprobs:
        with_text = entry.text_in_logprobs
        meta["input_token_logprobs"] = []
        meta["output_token_logprobs"] = [
            [lp.logprob, lp.token_id, lp.text if with_text else None] for lp in logprobs or []
        ]
        if entry.request.top_logprobs:
            meta["input_top_logprobs"] = []
            meta["output_top_logprobs"] = [
                [[v, _token_id(backend, t), t if with_text else None] for t, v in lp.top.items()]
                for lp in logprobs or []
            ]
    return {"text": text, "output_ids": ids, "meta_info": meta}


def _matched_stop(backend: BaseBackend, ids: list[int], text: str, stops: list[str]) -> str | None:
    """Which stop string ended the sample (SGLang reports it); `None` when it was EOS."""
    try:
        full = backend.detokenize(ids)
    except NotImplementedError:
        return None
    tail = full[len(text) :] if full.startswith(text) else ""
    return next((s for s in stops if tail.startswith(s)), None)


def _token_id(backend: BaseBackend, text: str) -> int | None:
    try:
        ids = backend.tokenize(text)
    except NotImplementedError:
        return None
    return ids[0] if len(ids) == 1 else None


# -- OpenAI shapes -----------------------------------------------------------------------------


def _openai_response(
    kind: str, model: str, choices: list[dict[str, Any]], completions: Sequence[Completion]
) -> dict[str, Any]:
    prompt = sum(c.usage.prompt_tokens for c in completions)
    generated = sum(len(c.token_ids) for c in completions)
    cached = sum(c.usage.cached_tokens for c in completions)
    return {
        "id": f"{'chatcmpl' if kind.startswith('chat') else 'cmpl'}-{uuid.uuid4().hex}",
        "object": kind,
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": generated,
            "total_tokens": prompt + generated,
            "prompt_tokens_details": {"cached_tokens": cached},
        },
    }


def _chat_logprobs(c: Completion) -> dict[str, Any]:
    return {
        "content": [
            {
                "token": lp.text or "",
                "logprob": lp.logprob,
                "bytes": list((lp.text or "").encode()),
                "top_logprobs": [
                    {"token": t, "logprob": v, "bytes": list(t.encode())} for t, v in lp.top.items()
                ],
            }
            for lp in c.logprobs or []
        ]
    }


def _completion_logprobs(c: Completion) -> dict[str, Any]:
    offsets, pos = [], 0
    for lp in c.logprobs or []:
        offsets.append(pos)
        pos += len(lp.text or "")
    return {
        "tokens": [lp.text or "" for lp in c.logprobs or []],
        "token_logprobs": [lp.logprob for lp in c.logprobs or []],
        "top_logprobs": [dict(lp.top) for lp in c.logprobs or []],
        "text_offset": offsets,
    }


def _error(status: int, message: str, kind: str = "BadRequestError") -> JSONResponse:
    """SGLang's error body (`{"error": {"message"}}`), which OpenAI SDKs also read."""
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


async def _until_disconnect(work: Awaitable[T], request: Request, poll_s: float = 0.25) -> T:
    """Await `work`, cancelling it if the client goes away (so the engine stops decoding for nobody)."""
    task = asyncio.ensure_future(work)
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=poll_s)
            if done:
                return task.result()
            if await request.is_disconnected():
                task.cancel()
                raise asyncio.CancelledError("client disconnected")
    finally:
        if not task.done():
            task.cancel()
