"""Combine several verifiers into one: soft scores are blended, hard gates are absolute.

A PRM can be confidently wrong; an executed test cannot. So a child that reports
`gate="fail"` prunes the chain (composite score 0) whatever the other children say, and the
blended score only ranks the chains that survived the gates.

Step aggregation (how the per-step scores of one chain become one value) is a separate, pure
function, `aggregate`: verifiers score the latest step of a chain, the graph stores each node's
score, and a strategy aggregates the scores along a path when it ranks finished chains.

Example:
    ```python
    verifier = Composite({"tests": CodeVerifier(sandbox), "judge": JudgePRM(backend)},
                         weights={"tests": 0.0, "judge": 1.0}, aggregation="min")
    scores = await verifier.score(task, chains)
    value = aggregate(path_scores, verifier.aggregation)
    ```
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal, get_args

from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.errors import VerifierError
from ponder.verifiers.types import Chain, Evidence, Gate, StepScore, VerifyTask

Combine = Literal["weighted_mean", "min", "product"]
"""How children's scores of one chain are blended: weighted mean, the minimum (weakest
link), or the product of `score ** weight` (all must agree)."""

StepAggregation = Literal["last", "min", "prod", "mean"]
"""How the step scores along one chain become one value: the latest step's score, the weakest
step, the product (probability that every step is right), or the mean."""

NEUTRAL_SCORE = 0.5
"""Score of a chain no weighted child could judge (e.g. only outcome checks on a partial chain)."""


class CompositeEvidence(Evidence, total=False):
    """Every child's judgement under its name, and which children failed the chain."""

    verifiers: dict[str, dict[str, Any]]
    """{name: StepScore.to_dict()}."""
    failed: list[str]


def aggregate(scores: Sequence[float], how: StepAggregation = "last") -> float:
    """One value for a chain from its per-step scores (first step first).

    Args:
        scores: Step scores in [0, 1], in chain order.
        how: "last" (the PRM's judgement of the whole prefix), "min", "prod" or "mean".

    Returns:
        A value in [0, 1].

    Raises:
        ValueError: `scores` is empty, a score is outside [0, 1], or `how` is unknown.
    """
    if not scores:
        raise ValueError("aggregate needs at least one step score; score the root's children first")
    bad = [s for s in scores if not 0.0 <= s <= 1.0]
    if bad:
        raise ValueError(f"step scores must be in [0, 1], got {bad[0]}")
    if how == "last":
        return float(scores[-1])
    if how == "min":
        return float(min(scores))
    if how == "prod":
        return float(math.prod(scores))
    if how == "mean":
        return float(math.fsum(scores) / len(scores))
    raise ValueError(f"unknown step aggregation {how!r}; use one of {', '.join(get_args(StepAggregation))}")


class Composite(BaseVerifier):
    """Several verifiers judged as one, with hard gates.

    Children run concurrently on the whole batch. For each chain:
      - gate "fail" if any child failed it; the score is then 0 (the branch is pruned);
      - gate "pass" if no child failed, every outcome child (`step_level=False`) passed, and at
        least one child passed;
      - otherwise gate "unknown".
    The score blends the children that judge this chain and carry weight: outcome children
    judge terminal chains only (their 0.5 on partial chains is a placeholder, not a judgement),
    and a weight of 0 makes a child gate-only. With no such child the score is 0.5.

    Evidence is `{"verifiers": {name: {"score", "gate", "evidence"}}, "failed": [names],
    "feedback": str | None}`, where feedback is the first failing child's feedback (else the
    first child's that has one), so refinement can show the model what went wrong.
    """

    name = "composite"

    def __init__(
        self,
        verifiers: Sequence[BaseVerifier] | Mapping[str, BaseVerifier],
        weights: Sequence[float] | Mapping[str, float] | None = None,
        *,
        combine: Combine = "weighted_mean",
        aggregation: StepAggregation = "last",
    ) -> None:
        """Build the composite; the children are owned (closed by `aclose`).

        Args:
            verifiers: The children; a mapping names them, a sequence uses each child's `name`
                (repeated names get a `#2`, `#3` suffix).
            weights: One non-negative weight per child (same order, or by name); `None` = all 1.
                Weight 0 = the child only gates.
            combine: How children's scores are blended.
            aggregation: How the graph should aggregate this verifier's step scores along a
                chain (read it as `verifier.aggregation` and pass it to `aggregate`).

        Raises:
            ValueError: no children, unknown `combine`/`aggregation`, or bad weights.
        """
        named = dict(verifiers) if isinstance(verifiers, Mapping) else _name_children(verifiers)
        if not named:
            raise ValueError("Composite needs at least one verifier")
        if combine not in get_args(Combine):
            raise ValueError(f"unknown combine {combine!r}; use one of {', '.join(get_args(Combine))}")
        if aggregation not in get_args(StepAggregation):
            raise ValueError(
                f"unknown aggregation {aggregation!r}; use one of {', '.join(get_args(StepAggregation))}"
            )
        self.children: dict[str, BaseVerifier] = named
        self.weights: dict[str, float] = _resolve_weights(list(named), weights)
        self.combine: Combine = combine
        self.aggregation: StepAggregation = aggregation
        # The graph calls step-level verifiers on partial chains; a composite must be called
        # there as soon as one child judges steps.
        self.step_level = any(child.step_level for child in named.values())

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        """Judge each chain with every child and merge the results (see the class docstring).

        Raises:
            VerifierError: a child could not judge (its error, naming the child), or returned
                the wrong number of scores.
        """
        if not chains:
            return []
        per_child = await self._run_children(task, chains)
        return [
            self._merge(chain, {name: got[i] for name, got in per_child.items()})
            for i, chain in enumerate(chains)
        ]

    async def aclose(self) -> None:
        """Close every child, even if one of them fails to close."""
        results = await asyncio.gather(*(c.aclose() for c in self.children.values()), return_exceptions=True)
        for name, result in zip(self.children, results, strict=True):
            if isinstance(result, BaseException):
                raise VerifierError(f"verifier {name!r} failed to close: {result}") from result

    async def _run_children(self, task: VerifyTask, chains: Sequence[Chain]) -> dict[str, list[StepScore]]:
        """Run all children concurrently; on the first error cancel the rest and report it."""
        tasks = {
            name: asyncio.create_task(child.score(task, chains), name=f"verify:{name}")
            for name, child in self.children.items()
        }
        try:
            await asyncio.wait(tasks.values(), return_when=asyncio.FIRST_EXCEPTION)
        finally:
            pending = [t for t in tasks.values() if not t.done()]
            for t in pending:
                t.cancel()
            # Wait for the cancellations to land so no child keeps running (or warns) after us.
            await asyncio.gather(*pending, return_exceptions=True)
        results: dict[str, list[StepScore]] = {}
        for name, t in tasks.items():
            if t.cancelled():
                continue
            exc = t.exception()
            if exc is not None:
                if isinstance(exc, VerifierError):
                    raise VerifierError(f"verifier {name!r}: {exc}") from exc
                raise VerifierError(
                    f"verifier {name!r} crashed with {type(exc).__name__}: {exc}; "
                    "this is a bug in that verifier"
                ) from exc
            got = t.result()
            if len(got) != len(chains):
                raise VerifierError(
                    f"verifier {name!r} returned {len(got)} scores for {len(chains)} chains; "
                    "a verifier must return one StepScore per chain"
                )
            results[name] = got
        return results

    def _merge(self, chain: Chain, scores: dict[str, StepScore]) -> StepScore:
        failed = [name for name, s in scores.items() if s.gate == "fail"]
        evidence: CompositeEvidence = {
            "verifiers": {name: s.to_dict() for name, s in scores.items()},
            "failed": failed,
            "feedback": _first_feedback(scores, failed),
        }
        if failed:
            return StepScore(score=0.0, gate="fail", evidence=evidence)
        gate = self._gate(scores)
        judged = [
            (s.score, self.weights[name])
            for name, s in scores.items()
            if self.weights[name] > 0 and (chain.terminal or self.children[name].step_level)
        ]
        return StepScore(score=_combine(judged, self.combine), gate=gate, evidence=evidence)

    def _gate(self, scores: dict[str, StepScore]) -> Gate:
        outcome_all_pass = all(
            s.gate == "pass" for name, s in scores.items() if not self.children[name].step_level
        )
        any_pass = any(s.gate == "pass" for s in scores.values())
        return "pass" if outcome_all_pass and any_pass else "unknown"


def _name_children(verifiers: Sequence[BaseVerifier]) -> dict[str, BaseVerifier]:
    named: dict[str, BaseVerifier] = {}
    for child in verifiers:
        name, k = child.name, 1
        while name in named:
            k += 1
            name = f"{child.name}#{k}"
        named[name] = child
    return named


def _resolve_weights(
    names: list[str], weights: Sequence[float] | Mapping[str, float] | None
) -> dict[str, float]:
    if weights is None:
        resolved = dict.fromkeys(names, 1.0)
    elif isinstance(weights, Mapping):
        unknown = set(weights) - set(names)
        if unknown:
            raise ValueError(f"weights name unknown verifiers {sorted(unknown)}; the verifiers are {names}")
        resolved = {name: float(weights.get(name, 1.0)) for name in names}
    else:
        if len(weights) != len(names):
            raise ValueError(f"got {len(weights)} weights for {len(names)} verifiers; give one per verifier")
        resolved = {name: float(w) for name, w in zip(names, weights, strict=True)}
    bad = {name: w for name, w in resolved.items() if not (w >= 0 and math.isfinite(w))}
    if bad:
        raise ValueError(f"weights must be finite and >= 0 (0 = gate only), got {bad}")
    return resolved


def _combine(judged: list[tuple[float, float]], how: Combine) -> float:
    if not judged:
        return NEUTRAL_SCORE
    if how == "weighted_mean":
        total = math.fsum(w for _, w in judged)
        value = math.fsum(s * w for s, w in judged) / total
    elif how == "min":
        value = min(s for s, _ in judged)
    else:
        value = math.prod(s**w for s, w in judged)
    # Guard against float drift pushing the blend a hair outside [0, 1].
    return min(1.0, max(0.0, value))


def _first_feedback(scores: dict[str, StepScore], failed: list[str]) -> str | None:
    for name in [*failed, *scores]:
        feedback = scores[name].evidence.get("feedback")
        if feedback:
            return str(feedback)
    return None
