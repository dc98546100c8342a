"""Sandbox exceptions. A failing or crashing program is a result; these mean the sandbox itself failed.

* PonderError
  x SandboxError
    + SandboxUnavailableError   no Docker engine / image missing (message says which command fixes it)
    + SandboxConfigError        invalid limits, unsafe paths, Docker asked for but absent
"""

from __future__ import annotations

from ponder.errors import PonderError


class SandboxError(PonderError):
    """The sandbox could not run the code at all."""


class SandboxUnavailableError(SandboxError):
    """No engine answered, or the image is missing."""


class SandboxConfigError(SandboxError, ValueError):
    """Invalid limits or files (for example a path escaping the work dir)."""
