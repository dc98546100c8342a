"""The sandbox protocol: run untrusted code with limits and return results you can trust."""

from __future__ import annotations

import abc
from collections.abc import Sequence

from ponder.sandbox.types import ExecResult, Files, Limits, TestReport


class BaseSandbox(abc.ABC):
    """Runs commands over a set of files in an isolated, fresh work dir (one use per run).

    Implementations are async and safe to call concurrently; they bound their own concurrency.
    """

    name: str = "sandbox"

    @abc.abstractmethod
    async def run(self, files: Files, command: Sequence[str], limits: Limits | None = None) -> ExecResult:
        """Write `files` into a fresh work dir, run `command` there, return how it ended."""

    @abc.abstractmethod
    async def run_tests(
        self,
        sources: Files,
        tests: Files,
        limits: Limits | None = None,
        runner: str = "pytest",
        *,
        trusted: Files | None = None,
        coverage: bool = False,
        pythonpath: Sequence[str] = (),
    ) -> TestReport:
        """Run the test files against the sources; outcomes come from a report the code cannot forge.

        `trusted` is the original code (before a candidate's change): comparison methods it already
        defines may decide the tests' comparisons; ones a candidate adds make the run tampered.
        `coverage` records the lines each test runs in `TestReport.coverage` (fault localisation).
        `pythonpath`: folders of the work dir imports also resolve from, after the work dir itself
        (a src layout's `src`). The project's own pytest config is not read in the sandbox (code
        could change it), so the caller passes what it read from the project as it was.
        """

    async def aclose(self) -> None:
        """Stop pools and remove every container/temp dir this sandbox created."""
        return None

    async def __aenter__(self) -> BaseSandbox:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
