"""What every registered search strategy shows, on the deterministic scripted model and scorer.

Parametrised over `STRATEGIES` (graph/strategies/__init__.py), so a strategy is under this
contract as soon as it is registered: it terminates, stays inside its budget (expansions exactly,
tokens up to one in-flight batch), reports its start and end, answers with a node of its own tree,
calls an answer verified only when the verifier passed it, and grows the same tree from the same
seed. Which tree each strategy grows is tests/test_graph_strategies.py's business.
"""

from __future__ import annotations

import asyncio
from typing import Any, get_args

import pytest

from ponder.graph import Budget, SearchConfig, SearchEvent, SearchResult, run_search
from ponder.graph.strategies import STRATEGIES
from ponder.graph.testing import ScriptedBackend, ScriptedVerifier, path_policy, text_task
from ponder.graph.types import StopReason, StrategyName
from ponder.verifiers.types import Chain, StepScore

NAMES = sorted(STRATEGIES)
DEADLINE_S = 30.0
STEP_TOKENS = 32
"""Room for the longest scripted step ("Answer: 1.0/2.0/3.0")."""


def prefers_odd_never_passes(chain: Chain) -> StepScore:
    """Scores vary (odd samples 0.8, even 0.3) but no answer ever passes: the search runs to its end."""
    return StepScore(
        score=0.8 if int(chain.steps[-1][-1]) % 2 else 0.3, gate="fail" if chain.terminal else "unknown"
    )


def passes_first_samples(chain: Chain) -> StepScore:
    """Passes a finished chain whose last step was its parent's first sample ("…/3.0")."""
    if not chain.terminal:
        return StepScore(score=0.5)
    ok = (chain.answer or "").endswith(".0")
    return StepScore(score=1.0 if ok else 0.0, gate="pass" if ok else "fail", evidence={"feedback": "odd"})


def config_for(name: str, budget: Budget) -> SearchConfig:
    return SearchConfig(
        strategy=name,  # type: ignore[arg-type]
        budget=budget,
        n=3,
        beam_width=2,
        expansions_per_node=2,
        max_depth=4,
        max_step_tokens=STEP_TOKENS,
        refine_rounds=3,
    )


async def _search(name: str, judge: Any, budget: Budget) -> tuple[SearchResult, list[SearchEvent]]:
    events: list[SearchEvent] = []
    result = await asyncio.wait_for(
        run_search(
            text_task(),
            config_for(name, budget),
            backend=ScriptedBackend(path_policy(3)),
            verifier=ScriptedVerifier(judge),
            on_event=events.append,
        ),
        DEADLINE_S,
    )
    return result, events


def _nodes(result: SearchResult) -> dict[str, dict[str, Any]]:
    return {n["id"]: n for n in result.tree["nodes"]}


def test_every_strategy_name_is_registered_under_its_own_name() -> None:
    assert set(STRATEGIES) == set(get_args(StrategyName)), (
        "STRATEGIES and StrategyName must list the same names"
    )
    assert all(cls.name == name for name, cls in STRATEGIES.items())


@pytest.mark.parametrize("name", NAMES)
async def test_a_search_ends_inside_its_budget_and_reports_start_and_finish(name: str) -> None:
    budget = Budget(max_expansions=10, max_tokens=300, max_seconds=DEADLINE_S)
    result, events = await _search(name, prefers_odd_never_passes, budget)
    config = config_for(name, budget)
    widest = max(config.n, config.beam_width * config.expansions_per_node)
    assert result.strategy == name and result.stop_reason in get_args(StopReason)
    assert not result.verified and result.status != "verified"
    assert result.spend.expansions <= 10
    assert result.spend.tokens_generated <= 300 + widest * (STEP_TOKENS + 2)  # one batch may overshoot
    assert result.spend.seconds < DEADLINE_S
    assert events[0].kind == "search_started" and events[-1].kind == "search_finished"
    assert (
        sum(e.kind == "search_started" for e in events)
        == sum(e.kind == "search_finished" for e in events)
        == 1
    )
    expanded = {e.node_id for e in events if e.kind == "node_expanded"}
    assert len(expanded) == result.spend.expansions


@pytest.mark.parametrize("name", NAMES)
async def test_a_tight_expansion_budget_is_never_exceeded(name: str) -> None:
    budget = Budget(max_expansions=3, max_tokens=None, max_seconds=DEADLINE_S)
    result, events = await _search(name, prefers_odd_never_passes, budget)
    assert result.spend.expansions <= 3
    if result.spend.expansions == 3 and result.stop_reason == "budget":
        assert [e.data.get("limit") for e in events if e.kind == "budget_hit"] == ["expansions"]


@pytest.mark.parametrize("name", NAMES)
async def test_the_tree_is_well_formed_and_the_answer_is_one_of_its_nodes(name: str) -> None:
    result, _ = await _search(name, prefers_odd_never_passes, Budget(max_expansions=12))
    nodes = _nodes(result)
    assert len(nodes) == len(result.tree["nodes"]), "node ids are unique"
    root = result.tree["root"]
    assert nodes[root]["parent"] is None
    assert all(n["parent"] in nodes for nid, n in nodes.items() if nid != root), "every parent is in the tree"
    assert all(c["node_id"] in nodes for c in result.candidates)
    if result.answer is not None:
        assert result.node_id in nodes and nodes[result.node_id]["answer"] == result.answer
        assert nodes[result.node_id]["terminal"]
        assert result.tree["chosen_path"][-1] == result.node_id


@pytest.mark.parametrize("name", NAMES)
async def test_a_verified_answer_is_one_the_verifier_passed(name: str) -> None:
    result, events = await _search(name, passes_first_samples, Budget(max_expansions=24))
    assert result.verified and result.status == "verified", f"{name} found no passing answer: {result.reason}"
    chosen = _nodes(result)[result.node_id or ""]
    assert chosen["gate"] == "pass" and chosen["answer"] == result.answer
    assert passes_first_samples(Chain(steps=("x",), terminal=True, answer=result.answer)).gate == "pass"
    assert any(e.kind == "answer_found" for e in events)


@pytest.mark.parametrize("name", NAMES)
async def test_the_same_seed_grows_the_same_tree(name: str) -> None:
    trees = []
    for _ in range(2):
        result, _ = await _search(name, prefers_odd_never_passes, Budget(max_expansions=10))
        trees.append([(n["id"], n["parent"], n["step"], n["score"]) for n in result.tree["nodes"]])
    assert trees[0] == trees[1]
