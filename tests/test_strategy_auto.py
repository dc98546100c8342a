"""`strategy="auto"`: the documented table decides the strategy and N, and every surface accepts it."""

from __future__ import annotations

import json
from typing import Any, get_args

import pytest
from pydantic import TypeAdapter
from typer.testing import CliRunner

from ponder.backends.base import ChatMessage
from ponder.graph.context import SearchContext
from ponder.graph.names import StrategyChoice
from ponder.graph.search import run_search
from ponder.graph.strategies import STRATEGIES
from ponder.graph.strategies.auto import TABLE, AutoRow, has_hard_check, pick_row, resolve_auto
from ponder.graph.testing import ScriptedBackend, ScriptedVerifier, path_policy, text_task
from ponder.graph.types import Budget, SearchConfig, SearchEvent, SearchTask
from ponder.plugin.mcp.tools import StrategyArg
from ponder.plugin.serve.app import ChatRequest, model_ids, search_config
from ponder.verifiers.types import StepScore, VerifyTask
from tests._repair import cli_app
from tests._scripted_openai import openai_env, scripted_model


def _task(kind: str, **inputs: Any) -> SearchTask:
    return SearchTask(
        messages=[ChatMessage(role="user", content="q")],
        verify=VerifyTask(kind=kind, question="q", inputs=inputs),
    )


CODE = _task("code")
TEXT = text_task()


def _auto(max_tokens: int | None, *, max_expansions: int | None = None, **fields: Any) -> SearchConfig:
    """An auto config whose chains are short enough (8 tokens, one step) that a row's N always fits."""
    base: dict[str, Any] = {"max_step_tokens": 8, "single_step": True}
    budget = Budget(max_tokens=max_tokens, max_expansions=max_expansions)
    return SearchConfig(strategy="auto", budget=budget, **{**base, **fields})


@pytest.mark.parametrize(
    "row", TABLE, ids=lambda r: f"{'checked' if r.checked else 'unchecked'}-{r.min_tokens}"
)
def test_each_rows_budget_gives_its_strategy_and_n(row: AutoRow) -> None:
    task = CODE if row.checked else TEXT
    for tokens in (row.min_tokens, (row.max_tokens or row.min_tokens * 4) - 1):
        chosen = resolve_auto(_auto(tokens), task)
        assert (chosen.strategy, chosen.n) == (row.strategy, row.n), tokens
        assert chosen.auto_reason is not None and chosen.auto_reason.startswith(f"auto: {row.strategy}")


def test_the_table_is_the_documented_one() -> None:
    rows = {(r.checked, r.min_tokens, r.max_tokens): (r.strategy, r.n) for r in TABLE}
    assert rows == {
        (True, 1, 1024): ("greedy", 1),
        (True, 1024, 8192): ("best_of_n", 4),
        (True, 8192, None): ("best_of_n", 8),
        (False, 1, 4096): ("greedy", 1),
        (False, 4096, None): ("self_consistency", 8),
    }
    assert all(r.strategy in STRATEGIES for r in TABLE)


@pytest.mark.parametrize("checked", [True, False])
def test_every_budget_falls_in_exactly_one_row(checked: bool) -> None:
    for tokens in (*range(1, 10_000, 7), 1023, 1024, 4095, 4096, 8191, 8192, 10**7, None):
        assert sum(r.covers(checked, tokens) for r in TABLE) == 1, tokens


def test_no_token_limit_takes_the_largest_row() -> None:
    assert pick_row(True, None) == TABLE[2]
    assert resolve_auto(_auto(None), TEXT).strategy == "self_consistency"


def test_a_task_with_an_execution_check_picks_differently_where_the_table_says() -> None:
    at_2048 = _auto(2048)
    assert (resolve_auto(at_2048, CODE).strategy, resolve_auto(at_2048, CODE).n) == ("best_of_n", 4)
    assert (resolve_auto(at_2048, TEXT).strategy, resolve_auto(at_2048, TEXT).n) == ("greedy", 1)
    assert resolve_auto(_auto(512), CODE).strategy == resolve_auto(_auto(512), TEXT).strategy == "greedy"
    assert resolve_auto(_auto(8192), TEXT).strategy == "self_consistency"
    assert resolve_auto(_auto(8192), CODE).strategy == "best_of_n"


def test_which_tasks_have_a_hard_check() -> None:
    assert has_hard_check(CODE) and has_hard_check(_task("finance"))
    assert has_hard_check(_task("math", reference="5"))
    assert not has_hard_check(_task("math")) and not has_hard_check(TEXT)
    assert resolve_auto(_auto(2048), _task("math", reference="5")).strategy == "best_of_n"
    assert resolve_auto(_auto(2048), _task("math")).strategy == "greedy"


def test_n_is_fitted_to_the_per_chain_estimate_and_the_expansions() -> None:
    # Defaults: 128-token steps x 6 steps = 768 tokens a chain may write.
    default = SearchConfig(strategy="auto", budget=Budget(max_tokens=2048))
    assert resolve_auto(default, CODE).n == 2  # 2048 // 768
    assert resolve_auto(default.model_copy(update={"single_step": True}), CODE).n == 4  # 2048 // 128 > 4
    tight = SearchConfig(strategy="auto", budget=Budget(max_tokens=2048, max_expansions=12))
    assert resolve_auto(tight.model_copy(update={"max_step_tokens": 8}), CODE).n == 2  # 12 // 6 steps
    # Fewer than two chains fit: sampling cannot select, so greedy.
    one = resolve_auto(SearchConfig(strategy="auto", budget=Budget(max_tokens=1100)), CODE)
    assert (one.strategy, one.n) == ("greedy", 1)
    assert one.auto_reason is not None and "fewer than 2 chains of 768 tokens fit" in one.auto_reason


def test_a_named_strategy_is_left_alone() -> None:
    named = SearchConfig(strategy="beam", budget=Budget(max_tokens=2048))
    assert resolve_auto(named, CODE) is named
    assert named.auto_reason is None


async def test_auto_search_end_to_end_reports_the_concrete_strategy_within_budget() -> None:
    backend = ScriptedBackend(path_policy(3))
    verifier = ScriptedVerifier(lambda chain: StepScore(score=0.5, gate="unknown"))
    config = SearchConfig(strategy="auto", max_step_tokens=16, max_depth=3, budget=Budget(max_tokens=1024))
    events: list[SearchEvent] = []
    result = await run_search(CODE, config, backend=backend, verifier=verifier, on_event=events.append)
    assert result.strategy == "best_of_n"
    assert len(result.candidates) == 4  # row n=4; 1024 // 48 tokens a chain would fit 21
    assert result.spend.tokens_generated <= 1024
    started = next(e for e in events if e.kind == "search_started")
    assert started.data["strategy"] == "auto"
    assert result.tree["config"]["strategy"] == "best_of_n"
    assert result.tree["config"]["auto_reason"].startswith("auto: best_of_n n=4 for a task with a hard check")


async def test_auto_on_a_small_budget_runs_greedy_and_stops_at_the_budget() -> None:
    backend = ScriptedBackend(path_policy(50))  # never answers on its own
    verifier = ScriptedVerifier(lambda chain: StepScore(score=0.5, gate="unknown"))
    config = SearchConfig(strategy="auto", max_step_tokens=16, max_depth=40, budget=Budget(max_tokens=200))
    result = await run_search(TEXT, config, backend=backend, verifier=verifier)
    assert result.strategy == "greedy"
    assert result.spend.tokens_generated <= 200 + 16  # at most the one step in flight over the limit


def test_auto_is_accepted_by_the_context_and_every_surface() -> None:
    assert "auto" in get_args(StrategyChoice) and "auto" not in STRATEGIES
    backend = ScriptedBackend(path_policy(1))
    verifier = ScriptedVerifier(lambda chain: StepScore(score=0.5))
    SearchContext(backend=backend, verifier=verifier, config=SearchConfig(strategy="auto"))
    with pytest.raises(ValueError, match="unknown search strategy"):
        SearchContext(
            backend=backend, verifier=verifier, config=SearchConfig.model_construct(strategy="fast")
        )
    assert "ponder-auto" in model_ids()
    assert search_config(SearchConfig(), ChatRequest(model="ponder-auto", messages=[])).strategy == "auto"
    assert TypeAdapter(StrategyArg).validate_python("auto") == "auto"


def test_solve_command_accepts_strategy_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    with scripted_model("2 + 3 = 5\n\nAnswer: 5") as (url, calls):
        for key, value in openai_env(url).items():
            monkeypatch.setenv(key, value)
        args = ["solve", "What is 2 + 3?", "--reference", "5", "--strategy", "auto", "--max-tokens", "4096"]
        result = CliRunner().invoke(cli_app(), [*args, "--json", "--quiet"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    # A reference makes it checked; 4096 // 768 (one whole reply per chain) fits the row's 4.
    assert summary["strategy"] == "best_of_n" and summary["verified"] is True
    assert calls
