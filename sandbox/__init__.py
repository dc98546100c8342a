"""ponder.sandbox: run untrusted code with limits and return results you can trust.

`open_sandbox(settings)` picks Docker when an engine answers (LocalSandbox only when allowed);
`DockerSandbox` and `LocalSandbox` can be used directly. Nothing here imports the rest of ponder.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ponder._lazy import attach

if TYPE_CHECKING:
    from ponder.sandbox.base import BaseSandbox
    from ponder.sandbox.docker_sandbox import DockerSandbox
    from ponder.sandbox.errors import SandboxConfigError, SandboxError, SandboxUnavailableError
    from ponder.sandbox.factory import make_sandbox, open_sandbox
    from ponder.sandbox.local import LocalSandbox
    from ponder.sandbox.settings import DEFAULT_IMAGE, SandboxSettings
    from ponder.sandbox.types import ExecResult, Files, Limits, TestOutcome, TestReport

__all__ = [
    "DEFAULT_IMAGE",
    "BaseSandbox",
    "DockerSandbox",
    "ExecResult",
    "Files",
    "Limits",
    "LocalSandbox",
    "SandboxConfigError",
    "SandboxError",
    "SandboxSettings",
    "SandboxUnavailableError",
    "TestOutcome",
    "TestReport",
    "make_sandbox",
    "open_sandbox",
]

# Submodules load on first use (PEP 562): settings and result types must not import the docker SDK.
# Hidden from type checkers, which read the imports above, so a misspelt name is still an error.
if not TYPE_CHECKING:
    __getattr__, __dir__ = attach(
        __name__,
        __all__,
        {
            "base": ("BaseSandbox",),
            "docker_sandbox": ("DockerSandbox",),
            "errors": ("SandboxConfigError", "SandboxError", "SandboxUnavailableError"),
            "factory": ("make_sandbox", "open_sandbox"),
            "local": ("LocalSandbox",),
            "settings": ("DEFAULT_IMAGE", "SandboxSettings"),
            "types": ("ExecResult", "Files", "Limits", "TestOutcome", "TestReport"),
        },
    )
