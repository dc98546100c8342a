"""The host side of the harness protocol, shared by every sandbox: what to ask for, how to read the answer."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path

from ponder.sandbox.errors import SandboxError
from ponder.sandbox.types import ExecResult, HarnessReport, HarnessSpec, IntegritySpec, Limits, MiB

HARNESS_SOURCE = Path(__file__).with_name("harness.py").read_bytes()
INTEGRITY_SOURCE = Path(__file__).with_name("_integrity.py").read_text()
"""Travels as the harness's last argument; the harness compiles it in the test process."""

PYTEST_ARGS = ("-p", "no:cacheprovider", "--rootdir", ".", "-q", "--tb=short", "--color=no")
REPORT_SLACK = 16 * MiB
"""Harness JSON beyond both output caps (escaping, the JUnit XML); more than this means a broken harness."""

KILL_GRACE_S = 1.0
"""`timeout -k` grace inside the sandbox before SIGKILL."""


def report_cap(limits: Limits) -> int:
    """Bytes of harness stdout a sandbox reads: both streams at their cap plus the report's slack."""
    return 2 * limits.output_bytes + REPORT_SLACK


def pytest_command(python: str, ini_path: str, targets: Sequence[str]) -> list[str]:
    return [python, "-B", "-m", "pytest", "-c", ini_path, *PYTEST_ARGS, *targets]


def base_env(workdir: str, pythonpath: Sequence[str] = ()) -> dict[str, str]:
    """The command's whole environment: nothing from the host leaks in (no tokens, no proxies).
    `pythonpath` (folders under the work dir) follows the work dir, for subprocesses the tests start."""
    return {
        "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONPATH": ":".join([workdir, *(f"{workdir}/{p}" for p in pythonpath)]),
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
    }


def harness_spec(
    command: Sequence[str],
    limits: Limits,
    *,
    cwd: str,
    junit: bool = False,
    hash_paths: Sequence[str] = (),
    extra_rlimits: Mapping[str, int] | None = None,
    checks: IntegritySpec | None = None,
    pythonpath: Sequence[str] = (),
) -> str:
    """The JSON spec for harness.py: command, timeout, caps and per-process rlimits; `pythonpath`
    (checked by `files.normalize_import_roots`) goes on sys.path after the work dir."""
    rlimits = {"CPU": math.ceil(limits.timeout_s) + 1, "FSIZE": limits.file_size_mb * MiB, "CORE": 0}
    rlimits.update(extra_rlimits or {})
    spec: HarnessSpec = {
        "cmd": list(command),
        "cwd": cwd,
        "env": base_env(cwd, pythonpath),
        "timeout": limits.timeout_s,
        "cap": limits.output_bytes,
        "rlimits": rlimits,
        "junit": junit,
        "hash": list(hash_paths),
        "pythonpath": list(pythonpath),
    }
    if checks is not None:
        spec.update(checks)  # canary_seed, allowed: see ponder.sandbox.integrity
    return json.dumps(spec)


def parse_harness(
    stdout: bytes,
    *,
    exit_code: int,
    wall_s: float,
    limits: Limits,
    oom_killed: bool,
    host_killed: bool,
    stderr: bytes = b"",
) -> tuple[ExecResult, HarnessReport]:
    """Read the harness's JSON; a missing or broken one means the harness itself was killed.

    `host_killed` is set when the host deadline fired (the inner timeouts failed to end the run).
    """
    report: HarnessReport | None
    try:
        report = json.loads(stdout)
        if not isinstance(report, dict):
            raise ValueError("not an object")
    except ValueError:
        report = None
    if report and report.get("setup_error"):
        raise SandboxError(f"the sandbox could not receive the files: {report['setup_error']}")
    if report is None:
        killed = "killed by the host deadline" if host_killed else f"ended with exit code {exit_code}"
        result = ExecResult(
            exit_code=exit_code if exit_code else 137,
            stdout="",
            stderr=stderr[-2000:].decode("utf-8", "replace")
            + f"sandbox harness {killed} before reporting (the code killed it or ran out of limits)\n",
            duration_s=wall_s,
            timed_out=host_killed or wall_s >= limits.timeout_s,
            oom_killed=oom_killed,
        )
        return result, {}
    result = ExecResult(
        exit_code=int(report["exit_code"]),
        stdout=report.get("stdout", ""),
        stderr=report.get("stderr", ""),
        duration_s=float(report.get("duration_s", wall_s)),
        timed_out=bool(report.get("timed_out")) or host_killed,
        oom_killed=oom_killed,
        truncated=bool(report.get("truncated")),
    )
    return result, report
