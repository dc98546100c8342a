"""A subprocess sandbox for machines without Docker: rlimits and a temp dir, nothing more.

It shares the harness with DockerSandbox (same capping, timeouts and test-report checks) but not
the isolation: the code can read the host's files and reach its network. It is never picked when
Docker was asked for, and it says so once per process.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from ponder.sandbox.harness import PYTEST_INI
from ponder.sandbox.integrity import TestChecks, test_timeout
from ponder.sandbox.runner import (
    HARNESS_SOURCE,
    INTEGRITY_SOURCE,
    KILL_GRACE_S,
    harness_spec,
    parse_harness,
    pytest_command,
    report_cap,
)
from ponder.sandbox.threaded import ThreadedSandbox
from ponder.sandbox.types import ExecResult, HarnessReport, Limits, MiB

_warned = False
_warn_lock = threading.Lock()

WEAKER_ISOLATION = (
    "LocalSandbox runs code as a plain subprocess (rlimits + temp dir): no network, filesystem or "
    "privilege isolation; use Docker (`ponder sandbox doctor`) for untrusted code"
)


def _warn_once() -> None:
    global _warned
    with _warn_lock:
        if _warned:
            return
        _warned = True
    warnings.warn(WEAKER_ISOLATION, RuntimeWarning, stacklevel=3)


class LocalSandbox(ThreadedSandbox):
    """Runs each command in a fresh temp dir under the harness, with rlimits for CPU, memory and files.

    Example:
        async with LocalSandbox() as sb:
            result = await sb.run({"m.py": "print(6 * 7)"}, ["python3", "m.py"])
    """

    name = "local"

    def __init__(
        self,
        *,
        limits: Limits | None = None,
        max_concurrency: int | None = None,
        python: str | None = None,
        temp_root: Path | None = None,
    ) -> None:
        super().__init__(limits=limits, max_concurrency=max_concurrency)
        self.python = python or sys.executable
        """Interpreter for the harness and pytest (needs pytest installed for run_tests)."""
        self.temp_root = temp_root
        """Where per-run work dirs are made (default: the system temp dir); each is removed after its run."""
        _warn_once()

    def _execute(
        self,
        files: dict[str, bytes],
        command: list[str],
        limits: Limits,
        tests: dict[str, bytes] | None,
        checks: TestChecks | None = None,
        pythonpath: Sequence[str] = (),
    ) -> tuple[ExecResult, HarnessReport]:
        root = Path(tempfile.mkdtemp(prefix="ponder-sandbox-", dir=self.temp_root))
        try:
            work, private = root / "work", root / "harness"
            work.mkdir()
            private.mkdir()
            harness = private / "harness.py"
            harness.write_bytes(HARNESS_SOURCE)
            _write(work, files, 0o644)
            if tests is not None:
                _write(work, tests, 0o444)
                (private / "pytest.ini").write_text(PYTEST_INI)
                command = pytest_command(self.python, str(private / "pytest.ini"), command)
            spec = harness_spec(
                command,
                limits,
                cwd=str(work),
                junit=tests is not None,
                hash_paths=sorted(tests or {}),
                extra_rlimits={"DATA": limits.memory_mb * MiB, "NOFILE": 1024},
                checks=checks.spec(test_timeout(limits)) if checks is not None else None,
                pythonpath=pythonpath,
            )
            return self._spawn([self.python, "-I", "-B", str(harness), spec, INTEGRITY_SOURCE], limits)
        finally:
            shutil.rmtree(root, ignore_errors=True)

    def _spawn(self, argv: list[str], limits: Limits) -> tuple[ExecResult, HarnessReport]:
        started = time.monotonic()
        host_killed = False
        try:
            proc = subprocess.run(
                argv,
                capture_output=True,
                timeout=limits.timeout_s + KILL_GRACE_S + 2,
                check=False,
            )
            stdout, code = proc.stdout[: report_cap(limits)], proc.returncode
        except subprocess.TimeoutExpired:
            stdout, code, host_killed = b"", 137, True
        return parse_harness(
            stdout,
            exit_code=code,
            wall_s=time.monotonic() - started,
            limits=limits,
            oom_killed=False,
            host_killed=host_killed,
        )


def _write(root: Path, files: dict[str, bytes], mode: int) -> None:
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.chmod(path, mode)
