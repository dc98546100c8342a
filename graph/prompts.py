"""Turning a planned expansion into a `GenerationRequest`.

Two ways to continue a chain, chosen per parent:
- token ids: the parent's prompt ids + generated ids (+ the step separator). Exact continuation,
  so a prefix cache (llama.cpp state, SGLang radix tree) matches the whole parent prefix.
- messages + assistant_prefix: the steps so far as the assistant's partial answer. Works with
  every backend, including API-only ones.
"""

from __future__ import annotations

import zlib
from typing import Any

from ponder.backends.base import BaseBackend, ChatMessage, Completion, GenerationRequest
from ponder.graph.state import FrontierItem
from ponder.graph.steps import STEP_SEPARATOR, force_cue, stop_strings
from ponder.graph.tree import TreeView


def request_seed(config_seed: int, first_child: str) -> int:
    """Per-request seed from the search seed and the (stable) id of the first child it creates."""
    return zlib.crc32(f"{config_seed}:{first_child}".encode()) & 0x7FFFFFFF


def conditioning(view: TreeView, item: FrontierItem) -> tuple[str | None, str | None]:
    """(feedback, previous answer) the chain under this expansion is conditioned on."""
    if item.get("feedback"):
        return item.get("feedback"), item.get("prev_answer")
    path = view.path(item["node"])
    if path:
        first = view[path[0]]
        return first.get("feedback"), first.get("prev_answer")
    return None, None


def chain_messages(view: TreeView, item: FrontierItem) -> list[ChatMessage]:
    """The task's messages, plus the failed attempt and its feedback when refining."""
    messages = list(view.task.messages)
    feedback, prev = conditioning(view, item)
    if feedback:
        if prev is not None:
            shown = f"```python\n{prev}\n```" if view.task.answer_format == "code" else prev
            messages.append(ChatMessage(role="assistant", content=shown))
        messages.append(
            ChatMessage(role="user", content=view.task.feedback_template.format(feedback=feedback))
        )
    return messages


def build_request(
    view: TreeView,
    item: FrontierItem,
    *,
    backend: BaseBackend,
    first_child: str,
    max_tokens: int,
    temperature: float,
    cue_ids: list[int] | None,
) -> tuple[GenerationRequest, str]:
    """The request for `item["k"]` children of `item["node"]`, and the answer cue it forces.

    The cue ("Answer:") is put in front of the last step a chain may take (max depth), so the
    child's step text is `cue + completion.text`.
    """
    config, task = view.config, view.task
    parent = view[item["node"]]
    child_depth = parent["depth"] + 1
    last = config.single_step or child_depth >= config.max_depth
    cue = force_cue(task.answer_format) if (last and not config.single_step) else ""
    common: dict[str, Any] = {
        "n": item["k"],
        "temperature": temperature,
        "top_p": config.top_p if temperature > 0 else 1.0,
        "max_tokens": max_tokens,
        "stop": [] if last else stop_strings(config, task.answer_format),
        "seed": request_seed(config.seed, first_child),
        "logprobs": backend.capabilities.logprobs,
    }
    caps = backend.capabilities
    ctx_ids = parent.get("ctx_ids")
    if caps.token_ids and ctx_ids and not item.get("feedback") and cue_ids is not None:
        ids = list(ctx_ids) + (cue_ids if cue else [])
        return GenerationRequest(token_ids=ids, **common), cue
    steps = [view[nid]["step"] for nid in view.path(item["node"])]
    prefix = STEP_SEPARATOR.join(steps) + (STEP_SEPARATOR if steps else "") + cue
    return GenerationRequest(
        messages=chain_messages(view, item), assistant_prefix=prefix or None, **common
    ), cue


async def continuation(
    comp: Completion, req: GenerationRequest, backend: BaseBackend, sep_ids: list[int] | None
) -> tuple[list[int] | None, bool]:
    """(ids a child sends to continue this sample, whether the model ended the chain itself).

    Engines keep the tokens of a matched stop string (and the EOS token) in `token_ids` while
    cutting them from the text. Reading the tokens' text past `comp.text` tells the two apart:
    a delimiter there means the step ended normally (the ids are re-based so they end in exactly
    one separator); anything else after a "stop" finish is an end-of-sequence. Backends without
    token ids or detokenization get no continuation ids and no EOS detection.
    """
    base = req.token_ids if req.token_ids is not None else comp.prompt_token_ids
    if not base or sep_ids is None or not comp.token_ids:
        return None, False
    if comp.finish_reason != "stop":
        return [*base, *comp.token_ids], False
    try:
        full = await backend.adetokenize(comp.token_ids)
    except NotImplementedError:
        return [*base, *comp.token_ids, *sep_ids], False
    tail = full[len(comp.text) :] if full.startswith(comp.text) else None
    if tail is None or not any(tail.startswith(s) for s in req.stop):
        return None, True
    if tail == STEP_SEPARATOR:
        return [*base, *comp.token_ids], False
    # The stop string was not the separator (or shares a token with more text): keep the
    # tokens that spell the step, then one separator.
    k = len(comp.token_ids)
    while k > 0 and not comp.text.startswith(await backend.adetokenize(comp.token_ids[:k])):
        k -= 1
    rest = comp.text[len(await backend.adetokenize(comp.token_ids[:k])) :]
    rest_ids = await backend.atokenize(rest) if rest else []
    return [*base, *comp.token_ids[:k], *rest_ids, *sep_ids], False
