"""Data the sandbox returns: what ran, how it ended, and per-test outcomes you can trust."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, NotRequired, TypedDict

MiB = 1024 * 1024


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Resource limits for one run. Defaults are safe for model-written Python."""

    timeout_s: float = 10.0
    """Wall-clock seconds for the command; it is killed after this (plus a short grace)."""
    test_timeout_s: float | None = None
    """Seconds one test function may run in `run_tests` before it fails on its own, so that the
    others still report; None = half of `timeout_s`."""
    memory_mb: int = 512
    """Memory (and memory+swap) limit; exceeding it is reported as `oom_killed`."""
    pids: int = 128
    """Maximum processes/threads inside the sandbox (stops fork bombs)."""
    cpus: float = 1.0
    """CPU quota in cores."""
    output_bytes: int = MiB
    """Cap on each of stdout and stderr; the rest is dropped and `truncated` set."""
    file_size_mb: int = 64
    """Largest file the code may write."""
    tmpfs_mb: int = 128
    """Size of the writable work dir and /tmp."""


Files = Mapping[str, str | bytes]
"""Relative path -> content. Paths must stay inside the work dir. A read-only `Mapping` so that
callers can pass a `dict[str, str]` (a `dict` type is invariant in its values)."""


@dataclass(slots=True, kw_only=True)
class ExecResult:
    """How a command ended. A non-zero exit code is data, not an exception."""

    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool = False
    oom_killed: bool = False
    truncated: bool = False
    """True when stdout or stderr hit `Limits.output_bytes`."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.oom_killed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


Outcome = Literal["passed", "failed", "error", "skipped"]


@dataclass(slots=True, kw_only=True)
class TestOutcome:
    """One test's result, read from JUnit XML the tested code cannot write."""

    __test__ = False  # not a pytest class
    name: str
    outcome: Outcome
    message: str = ""


@dataclass(slots=True, kw_only=True)
class TestReport:
    """Per-test results of one run, cross-checked against the exit code and test-file hashes."""

    __test__ = False
    tests: list[TestOutcome] = field(default_factory=list)
    tampered: bool = False
    """Test files changed during the run, or the report contradicts the exit code."""
    reason: str = ""
    """Why the run is not trustworthy or produced no tests (collection error, timeout, tampering)."""
    raw: ExecResult | None = None
    coverage: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    """Per test (JUnit name): the lines of each source file it ran, when asked for (`coverage=True`)."""
    integrity: dict[str, Any] = field(default_factory=dict)
    """What was checked besides the outcomes: canaries planted and found, call records,
    violations refused (see ponder.sandbox.integrity)."""

    @property
    def passed(self) -> int:
        return sum(t.outcome == "passed" for t in self.tests)

    @property
    def failed(self) -> int:
        return sum(t.outcome == "failed" for t in self.tests)

    @property
    def errors(self) -> int:
        return sum(t.outcome == "error" for t in self.tests)

    @property
    def skipped(self) -> int:
        return sum(t.outcome == "skipped" for t in self.tests)

    @property
    def total(self) -> int:
        return len(self.tests)

    @property
    def all_passed(self) -> bool:
        """The only verdict a verifier may call "verified": tests ran, none failed, nothing tampered."""
        return self.passes_except({})

    def passes_except(self, skips: Mapping[str, str]) -> bool:
        """`all_passed`, where a test in `skips` may instead be skipped for the very reason it
        was skipped in the baseline run of the original code (the project's own `skipif`, a
        fixture's skip). A candidate cannot turn a test that ran into a skip this way, and a skip
        it did not cause does not count against it."""
        return (
            not self.tampered
            and self.passed > 0
            and all(
                t.outcome == "passed" or (t.outcome == "skipped" and skips.get(t.name) == t.message)
                for t in self.tests
            )
            and self.raw is not None
            and self.raw.exit_code == 0
            and not self.raw.timed_out
        )

    def skips(self) -> dict[str, str]:
        """Each skipped test with its reason: what `passes_except` allows again on a later run."""
        return {t.name: t.message for t in self.tests if t.outcome == "skipped"}

    def first_failure(self) -> TestOutcome | None:
        return next((t for t in self.tests if t.outcome in ("failed", "error")), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tests": [asdict(t) for t in self.tests],
            "passed": self.passed,
            "failed": self.failed,
            "errors": self.errors,
            "skipped": self.skipped,
            "tampered": self.tampered,
            "reason": self.reason,
            "integrity": self.integrity,
            "raw": self.raw.to_dict() if self.raw else None,
        }


class IntegritySpec(TypedDict):
    """The integrity part of a pytest run's spec (`TestChecks.spec`): the seed the hidden tests'
    names derive from, the comparison methods of the original code, the per-test limit."""

    canary_seed: str
    allowed: list[str]
    coverage: NotRequired[bool]
    test_timeout_s: NotRequired[float]


class HarnessSpec(TypedDict, total=False):
    """What harness.py is asked to run, as JSON on its command line (`runner.harness_spec`); a
    pytest run adds the `IntegritySpec` keys."""

    cmd: list[str]
    cwd: str
    env: dict[str, str]
    timeout: float
    cap: int
    """Bytes kept of each of stdout and stderr."""
    rlimits: dict[str, int]
    junit: bool
    """Collect pytest's JUnit XML on a private descriptor."""
    hash: list[str]
    """Test files to hash after the run, so the host sees any change."""
    pythonpath: list[str]
    """Folders under `cwd` the test process puts on sys.path after `cwd` (a src layout's `src`)."""
    canary_seed: str
    allowed: list[str]
    coverage: bool
    test_timeout_s: float


class HarnessReport(TypedDict, total=False):
    """What harness.py answers, one JSON object on stdout (`runner.parse_harness`); {} when it was
    killed before reporting. Every value is re-checked on the host: the code under test may have
    tried to write it."""

    exit_code: int
    stdout: str
    stderr: str
    duration_s: float
    timed_out: bool
    truncated: bool
    oom_kills: int
    setup_error: str
    """The files could not be received; nothing ran."""
    junit: str | None
    hashes: dict[str, str]
    """sha256 of each file the spec asked to hash, after the run."""
    config_files: list[str]
    """pytest configuration files present after the run (one that appeared was planted)."""
    integrity: str | None
    """The test process's independent record (see `ponder.sandbox.integrity.verify`)."""
