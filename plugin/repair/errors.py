"""The error repair raises for input it cannot work with, shared by the modules that read a project."""

from __future__ import annotations

from ponder.errors import PonderError


class RepairInputError(PonderError, ValueError):
    """The project cannot be repaired as given (no tests, no sources, unreadable files)."""


__all__ = ["RepairInputError"]
