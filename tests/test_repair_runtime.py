"""The shared plugin runtime (settings → parts) and the progress renderer every surface uses."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from ponder.graph.testing import ScriptedBackend, text_task
from ponder.graph.types import Budget, SearchConfig, SearchEvent
from ponder.plugin.progress import SearchProgress
from ponder.plugin.runtime import RuntimeSetupError, merge_search_config, open_runtime
from ponder.plugin.settings import PonderSettings, SettingsError
from ponder.plugin.solve.workflow import build_solve_task


def test_flags_override_settings_and_budget_merges_per_field() -> None:
    base = SearchConfig(strategy="beam", budget=Budget(max_tokens=1000, max_seconds=30, max_expansions=9))
    merged = merge_search_config(base, {"strategy": "mcts", "n": None, "budget": {"max_expansions": 3}})
    assert merged.strategy == "mcts"
    assert merged.n == base.n  # None = flag not given
    assert merged.budget == Budget(max_tokens=1000, max_seconds=30, max_expansions=3)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        pytest.param({"strategy": "guess"}, "invalid search settings: strategy='guess'", id="bad-strategy"),
        pytest.param({"budget": {"max_tokens": 0}}, "budget.max_tokens=0", id="bad-budget"),
        pytest.param({"beam": 3}, "unknown search setting 'beam'", id="unknown-key"),
    ],
)
def test_bad_overrides_are_settings_errors(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("(", r"\(").replace("[", r"\[")):
        merge_search_config(SearchConfig(), overrides)


async def test_runtime_uses_given_parts_and_leaves_them_open() -> None:
    closed: list[str] = []

    class Backend(ScriptedBackend):
        async def aclose(self) -> None:
            closed.append("backend")

    backend = Backend(lambda ctx: "Answer: 7")
    async with open_runtime(PonderSettings(), backend=backend, need_sandbox=False) as rt:
        assert rt.backend is backend and rt.sandbox is None
        with pytest.raises(RuntimeSetupError, match="without a sandbox"):
            rt.code_verifier()
        config = rt.search_config(strategy="best_of_n", n=2, budget={"max_expansions": 2})
        result = await rt.search(build_solve_task("3 + 4?", "7"), config, verifier=rt.math_verifier())
        assert result.verified and result.answer == "7" and result.spend.expansions <= 2
    assert closed == []  # the caller owns what it passed in


async def test_runtime_streams_events_then_the_result() -> None:
    backend = ScriptedBackend(lambda ctx: "Answer: 7")
    async with open_runtime(PonderSettings(), backend=backend, need_sandbox=False) as rt:
        items = [
            item
            async for item in rt.stream(
                text_task(), rt.search_config(strategy="greedy"), verifier=rt.math_verifier()
            )
        ]
    assert all(isinstance(i, SearchEvent) for i in items[:-1])
    assert items[0].kind == "search_started" and items[-2].kind == "search_finished"
    assert items[-1].answer == "7"  # type: ignore[union-attr]


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buffer = io.StringIO()
    return Console(file=buffer, force_terminal=terminal, width=120), buffer


def test_progress_counts_what_the_events_say() -> None:
    console, _ = _console(terminal=True)
    events = [
        SearchEvent(kind="search_started"),
        SearchEvent(kind="node_expanded", data={"spend": {"tokens_generated": 40}}),
        SearchEvent(kind="node_scored", gate="fail", score=0.25),
        SearchEvent(kind="node_pruned", gate="fail"),
        SearchEvent(kind="node_expanded", data={"spend": {"tokens_generated": 95}}),
        SearchEvent(kind="node_scored", gate="pass", score=1.0),
        SearchEvent(kind="answer_found", gate="pass", elapsed_s=1.5),
        SearchEvent(kind="search_finished", data={"spend": {"tokens_generated": 95}}),
    ]
    with SearchProgress(max_expansions=8, console=console) as progress:
        for event in events:
            progress(event)
    s = progress.stats
    assert (s.expanded, s.scored, s.passed, s.failed, s.tokens) == (2, 2, 1, 1, 95)
    assert s.best_score == 1.0 and s.found and s.finished and s.budget_hit is None


def test_progress_on_a_pipe_logs_only_the_outcome_lines() -> None:
    console, buffer = _console(terminal=False)
    with SearchProgress(label="repairing", console=console) as progress:
        progress(SearchEvent(kind="node_expanded"))
        progress(SearchEvent(kind="budget_hit", text="max_expansions", data={"limit": "max_expansions"}))
    assert buffer.getvalue() == "repairing: budget reached (max_expansions)\n"

    console, buffer = _console(terminal=False)
    with SearchProgress(console=console, enabled=False) as progress:
        progress(SearchEvent(kind="answer_found", elapsed_s=2.0))
    assert buffer.getvalue() == ""
