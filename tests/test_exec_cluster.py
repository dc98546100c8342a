"""Execution clustering: candidates that behave alike cluster together, and selection follows.

The clustering itself is pure (signatures in, ranked clusters out); the probes run in the real
Docker sandbox, and `exec_select` runs end to end with a scripted model whose samples are fixed:
its greedy program (the request at temperature 0) and its samples apart.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from ponder.graph.testing import Context, Policy, ScriptedBackend
from ponder.plugin.bench.datasets import BenchItem
from ponder.plugin.bench.humaneval_select import NAME, exec_select
from ponder.plugin.bench.runner import Attempt, BenchPlan
from ponder.plugin.runtime import open_runtime
from ponder.plugin.settings import PonderSettings
from ponder.sandbox import DockerSandbox
from ponder.sandbox.types import Limits
from ponder.verifiers.exec_cluster import NO_RESULT, cluster, execution_clusters, first_failure, probe_inputs
from ponder.verifiers.visible_tests import VisibleCase, parse_visible_tests

PROMPT = '''from typing import List


def add(a: int, b: int) -> int:
    """Add two numbers.
    >>> add(2, 3)
    5
    >>> add(-1, 1)
    0
    """
'''
CASES = parse_visible_tests(PROMPT, "add")
RIGHT = "def add(a, b):\n    return a + b\n"
RIGHT_OTHER_TEXT = "def add(a: int, b: int) -> int:\n    total = b\n    total += a\n    return total\n"
LUCKY = "def add(a, b):\n    return 5 if a == 2 else 0\n"
"""Passes both examples and nothing else: the variations tell it apart from the right answer."""
WRONG = "def add(a, b):\n    return a - b\n"
RAISES = "def add(a, b):\n    raise ValueError('no')\n"
LOOPS = "def add(a, b):\n    while True:\n        pass\n"


def test_equal_outputs_one_cluster_different_behaviour_apart_exceptions_their_own() -> None:
    sigs = [["=5", "=0"], ["=-1", "=-2"], ["=5", "=0"], ["!ValueError", "!ValueError"], ["=5", "!TypeError"]]
    clusters = cluster(sigs, CASES)
    assert [c.members for c in clusters] == [(0, 2), (4,), (1,), (3,)]
    best = clusters[0]
    assert (best.size, best.visible_passed, best.agreement, best.passes_visible) == (2, 2, 4, True)
    assert clusters[1].visible_passed == 1 and not clusters[1].passes_visible
    assert (
        first_failure(clusters[1].signature, CASES) == "add(-1, 1) should return 0, but it raised TypeError."
    )


def test_dual_agreement_ranks_size_times_examples_passed() -> None:
    three_cases = [*CASES, VisibleCase("add", (1, 1), 2, "doctest")]
    # Two candidates passing one example (agreement 2) lose to one passing all three (agreement 3).
    clusters = cluster([["=5", "=9", "=9"], ["=5", "=9", "=9"], ["=5", "=0", "=2"]], three_cases)
    assert clusters[0].members == (2,) and clusters[0].agreement == 3


def test_a_tie_goes_to_the_cluster_of_the_earliest_candidate() -> None:
    # exec_select's greedy program is candidate 0: it answers unless the examples say otherwise.
    both_pass = [["=5", "=0", "=7"], ["=5", "=0", "=8"]]
    assert cluster(both_pass, CASES)[0].members == (0,)
    assert cluster(both_pass[::-1], CASES)[0].members == (0,)
    assert cluster([["=1", "=1"], ["=2", "=2"]], CASES)[0].members == (0,)  # neither passes one
    assert cluster([["=5", "=1"], ["=5", "=0"]], CASES)[0].members == (1,)  # passes more examples
    assert cluster([*both_pass, ["=5", "=0", "=8"]], CASES)[0].members == (1, 2)  # two agree


def test_probe_inputs_keep_the_examples_in_order_then_vary_one_argument() -> None:
    probes = probe_inputs(CASES, limit=6)
    assert probes[:2] == [(2, 3), (-1, 1)]
    assert probes[2:] == [(3, 3), (1, 3), (4, 3), (2, 4)]
    lists = probe_inputs([VisibleCase("f", ([1, 2, 3], "ab"), 0, "doctest")])
    assert ([1, 2], "ab") in lists and ([1, 2, 3, 1], "ab") in lists and ([1, 2, 3], "ba") in lists


@pytest.fixture(scope="module")
def sandbox() -> Iterator[DockerSandbox]:
    sb = DockerSandbox(pool_size=1, limits=Limits(timeout_s=60))
    sb.open()
    yield sb
    sb.close()


@pytest.mark.docker
@pytest.mark.slow
async def test_probes_in_the_sandbox_cluster_by_behaviour(sandbox: DockerSandbox) -> None:
    sources = [WRONG, RIGHT, LUCKY, RAISES, RIGHT_OTHER_TEXT, LOOPS, "def add(:\n"]
    clusters = await execution_clusters(sandbox, sources, "add", CASES)
    by_member = {m: c for c in clusters for m in c.members}
    assert clusters[0].members == (1, 4)  # same behaviour, different text
    assert by_member[2] is not by_member[1] and by_member[2].passes_visible  # lucky: only the examples
    assert clusters[1].members == (2,)
    assert set(by_member[3].signature) == {"!ValueError"}
    assert set(by_member[5].signature) == {"!Timeout"}
    assert set(by_member[6].signature) == {"!SyntaxError"}
    assert NO_RESULT not in {s for c in clusters for s in c.signature}


def _item() -> BenchItem:
    record = {
        "task_id": "Toy/0",
        "prompt": PROMPT,
        "entry_point": "add",
        "test": "",
        "canonical_solution": "",
    }
    return BenchItem("humaneval", "Toy/0", PROMPT, PROMPT, record)


def _block(source: str) -> str:
    return f"```python\n{source}```<eos>"


def _greedy_then(greedy: str, samples: list[str]) -> Policy:
    """The greedy program at temperature 0, `samples[i]` for the i-th sampled completion."""
    return lambda ctx: _block(greedy if ctx.request.temperature == 0 else samples[ctx.sample])


async def _select(sandbox: DockerSandbox, policy: Policy, n: int) -> tuple[Attempt, list[Context]]:
    seen: list[Context] = []

    def recording(ctx: Context) -> str:
        seen.append(ctx)
        return policy(ctx)

    plan = BenchPlan(suite="humaneval", strategies=(NAME,), budgets=(4096,), n=n)
    async with open_runtime(PonderSettings(), backend=ScriptedBackend(recording), sandbox=sandbox) as rt:
        config = rt.search_config(strategy="best_of_n", n=n, budget={"max_tokens": 4096})
        return await exec_select(_item(), rt, config, plan), seen


@pytest.mark.docker
@pytest.mark.slow
async def test_exec_select_answers_with_the_largest_surviving_cluster(sandbox: DockerSandbox) -> None:
    attempt, seen = await _select(sandbox, _greedy_then(WRONG, [LUCKY, RIGHT, RIGHT_OTHER_TEXT]), n=4)
    assert attempt.answer == RIGHT and attempt.verified and attempt.status == "verified"
    result = attempt.result
    assert result is not None and result.strategy == NAME and len(result.candidates) == 4
    assert result.evidence["refinements"] == 0
    assert [c["members"] for c in result.evidence["clusters"]][:2] == [[2, 3], [1]]
    # N in all, the greedy one drawn first and alone; each counts toward the spend.
    requests = [ctx.request for ctx in seen]
    assert (requests[0].temperature, requests[0].n) == (0.0, 1) and len(seen) == 4
    assert all(r.temperature > 0 for r in requests[1:]) and requests[1].n == 3
    assert result.candidates[0]["answer"] == WRONG
    drawn = [WRONG, LUCKY, RIGHT, RIGHT_OTHER_TEXT]  # one token per character, then EOS
    assert result.spend.tokens_generated == sum(len(_block(s).removesuffix("<eos>")) + 1 for s in drawn)


@pytest.mark.docker
@pytest.mark.slow
@pytest.mark.parametrize(("greedy", "sampled"), [(LUCKY, RIGHT), (RIGHT, LUCKY)], ids=["lucky", "right"])
async def test_exec_select_keeps_the_greedy_program_when_the_examples_cannot_tell(
    sandbox: DockerSandbox, greedy: str, sampled: str
) -> None:
    # Both pass both examples, alone in their clusters: nothing is evidence against greedy's answer.
    attempt, _ = await _select(sandbox, _greedy_then(greedy, [sampled]), n=2)
    assert attempt.answer == greedy and attempt.verified
    assert attempt.result is not None and attempt.result.evidence["clusters"][0]["members"] == [0]


@pytest.mark.docker
@pytest.mark.slow
async def test_exec_select_with_one_candidate_draws_only_the_greedy_program(sandbox: DockerSandbox) -> None:
    attempt, seen = await _select(sandbox, _greedy_then(RIGHT, []), n=1)
    assert attempt.answer == RIGHT and attempt.verified
    assert [(ctx.request.temperature, ctx.request.n) for ctx in seen] == [(0.0, 1)]


@pytest.mark.docker
@pytest.mark.slow
async def test_exec_select_refines_with_the_failing_example_when_none_survives(
    sandbox: DockerSandbox,
) -> None:
    def policy(ctx: Context) -> str:
        told = any("should return" in m.content for m in ctx.messages)
        return _block(RIGHT if told else WRONG)

    attempt, seen = await _select(sandbox, policy, n=2)
    assert attempt.answer == RIGHT and attempt.verified
    assert attempt.result is not None and attempt.result.evidence["refinements"] == 1
    assert len(attempt.result.candidates) == 3  # the greedy one, one sample, one refinement
    feedback = seen[-1].messages[-1].content
    assert "add(2, 3) should return 5, but it returned -1." in feedback
    assert seen[-1].messages[-2].role == "assistant" and "a - b" in seen[-1].messages[-2].content
