"""The verifier protocol. PRMs score steps; execution verifiers gate outcomes."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from ponder.verifiers.types import Chain, StepScore, VerifyTask


class BaseVerifier(abc.ABC):
    """Scores many chains of one task in one call (siblings are scored together).

    `score` returns one `StepScore` per chain, in order. It never raises for a wrong chain: a
    failing check is a `gate="fail"` result. It raises `VerifierError` only when the verifier
    itself cannot work (server down, sandbox missing).

    `step_level` verifiers (PRMs) judge partial chains; outcome verifiers (`step_level=False`)
    only judge terminal chains and return `gate="unknown"`, score 0.5 for partial ones.
    """

    name: str = "verifier"
    step_level: bool = True

    @abc.abstractmethod
    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        """Judge each chain."""

    async def aclose(self) -> None:
        return None
