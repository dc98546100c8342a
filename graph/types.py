"""The search's public data: what to solve (`SearchTask`), how hard to think (`SearchConfig`,
`Budget`), what happened (`SearchEvent`) and what came out (`SearchResult`, `Spend`).

These are plain, JSON-serialisable values so that checkpoints, the tree export, the server's
stream and the CLI all read the same thing.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ponder.backends.base import ChatMessage
from ponder.graph.names import StrategyChoice as StrategyChoice  # re-exported: graph's public name
from ponder.graph.names import StrategyName as StrategyName  # re-exported: graph's public name
from ponder.verifiers.answers import AnswerFormat as AnswerFormat  # re-exported: graph's public name
from ponder.verifiers.composite import StepAggregation
from ponder.verifiers.types import VerifyTask

"""The strategies `ponder.graph.strategies.STRATEGIES` registers, one per class's `name`
(a test holds the two equal)."""


class Seed(BaseModel):
    """A candidate answer proposed by something other than the model (e.g. a mutation operator).

    Seeds enter the tree as terminal children of the root and are verified like model output;
    `source` is reported with the result so users see where a fix came from.
    """

    model_config = ConfigDict(frozen=True)
    answer: str
    source: str = "mutation"
    description: str = ""


class SearchTask(BaseModel):
    """What to solve, in the form the search needs.

    The graph renders `messages` through the backend, appends the steps generated so far as the
    assistant's partial answer, and asks for the next step, ended by `step_delimiters`.
    """

    model_config = ConfigDict(frozen=True)
    messages: list[ChatMessage]
    verify: VerifyTask
    answer_format: AnswerFormat = "text"
    seeds: list[Seed] = Field(default_factory=list)
    early_stop: bool = True
    """Stop as soon as one candidate passes every hard gate (e.g. all tests pass)."""
    feedback_template: str = (
        "Your previous attempt was checked and failed:\n{feedback}\nFix it and answer again."
    )
    """Refinement: how a failed attempt's evidence is put into the next prompt."""


class Budget(BaseModel):
    """Hard limits every strategy obeys; exceeded by at most one in-flight batch. `None` = no limit."""

    model_config = ConfigDict(frozen=True)
    max_tokens: int | None = Field(default=4096, ge=1)
    """Generated tokens (completion tokens), all branches together."""
    max_seconds: float | None = Field(default=120.0, gt=0)
    """Wall-clock seconds for the whole search."""
    max_expansions: int | None = Field(default=64, ge=1)
    """Nodes the model wrote (children generated), all branches together."""


class SearchConfig(BaseModel):
    """How to search. One model for all strategies; each reads the fields it needs."""

    model_config = ConfigDict(frozen=True)
    strategy: StrategyChoice = "beam"
    """A strategy's name, or "auto": chosen with `n` from the budget (`ponder.graph.strategies.auto`)."""
    budget: Budget = Field(default_factory=Budget)
    n: int = Field(default=4, ge=1, le=256)
    """Chains for self-consistency / best-of-N; subtrees for DVTS; iterations bound for MCTS."""
    beam_width: int = Field(default=2, ge=1)
    expansions_per_node: int = Field(default=2, ge=1)
    """Children proposed per expanded node (beam, DVTS, MCTS)."""
    max_depth: int = Field(default=6, ge=1)
    """Steps per chain before a chain is forced to answer."""
    max_step_tokens: int = Field(default=128, ge=1)
    step_delimiters: list[str] = Field(default_factory=lambda: ["\n\n", "Step "])
    """A step ends at the first of these (blank line, or the start of the next "Step N:")."""
    single_step: bool = False
    """Generate each chain as one step (whole answer per expansion): repair, best-of-N of code."""
    temperature: float = Field(default=0.8, ge=0.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    seed: int = 0
    c_puct: float = Field(default=1.0, ge=0.0)
    """MCTS exploration constant."""
    aggregation: StepAggregation = "last"
    """How step scores along a chain combine into the chain's value."""
    refine_rounds: int = Field(default=3, ge=1)
    """Refinement: attempts after the first, each conditioned on the last failure's evidence."""
    auto_reason: str | None = None
    """Set when `strategy="auto"` chose `strategy` and `n`: which table row, and why; None when
    the strategy was named."""

    def whole_replies(self) -> SearchConfig:
        """This config with each chain written as one reply (`single_step`), given the room its
        steps would have had (`max_step_tokens` × `max_depth`)."""
        if self.single_step:
            return self
        return self.model_copy(
            update={"single_step": True, "max_step_tokens": self.max_step_tokens * self.max_depth}
        )


EventKind = Literal[
    "search_started",
    "node_expanded",
    "node_scored",
    "node_pruned",
    "answer_found",
    "budget_hit",
    "search_finished",
]

StopReason = Literal["verified", "budget", "exhausted", "done"]
"""Why a search ended: an answer passed its gates (with early stop), the budget ran out, every
chain failed, or the strategy had nothing left to expand."""


class SearchEvent(BaseModel):
    """One thing that happened in a search; the only feed for progress bars, SSE and UIs."""

    kind: EventKind
    node_id: str | None = None
    parent_id: str | None = None
    depth: int | None = None
    score: float | None = None
    gate: str | None = None
    text: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)
    elapsed_s: float = 0.0


class Spend(BaseModel):
    """What a search consumed."""

    tokens_generated: int = 0
    prompt_tokens: int = 0
    tokens_reused: int = 0
    """Prompt tokens served from a prefix cache instead of recomputed."""
    expansions: int = 0
    verifier_calls: int = 0
    seconds: float = 0.0


ResultStatus = Literal["verified", "unverified", "no_answer"]
"""What came out: an answer that passed every hard gate, one that did not, or no answer at all."""


class SearchResult(BaseModel):
    """The answer, whether it is verified, why, the whole tree and what it cost."""

    answer: str | None
    verified: bool
    """True only when the chosen answer passed every hard gate of the task's verifiers."""
    status: ResultStatus
    reason: str = ""
    score: float | None = None
    source: str = "model"
    """Where the answer came from: "model" or a seed's source (e.g. "mutation")."""
    node_id: str | None = None
    evidence: dict[str, Any] = Field(default_factory=dict)
    spend: Spend = Field(default_factory=Spend)
    stop_reason: StopReason = "done"
    tree: dict[str, Any] = Field(default_factory=dict)
    """The exported tree (see `ponder.graph.export`), JSON-serialisable."""
    strategy: str = ""
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    """Every terminal candidate: {node_id, answer, score, gate, source, correct?}; pass@N oracles read it."""
