"""Which process reward model, if any, ranks the chains that the execution checks let through.

Every workflow has a hard verifier (tests, executed calculations, symbolic comparison). A PRM adds a
soft score per step: it cannot pass a chain the hard verifier fails (`Composite` makes gates
absolute), it only orders the survivors and the unfinished chains a beam or MCTS must choose among.
None is the default: on the embedded 135M model the judge and confidence PRMs measure at chance
(benchmarks/RESULTS.md), so they are for capable or served reward models. `learned` is a small
head trained on the embedded model's own execution-labelled samples (`ponder train-verifier`).

Example (``ponder.toml``)::

    [prm]
    kind = "served"
    weight = 1.0
    server = { url = "http://127.0.0.1:30000", protocol = "sglang_classify", step_format = "llama3" }
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ponder.backends.base import BaseBackend
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.composite import Composite
from ponder.verifiers.confidence import ConfidencePRM
from ponder.verifiers.judge import JudgePRM
from ponder.verifiers.kinds import PrmKind as PrmKind  # re-exported where it always lived
from ponder.verifiers.prm_http import RewardServerSettings, make_reward_prm


class PrmSettings(BaseModel):
    """`none`; `served` (a reward model behind SGLang or vLLM); `judge` (the generation model asked
    whether the latest step is right); `confidence` (the generation model's own token probabilities);
    `learned` (a head trained on execution-labelled samples, see `ponder.verifiers.learned`)."""

    model_config = ConfigDict(extra="forbid")

    kind: PrmKind = "none"
    weight: float = Field(default=1.0, ge=0)
    """The PRM's weight in the blended score; the hard verifier's weight is 1."""
    server: RewardServerSettings | None = None
    """For `served`: where the reward model runs and how to talk to it."""
    weights: Path | None = None
    """For `learned`: a weights file written by `ponder train-verifier`; None = the shipped weights."""

    @model_validator(mode="after")
    def _served_needs_a_server(self) -> PrmSettings:
        if self.kind == "served" and self.server is None:
            raise ValueError(
                "prm.kind='served' needs prm.server, e.g. PONDER_PRM_SERVER='{url = \"http://127.0.0.1:30000\"}'"
            )
        return self


def make_prm(settings: PrmSettings, backend: BaseBackend) -> BaseVerifier | None:
    """The configured PRM (judge and confidence run on `backend`, the generation model), or None."""
    if settings.kind == "served":
        assert settings.server is not None  # the validator guarantees it
        return make_reward_prm(settings.server)
    if settings.kind == "judge":
        return JudgePRM(backend)
    if settings.kind == "confidence":
        return ConfidencePRM()
    if settings.kind == "learned":
        from ponder.verifiers.learned import LearnedPRM  # numpy and the weights load only when chosen

        return LearnedPRM(weights_path=settings.weights)
    return None


def with_prm(verifier: BaseVerifier, prm: BaseVerifier | None, weight: float = 1.0) -> BaseVerifier:
    """`verifier` alone, or blended with `prm` under its hard gates (`prm` keeps weight `weight`).

    The children keep their own names (``finance``, ``code``, ``judge``...), so evidence stays at
    ``evidence["verifiers"][name]`` for callers that read one child's findings. The caller keeps
    ownership of `prm` (a served one holds an HTTP client to close).
    """
    if prm is None:
        return verifier
    return Composite([verifier, prm], weights=[1.0, weight])
