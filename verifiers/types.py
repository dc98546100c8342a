"""What verifiers look at (a chain of steps for a task) and what they return (a score and a gate)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, TypedDict

Gate = Literal["pass", "fail", "unknown"]
"""Hard verdict of an execution check. `fail` prunes the branch whatever any PRM says."""


class Evidence(TypedDict, total=False):
    """Structured, JSON-serialisable facts behind a score (tests passed, values computed, invariants).

    The keys here are the protocol: what the search and the surfaces read from any verifier. Each
    verifier extends it with its own findings, declared beside it (`CodeEvidence`,
    `FinanceEvidence`, `CompositeEvidence`...), so a reader of one verifier's details names them.
    """

    reason: str
    """One line on why the score is what it is: why a chain was not checked, which rule failed."""
    feedback: str | None
    """What failed, written for the model: refinement puts it into the next attempt's prompt."""


@dataclass(frozen=True, slots=True, kw_only=True)
class VerifyTask:
    """The problem a chain tries to solve, with what the checks need.

    `kind` selects the natural checks ("code", "finance", "math", "text"). `inputs` holds the
    material the checks run against, by kind:
      - code:    {"source_path": "pkg/mod.py", "files": {path: text}, "tests": {path: text}}
      - finance: {"tables": [{"name": str, "columns": [...], "rows": [[...]]}], "paragraphs": [str]}
      - math:    {"reference": "42"} when a reference answer is known (solve --reference)
    """

    kind: str
    question: str
    inputs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class Chain:
    """A partial or finished path through the search tree.

    `answer` is the extracted final answer (for code: the full candidate source) when
    `terminal`. `step_logprobs` are the generating model's token logprobs of the latest step,
    when the backend returned them (free input for the confidence PRM).
    """

    steps: tuple[str, ...]
    terminal: bool = False
    answer: str | None = None
    step_logprobs: tuple[float, ...] | None = None
    feedback: str | None = None
    """Evidence from an earlier failed attempt that this chain was conditioned on (refinement)."""


@dataclass(slots=True, kw_only=True)
class StepScore:
    """A verifier's judgement of one chain: `score` in [0, 1], a hard `gate`, and why."""

    score: float
    gate: Gate = "unknown"
    evidence: Evidence = field(default_factory=Evidence)

    def __post_init__(self) -> None:
        if not 0.0 <= self.score <= 1.0:
            raise ValueError(f"score must be in [0, 1], got {self.score}")

    def to_dict(self) -> dict[str, Any]:
        return {"score": self.score, "gate": self.gate, "evidence": self.evidence}
