"""The wire side of `SGLangBackend`: batch entries, the `/generate` body built from them, and
SGLang's answers read back into `Completion`s.

These are pure functions of the requests and the JSON, kept apart from the client (`sglang`) that
tokenizes, groups and posts, so the shapes can be read against SGLang's `GenerateReqInput` and
`meta_info` without the HTTP around them. A payload that is not what an SGLang-compatible server
sends is a `BackendResponseError` naming the URL and what was expected.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ponder.backends.base import Completion, FinishReason, GenerationRequest, TokenLogprob, Usage
from ponder.backends.errors import BackendResponseError


@dataclass(slots=True)
class Entry:
    """One `/generate` batch entry: an input, sampled `n` times, belonging to one request."""

    request: int
    input_ids: list[int] | None
    text: str | None
    n: int
    seed: int | None
    params: GenerationRequest

    @property
    def key(self) -> tuple[Any, ...]:
        return tuple(self.input_ids) if self.input_ids is not None else (self.text,)


@dataclass(slots=True)
class Sample:
    text: str
    output_ids: list[int]
    finish: FinishReason
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    logprobs: list[TokenLogprob] | None


@dataclass(slots=True)
class Pending:
    """What one request has collected: its samples and the prefill work done on its behalf."""

    samples: list[Sample] = field(default_factory=list)
    extra_recomputed: int = 0
    prompt_ids: list[int] = field(default_factory=list)


def generate_payload(
    entries: Sequence[Entry],
    *,
    top_k: int | None,
    stop_token_ids: Sequence[int],
    warm: bool = False,
    broadcast: bool = False,
) -> dict[str, Any]:
    """The `/generate` body for entries that share one `n` (single form for one entry).

    `broadcast`: per-entry fields whose items are all equal go as one value for the whole batch
    (SGLang applies it to every input; sglang-router reads only that form).
    """
    fields = [_entry_fields(e, top_k, stop_token_ids, warm) for e in entries]
    params, logprob, top = [f[0] for f in fields], [f[1] for f in fields], [f[2] for f in fields]
    single = len(entries) == 1
    shared = single or (broadcast and all(f == fields[0] for f in fields))
    body: dict[str, Any] = {}
    if all(e.input_ids is not None for e in entries):
        ids = [e.input_ids for e in entries]
        body["input_ids"] = ids[0] if single else ids
    elif all(e.text is not None for e in entries):
        texts = [e.text for e in entries]
        body["text"] = texts[0] if single else texts
    else:  # mixed inputs cannot share one body: the caller splits them (see `SGLangBackend._post_generate`)
        raise AssertionError("entries mix text and input_ids")
    body["sampling_params"] = params[0] if shared else params
    if any(logprob):
        body["return_logprob"] = logprob[0] if shared else logprob
        body["top_logprobs_num"] = top[0] if shared else top
        body["return_text_in_logprobs"] = True
    return body


def uniform_groups(
    entries: Sequence[Entry], *, top_k: int | None, stop_token_ids: Sequence[int], warm: bool = False
) -> list[list[Entry]]:
    """Entries grouped by equal sampling params and logprob asks (in first-seen order), for servers
    that take one `sampling_params` object per request: each group is one broadcast body."""
    groups: dict[str, list[Entry]] = {}
    for e in entries:
        key = json.dumps(_entry_fields(e, top_k, stop_token_ids, warm), sort_keys=True)
        groups.setdefault(key, []).append(e)
    return list(groups.values())


def _entry_fields(
    entry: Entry, top_k: int | None, stop_token_ids: Sequence[int], warm: bool
) -> tuple[dict[str, Any], bool, int]:
    """What a `/generate` body says per entry: sampling params, return_logprob, top_logprobs_num."""
    logprob = bool(entry.params.logprobs) and not warm
    top = entry.params.top_logprobs if logprob else 0
    return _sampling_params(entry, top_k, stop_token_ids, warm=warm), logprob, top


def _sampling_params(
    entry: Entry, top_k: int | None, stop_token_ids: Sequence[int], *, warm: bool
) -> dict[str, Any]:
    """SGLang `sampling_params` for one entry; a warm-up asks for no new token, once."""
    req = entry.params
    params: dict[str, Any] = {
        "max_new_tokens": 0 if warm else req.max_tokens,
        "temperature": req.temperature,
        "top_p": req.top_p,
        "n": 1 if warm else entry.n,
    }
    if req.stop:
        params["stop"] = list(req.stop)
    if entry.seed is not None:
        params["sampling_seed"] = entry.seed
    if top_k is not None:
        params["top_k"] = top_k
    if stop_token_ids:
        params["stop_token_ids"] = list(stop_token_ids)
    return params


TOKENIZER_MODEL = "default"
"""The `model` of tokenize calls: SGLang's own default, and the name sglang-router gives its
`--tokenizer-path` tokenizer (without it the router looks for a tokenizer named 'unknown' and fails)."""


def tokenize_body(text: str) -> dict[str, Any]:
    return {"model": TOKENIZER_MODEL, "prompt": text, "add_special_tokens": False}


def detokenize_body(token_ids: Sequence[int]) -> dict[str, Any]:
    return {"model": TOKENIZER_MODEL, "tokens": list(token_ids), "skip_special_tokens": False}


def json_object(data: Any, url: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise bad_payload(url, "a JSON object")
    return data


def tokens_of(data: dict[str, Any], url: str) -> list[int]:
    tokens = data.get("tokens")
    if not isinstance(tokens, list) or not all(isinstance(t, int) for t in tokens):
        raise bad_payload(url, "`tokens`, a list of token ids")
    return list(tokens)


def text_of(data: dict[str, Any], url: str) -> str:
    text = data.get("text")
    if not isinstance(text, str):
        raise bad_payload(url, "`text`, a string")
    return text


def bad_payload(url: str, expected: str) -> BackendResponseError:
    return BackendResponseError(
        f"{url} answered with an unexpected payload (expected {expected}); "
        "is it an SGLang-compatible server?",
        url=url,
    )


def parse_result(result: Any, url: str) -> Sample:
    """One SGLang result `{text, output_ids, meta_info}` → a sample (older servers omit output_ids)."""
    try:
        meta = result["meta_info"]
        text = result["text"]
        finish_raw = meta.get("finish_reason")
        finish_type = finish_raw.get("type") if isinstance(finish_raw, dict) else finish_raw
        finish: FinishReason = finish_type if finish_type in ("stop", "length", "abort") else "stop"
        logprobs = None
        if "output_token_logprobs" in meta and meta["output_token_logprobs"] is not None:
            tops = meta.get("output_top_logprobs") or []
            logprobs = []
            for i, (lp, token_id, token_text) in enumerate(meta["output_token_logprobs"]):
                alternatives = tops[i] if i < len(tops) and tops[i] else []
                logprobs.append(
                    TokenLogprob(
                        token_id=int(token_id),
                        text=token_text,
                        logprob=float(lp),
                        top={(t if t is not None else str(tid)): float(v) for v, tid, t in alternatives},
                    )
                )
        return Sample(
            text=str(text),
            output_ids=[int(t) for t in result.get("output_ids") or []],
            finish=finish,
            prompt_tokens=int(meta.get("prompt_tokens", 0)),
            completion_tokens=int(meta.get("completion_tokens", 0)),
            cached_tokens=int(meta.get("cached_tokens", 0)),
            logprobs=logprobs,
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise bad_payload(url, "`{text, output_ids, meta_info}` per result") from exc


def completions(pending: Pending) -> list[Completion]:
    """Samples of one request → completions, with the prompt counted once (on the first sample).

    `cached_tokens` of the request = its prompt minus every prompt token any of its entries (and
    the warm-up on its behalf) actually recomputed, so budgets see the real prefill work.
    """
    samples = pending.samples
    prompt = samples[0].prompt_tokens
    recomputed = pending.extra_recomputed + sum(max(0, s.prompt_tokens - s.cached_tokens) for s in samples)
    out = []
    for k, s in enumerate(samples):
        usage = (
            Usage(prompt, s.completion_tokens, max(0, prompt - recomputed))
            if k == 0
            else Usage(0, s.completion_tokens, 0)
        )
        out.append(
            Completion(
                text=s.text,
                token_ids=s.output_ids,
                finish_reason=s.finish,
                prompt_token_ids=list(pending.prompt_ids),
                logprobs=s.logprobs,
                usage=usage,
            )
        )
    return out
