"""Generative PRM: an LLM on any backend judges whether the latest step is correct.

The judge is asked one question with a one-word answer, and the score is the probability mass
it puts on "Yes", read from the first generated token's alternatives: P(yes) / (P(yes) + P(no)),
summed over spelling variants (" Yes", "yes", "YES."). That is a calibrated-ish number from a
single forward pass. Backends that return no alternatives get the fallback: sample k verdicts
and use the share of "Yes" votes, which costs k short generations and is coarser (steps of 1/k);
the evidence says which method produced the number.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Literal

from ponder.backends.base import BaseBackend, ChatMessage, Completion, GenerationRequest
from ponder.errors import PonderError
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.errors import VerifierError
from ponder.verifiers.types import Chain, Evidence, StepScore, VerifyTask

JudgeMethod = Literal["auto", "logprobs", "vote"]

JUDGE_SYSTEM = "You are a careful grader. You check one step of a solution at a time."

JUDGE_PROMPT = (
    "Problem:\n{question}\n\nSolution so far:\n{steps}\n\n"
    "Is the latest step (Step {latest}) correct? Answer Yes or No."
)
"""The question put to the judge; `{question}`, `{steps}` (numbered), `{latest}` (its number)."""

TOP_LOGPROBS = 20
"""Alternatives requested for the verdict token (the most backends return)."""

MAX_STEPS_TOKENS = 1024
"""Tokens of numbered steps shown to the judge; earlier steps beyond it are left out (see `fit_steps`)."""


def verdict_of(text: str) -> Literal["yes", "no"] | None:
    """'yes' / 'no' for a verdict token or answer (case, spaces and punctuation ignored)."""
    words = text.strip().split()
    word = words[0].strip(".,!:;\"'*()").lower() if words else ""
    if word == "yes":
        return "yes"
    if word == "no":
        return "no"
    return None


class JudgeEvidence(Evidence, total=False):
    """How the judge's number came about: the Yes/No mass of its first token, or its votes."""

    method: Literal["logprobs", "vote"]
    p_yes: float
    p_no: float
    verdict_token: str | None
    votes: dict[str, int]
    """{yes, no, other}: sampled verdicts."""
    note: str
    usage: dict[str, int]
    """The judge's own token usage."""


class JudgePRM(BaseVerifier):
    """LLM-as-judge step scores on any `BaseBackend`.

    Example:
        ```python
        async with EmbeddedBackend() as backend:
            judge = JudgePRM(backend)
            scores = await judge.score(task, chains)  # one generate() call for the batch
        ```
    """

    name = "judge"
    step_level = True

    def __init__(
        self,
        backend: BaseBackend,
        *,
        method: JudgeMethod = "auto",
        votes: int = 5,
        vote_temperature: float = 1.0,
        prompt: str = JUDGE_PROMPT,
        system: str | None = JUDGE_SYSTEM,
        seed: int | None = None,
        max_steps_tokens: int = MAX_STEPS_TOKENS,
    ) -> None:
        """Pick the scoring method the backend can support.

        Args:
            backend: Where the judge runs; not closed by `aclose` (the caller owns it).
            method: "logprobs" (needs `top_logprobs`), "vote" (needs sampling), or "auto" =
                logprobs when the backend has them, else vote.
            votes: Verdicts sampled per chain in vote mode.
            vote_temperature: Sampling temperature for the votes.
            prompt: Template with `{question}`, `{steps}`, `{latest}`.
            system: System message; `None` = none (for models without a system role).
            seed: Seed for the votes (reproducible on backends that honour seeds).
            max_steps_tokens: Budget for the numbered steps in the prompt, so that a long chain
                still fits the judge's context: the earliest steps are left out first, the latest
                step (the one judged) always stays.

        Raises:
            VerifierError: the backend supports neither method (or not the one asked for).
            ValueError: votes < 1 or a temperature that cannot sample.
        """
        caps = backend.capabilities
        if method == "auto":
            method = "logprobs" if caps.top_logprobs else "vote"
        if method == "logprobs" and not caps.top_logprobs:
            raise VerifierError(
                f"JudgePRM method='logprobs' needs top_logprobs, which backend {backend.name!r} does not "
                "return; use method='vote' or 'auto'"
            )
        if method == "vote" and not caps.sampling:
            raise VerifierError(
                f"JudgePRM needs a backend that returns top_logprobs or samples at temperature > 0; "
                f"backend {backend.name!r} does neither, so no verdict probability can be read. Use a "
                "backend that does (e.g. the embedded engine) or a PRM that needs no judge (ConfidencePRM)"
            )
        if votes < 1:
            raise ValueError(f"votes must be at least 1, got {votes}")
        if method == "vote" and vote_temperature <= 0:
            raise ValueError(
                f"vote_temperature must be > 0 to sample distinct verdicts, got {vote_temperature}"
            )
        self.backend = backend
        self.method: Literal["logprobs", "vote"] = method
        self.votes = votes
        self.vote_temperature = vote_temperature
        self.prompt = prompt
        self.system = system
        self.seed = seed
        self.max_steps_tokens = max_steps_tokens

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        """One backend call for the whole batch (siblings share the problem prefix)."""
        judged = [c for c in chains if c.steps]
        requests = [self._request(task, c) for c in judged]
        try:
            rows = await self.backend.generate(requests) if requests else []
        except PonderError as exc:
            raise VerifierError(f"judge backend {self.backend.name!r} failed: {exc}") from exc
        by_chain = dict(zip((id(c) for c in judged), rows, strict=True))
        out = []
        for chain in chains:
            row = by_chain.get(id(chain))
            if row is None:
                evidence = JudgeEvidence(method=self.method, reason="no steps to judge yet")
                out.append(StepScore(score=0.5, evidence=evidence))
            elif self.method == "logprobs":
                out.append(self._from_logprobs(row[0]))
            else:
                out.append(self._from_votes(row))
        return out

    def _request(self, task: VerifyTask, chain: Chain) -> GenerationRequest:
        steps = fit_steps(chain.steps, self.max_steps_tokens, self.backend.count_tokens)
        text = self.prompt.format(question=task.question.strip(), steps=steps, latest=len(chain.steps))
        messages = [ChatMessage(role="system", content=self.system)] if self.system else []
        messages.append(ChatMessage(role="user", content=text))
        if self.method == "logprobs":
            return GenerationRequest(
                messages=messages, max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=TOP_LOGPROBS
            )
        return GenerationRequest(
            messages=messages, n=self.votes, max_tokens=4, temperature=self.vote_temperature, seed=self.seed
        )

    def _from_logprobs(self, completion: Completion) -> StepScore:
        if not completion.logprobs:
            raise VerifierError(
                f"judge backend {self.backend.name!r} claims top_logprobs but returned no logprobs; "
                "use JudgePRM(method='vote')"
            )
        first = completion.logprobs[0]
        alternatives = dict(first.top)
        if first.text is not None:
            alternatives.setdefault(first.text, first.logprob)
        mass = {"yes": 0.0, "no": 0.0}
        for token, logprob in alternatives.items():
            verdict = verdict_of(token)
            if verdict is not None:
                mass[verdict] += math.exp(logprob)
        evidence: JudgeEvidence = {
            "method": "logprobs",
            "p_yes": mass["yes"],
            "p_no": mass["no"],
            "verdict_token": first.text,
            "usage": _usage([completion]),
        }
        total = mass["yes"] + mass["no"]
        if total <= 0.0:
            evidence["reason"] = f"neither Yes nor No among the top {len(alternatives)} first tokens"
            return StepScore(score=0.5, evidence=evidence)
        return StepScore(score=min(1.0, mass["yes"] / total), evidence=evidence)

    def _from_votes(self, samples: list[Completion]) -> StepScore:
        counts = {"yes": 0, "no": 0, "other": 0}
        for sample in samples:
            counts[verdict_of(sample.text) or "other"] += 1
        decided = counts["yes"] + counts["no"]
        evidence: JudgeEvidence = {
            "method": "vote",
            "votes": counts,
            "note": f"score = share of Yes among {len(samples)} sampled verdicts"
            + (
                ""
                if self.backend.capabilities.top_logprobs
                else f" (backend {self.backend.name!r} returns no top_logprobs)"
            ),
            "usage": _usage(samples),
        }
        if decided == 0:
            evidence["reason"] = "no sampled verdict was Yes or No"
            return StepScore(score=0.5, evidence=evidence)
        return StepScore(score=counts["yes"] / decided, evidence=evidence)


def fit_steps(steps: Sequence[str], budget: int, count: Callable[[str], int]) -> str:
    """The numbered steps, without the earliest ones when all of them exceed `budget` tokens.

    The judge rates the latest step, so it always stays (even alone over budget); what is left out
    is said in one line, so the judge knows the numbering starts later on purpose.
    """
    lines = [f"Step {i}: {s.strip()}" for i, s in enumerate(steps, 1)]
    # A token covers at least one byte (a leading-space piece at most adds one per line), so a
    # chain within `budget` bytes fits without counting: no tokenizer call (for SGLang, an HTTP
    # round trip per line) on the scoring path of the usual short chain.
    if sum(len(line.encode()) + 2 for line in lines) <= budget:
        return "\n".join(lines)
    sizes = [count(line) + 1 for line in lines]
    first, total = 0, sum(sizes)
    while first < len(lines) - 1 and total > budget:
        total -= sizes[first]
        first += 1
    omitted = [f"(Steps 1-{first} are left out for length.)"] if first else []
    return "\n".join(omitted + lines[first:])


def _usage(completions: Sequence[Completion]) -> dict[str, int]:
    return {
        "prompt_tokens": sum(c.usage.prompt_tokens for c in completions),
        "completion_tokens": sum(c.usage.completion_tokens for c in completions),
        "cached_tokens": sum(c.usage.cached_tokens for c in completions),
    }
