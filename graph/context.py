"""A search's run-time dependencies: the `context` LangGraph hands each graph node as `Runtime`.

The backend and the verifier are live objects (HTTP clients, a model, a sandbox), so they travel
beside the state, never in it:

    graph = build_search_graph()
    await graph.ainvoke({"task": task.model_dump(mode="json")}, context=SearchContext(
        backend=backend, verifier=verifier, config=SearchConfig(strategy="beam")))

One compiled graph therefore serves every search. The context is not checkpointed: a resumed
search is given its context again, and keeps the task and config stored in its state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langgraph.runtime import Runtime

from ponder.backends.base import BaseBackend
from ponder.errors import PonderError
from ponder.graph.expander import Expander
from ponder.graph.expansion import tokenize_or_none
from ponder.graph.names import AUTO
from ponder.graph.state import SearchState
from ponder.graph.strategies import Strategy, get_strategy
from ponder.graph.strategies.auto import resolve_auto
from ponder.graph.types import SearchConfig, SearchTask
from ponder.verifiers.base import BaseVerifier


class ContextError(PonderError, TypeError):
    """The search graph was run without a `SearchContext` (a usage mistake, caught at the first node)."""


@dataclass(frozen=True, slots=True)
class Settings:
    """A run's task, config and strategy, parsed from the state."""

    task: SearchTask
    config: SearchConfig
    strategy: Strategy


@dataclass(slots=True)
class _Memo:
    """What a context computed once and reuses on every graph step of its run.

    Parsing the task per step would cost a validation of every file it carries (code tasks);
    the memo holds the raw dicts it parsed, so an identity check cannot be fooled by a reused id.
    Fixed strings are tokenized once: a remote tokenizer is a round trip.
    """

    parsed: tuple[Any, Any, Settings] | None = None
    """(raw task, raw config, their `Settings`)."""
    token_ids: dict[str, list[int] | None] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchContext:
    """What one search runs with: pass as `context=` to the search graph's `ainvoke`/`astream`.

    Raises:
        ValueError: `config.strategy` names no strategy (checked here, before any work).
    """

    backend: BaseBackend
    """The model that proposes steps."""
    verifier: BaseVerifier
    """Scores and gates the chains."""
    config: SearchConfig = field(default_factory=SearchConfig)
    """Settings of a new search; a resumed search keeps the config stored in its state."""
    expander: Expander | None = None
    """Proposes children before the model does (`ponder.graph.expander`); None = the model only."""
    _memo: _Memo = field(default_factory=_Memo, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.config.strategy != AUTO:  # "auto" resolves to a registered name (see `settings`)
            get_strategy(self.config.strategy)

    def settings(self, state: SearchState) -> Settings:
        """The task, config and strategy of the run `state` belongs to.

        `strategy="auto"` is resolved here, the one place a run's strategy is looked up: the
        stored config keeps "auto" (so `search_started` reports it, and a resumed run resolves
        the same row again), while every node, the tree export and the result see the concrete
        strategy and `n`, with the table row in `config.auto_reason`.
        """
        raw_task, raw_config = state["task"], state.get("config")
        parsed = self._memo.parsed
        if parsed is None or parsed[0] is not raw_task or parsed[1] is not raw_config:
            config = SearchConfig.model_validate(raw_config) if raw_config else self.config
            task = SearchTask.model_validate(raw_task)
            config = resolve_auto(config, task)
            settings = Settings(task, config, get_strategy(config.strategy))
            parsed = self._memo.parsed = (raw_task, raw_config, settings)
        return parsed[2]

    async def token_ids(self, text: str) -> list[int] | None:
        """`text` tokenized by the backend (None when it cannot tokenize), once per context."""
        cache = self._memo.token_ids
        if text not in cache:
            cache[text] = await tokenize_or_none(self.backend, text)
        return cache[text]


def context_of(runtime: Runtime[SearchContext]) -> SearchContext:
    """The run's `SearchContext`; raises `ContextError` saying how to pass one when it is missing."""
    ctx = runtime.context
    if not isinstance(ctx, SearchContext):
        raise ContextError(
            f"the search graph got context {type(ctx).__name__}, not a SearchContext; run it as "
            "graph.ainvoke(state, context=SearchContext(backend=..., verifier=..., config=...))"
        )
    return ctx
