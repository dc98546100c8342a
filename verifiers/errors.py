"""Verifier exceptions. A wrong answer is never an exception; a broken verifier is."""

from __future__ import annotations

from ponder.errors import PonderError


class VerifierError(PonderError):
    """The verifier could not judge (reward server unreachable, sandbox unavailable, bad settings)."""
