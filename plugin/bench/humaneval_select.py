"""`exec_select`: HumanEval by execution-guided selection (CodeT / AlphaCode style).

System 2 for code generation without the hidden tests: draw N completions, run them all in the
sandbox on the docstring's examples and on small variations of their inputs
(`verifiers.exec_cluster`), cluster them by their outputs, and answer with the best cluster's
first member (CodeT's dual agreement: cluster size × examples passed). The examples are the
only judge of "verified"; HumanEval's own `check` still decides "correct" afterwards.

The first of the N is the greedy program (temperature 0), the other N-1 are sampled. A small
model's greedy program is often its best single one, and drawing all N at temperature > 0 lost
it: at N=2 selection scored below greedy. As candidate 0 it wins every tie in the ranking (ties
go to the earliest member), so selection departs from greedy only where the examples give
evidence for another cluster; N=1 draws the greedy program alone. All N count toward the budget.

When no candidate passes every example, the best one is refined: the model sees it with the
first example it gets wrong ("add(2, 3) should return 5, but it returned -1") and writes again,
up to `SearchConfig.refine_rounds` times while the token budget lasts.

The N-1 samples are one best-of-N search whose verifier checks nothing (`Unchecked`), as is the
greedy draw: executing each candidate on its own would cost a sandbox run per candidate, where
clustering runs all of them in one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ponder.backends.base import ChatMessage
from ponder.graph.types import SearchConfig, SearchResult, SearchTask, Spend
from ponder.plugin.bench.code_checks import prompt_imports
from ponder.plugin.bench.codegen import CODEGEN_FEEDBACK, build_codegen_task
from ponder.plugin.bench.datasets import BenchDataError, BenchItem
from ponder.plugin.runtime import Runtime
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.exec_cluster import Cluster, cluster, first_failure, probe_inputs, run_probes
from ponder.verifiers.types import Chain, StepScore, VerifyTask
from ponder.verifiers.visible_tests import VisibleCase, parse_visible_tests

if TYPE_CHECKING:
    from ponder.plugin.bench.runner import Attempt, BenchPlan

NAME = "exec_select"
"""The bench strategy name (`ponder bench --strategies greedy,exec_select`)."""
GREEDY = "greedy"
"""The graph strategy that draws the first candidate: one chain at temperature 0."""
SAMPLING = "best_of_n"
"""The graph strategy that draws the other N-1, independent samples at `SearchConfig.temperature`."""
MIN_REFINE_TOKENS = 64
"""A refinement needs room for a whole function; with less budget left, selection stops."""


class Unchecked(BaseVerifier):
    """Lets every sample through unjudged: they are judged together, by execution, afterwards."""

    name = "unchecked"
    step_level = False

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        reason = "judged after sampling, by execution clustering on the docstring's examples"
        return [StepScore(score=0.5, gate="unknown", evidence={"reason": reason}) for _ in chains]


def codegen_config(item: BenchItem, rt: Runtime, config: SearchConfig) -> SearchConfig:
    """`config` with one step per sample and room for the whole module the prompt asks for."""
    prompt_tokens = rt.backend.count_tokens(item.record["prompt"])
    room = max(config.max_step_tokens, prompt_tokens + prompt_tokens // 4 + 256)
    return config.model_copy(update={"single_step": True, "max_step_tokens": room})


async def exec_select(item: BenchItem, rt: Runtime, config: SearchConfig, plan: BenchPlan) -> Attempt:
    """One HumanEval item: greedy + N-1 samples, execution clustering, refinement when none survives.

    Raises:
        BenchDataError: `item` is not a HumanEval record (only its prompts carry the examples).
    """
    from ponder.plugin.bench.runner import Attempt  # the runner registers this workflow

    if item.suite != "humaneval":
        raise BenchDataError(
            f"{NAME} selects HumanEval completions by their docstring examples; "
            f"run it with --suite humaneval (got {item.suite})"
        )
    selection = _Selection(
        item, rt, codegen_config(item, rt, config).model_copy(update={"strategy": SAMPLING})
    )
    await selection.sample()
    while selection.should_refine():
        await selection.refine()
    result = selection.result()
    return Attempt(result.answer, result.status, result.verified, result, result.source)


class _Selection:
    """The candidates of one item so far, their probe outputs, and the searches that drew them."""

    def __init__(self, item: BenchItem, rt: Runtime, config: SearchConfig) -> None:
        self.rt, self.config = rt, config
        self.entry = item.record["entry_point"]
        self.head = prompt_imports(item.record["prompt"])
        self.cases: list[VisibleCase] = parse_visible_tests(item.record["prompt"], self.entry)
        self.probes = probe_inputs(self.cases)
        self.task = build_codegen_task(item).model_copy(update={"early_stop": False})
        self.answers: list[str] = []
        self.signatures: list[list[str]] = []
        self.searches: list[SearchResult] = []
        self.clusters: list[Cluster] = []
        self.drawn = 0  # searches that drew the N candidates (greedy, then samples); refinements follow

    async def sample(self) -> None:
        """The greedy program first (candidate 0, so it wins ties), then N-1 samples in one search."""
        await self._draw(self.task, self.config.model_copy(update={"strategy": GREEDY, "n": 1}))
        left = self._tokens_left()
        if self.config.n > 1 and left > 0:
            budget = self.config.budget.model_copy(update={"max_tokens": left})
            config = self.config.model_copy(update={"n": self.config.n - 1, "budget": budget})
            await self._draw(self.task, config)
        self.drawn = len(self.searches)

    def should_refine(self) -> bool:
        refined = len(self.searches) - self.drawn
        return (
            bool(self.cases and self.clusters)
            and not self.clusters[0].passes_visible
            and refined < self.config.refine_rounds
            and self._tokens_left() >= MIN_REFINE_TOKENS
        )

    async def refine(self) -> None:
        """One more sample, shown the best candidate so far and the first example it gets wrong."""
        best = self.clusters[0]
        feedback = first_failure(best.signature, self.cases) or "The checks failed without details."
        messages = [
            *self.task.messages,
            ChatMessage(role="assistant", content=f"```python\n{self.answers[best.members[0]]}\n```"),
            ChatMessage(role="user", content=CODEGEN_FEEDBACK.format(feedback=feedback)),
        ]
        budget = self.config.budget.model_copy(update={"max_tokens": self._tokens_left()})
        config = self.config.model_copy(
            update={"n": 1, "budget": budget, "seed": self.config.seed + len(self.searches)}
        )
        await self._draw(self.task.model_copy(update={"messages": messages}), config)

    async def _draw(self, task: SearchTask, config: SearchConfig) -> None:
        found = await self.rt.search(task, config, verifier=Unchecked())
        self.searches.append(found)
        new = [
            c["answer"] for c in found.candidates if isinstance(c.get("answer"), str) and c["answer"].strip()
        ]
        if new:
            programs = [f"{self.head}\n{answer}" for answer in new]
            self.signatures += await run_probes(self.rt.require_sandbox(), programs, self.entry, self.probes)
            self.answers += new
            self.clusters = cluster(self.signatures, self.cases)

    def _tokens_left(self) -> int:
        limit = self.config.budget.max_tokens
        used = sum(s.spend.tokens_generated for s in self.searches)
        return (limit - used) if limit is not None else 1 << 30

    def result(self) -> SearchResult:
        """The searches as one result: the chosen answer, every candidate, their summed spend."""
        first = self.searches[0]
        spend = Spend(**{f: sum(getattr(s.spend, f) for s in self.searches) for f in Spend.model_fields})
        candidates = [c for s in self.searches for c in s.candidates]
        evidence = {
            "visible_cases": len(self.cases),
            "probes": len(self.probes),
            "refinements": len(self.searches) - self.drawn,
            "clusters": [c.to_dict() for c in self.clusters],
        }
        if not self.clusters:
            update = {"answer": None, "verified": False, "status": "no_answer", "reason": "no candidate"}
            return first.model_copy(update={**update, "strategy": NAME, "spend": spend, "evidence": evidence})
        best = self.clusters[0]
        answer = self.answers[best.members[0]]
        node = next((c.get("node_id") for c in candidates if c.get("answer") == answer), None)
        verified = best.passes_visible
        reason = (
            f"cluster of {best.size}/{len(self.answers)} candidates passing "
            f"{best.visible_passed}/{best.visible_total} docstring examples"
        )
        return first.model_copy(
            update={
                "answer": answer,
                "verified": verified,
                "status": "verified" if verified else "unverified",
                "reason": reason,
                "node_id": node,
                "score": float(best.agreement),
                "strategy": NAME,
                "spend": spend,
                "candidates": candidates,
                "evidence": evidence,
            }
        )


__all__ = [
    "GREEDY",
    "MIN_REFINE_TOKENS",
    "NAME",
    "SAMPLING",
    "Unchecked",
    "codegen_config",
    "exec_select",
]
