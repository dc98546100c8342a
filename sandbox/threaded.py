"""The async face shared by the sandboxes: validation, the lifecycle, and a bounded thread pool.

The Docker SDK and subprocess handling are blocking, so each run is one blocking call on a worker
thread. The pool's size *is* the concurrency bound, and because the pool is not tied to an event
loop, one sandbox can serve several loops and plain threads at once.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.errors import SandboxConfigError, SandboxError
from ponder.sandbox.files import digests, normalize_files, normalize_import_roots, pytest_targets, split_tests
from ponder.sandbox.integrity import TestChecks
from ponder.sandbox.junit import build_report
from ponder.sandbox.types import ExecResult, Files, HarnessReport, Limits, TestReport


class State(enum.Enum):
    UNOPENED = "unopened"
    OPEN = "open"
    CLOSED = "closed"


class ThreadedSandbox(BaseSandbox):
    """Implements `run`/`run_tests` on top of one blocking `_execute`; subclasses provide isolation."""

    def __init__(self, *, limits: Limits | None = None, max_concurrency: int | None = None) -> None:
        self.limits = limits or Limits()
        self.max_concurrency = max_concurrency or os.cpu_count() or 1
        self._executor = ThreadPoolExecutor(self.max_concurrency, thread_name_prefix=f"ponder-{self.name}")
        self._state = State.UNOPENED
        self._state_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def open(self) -> None:
        """Connect and start background work (blocking; idempotent). Runs call it on first use."""
        with self._state_lock:
            if self._state is State.CLOSED:
                raise SandboxError(f"this {type(self).__name__} is closed; create a new one")
            if self._state is State.OPEN:
                return
            self._open()
            self._state = State.OPEN

    def close(self) -> None:
        """Stop background work and remove everything this sandbox created (blocking; idempotent)."""
        with self._state_lock:
            if self._state is State.CLOSED:
                return
            self._state = State.CLOSED
        self._executor.shutdown(wait=True, cancel_futures=True)
        self._close()

    async def __aenter__(self) -> ThreadedSandbox:
        await asyncio.to_thread(self.open)
        return self

    async def aclose(self) -> None:
        await asyncio.to_thread(self.close)

    def _open(self) -> None:
        """Subclass hook: connect, check prerequisites, start pools."""

    def _close(self) -> None:
        """Subclass hook: release every resource."""

    # -- runs ------------------------------------------------------------------------------------

    async def run(self, files: Files, command: Sequence[str], limits: Limits | None = None) -> ExecResult:
        if isinstance(command, str) or not command:
            raise SandboxConfigError(
                "run: command must be a non-empty list of arguments, e.g. ['python3', 'm.py']"
            )
        clean = normalize_files(files)
        result, _ = await self._submit(clean, list(command), limits or self.limits)
        return result

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
        if runner != "pytest":
            raise SandboxConfigError(f"run_tests: runner {runner!r} is not supported; use runner='pytest'")
        src, tst = split_tests(sources, tests)
        targets = pytest_targets(tst)
        if not targets:
            raise SandboxConfigError(
                "run_tests: no .py test files among `tests` (conftest.py alone runs nothing)"
            )
        checks = TestChecks.new(tst, trusted, coverage=coverage)
        roots = normalize_import_roots(pythonpath)
        raw, harness = await self._submit(
            src, targets, limits or self.limits, tests=tst, checks=checks, pythonpath=roots
        )
        return build_report(harness, raw, digests(tst), checks)

    async def _submit(
        self,
        files: dict[str, bytes],
        command: list[str],
        limits: Limits,
        tests: dict[str, bytes] | None = None,
        checks: TestChecks | None = None,
        pythonpath: Sequence[str] = (),
    ) -> tuple[ExecResult, HarnessReport]:
        if self._state is State.CLOSED:
            raise SandboxError(f"this {type(self).__name__} is closed; create a new one")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, self._blocking, files, command, limits, tests, checks, pythonpath
        )

    def _blocking(
        self,
        files: dict[str, bytes],
        command: list[str],
        limits: Limits,
        tests: dict[str, bytes] | None,
        checks: TestChecks | None,
        pythonpath: Sequence[str],
    ) -> tuple[ExecResult, HarnessReport]:
        self.open()
        return self._execute(files, command, limits, tests, checks, pythonpath)

    @abc.abstractmethod
    def _execute(
        self,
        files: dict[str, bytes],
        command: list[str],
        limits: Limits,
        tests: dict[str, bytes] | None,
        checks: TestChecks | None = None,
        pythonpath: Sequence[str] = (),
    ) -> tuple[ExecResult, HarnessReport]:
        """Run in a fresh work dir; with `tests`, `command` is the pytest targets and tests are read-only.

        `checks` (with `tests`) go into the harness spec: the test process plants the canaries and
        keeps the integrity record that `build_report` checks.

        Returns the result and the harness report (empty when the harness did not report).
        """
