"""SGLang's native `/generate`: its `GenerateReqInput` read into `GenerationRequest`s, and each
completion shaped back into SGLang's `{text, output_ids, meta_info}`.

Shapes follow SGLang's `GenerateReqInput` / `SamplingParams` (srt/managers/io_struct.py,
srt/sampling/sampling_params.py) and its `meta_info`. A sampling parameter a plain `BaseBackend`
cannot honour is accepted only at SGLang's neutral value and refused otherwise, naming it, so a
client never gets a sample drawn under settings it did not ask for. `server` holds the route.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from fastapi import Request
from pydantic import BaseModel, ConfigDict

from ponder.backends._server_wire import ApiError, batch, build_request, until_disconnect
from ponder.backends.base import BaseBackend, Completion, GenerationRequest

DEFAULT_MAX_NEW_TOKENS = 128
"""SGLang's default `max_new_tokens`."""
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


class Entry:
    """One prompt of a /generate batch with what the response needs to know about it."""

    def __init__(
        self, request: GenerationRequest, rid: str, stop_ids: set[int], text_in_logprobs: bool
    ) -> None:
        self.request = request
        self.rid = rid
        self.stop_ids = stop_ids
        self.text_in_logprobs = text_in_logprobs


async def generate(backend: BaseBackend, body: GenerateBody, request: Request) -> Any:
    """The `/generate` answer: one result per sample, a bare object for a single text or id list."""
    entries = generate_entries(body)
    started = time.perf_counter()
    rows = await until_disconnect(backend.generate([e.request for e in entries]), request)
    latency = time.perf_counter() - started
    out = [
        sglang_result(backend, entry, c, k, row, latency)
        for entry, row in zip(entries, rows, strict=True)
        for k, c in enumerate(row)
    ]
    single = isinstance(body.text, str) or (
        body.input_ids is not None and (not body.input_ids or isinstance(body.input_ids[0], int))
    )
    return out[0] if single and len(out) == 1 else out


def _pick(value: Any, i: int, count: int, field: str) -> Any:
    """SGLang's per-entry fields are a scalar for all entries or a list with one item per entry."""
    if isinstance(value, list):
        if len(value) != count:
            raise ApiError(f"{field} has {len(value)} items but the batch has {count} prompts")
        return value[i]
    return value


def generate_entries(body: GenerateBody) -> list[Entry]:
    if body.stream:
        raise ApiError("stream=true is not supported by `ponder engine serve`; send stream=false")
    extra = body.model_extra or {}
    for key in _UNSUPPORTED_INPUTS:
        if extra.get(key):
            raise ApiError(f"{key} is not supported by `ponder engine serve`")
    if (body.text is None) == (body.input_ids is None):
        raise ApiError("give exactly one of text or input_ids")
    inputs = batch(body.text) if body.text is not None else batch(body.input_ids) if body.input_ids else [[]]
    count = len(inputs)
    if count == 0:
        raise ApiError("the batch is empty")
    entries = []
    for i, item in enumerate(inputs):
        params = _pick(body.sampling_params or {}, i, count, "sampling_params") or {}
        logprob = bool(_pick(body.return_logprob, i, count, "return_logprob"))
        top = int(_pick(body.top_logprobs_num, i, count, "top_logprobs_num") or 0)
        rid = _pick(body.rid, i, count, "rid") or uuid.uuid4().hex
        stop_ids = {int(t) for t in params.get("stop_token_ids") or []}
        req = _sglang_request(item, params, logprob, top)
        entries.append(Entry(req, str(rid), stop_ids, body.return_text_in_logprobs))
    return entries


def _sglang_request(
    item: str | list[int], params: dict[str, Any], logprob: bool, top: int
) -> GenerationRequest:
    unknown = sorted(set(params) - _SAMPLING_KEYS)
    if unknown:
        raise ApiError(f"unknown sampling parameter(s): {', '.join(unknown)}")
    for key, neutral in _NEUTRAL_SAMPLING.items():
        if key in params and params[key] != neutral:
            raise ApiError(
                f"sampling parameter {key}={params[key]!r} is not supported by `ponder engine serve` "
                f"(only {neutral!r})"
            )
    temperature = params.get("temperature", 1.0)
    if temperature < 0:
        raise ApiError(f"sampling parameter temperature={temperature} must be non-negative")
    top_k = params.get("top_k", -1)
    if top_k == 1:
        temperature = 0.0  # top-1 sampling is greedy decoding
    elif top_k not in (-1, 0):
        raise ApiError(
            f"sampling parameter top_k={top_k} is not supported by `ponder engine serve` (only -1 or 1)"
        )
    stop = params.get("stop") or []
    return build_request(
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


def sglang_result(
    backend: BaseBackend, entry: Entry, c: Completion, k: int, row: Sequence[Completion], latency: float
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
