"""Budgets, early stop, seeds and determinism, on the scripted model and scorer."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from ponder.graph import Budget, SearchConfig, SearchEvent, Seed, run_search
from ponder.graph.testing import Context, ScriptedBackend, ScriptedVerifier, path_policy, text_task
from ponder.verifiers.types import Chain, StepScore


def neutral(chain: Chain) -> StepScore:
    return StepScore(score=0.5)


def passes(answer: str) -> Callable[[Chain], StepScore]:
    def judge(chain: Chain) -> StepScore:
        if not chain.terminal:
            return StepScore(score=0.5)
        ok = chain.answer == answer
        return StepScore(
            score=1.0 if ok else 0.0, gate="pass" if ok else "fail", evidence={"feedback": "wrong"}
        )

    return judge


async def test_expansion_budget_is_exact_and_reported() -> None:
    events: list[SearchEvent] = []
    config = SearchConfig(strategy="best_of_n", n=4, max_depth=5, budget=Budget(max_expansions=6))
    result = await run_search(
        text_task(),
        config,
        backend=ScriptedBackend(path_policy(3)),
        verifier=ScriptedVerifier(neutral),
        on_event=events.append,
    )
    # 4 first steps, then the batch is cut to the 2 expansions left.
    assert result.spend.expansions == 6
    assert result.stop_reason == "budget" and result.status == "no_answer"
    assert "budget" in result.reason
    hits = [e for e in events if e.kind == "budget_hit"]
    assert len(hits) == 1 and hits[0].data["limit"] == "expansions"


async def test_token_budget_caps_the_last_request() -> None:
    backend = ScriptedBackend(lambda ctx: "x" * 10)
    config = SearchConfig(strategy="greedy", max_depth=50, budget=Budget(max_tokens=25, max_expansions=None))
    result = await run_search(text_task(), config, backend=backend, verifier=ScriptedVerifier(neutral))
    assert result.spend.tokens_generated == 25
    assert [r.max_tokens for r in backend.log.requests] == [25, 13, 1]  # 10 chars + the delimiter per step
    assert result.stop_reason == "budget"


async def test_token_budget_overshoots_by_at_most_one_batch() -> None:
    config = SearchConfig(
        strategy="best_of_n", n=4, max_depth=50, budget=Budget(max_tokens=25, max_expansions=None)
    )
    result = await run_search(
        text_task(), config, backend=ScriptedBackend(lambda ctx: "x" * 10), verifier=ScriptedVerifier(neutral)
    )
    # The first batch (4 x 12 tokens) is already in flight when the limit is crossed.
    assert result.spend.tokens_generated == 48 and result.spend.expansions == 4


async def test_seconds_budget_stops_between_batches() -> None:
    backend = ScriptedBackend(lambda ctx: "step", delay=0.05)
    config = SearchConfig(
        strategy="greedy", max_depth=1000, budget=Budget(max_seconds=0.12, max_expansions=None)
    )
    events: list[SearchEvent] = []
    result = await run_search(
        text_task(), config, backend=backend, verifier=ScriptedVerifier(neutral), on_event=events.append
    )
    assert result.stop_reason == "budget"
    hits = [e for e in events if e.kind == "budget_hit"]
    assert [e.data["limit"] for e in hits] == ["seconds"] and hits[0].elapsed_s >= 0.12
    # The last batch started before the limit was reached: only that one batch overshoots it.
    last = max(i for i, e in enumerate(events) if e.kind == "node_expanded")
    assert events[last - 1].elapsed_s < 0.12
    assert backend.log.generate_calls >= 2 and result.spend.seconds >= 0.12


async def test_a_passing_seed_stops_the_search_before_the_model_runs() -> None:
    backend = ScriptedBackend(path_policy(2))
    task = text_task(
        seeds=[
            Seed(answer="41", source="mutation"),
            Seed(answer="42", source="mutation", description="off-by-one fix"),
        ]
    )
    result = await run_search(
        task, SearchConfig(strategy="beam"), backend=backend, verifier=ScriptedVerifier(passes("42"))
    )
    assert result.verified and result.answer == "42" and result.source == "mutation"
    assert result.stop_reason == "verified" and result.spend.expansions == 0
    assert backend.log.generate_calls == 0
    assert [(c["answer"], c["gate"]) for c in result.candidates] == [("41", "fail"), ("42", "pass")]


async def test_seeds_and_model_chains_are_scored_alike() -> None:
    verifier = ScriptedVerifier(passes("1.1/2.0"))
    task = text_task(seeds=[Seed(answer="nope")])
    result = await run_search(
        task,
        SearchConfig(strategy="best_of_n", n=3, max_depth=3),
        backend=ScriptedBackend(path_policy(2)),
        verifier=verifier,
    )
    assert result.verified and result.source == "model" and result.answer == "1.1/2.0"
    assert verifier.calls == 3  # seeds, first steps, final steps: one call per batch
    assert [len(c.steps) for c in verifier.chains] == [1, 1, 1, 1, 2, 2, 2]


async def test_without_early_stop_every_chain_finishes() -> None:
    task = text_task(early_stop=False, seeds=[Seed(answer="1.0/2.1")])
    result = await run_search(
        task,
        SearchConfig(strategy="best_of_n", n=2, max_depth=3),
        backend=ScriptedBackend(path_policy(2)),
        verifier=ScriptedVerifier(passes("1.0/2.1")),
    )
    assert result.spend.expansions == 4 and result.verified
    assert result.node_id == "n1", "the first passing candidate wins a tie"


async def test_outcome_verifiers_only_see_finished_chains() -> None:
    verifier = ScriptedVerifier(passes("1.0/2.0/3.0"), step_level=False)
    result = await run_search(
        text_task(),
        SearchConfig(strategy="greedy", max_depth=5),
        backend=ScriptedBackend(path_policy(3)),
        verifier=verifier,
    )
    assert verifier.calls == 1 and [c.terminal for c in verifier.chains] == [True]
    assert result.verified
    partial = [n for n in result.tree["nodes"] if n["depth"] in (1, 2)]
    assert [(n["score"], n["gate"]) for n in partial] == [(None, "unknown"), (None, "unknown")]


async def test_api_only_backend_needs_no_token_ids_or_cache() -> None:
    backend = ScriptedBackend(path_policy(3), token_ids=False, prefix_cache=False)
    result = await run_search(
        text_task(),
        SearchConfig(strategy="beam", max_depth=4),
        backend=backend,
        verifier=ScriptedVerifier(neutral),
    )
    assert result.answer is not None
    assert backend.log.warm_calls == 0
    assert all(
        r.token_ids is None and r.messages is not None and not r.logprobs for r in backend.log.requests
    )


def seeded(ctx: Context) -> str:
    """A "model" whose output depends only on the request seed, like a seeded sampler."""
    word = random.Random(ctx.seed).choice(["alpha", "beta", "gamma", "delta", "eps"])
    return f"Answer: {word}" if len(ctx.steps) >= 2 else f"think {word}"


async def seeded_tree(strategy: str, seed: int) -> list[tuple[str, str | None, str]]:
    result = await run_search(
        text_task(),
        SearchConfig(strategy=strategy, seed=seed, n=3, max_depth=4),
        backend=ScriptedBackend(seeded),
        verifier=ScriptedVerifier(neutral),
    )
    return [(n["id"], n["parent"], n["step"]) for n in result.tree["nodes"]]


@pytest.mark.parametrize("strategy", ["best_of_n", "beam", "dvts", "mcts"])
async def test_same_seed_same_tree(strategy: str) -> None:
    first = await seeded_tree(strategy, 1)
    assert first == await seeded_tree(strategy, 1)
    assert first != await seeded_tree(strategy, 2), "the search seed must reach the requests"


class LastTokenEngine(ScriptedBackend):
    """Like llama.cpp: the last prompt token is always evaluated again to get its logits."""

    def _hit(self, ids: list[int]) -> int:
        return min(super()._hit(ids), max(0, len(ids) - 1))


async def test_prompt_reuse_is_never_negative_on_a_cold_prompt() -> None:
    # One cold greedy step: the warm-up computes the whole prompt and the child recomputes its last
    # token, so more tokens were computed than the prompt has; reuse must read 0, not -1.
    config = SearchConfig(strategy="greedy", max_depth=1)
    result = await run_search(
        text_task(), config, backend=LastTokenEngine(lambda ctx: "42"), verifier=ScriptedVerifier(neutral)
    )
    assert result.spend.prompt_tokens > 0
    assert result.spend.tokens_reused == 0


async def test_prompt_reuse_counts_the_shared_prefix_of_later_steps() -> None:
    backend = LastTokenEngine(path_policy(3))
    config = SearchConfig(strategy="greedy", max_depth=5)
    result = await run_search(text_task(), config, backend=backend, verifier=ScriptedVerifier(neutral))
    # Steps 2 and 3 continue from the parent's tokens: all but the new step's tokens are reused.
    assert 0 < result.spend.tokens_reused < result.spend.prompt_tokens
    assert backend.log.warm_calls == result.spend.expansions
