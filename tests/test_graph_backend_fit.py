"""A search fits what its backend can do: one that can continue neither token ids nor a partial
assistant turn (a plain OpenAI-compatible server) gets whole replies, never a request it would
refuse; the graph awaits the backend's text verbs instead of blocking the event loop on them."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from ponder.backends.base import BaseBackend, Capabilities, Completion, GenerationRequest
from ponder.graph import SearchConfig, SearchEvent, SearchResult, stream_search
from ponder.graph.nodes import fit_to_backend
from ponder.graph.testing import ScriptedBackend, ScriptedVerifier, path_policy, text_task
from ponder.graph.types import Budget
from ponder.verifiers.types import Chain, StepScore


class _NoPrefix(ScriptedBackend):
    """The scripted model behind an API that refuses `assistant_prefix` and takes no token ids."""

    @property
    def capabilities(self) -> Capabilities:
        return dataclasses.replace(super().capabilities, continue_prefix=False)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        refused = [r for r in requests if r.assistant_prefix is not None]
        assert not refused, "a request the API would refuse was sent"
        return await super().generate(requests)


class _Counting(ScriptedBackend):
    """Counts the awaitable verbs the graph uses, and fails on a blocking one."""

    def __init__(self) -> None:
        super().__init__(path_policy(2))
        self.awaited = 0

    async def atokenize(self, text: str) -> list[int]:
        self.awaited += 1
        return super().tokenize(text)

    async def adetokenize(self, token_ids: Sequence[int]) -> str:
        self.awaited += 1
        return super().detokenize(token_ids)

    def tokenize(self, text: str) -> list[int]:
        raise AssertionError("the graph called the blocking tokenize")


def _ok(chain: Chain) -> StepScore:
    return StepScore(score=0.5)


async def _search(backend: BaseBackend) -> tuple[list[SearchEvent], SearchResult]:
    events: list[SearchEvent] = []
    async for item in stream_search(text_task(), CONFIG, backend=backend, verifier=ScriptedVerifier(_ok)):
        if isinstance(item, SearchResult):
            return events, item
        events.append(item)
    raise AssertionError("the search ended without a result")


CONFIG = SearchConfig(strategy="beam", n=2, beam_width=2, max_depth=3, budget=Budget(max_expansions=12))


async def test_a_backend_without_prefix_continuation_gets_whole_replies() -> None:
    backend = _NoPrefix(path_policy(2), token_ids=False)
    events, result = await _search(backend)
    assert result.answer is not None
    assert backend.log.requests and all(r.assistant_prefix is None for r in backend.log.requests)
    assert {n["depth"] for n in result.tree["nodes"] if n["parent"] is not None} == {1}
    [started] = [e for e in events if e.kind == "search_started"]
    assert started.data["single_step"] is True


async def test_a_backend_that_continues_prefixes_keeps_step_by_step_chains() -> None:
    backend = ScriptedBackend(path_policy(2), token_ids=False)
    _, result = await _search(backend)
    assert any(r.assistant_prefix for r in backend.log.requests)
    assert max(n["depth"] for n in result.tree["nodes"]) >= 2


def test_the_fitted_config_leaves_room_for_the_steps_a_whole_reply_replaces() -> None:
    caps = Capabilities(
        logprobs=False, top_logprobs=False, n=True, token_ids=False, prefix_cache=False, seed=True
    )
    fitted = fit_to_backend(CONFIG, dataclasses.replace(caps, continue_prefix=False))
    assert fitted.single_step and fitted.max_step_tokens == CONFIG.max_step_tokens * CONFIG.max_depth
    assert fit_to_backend(CONFIG, caps) is CONFIG
    assert fit_to_backend(CONFIG, dataclasses.replace(caps, continue_prefix=False, token_ids=True)) is CONFIG


async def test_the_graph_awaits_the_text_verbs() -> None:
    backend = _Counting()
    _, result = await _search(backend)
    assert result.answer is not None and backend.awaited > 0
