"""Each strategy on a scripted model and scorer: the exact tree it grows and the answer it picks."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest

from ponder.graph import SearchConfig, SearchEvent, SearchResult, run_search, stream_search
from ponder.graph.testing import Context, ScriptedBackend, ScriptedVerifier, path_policy, text_task
from ponder.verifiers.types import Chain, StepScore


def likes_ones(chain: Chain) -> StepScore:
    """Prefers odd samples at every step: a step labelled "...k.1" or "...k.3" scores 0.8, even ones 0.3."""
    return StepScore(score=0.8 if int(chain.steps[-1][-1]) % 2 else 0.3)


def by_depth(result: SearchResult) -> dict[int, int]:
    return dict(Counter(n["depth"] for n in result.tree["nodes"] if n["depth"] > 0))


def node(result: SearchResult, nid: str) -> dict[str, Any]:
    return next(n for n in result.tree["nodes"] if n["id"] == nid)


def children(result: SearchResult, nid: str) -> list[str]:
    return [n["id"] for n in result.tree["nodes"] if n["parent"] == nid]


@pytest.mark.parametrize("token_ids", [True, False], ids=["token-ids", "messages"])
async def test_greedy_grows_one_chain_at_temperature_zero(token_ids: bool) -> None:
    backend = ScriptedBackend(path_policy(3), token_ids=token_ids)
    verifier = ScriptedVerifier(likes_ones)
    result = await run_search(
        text_task(), SearchConfig(strategy="greedy", max_depth=5), backend=backend, verifier=verifier
    )
    assert [n["step"] for n in result.tree["nodes"][1:]] == [
        "step 1.0",
        "step 1.0/2.0",
        "Answer: 1.0/2.0/3.0",
    ]
    assert result.answer == "1.0/2.0/3.0"
    assert result.status == "unverified" and not result.verified
    assert all(r.temperature == 0.0 and r.n == 1 for r in backend.log.requests)
    assert backend.log.generate_calls == 3 and verifier.calls == 3
    # Continuations after the first step go out as the parent's exact token ids when supported.
    assert [r.token_ids is not None for r in backend.log.requests] == [False, token_ids, token_ids]
    # The verifier saw the whole chain each time.
    assert [len(c.steps) for c in verifier.chains] == [1, 2, 3]
    assert result.spend.expansions == 3
    # Generated tokens include each step's delimiter ("\n\n"), as engines count them.
    assert result.spend.tokens_generated == sum(len(n["step"]) + 2 for n in result.tree["nodes"][1:])


async def test_token_and_message_continuations_build_the_same_tree() -> None:
    trees = []
    for token_ids in (True, False):
        backend = ScriptedBackend(path_policy(3), token_ids=token_ids)
        result = await run_search(
            text_task(),
            SearchConfig(strategy="beam", max_depth=4),
            backend=backend,
            verifier=ScriptedVerifier(likes_ones),
        )
        trees.append([(n["id"], n["parent"], n["step"], n["answer"]) for n in result.tree["nodes"]])
    assert trees[0] == trees[1]


async def test_beam_keeps_the_best_width_and_forces_an_answer_at_max_depth() -> None:
    backend = ScriptedBackend(path_policy(99))
    config = SearchConfig(strategy="beam", beam_width=2, expansions_per_node=2, max_depth=3)
    result = await run_search(text_task(), config, backend=backend, verifier=ScriptedVerifier(likes_ones))
    # Root: width * per-node = 4 first steps; then the 2 best expand 2 each, twice.
    assert by_depth(result) == {1: 4, 2: 4, 3: 4}
    expanded_d1 = sorted(n["parent"] for n in result.tree["nodes"] if n["depth"] == 2)
    assert set(expanded_d1) == {"n2", "n4"}  # the two "x.1" steps scored 0.8
    # Step 3 is the last allowed step: it starts with the answer cue and ends the chain.
    finals = [n for n in result.tree["nodes"] if n["depth"] == 3]
    assert all(n["terminal"] and n["step"].startswith("Answer:") for n in finals)
    assert result.answer is not None and result.answer.endswith(".1")
    assert {len(r.stop) for r in backend.log.requests[-2:]} == {0}  # forced steps are not cut


async def test_gate_fail_prunes_a_branch_before_it_grows() -> None:
    def judge(chain: Chain) -> StepScore:
        if chain.steps[0] == "step 1.1":
            return StepScore(score=0.0, gate="fail", evidence={"feedback": "bad start"})
        return likes_ones(chain)

    events: list[SearchEvent] = []
    result = await run_search(
        text_task(),
        SearchConfig(strategy="best_of_n", n=3, max_depth=3),
        backend=ScriptedBackend(path_policy(3)),
        verifier=ScriptedVerifier(judge),
        on_event=events.append,
    )
    assert node(result, "n2")["pruned"] and children(result, "n2") == []
    assert len(children(result, "n1")) == 1 and len(children(result, "n3")) == 1
    pruned = [e for e in events if e.kind == "node_pruned"]
    assert [(e.node_id, e.text) for e in pruned] == [("n2", "bad start")]


async def test_self_consistency_votes_and_best_of_n_weighs() -> None:
    # Chains 0 and 1 answer "5", chain 2 answers "9"; the scorer strongly prefers "9".
    def policy(ctx: Context) -> str:
        if not ctx.steps:
            return f"think {ctx.sample}"
        return "Answer: 9" if ctx.steps[0].endswith("2") else "Answer: 5"

    def judge(chain: Chain) -> StepScore:
        return StepScore(score=0.9 if chain.answer == "9" else 0.1)

    picked = {}
    for strategy in ("self_consistency", "best_of_n"):
        result = await run_search(
            text_task(),
            SearchConfig(strategy=strategy, n=3, max_depth=4),
            backend=ScriptedBackend(policy),
            verifier=ScriptedVerifier(judge),
        )
        assert sorted(c["answer"] for c in result.candidates) == ["5", "5", "9"]
        picked[strategy] = result.answer
        assert "no candidate passed" in result.reason
    assert picked == {"self_consistency": "5", "best_of_n": "9"}


async def test_dvts_grows_independent_subtrees() -> None:
    config = SearchConfig(strategy="dvts", n=2, expansions_per_node=2, max_depth=3)
    result = await run_search(
        text_task(), config, backend=ScriptedBackend(path_policy(99)), verifier=ScriptedVerifier(likes_ones)
    )
    assert by_depth(result) == {1: 2, 2: 4, 3: 4}
    for sub in ("n1", "n2"):
        grown = [c for c in children(result, sub) if children(result, c)]
        assert len(grown) == 1, "each subtree expands only its single best node per round"
        assert node(result, grown[0])["step"].endswith(".1")


async def test_mcts_selects_by_value_rolls_out_and_backs_up() -> None:
    config = SearchConfig(strategy="mcts", n=3, expansions_per_node=2, max_depth=3, c_puct=0.1)
    result = await run_search(
        text_task(), config, backend=ScriptedBackend(path_policy(99)), verifier=ScriptedVerifier(likes_ones)
    )
    nodes = {n["id"]: n for n in result.tree["nodes"]}
    kids: dict[str, list[str]] = {}
    for n in result.tree["nodes"]:
        if n["parent"] is not None:
            kids.setdefault(n["parent"], []).append(n["id"])
    # Iteration 1: root -> n1 (0.3), n2 (0.8); roll the better one out: n2 -> n3 -> n4 (terminal).
    # Iteration 2: PUCT picks n2 (higher Q), which lacks a second child: n5, rolled out to n6.
    # Iteration 3: n2's children tie on Q, the earlier (n3) gets its second child n7 (terminal).
    assert kids == {"n0": ["n1", "n2"], "n2": ["n3", "n5"], "n3": ["n4", "n7"], "n5": ["n6"]}
    assert [nodes[i]["terminal"] for i in ("n4", "n6", "n7")] == [True, True, True]
    # Every scored leaf was backed up once: new children (n1, n2, n5, n7) and rollout ends (n4, n6).
    assert {i: n["visits"] for i, n in nodes.items()} == {
        "n0": 6,
        "n1": 1,
        "n2": 5,
        "n3": 2,
        "n4": 1,
        "n5": 2,
        "n6": 1,
        "n7": 1,
    }
    assert nodes["n0"]["value_sum"] == pytest.approx(0.3 + 0.8 + 0.3 + 0.3 + 0.3 + 0.3)
    assert len(result.candidates) == 3


async def test_refine_feeds_the_failure_back_and_stops_when_it_passes() -> None:
    def policy(ctx: Context) -> str:
        fixed = any("expected 42" in m.content for m in ctx.messages if m.role == "user")
        return "Answer: 42" if fixed else "Answer: 7"

    def judge(chain: Chain) -> StepScore:
        if chain.answer == "42":
            return StepScore(score=1.0, gate="pass", evidence={"tests": "1 passed"})
        return StepScore(score=0.0, gate="fail", evidence={"feedback": "test_answer: expected 42, got 7"})

    backend = ScriptedBackend(policy)
    verifier = ScriptedVerifier(judge)
    result = await run_search(
        text_task(), SearchConfig(strategy="refine", refine_rounds=3), backend=backend, verifier=verifier
    )
    assert result.verified and result.answer == "42" and result.stop_reason == "verified"
    assert result.spend.expansions == 2, "early stop: no third attempt after a pass"
    second = backend.log.requests[1].messages
    assert second is not None and second[-2].content == "7"
    assert "test_answer: expected 42, got 7" in second[-1].content
    assert verifier.chains[1].feedback == "test_answer: expected 42, got 7"


async def test_refine_gives_up_after_its_rounds() -> None:
    verifier = ScriptedVerifier(lambda c: StepScore(score=0.0, gate="fail", evidence={"feedback": "nope"}))
    result = await run_search(
        text_task(),
        SearchConfig(strategy="refine", refine_rounds=2),
        backend=ScriptedBackend(lambda ctx: "Answer: 1"),
        verifier=verifier,
    )
    assert result.spend.expansions == 3 and result.status == "unverified"
    assert result.stop_reason == "exhausted" and "nope" in result.reason


async def test_stream_yields_events_then_the_result() -> None:
    items = [
        item
        async for item in stream_search(
            text_task(),
            SearchConfig(strategy="best_of_n", n=2, max_depth=2),
            backend=ScriptedBackend(path_policy(2)),
            verifier=ScriptedVerifier(likes_ones),
        )
    ]
    assert isinstance(items[-1], SearchResult)
    events = [i for i in items[:-1] if isinstance(i, SearchEvent)]
    assert len(events) == len(items) - 1
    assert events[0].kind == "search_started" and events[-1].kind == "search_finished"
    kinds = Counter(e.kind for e in events)
    assert kinds["node_expanded"] == items[-1].spend.expansions == 4
    assert kinds["node_scored"] == 4
    assert all(b.elapsed_s >= a.elapsed_s for a, b in itertools.pairwise(events))


@pytest.mark.parametrize("delimiters", [["\n\n"], ["Step "]], ids=["blank-line", "step-n"])
async def test_token_continuation_ends_each_step_with_one_separator(delimiters: list[str]) -> None:
    backend = ScriptedBackend(path_policy(3))
    config = SearchConfig(strategy="greedy", max_depth=5, step_delimiters=delimiters)
    await run_search(text_task(), config, backend=backend, verifier=ScriptedVerifier(likes_ones))
    sent = [backend.detokenize(r.token_ids or []) for r in backend.log.requests[1:]]
    assert sent[0].endswith("<|assistant|>\nstep 1.0\n\n")
    assert sent[1].endswith("<|assistant|>\nstep 1.0\n\nstep 1.0/2.0\n\n")
    assert backend.log.requests[0].stop == ["\nStep " if delimiters == ["Step "] else "\n\n"]


async def test_end_of_sequence_finishes_a_chain_without_a_marker() -> None:
    def policy(ctx: Context) -> str:
        return "so it is 7<eos>" if ctx.steps else "thinking"

    result = await run_search(
        text_task(),
        SearchConfig(strategy="greedy", max_depth=5),
        backend=ScriptedBackend(policy),
        verifier=ScriptedVerifier(neutral),
    )
    assert result.spend.expansions == 2
    assert node(result, "n2")["terminal"] and result.answer == "so it is 7"


def neutral(chain: Chain) -> StepScore:
    return StepScore(score=0.5)
