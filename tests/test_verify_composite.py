"""Composite: hard gates beat soft scores, scores blend as configured, children run concurrently.

The children here are small test doubles with fixed verdicts: the subject is the composite's
merging logic, which must be exact for any child. The gating test with a real execution
verifier lives at the end (it runs the real CodeVerifier when that module is present).
"""

from __future__ import annotations

import asyncio
import json
import math
from collections.abc import Sequence

import pytest

from ponder.verifiers import (
    BaseVerifier,
    Chain,
    Composite,
    StepScore,
    VerifierError,
    VerifyTask,
    aggregate,
)
from ponder.verifiers.types import Gate

TASK = VerifyTask(kind="text", question="q")
PARTIAL = Chain(steps=("step 1",))
DONE = Chain(steps=("step 1", "Answer: 4"), terminal=True, answer="4")


class FixedVerifier(BaseVerifier):
    """Returns the same verdict for every chain; records what it was asked."""

    def __init__(
        self,
        name: str,
        score: float,
        gate: Gate = "unknown",
        *,
        step_level: bool = True,
        feedback: str | None = None,
    ) -> None:
        self.name = name
        self.step_level = step_level
        self._score, self._gate, self._feedback = score, gate, feedback
        self.calls: list[int] = []
        self.closed = False

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        self.calls.append(len(chains))
        evidence = {"feedback": self._feedback} if self._feedback else {}
        out = []
        for chain in chains:
            if not self.step_level and not chain.terminal:
                out.append(StepScore(score=0.5))
            else:
                out.append(StepScore(score=self._score, gate=self._gate, evidence=dict(evidence)))
        return out

    async def aclose(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("how", "expected"),
    [
        pytest.param("last", 0.5, id="last"),
        pytest.param("min", 0.2, id="min"),
        pytest.param("prod", 0.9 * 0.2 * 0.5, id="prod"),
        pytest.param("mean", (0.9 + 0.2 + 0.5) / 3, id="mean"),
    ],
)
def test_aggregate_over_chain_steps(how: str, expected: float) -> None:
    assert aggregate([0.9, 0.2, 0.5], how) == pytest.approx(expected)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scores", "how", "message"),
    [
        pytest.param([], "last", "at least one step score", id="empty"),
        pytest.param([0.5, 1.5], "min", "must be in [0, 1]", id="out-of-range"),
        pytest.param([0.5], "median", "unknown step aggregation 'median'", id="unknown-how"),
    ],
)
def test_aggregate_rejects_bad_input(scores: list[float], how: str, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace("]", r"\]")):
        aggregate(scores, how)  # type: ignore[arg-type]


async def test_failed_gate_prunes_even_a_perfect_prm_score() -> None:
    prm = FixedVerifier("prm", 1.0)
    tests = FixedVerifier("tests", 0.0, "fail", step_level=False, feedback="test_add: assert 3 == 4")
    [result] = await Composite([prm, tests]).score(TASK, [DONE])
    assert (result.score, result.gate) == (0.0, "fail")
    assert result.evidence["failed"] == ["tests"]
    assert result.evidence["feedback"] == "test_add: assert 3 == 4"
    assert result.evidence["verifiers"]["prm"] == {"score": 1.0, "gate": "unknown", "evidence": {}}
    json.dumps(result.evidence)  # goes into the search tree export as is


async def test_feedback_prefers_the_failing_child() -> None:
    talkative = FixedVerifier("style", 0.9, "pass", feedback="looks fine")
    failing = FixedVerifier("tests", 0.0, "fail", step_level=False, feedback="test_x failed")
    [result] = await Composite([talkative, failing]).score(TASK, [DONE])
    assert result.evidence["feedback"] == "test_x failed"
    [ok] = await Composite([talkative]).score(TASK, [DONE])
    assert ok.evidence["feedback"] == "looks fine"
    [silent] = await Composite([FixedVerifier("prm", 0.3)]).score(TASK, [DONE])
    assert silent.evidence["feedback"] is None


@pytest.mark.parametrize(
    ("outcome_gate", "prm_gate", "expected"),
    [
        pytest.param("pass", "unknown", "pass", id="outcome-passes"),
        pytest.param("unknown", "unknown", "unknown", id="outcome-undecided"),
        pytest.param("unknown", "pass", "unknown", id="step-pass-cannot-override-outcome"),
        pytest.param("pass", "fail", "fail", id="any-fail-fails"),
    ],
)
async def test_gate_pass_needs_every_outcome_check(
    outcome_gate: Gate, prm_gate: Gate, expected: Gate
) -> None:
    outcome = FixedVerifier("exec", 1.0, outcome_gate, step_level=False)
    prm = FixedVerifier("prm", 0.7, prm_gate)
    [result] = await Composite([outcome, prm]).score(TASK, [DONE])
    assert result.gate == expected


async def test_only_prms_leave_the_gate_unknown() -> None:
    [result] = await Composite([FixedVerifier("a", 0.9), FixedVerifier("b", 0.8)]).score(TASK, [DONE])
    assert result.gate == "unknown"
    assert result.score == pytest.approx(0.85)


@pytest.mark.parametrize(
    ("combine", "expected"),
    [
        pytest.param("weighted_mean", (0.8 * 3 + 0.4 * 1) / 4, id="weighted_mean"),
        pytest.param("min", 0.4, id="min"),
        pytest.param("product", 0.8**3 * 0.4, id="product"),
    ],
)
async def test_combine_modes(combine: str, expected: float) -> None:
    composite = Composite(
        [FixedVerifier("a", 0.8), FixedVerifier("b", 0.4)],
        weights=[3.0, 1.0],
        combine=combine,  # type: ignore[arg-type]
    )
    [result] = await composite.score(TASK, [PARTIAL])
    assert result.score == pytest.approx(expected)


async def test_outcome_children_do_not_score_partial_chains() -> None:
    """Their 0.5 placeholder on a partial chain must not drag a min/product blend down."""
    composite = Composite(
        [FixedVerifier("prm", 0.9), FixedVerifier("exec", 1.0, "pass", step_level=False)], combine="min"
    )
    partial, done = await composite.score(TASK, [PARTIAL, DONE])
    assert (partial.score, partial.gate) == (pytest.approx(0.9), "unknown")
    assert (done.score, done.gate) == (pytest.approx(0.9), "pass")


async def test_zero_weight_child_only_gates() -> None:
    composite = Composite(
        {"prm": FixedVerifier("p", 0.6), "tests": FixedVerifier("t", 1.0, "pass", step_level=False)},
        weights={"tests": 0.0},
    )
    [result] = await composite.score(TASK, [DONE])
    assert (result.score, result.gate) == (pytest.approx(0.6), "pass")
    [alone] = await Composite([FixedVerifier("t", 1.0, "pass", step_level=False)], [0.0]).score(TASK, [DONE])
    assert alone.score == 0.5  # nothing carried weight: neutral


async def test_children_run_concurrently_on_the_whole_batch() -> None:
    """Each child waits for the other to start: run one after the other, this would hang."""
    started = {"a": asyncio.Event(), "b": asyncio.Event()}

    class Rendezvous(FixedVerifier):
        async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
            started[self.name].set()
            await started["b" if self.name == "a" else "a"].wait()
            return await super().score(task, chains)

    a, b = Rendezvous("a", 0.2), Rendezvous("b", 0.4)
    results = await asyncio.wait_for(Composite([a, b]).score(TASK, [PARTIAL, DONE, PARTIAL]), timeout=5)
    assert len(results) == 3
    assert a.calls == b.calls == [3]  # one call per child for the whole batch


async def test_broken_child_raises_naming_it_and_cancels_the_rest() -> None:
    slow_cancelled = asyncio.Event()

    class Broken(FixedVerifier):
        async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
            raise VerifierError("reward server http://127.0.0.1:9/classify unreachable")

    class Slow(FixedVerifier):
        async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
            try:
                await asyncio.sleep(30)
            except asyncio.CancelledError:
                slow_cancelled.set()
                raise
            return []

    with pytest.raises(VerifierError, match=r"verifier 'rm': reward server http://127\.0\.0\.1:9/classify"):
        await asyncio.wait_for(Composite([Slow("slow", 0.5), Broken("rm", 0.5)]).score(TASK, [DONE]), 5)
    assert slow_cancelled.is_set()


async def test_child_bug_and_wrong_length_become_verifier_errors() -> None:
    class Buggy(FixedVerifier):
        async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
            raise KeyError("steps")

    class Short(FixedVerifier):
        async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
            return []

    with pytest.raises(VerifierError, match="verifier 'buggy' crashed with KeyError"):
        await Composite([Buggy("buggy", 0.5)]).score(TASK, [DONE])
    with pytest.raises(VerifierError, match="verifier 'short' returned 0 scores for 1 chains"):
        await Composite([Short("short", 0.5)]).score(TASK, [DONE])


def test_construction_checks() -> None:
    same = Composite([FixedVerifier("prm", 0.5), FixedVerifier("prm", 0.5, step_level=False)])
    assert list(same.children) == ["prm", "prm#2"]
    assert same.step_level is True
    assert Composite([FixedVerifier("x", 0.5, step_level=False)]).step_level is False
    assert Composite([FixedVerifier("x", 0.5)], aggregation="min").aggregation == "min"
    with pytest.raises(ValueError, match="at least one verifier"):
        Composite([])
    with pytest.raises(ValueError, match="2 weights for 1 verifiers"):
        Composite([FixedVerifier("x", 0.5)], weights=[1, 2])
    with pytest.raises(ValueError, match="unknown verifiers \\['y'\\]"):
        Composite([FixedVerifier("x", 0.5)], weights={"y": 1})
    with pytest.raises(ValueError, match="finite and >= 0"):
        Composite([FixedVerifier("x", 0.5)], weights=[-1])
    with pytest.raises(ValueError, match="finite and >= 0"):
        Composite([FixedVerifier("x", 0.5)], weights=[math.inf])
    with pytest.raises(ValueError, match="unknown combine 'max'"):
        Composite([FixedVerifier("x", 0.5)], combine="max")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown aggregation 'sum'"):
        Composite([FixedVerifier("x", 0.5)], aggregation="sum")  # type: ignore[arg-type]


async def test_empty_batch_and_close() -> None:
    a, b = FixedVerifier("a", 0.5), FixedVerifier("b", 0.5)
    composite = Composite([a, b])
    assert await composite.score(TASK, []) == []
    assert a.calls == []
    await composite.aclose()
    assert a.closed and b.closed


CODE_TASK = VerifyTask(
    kind="code",
    question="Fix add so that it adds.",
    inputs={
        "source_path": "calc.py",
        "files": {"calc.py": "def add(a, b):\n    return a - b\n"},
        "tests": {"test_calc.py": "from calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n"},
    },
)


@pytest.fixture
def code_verifier() -> BaseVerifier:
    from ponder.sandbox.local import LocalSandbox
    from ponder.verifiers import CodeVerifier

    return CodeVerifier(LocalSandbox())


@pytest.mark.filterwarnings("ignore:LocalSandbox runs code as a plain subprocess:RuntimeWarning")
async def test_real_failing_tests_prune_a_candidate_the_prm_loves(code_verifier: BaseVerifier) -> None:
    """The PRM says 1.0 for both; only the executed tests tell them apart, and they win."""
    buggy = Chain(steps=("fixed",), terminal=True, answer="def add(a, b):\n    return a - b\n")
    fixed = Chain(steps=("fixed",), terminal=True, answer="def add(a, b):\n    return a + b\n")
    composite = Composite([FixedVerifier("prm", 1.0), code_verifier], combine="min")
    try:
        pruned, kept = await composite.score(CODE_TASK, [buggy, fixed])
    finally:
        await composite.aclose()
    assert (pruned.score, pruned.gate, pruned.evidence["failed"]) == (0.0, "fail", ["code"])
    assert "test_add" in pruned.evidence["feedback"]
    assert pruned.evidence["verifiers"]["prm"]["score"] == 1.0
    assert pruned.evidence["verifiers"]["code"]["evidence"]["failed"] == 1
    assert (kept.score, kept.gate) == (1.0, "pass")
