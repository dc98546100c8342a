"""JudgePRM: P(yes) from the verdict token's alternatives, vote share as the fallback, clear errors.

Unit tests drive a scripted backend (fixed completions, recorded requests) so the arithmetic
is exact; the `model` tests run the real embedded SmolLM2-135M and only check behaviour
(probabilities in [0, 1], one batched call), never that a 135M model judges well.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator, Sequence

import pytest

from ponder.backends.base import (
    BaseBackend,
    Capabilities,
    Completion,
    GenerationRequest,
    TokenLogprob,
    Usage,
)
from ponder.backends.errors import BackendError
from ponder.verifiers import Chain, VerifierError, VerifyTask
from ponder.verifiers.confidence import ConfidencePRM
from ponder.verifiers.judge import JudgePRM, verdict_of

TASK = VerifyTask(kind="math", question="What is 2 + 3 * 4?")
GOOD = Chain(steps=("3 * 4 = 12", "2 + 12 = 14"))
BAD = Chain(steps=("3 * 4 = 12", "2 + 12 = 15"))


def caps(*, top_logprobs: bool, sampling: bool = True) -> Capabilities:
    return Capabilities(
        logprobs=top_logprobs,
        top_logprobs=top_logprobs,
        n=True,
        token_ids=False,
        prefix_cache=False,
        seed=True,
        sampling=sampling,
    )


class CannedBackend(BaseBackend):
    """Answers every request with the same canned completions and records the requests.

    Not `ponder.graph.testing.ScriptedBackend`, which writes each step from a policy.
    """

    name = "scripted"

    def __init__(self, capabilities: Capabilities, completions: list[Completion] | None = None) -> None:
        self._caps = capabilities
        self.completions = completions or []
        self.calls: list[list[GenerationRequest]] = []
        self.error: Exception | None = None

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        self.calls.append(list(requests))
        if self.error:
            raise self.error
        return [self.completions[: r.n] for r in requests]


def verdict(top: dict[str, float], chosen: str = "Yes") -> Completion:
    lp = TokenLogprob(token_id=1, text=chosen, logprob=math.log(top.get(chosen, 0.01)), top={})
    lp.top = {t: math.log(p) for t, p in top.items()}
    return Completion(
        text=chosen, token_ids=[1], finish_reason="length", logprobs=[lp], usage=Usage(50, 1, 20)
    )


def sample(text: str) -> Completion:
    return Completion(text=text, token_ids=[1, 2], finish_reason="stop", usage=Usage(50, 2, 40))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (" Yes", "yes"),
        ("YES.", "yes"),
        ("yes, because", "yes"),
        ("No", "no"),
        (" no!", "no"),
        ("Maybe", None),
        ("", None),
    ],
)
def test_verdict_variants(text: str, expected: str | None) -> None:
    assert verdict_of(text) == expected


async def test_p_yes_from_top_logprobs_in_one_batched_call() -> None:
    backend = CannedBackend(
        caps(top_logprobs=True), [verdict({"Yes": 0.5, " yes": 0.1, "No": 0.2, " no": 0.1, "Maybe": 0.1})]
    )
    judge = JudgePRM(backend)
    good, _ = await judge.score(TASK, [GOOD, BAD])
    assert good.score == pytest.approx(0.6 / 0.9)
    assert (good.evidence["method"], good.evidence["verdict_token"]) == ("logprobs", "Yes")
    assert (good.evidence["p_yes"], good.evidence["p_no"]) == (pytest.approx(0.6), pytest.approx(0.3))
    assert good.evidence["usage"] == {"prompt_tokens": 50, "completion_tokens": 1, "cached_tokens": 20}
    assert good.gate == "unknown"
    [requests] = backend.calls
    assert len(requests) == 2
    req = requests[1]
    assert (req.max_tokens, req.temperature, req.logprobs, req.top_logprobs) == (1, 0.0, True, 20)
    prompt = req.messages[-1].content  # type: ignore[index]
    assert "Step 1: 3 * 4 = 12\nStep 2: 2 + 12 = 15" in prompt
    assert "Is the latest step (Step 2) correct? Answer Yes or No." in prompt


async def test_no_verdict_among_alternatives_is_neutral() -> None:
    backend = CannedBackend(caps(top_logprobs=True), [verdict({"The": 0.7, "Step": 0.2}, chosen="The")])
    [s] = await JudgePRM(backend).score(TASK, [GOOD])
    assert s.score == 0.5 and "neither Yes nor No among the top 2" in s.evidence["reason"]


async def test_vote_share_when_backend_has_no_top_logprobs() -> None:
    samples = [sample(t) for t in ("Yes.", "no", " Yes", "Perhaps", "YES")]
    backend = CannedBackend(caps(top_logprobs=False), samples)
    judge = JudgePRM(backend, votes=5, seed=7)
    assert judge.method == "vote"
    [s] = await judge.score(TASK, [GOOD])
    assert s.score == pytest.approx(3 / 4)
    assert s.evidence["votes"] == {"yes": 3, "no": 1, "other": 1}
    assert "share of Yes among 5 sampled verdicts" in s.evidence["note"]
    assert "returns no top_logprobs" in s.evidence["note"]
    [[req]] = backend.calls
    assert (req.n, req.temperature, req.seed, req.logprobs) == (5, 1.0, 7, False)


async def test_votes_without_any_verdict_are_neutral() -> None:
    backend = CannedBackend(caps(top_logprobs=False), [sample("Hmm"), sample("")])
    [s] = await JudgePRM(backend, votes=2).score(TASK, [GOOD])
    assert (s.score, s.evidence["reason"]) == (0.5, "no sampled verdict was Yes or No")


async def test_chain_without_steps_is_not_sent() -> None:
    backend = CannedBackend(caps(top_logprobs=True), [verdict({"Yes": 0.9, "No": 0.1})])
    root, good = await JudgePRM(backend).score(TASK, [Chain(steps=()), GOOD])
    assert (root.score, root.evidence["reason"]) == (0.5, "no steps to judge yet")
    assert good.score == pytest.approx(0.9)
    assert len(backend.calls[0]) == 1


def test_backend_with_neither_logprobs_nor_sampling_is_refused() -> None:
    backend = CannedBackend(caps(top_logprobs=False, sampling=False))
    with pytest.raises(VerifierError, match=r"returns top_logprobs or samples.*'scripted' does neither"):
        JudgePRM(backend)
    with pytest.raises(VerifierError, match="method='logprobs' needs top_logprobs"):
        JudgePRM(CannedBackend(caps(top_logprobs=False)), method="logprobs")
    with pytest.raises(ValueError, match="votes must be at least 1"):
        JudgePRM(CannedBackend(caps(top_logprobs=False)), votes=0)


async def test_backend_failures_become_verifier_errors() -> None:
    backend = CannedBackend(caps(top_logprobs=True))
    backend.error = BackendError("server http://127.0.0.1:9 unreachable")
    with pytest.raises(VerifierError, match=r"judge backend 'scripted' failed: server http://127\.0\.0\.1:9"):
        await JudgePRM(backend).score(TASK, [GOOD])
    liar = CannedBackend(caps(top_logprobs=True), [sample("Yes")])  # no logprobs despite the claim
    with pytest.raises(VerifierError, match="claims top_logprobs but returned no logprobs"):
        await JudgePRM(liar).score(TASK, [GOOD])


@pytest.fixture(scope="module")
def embedded() -> Iterator[BaseBackend]:
    pytest.importorskip("llama_cpp", reason="the embedded engine needs the `local` extra")
    from ponder.backends import EmbeddedBackend

    backend = EmbeddedBackend()
    yield backend
    asyncio.run(backend.aclose())


@pytest.mark.model
async def test_judge_on_embedded_model_gives_probabilities(embedded: BaseBackend) -> None:
    chains = [GOOD, BAD, Chain(steps=("2 + 3 = 5", "5 * 4 = 20"))]
    results = await JudgePRM(embedded).score(TASK, chains)
    assert len(results) == 3
    for r in results:
        assert 0.0 <= r.score <= 1.0 and r.evidence["method"] == "logprobs"
        assert 0.0 <= r.evidence["p_yes"] <= 1.0 and 0.0 <= r.evidence["p_no"] <= 1.0
        assert r.evidence["usage"]["completion_tokens"] == 1
    votes = await JudgePRM(embedded, method="vote", votes=3, seed=1).score(TASK, chains[:1])
    for r in votes:
        assert 0.0 <= r.score <= 1.0 and sum(r.evidence["votes"].values()) == 3


@pytest.mark.model
async def test_confidence_from_real_generation_logprobs(embedded: BaseBackend) -> None:
    """The confidence PRM needs nothing but what generation already returned."""
    from ponder.backends.base import ChatMessage

    request = GenerationRequest(
        messages=[ChatMessage(role="user", content="What is 2 + 2? Answer in one short sentence.")],
        max_tokens=12,
        temperature=0.7,
        seed=3,
        logprobs=True,
    )
    [samples] = await embedded.generate([request])
    chains = [
        Chain(steps=(c.text,), step_logprobs=tuple(lp.logprob for lp in c.logprobs or [])) for c in samples
    ]
    results = await ConfidencePRM(window=4).score(TASK, chains)
    for chain, r in zip(chains, results, strict=True):
        assert chain.step_logprobs
        assert 0.0 < r.score <= 1.0
        assert 0.0 < r.evidence["mean_confidence"] <= 1.0
        assert r.score == r.evidence["lowest_window_confidence"]
        assert r.evidence["tokens"] == len(chain.step_logprobs)


async def test_a_long_chain_is_cut_from_the_front_to_fit_the_judges_budget() -> None:
    backend = CannedBackend(caps(top_logprobs=True), [verdict({"Yes": 0.9, "No": 0.1})])
    judge = JudgePRM(backend, max_steps_tokens=60)
    steps = (*(f"partial result number {i} is {i * 7}" for i in range(1, 31)), "so the answer is 14")
    [scored] = await judge.score(TASK, [Chain(steps=steps)])
    [[request]] = backend.calls
    prompt = request.messages[-1].content
    assert scored.score == pytest.approx(0.9)
    assert "Step 31: so the answer is 14" in prompt and "Is the latest step (Step 31)" in prompt
    assert "Step 1: " not in prompt and "are left out for length" in prompt
    kept = [line for line in prompt.splitlines() if line.startswith("Step ")]
    assert 1 < len(kept) < 31 and sum(len(line) + 1 for line in kept) <= 60 * 3


async def test_a_short_chain_is_shown_whole() -> None:
    backend = CannedBackend(caps(top_logprobs=True), [verdict({"Yes": 0.9, "No": 0.1})])
    await JudgePRM(backend).score(TASK, [GOOD])
    prompt = backend.calls[0][0].messages[-1].content
    assert "Step 1: 3 * 4 = 12\nStep 2: 2 + 12 = 14" in prompt and "left out" not in prompt
