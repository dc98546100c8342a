"""A tiny deterministic language model behind SGLang-protocol and OpenAI-protocol fakes on loopback.

The backend contract (tests/contracts) needs servers that *behave* like engines, not ones that
echo canned payloads: stop strings must cut, `max_new_tokens` must bound, a seed must reproduce a
sample, a token-id prompt must continue exactly where its parent stopped, logprobs must be the
distribution the sample was drawn from. `ToyModel` is such an engine in forty lines: token id =
code point, and the next token's distribution is a softmax over scores hashed from the last four
tokens, so greedy decoding depends on the context alone and a continuation from ids is exact.

The wire formats follow the servers' own schemas, read from their sources rather than from
ponder's client or `ponder engine serve`, so the fakes can catch a client that misreads them:

* SGLang (`sglang_app`): `POST /generate` with SGLang's `GenerateReqInput`
  (python/sglang/srt/managers/io_struct.py: `text` or `input_ids`, one or a batch, `sampling_params`
  one or per entry with `max_new_tokens`, `stop`, `n`, `sampling_seed`; `return_logprob`,
  `top_logprobs_num`, `return_text_in_logprobs`), answered as the tokenizer manager does
  (srt/managers/tokenizer_manager.py: `{text, output_ids, meta_info}` with `finish_reason` as
  `{"type": "length", "length": N}` / `{"type": "stop", "matched": str}`, `prompt_tokens`,
  `completion_tokens`, `cached_tokens`, `output_token_logprobs` as `[logprob, token_id, text]`),
  one object for a single input with n = 1 and a list otherwise; `/v1/tokenize`, `/v1/detokenize`,
  `/health`, `/get_model_info` as srt/entrypoints/http_server.py serves them.
* OpenAI (`openai_app`): `/v1/models`, `/v1/chat/completions`, `/v1/completions` as the OpenAI
  API reference shapes them (choices, `finish_reason`, `usage`, chat `logprobs.content` and
  completion `logprobs.tokens`/`token_logprobs`/`top_logprobs`).

Samples of one request with a seed use `seed + i` (ponder's contract, also what `ponder engine
serve` does); SGLang itself gives every copy of a native `n` the same seed. Each server also has
knobs a contract test turns: `delay_s` per generated token (slow engines, cancellation, read
timeouts), `fail` (answer every generation with an error status) and what it has seen.
"""

from __future__ import annotations

import asyncio
import math
import random
import threading
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

ALPHABET = "abcdefghij ,.;"
"""The tokens the toy ever generates (one character each); stop strings outside it never match."""
CONTEXT = 4
"""Tokens of context the next-token scores depend on."""
MODEL = "toy"


@dataclass(slots=True)
class ToySample:
    """One generation: what SGLang's tokenizer manager would put in `text`, `output_ids`, `meta_info`."""

    text: str
    output_ids: list[int]
    finish: str
    """"stop" (a stop string matched) or "length" (`max_new_tokens` reached)."""
    matched: str | None
    logprobs: list[tuple[float, int, str, list[tuple[float, int, str]]]]
    """Per output token: (logprob, id, text, top alternatives as (logprob, id, text))."""


class ToyModel:
    """A deterministic next-token distribution over `ALPHABET`, given the last `CONTEXT` tokens."""

    def tokenize(self, text: str) -> list[int]:
        return [ord(c) for c in text]

    def detokenize(self, ids: Sequence[int]) -> str:
        return "".join(chr(i) for i in ids)

    def distribution(self, context: Sequence[int]) -> list[tuple[float, int]]:
        """(logprob, token id) for every token the toy can emit, most likely first."""
        tail = "".join(chr(i) for i in context[-CONTEXT:])
        scores = [(zlib.crc32(f"{tail}|{c}".encode()) % 1000) / 250 for c in ALPHABET]
        norm = math.log(sum(math.exp(s) for s in scores))
        ranked = [(s - norm, ord(c)) for s, c in zip(scores, ALPHABET, strict=True)]
        return sorted(ranked, key=lambda pair: (-pair[0], pair[1]))

    def generate(
        self,
        prompt_ids: Sequence[int],
        *,
        max_tokens: int,
        temperature: float,
        stop: Sequence[str] = (),
        seed: int | None = None,
        top_logprobs: int = 0,
    ) -> ToySample:
        """Decode token by token; greedy at temperature 0, else sampled from the tempered softmax."""
        rng = random.Random(seed) if seed is not None else random.Random()
        context, out = list(prompt_ids), []
        logprobs: list[tuple[float, int, str, list[tuple[float, int, str]]]] = []
        for _ in range(max_tokens):
            dist = self.distribution(context)
            if temperature == 0:
                logprob, token = dist[0]
            else:
                weights = [math.exp(lp / temperature) for lp, _ in dist]
                logprob, token = rng.choices(dist, weights=weights)[0]
            top = [(lp, t, chr(t)) for lp, t in dist[:top_logprobs]]
            logprobs.append((logprob, token, chr(token), top))
            context.append(token)
            out.append(token)
            text = self.detokenize(out)
            hits = [(text.find(s), s) for s in stop if s and s in text]
            if hits:
                at, matched = min(hits)
                return ToySample(text[:at], out, "stop", matched, logprobs)
        return ToySample(self.detokenize(out), out, "length", None, logprobs)


def chatml(messages: Sequence[dict[str, Any]], add_generation_prompt: bool = True) -> str:
    """The server-side chat template of the OpenAI fake (ChatML, as SGLang's default)."""
    text = "".join(f"<|im_start|>{m['role']}\n{m.get('content') or ''}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


@dataclass
class ToyServer:
    """The state both fakes share with the test: the model, the knobs, and what was seen."""

    model: ToyModel = field(default_factory=ToyModel)
    delay_s: float = 0.0
    """Seconds per generated token (a slow engine)."""
    fail: tuple[int, str] | None = None
    """Answer every generation with this (status, message) instead."""
    bodies: list[dict[str, Any]] = field(default_factory=list)
    """Every generation request body, in arrival order."""
    hits: list[float] = field(default_factory=list)
    """`time.monotonic()` of every generation request, failed ones included."""
    disconnected: threading.Event = field(default_factory=threading.Event)
    """Set (on the server's thread) when a client went away before its answer was ready."""
    _prefixes: set[tuple[int, ...]] = field(default_factory=set)

    def cached(self, ids: Sequence[int]) -> int:
        """Prompt tokens an ideal prefix cache holds for `ids` (the last one is always recomputed)."""
        hit = next((k for k in range(len(ids) - 1, 0, -1) if tuple(ids[:k]) in self._prefixes), 0)
        self._prefixes.update(tuple(ids[:k]) for k in range(1, len(ids) + 1))
        return hit

    async def sample(self, request: Request, ids: Sequence[int], **kw: Any) -> ToySample | None:
        """One generation, paced by `delay_s`; `None` if the client hung up meanwhile."""
        result = self.model.generate(ids, **kw)
        for _ in range(len(result.output_ids) if self.delay_s else 0):
            if await request.is_disconnected():
                self.disconnected.set()
                return None
            await asyncio.sleep(self.delay_s)
        return result

    def refusal(self) -> JSONResponse | None:
        self.hits.append(time.monotonic())
        if self.fail is None:
            return None
        status, message = self.fail
        return JSONResponse({"error": {"message": message}}, status_code=status)


# ---- SGLang's native API -------------------------------------------------------------------------


def sglang_app(server: ToyServer) -> FastAPI:
    """`server` behind SGLang's native HTTP API (see the module docstring for the schema)."""
    app = FastAPI()
    toy = server.model

    @app.get("/health")
    async def health() -> dict[str, Any]:
        return {}

    @app.get("/get_model_info")
    async def model_info() -> dict[str, Any]:
        return {"model_path": MODEL, "tokenizer_path": MODEL, "is_generation": True}

    @app.post("/v1/tokenize")
    async def tokenize(request: Request) -> dict[str, Any]:
        prompt = (await request.json())["prompt"]
        if isinstance(prompt, str):
            ids = toy.tokenize(prompt)
            return {"tokens": ids, "count": len(ids), "max_model_len": 4096}
        tokens = [toy.tokenize(p) for p in prompt]
        return {"tokens": tokens, "count": [len(t) for t in tokens], "max_model_len": 4096}

    @app.post("/v1/detokenize")
    async def detokenize(request: Request) -> dict[str, Any]:
        return {"text": toy.detokenize((await request.json())["tokens"])}

    @app.post("/generate")
    async def generate(request: Request) -> Any:
        body = await request.json()
        server.bodies.append(body)
        if (refused := server.refusal()) is not None:
            return refused
        single = isinstance(body.get("text"), str) or (
            "input_ids" in body and body["input_ids"] and isinstance(body["input_ids"][0], int)
        )
        inputs = [toy.tokenize(t) for t in _many(body.get("text"))] or [
            list(ids) for ids in _many(body.get("input_ids"), nested=True)
        ]
        params = _per_entry(body.get("sampling_params") or {}, len(inputs))
        logprob = _per_entry(body.get("return_logprob", False), len(inputs))
        top = _per_entry(body.get("top_logprobs_num", 0), len(inputs))
        results = []
        for ids, p, lp, k in zip(inputs, params, logprob, top, strict=True):
            cached = server.cached(ids)
            for copy in range(int(p.get("n", 1))):
                sample = await server.sample(
                    request,
                    ids,
                    max_tokens=int(p.get("max_new_tokens", 128)),
                    temperature=float(p.get("temperature", 1.0)),
                    stop=_many(p.get("stop")),
                    seed=p.get("sampling_seed"),
                    top_logprobs=int(k) if lp else 0,
                )
                if sample is None:
                    return JSONResponse({}, status_code=499)
                results.append(_sglang_result(sample, ids, cached if copy == 0 else len(ids), bool(lp)))
        return results[0] if single and len(results) == 1 else results

    return app


def _many(value: Any, *, nested: bool = False) -> list[Any]:
    """SGLang fields are one value or a list of them (for `input_ids`: one id list or a list of lists)."""
    if value is None:
        return []
    if nested:
        return [value] if value and isinstance(value[0], int) else list(value)
    return list(value) if isinstance(value, list) else [value]


def _per_entry(value: Any, count: int) -> list[Any]:
    return list(value) if isinstance(value, list) else [value] * count


def _sglang_result(sample: ToySample, ids: Sequence[int], cached: int, logprob: bool) -> dict[str, Any]:
    finish: dict[str, Any] = (
        {"type": "stop", "matched": sample.matched}
        if sample.finish == "stop"
        else {"type": "length", "length": len(sample.output_ids)}
    )
    meta: dict[str, Any] = {
        "id": f"toy-{time.monotonic_ns()}",
        "finish_reason": finish,
        "prompt_tokens": len(ids),
        "completion_tokens": len(sample.output_ids),
        "cached_tokens": cached,
    }
    if logprob:
        meta["output_token_logprobs"] = [[lp, t, text] for lp, t, text, _ in sample.logprobs]
        meta["output_top_logprobs"] = [[list(alt) for alt in top] for *_, top in sample.logprobs]
    return {"text": sample.text, "output_ids": sample.output_ids, "meta_info": meta}


# ---- the OpenAI API -------------------------------------------------------------------------------


def openai_app(server: ToyServer) -> FastAPI:
    """`server` behind the OpenAI chat and text completion endpoints (mounted under /v1)."""
    app = FastAPI()
    toy = server.model

    @app.get("/v1/models")
    async def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": MODEL, "object": "model", "owned_by": "tests"}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        return await _openai_answer(server, request, body, toy.tokenize(chatml(body["messages"])), chat=True)

    @app.post("/v1/completions")
    async def completions(request: Request) -> Any:
        body = await request.json()
        prompt = body["prompt"]
        ids = toy.tokenize(prompt) if isinstance(prompt, str) else list(prompt)
        return await _openai_answer(server, request, body, ids, chat=False)

    return app


async def _openai_answer(
    server: ToyServer, request: Request, body: dict[str, Any], ids: list[int], *, chat: bool
) -> Any:
    server.bodies.append(body)
    if (refused := server.refusal()) is not None:
        return refused
    seed = body.get("seed")
    wants = bool(body.get("logprobs"))
    top = int(body.get("top_logprobs") or 0) if chat else int(body.get("logprobs") or 0)
    choices = []
    completion_tokens = 0
    for i in range(int(body.get("n") or 1)):
        sample = await server.sample(
            request,
            ids,
            max_tokens=int(body.get("max_tokens") or 16),
            temperature=float(body.get("temperature", 1.0)),
            stop=_many(body.get("stop")),
            seed=None if seed is None else seed + i,
            top_logprobs=top,
        )
        if sample is None:
            return JSONResponse({}, status_code=499)
        completion_tokens += len(sample.output_ids)
        choice: dict[str, Any] = {"index": i, "finish_reason": sample.finish, "logprobs": None}
        if chat:
            choice["message"] = {"role": "assistant", "content": sample.text}
            if wants:
                choice["logprobs"] = {"content": [_chat_logprob(x) for x in sample.logprobs]}
        else:
            choice["text"] = sample.text
            if body.get("logprobs") is not None:
                choice["logprobs"] = {
                    "tokens": [text for _, _, text, _ in sample.logprobs],
                    "token_logprobs": [lp for lp, *_ in sample.logprobs],
                    "top_logprobs": [{t: lp for lp, _, t in alts} for *_, alts in sample.logprobs],
                    "text_offset": list(range(len(sample.logprobs))),
                }
        choices.append(choice)
    usage = {"prompt_tokens": len(ids), "completion_tokens": completion_tokens}
    return {
        "id": f"toy-{time.monotonic_ns()}",
        "object": "chat.completion" if chat else "text_completion",
        "created": int(time.time()),
        "model": body.get("model") or MODEL,
        "choices": choices,
        "usage": {**usage, "total_tokens": len(ids) + completion_tokens},
    }


def _chat_logprob(item: tuple[float, int, str, list[tuple[float, int, str]]]) -> dict[str, Any]:
    logprob, _, text, alts = item
    return {
        "token": text,
        "logprob": logprob,
        "bytes": list(text.encode()),
        "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for lp, _, t in alts],
    }
