"""Turning sampled completions into tree nodes, and counting what they cost."""

from __future__ import annotations

from ponder.backends.base import BaseBackend, Completion, GenerationRequest, Usage
from ponder.graph.prompts import continuation
from ponder.graph.state import FrontierItem, Node
from ponder.graph.steps import extract_answer, has_answer
from ponder.graph.tree import ROOT_ID, new_node
from ponder.graph.types import SearchConfig, SearchTask, Spend


async def tokenize_or_none(backend: BaseBackend, text: str) -> list[int] | None:
    """Token ids of `text`, or None when the backend cannot tokenize (then chains go as text)."""
    if not text:
        return []
    try:
        return await backend.atokenize(text)
    except NotImplementedError:
        return None


def add_warm_usage(spend: Spend, usage: Usage) -> None:
    """Account a warm-up prefill as part of the children's prompts, not as extra prompt tokens.

    The children resend the same prompts and report them as cached; counting the warm-up's
    prompt tokens too would double the denominator and halve the recomputed share. Instead the
    tokens the warm-up actually computed are taken off the reuse the children will report.
    """
    spend.tokens_reused -= usage.prompt_tokens - usage.cached_tokens


def floor_reuse(spend: Spend, reused_before: int) -> None:
    """After an expansion, reuse never drops below what it was before.

    An engine re-evaluates the last prompt token for its logits, so on a cold prompt the warm-up
    and its children together compute one token more than the prompt has; reuse is a count of
    tokens and stops at zero rather than reading -1.
    """
    spend.tokens_reused = max(reused_before, spend.tokens_reused)


def add_usage(spend: Spend, usage: Usage, *, generated: bool, fallback: int = 0) -> None:
    """Add a call's usage; `fallback` counts output tokens for backends that report none."""
    spend.prompt_tokens += usage.prompt_tokens
    spend.tokens_reused += usage.cached_tokens
    if generated:
        spend.tokens_generated += usage.completion_tokens or fallback


async def make_child(
    number: int,
    parent: Node,
    comp: Completion,
    *,
    req: GenerationRequest,
    cue: str,
    steps: list[str],
    config: SearchConfig,
    task: SearchTask,
    sep_ids: list[int] | None,
    item: FrontierItem,
    backend: BaseBackend,
) -> Node:
    """The node for one sampled step: terminal when it answers, the model ended, or depth ran out."""
    step = (cue + comp.text).strip()
    depth = parent["depth"] + 1
    last = config.single_step or depth >= config.max_depth
    ids, eos = await continuation(comp, req, backend, sep_ids)
    # An empty step after a "stop" finish is the model ending its answer, even without ids.
    ended = eos or (comp.finish_reason == "stop" and not comp.text.strip())
    terminal = last or ended or has_answer(step, task.answer_format)
    answer = extract_answer([*steps, step], task.answer_format) if terminal else None
    first_step = parent["id"] == ROOT_ID
    return new_node(
        number,
        parent=parent["id"],
        depth=depth,
        step=step,
        ctx_ids=None if terminal else ids,
        n_tokens=comp.usage.completion_tokens or len(comp.token_ids),
        terminal=terminal,
        answer=answer,
        finish_reason=comp.finish_reason,
        feedback=item.get("feedback") if first_step else None,
        prev_answer=item.get("prev_answer") if first_step else None,
        logprobs=[lp.logprob for lp in comp.logprobs] if comp.logprobs else None,
    )
