"""CodeVerifier: real test runs decide the gate; cheap checks and the cache avoid needless runs.

Unit tests run in the subprocess sandbox (fast, no isolation needed for code we wrote); the
HumanEvalFix dataset test goes through the real Docker sandbox, as the issue requires.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Sequence

import pytest

from ponder.sandbox import LocalSandbox, open_sandbox
from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.errors import SandboxUnavailableError
from ponder.sandbox.settings import SandboxSettings
from ponder.sandbox.types import ExecResult, Files, Limits, TestReport
from ponder.verifiers import Chain, CodeVerifier, VerifierError, VerifyTask
from tests._datasets import humanevalfix_source, humanevalfix_task, load

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")

TESTS = """\
from calc import add, mul


def test_add():
    assert add(2, 3) == 5


def test_add_negative():
    assert add(-1, 1) == 0


def test_mul():
    assert mul(3, 4) == 12
"""
GOOD = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a * b\n"
HALF = "def add(a, b):\n    return a + b\n\n\ndef mul(a, b):\n    return a + b\n"
TASK = VerifyTask(
    kind="code",
    question="make the tests pass",
    inputs={"source_path": "calc.py", "files": {"README.md": "calc"}, "tests": {"test_calc.py": TESTS}},
)


def done(source: str) -> Chain:
    return Chain(steps=(f"```python\n{source}```",), terminal=True, answer=source)


class CountingSandbox(BaseSandbox):
    """Wraps a real sandbox to count runs and the most runs in flight at once."""

    def __init__(self, inner: BaseSandbox) -> None:
        self.inner = inner
        self.calls = 0
        self.in_flight = 0
        self.max_in_flight = 0

    async def run(self, files: Files, command: Sequence[str], limits: Limits | None = None) -> ExecResult:
        return await self.inner.run(files, command, limits)

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
        self.calls += 1
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            return await self.inner.run_tests(
                sources, tests, limits, runner, trusted=trusted, coverage=coverage, pythonpath=pythonpath
            )
        finally:
            self.in_flight -= 1


@pytest.fixture
async def sandbox() -> AsyncIterator[CountingSandbox]:
    async with LocalSandbox() as inner:
        yield CountingSandbox(inner)


async def test_all_tests_passing_is_a_pass_with_per_test_evidence(sandbox: CountingSandbox) -> None:
    [result] = await CodeVerifier(sandbox).score(TASK, [done(GOOD)])
    assert (result.score, result.gate) == (1.0, "pass")
    outcomes = {t["name"].split("::")[-1]: t["outcome"] for t in result.evidence["tests"]}
    assert outcomes == {"test_add": "passed", "test_add_negative": "passed", "test_mul": "passed"}
    assert result.evidence["tampered"] is False
    assert "feedback" not in result.evidence


async def test_score_is_the_share_of_passing_tests_and_feedback_names_the_failure(
    sandbox: CountingSandbox,
) -> None:
    [result] = await CodeVerifier(sandbox).score(TASK, [done(HALF)])
    assert result.gate == "fail"
    assert result.score == pytest.approx(2 / 3)
    assert (result.evidence["passed"], result.evidence["failed"]) == (2, 1)
    assert "test_mul" in result.evidence["feedback"]
    assert "7 == 12" in result.evidence["feedback"]


async def test_syntax_error_fails_without_running_the_tests(sandbox: CountingSandbox) -> None:
    broken = "def add(a, b)\n    return a + b\n"
    [result] = await CodeVerifier(sandbox).score(TASK, [done(broken)])
    assert (result.score, result.gate) == (0.0, "fail")
    assert result.evidence["feedback"].startswith("SyntaxError at calc.py:1")
    assert sandbox.calls == 0


async def test_partial_chain_is_neutral_and_not_run(sandbox: CountingSandbox) -> None:
    [result] = await CodeVerifier(sandbox).score(TASK, [Chain(steps=("Let me look at add first.",))])
    assert (result.score, result.gate) == (0.5, "unknown")
    assert sandbox.calls == 0


async def test_missing_code_fails_with_feedback(sandbox: CountingSandbox) -> None:
    [result] = await CodeVerifier(sandbox).score(TASK, [Chain(steps=("I give up",), terminal=True)])
    assert result.gate == "fail"
    assert "code block" in result.evidence["feedback"]
    assert sandbox.calls == 0


async def test_import_error_feedback_shows_where_it_was_raised(sandbox: CountingSandbox) -> None:
    source = GOOD + "\nraise RuntimeError('config not found')\n"
    [result] = await CodeVerifier(sandbox).score(TASK, [done(source)])
    assert (result.score, result.gate) == (0.0, "fail")
    assert "RuntimeError: config not found" in result.evidence["feedback"]


async def test_a_candidate_that_exits_before_the_tests_is_not_verified(sandbox: CountingSandbox) -> None:
    source = "import sys\nsys.exit(0)\n" + GOOD
    [result] = await CodeVerifier(sandbox).score(TASK, [done(source)])
    assert result.gate == "fail"
    assert result.score < 1.0
    assert result.evidence["feedback"]


async def test_a_hanging_candidate_fails_on_the_time_limit(sandbox: CountingSandbox) -> None:
    source = GOOD + "\nwhile True:\n    pass\n"
    verifier = CodeVerifier(sandbox, limits=Limits(timeout_s=3.0))
    started = time.monotonic()
    [result] = await verifier.score(TASK, [done(source)])
    assert result.gate == "fail"
    assert time.monotonic() - started < 30
    assert result.evidence["feedback"]


async def test_identical_candidates_run_once_and_later_calls_hit_the_cache(sandbox: CountingSandbox) -> None:
    verifier = CodeVerifier(sandbox)
    first = await verifier.score(TASK, [done(GOOD), done(HALF), done(GOOD)])
    assert [r.gate for r in first] == ["pass", "fail", "pass"]
    assert sandbox.calls == 2
    assert [r.evidence["cached"] for r in first] == [False, False, True]
    again = await verifier.score(TASK, [done(HALF)])
    assert sandbox.calls == 2
    assert again[0].evidence["cached"] is True
    assert again[0].score == first[1].score


async def test_the_cache_key_includes_the_tests(sandbox: CountingSandbox) -> None:
    verifier = CodeVerifier(sandbox)
    await verifier.score(TASK, [done(HALF)])
    only_add = VerifyTask(
        kind="code",
        question="q",
        inputs={"source_path": "calc.py", "tests": {"test_calc.py": TESTS.split("def test_mul")[0]}},
    )
    [result] = await verifier.score(only_add, [done(HALF)])
    assert result.gate == "pass"
    assert sandbox.calls == 2


async def test_a_batch_is_submitted_concurrently(sandbox: CountingSandbox) -> None:
    variants = [GOOD + f"\nVARIANT = {i}\n" for i in range(4)]
    results = await CodeVerifier(sandbox).score(TASK, [done(v) for v in variants])
    assert [r.gate for r in results] == ["pass"] * 4
    assert sandbox.calls == 4
    assert sandbox.max_in_flight == 4


@pytest.mark.parametrize(
    "inputs",
    [
        pytest.param({"tests": {"test_calc.py": TESTS}}, id="no-source-path"),
        pytest.param({"source_path": "calc.py", "tests": {}}, id="no-tests"),
    ],
)
async def test_a_task_without_what_the_verifier_needs_is_a_verifier_error(
    sandbox: CountingSandbox, inputs: dict[str, object]
) -> None:
    task = VerifyTask(kind="code", question="q", inputs=inputs)
    with pytest.raises(VerifierError, match=r"task\.inputs"):
        await CodeVerifier(sandbox).score(task, [done(GOOD)])


class UnavailableSandbox(BaseSandbox):
    """The engine went away between construction and the run."""

    async def run(self, files: Files, command: Sequence[str], limits: Limits | None = None) -> ExecResult:
        raise SandboxUnavailableError("Docker engine at unix:///var/run/docker.sock did not answer")

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
        raise SandboxUnavailableError("Docker engine at unix:///var/run/docker.sock did not answer")


async def test_a_broken_sandbox_is_a_verifier_error_not_a_failed_candidate() -> None:
    with pytest.raises(VerifierError, match="sandbox could not run the tests"):
        await CodeVerifier(UnavailableSandbox()).score(TASK, [done(GOOD)])


@pytest.mark.docker
async def test_humanevalfix_canonical_pass_and_buggy_fail_in_docker() -> None:
    records = load("humanevalfix_dev.jsonl")
    assert len(records) == 40
    async with open_sandbox(SandboxSettings(kind="docker", pool_size=4, max_concurrency=4)) as docker:
        verifier = CodeVerifier(docker, limits=Limits(timeout_s=20.0))

        async def gate(record: dict[str, object], buggy: bool) -> str:
            source = humanevalfix_source(record, buggy=buggy)
            [result] = await verifier.score(humanevalfix_task(record), [done(source)])
            if buggy:
                assert result.evidence["feedback"], record["task_id"]
            return result.gate

        gates = await asyncio.gather(*(gate(r, b) for r in records for b in (False, True)))
    ids = [r["task_id"] for r in records]
    assert [i for i, g in zip(ids, gates[0::2], strict=True) if g != "pass"] == []
    assert [i for i, g in zip(ids, gates[1::2], strict=True) if g != "fail"] == []


@pytest.mark.docker
async def test_a_candidate_that_rewrites_the_tests_is_not_verified_in_docker() -> None:
    cheat = (
        GOOD.replace("return a * b", "return a + b")
        + "\nimport pathlib\n\ntry:\n"
        + "    pathlib.Path('test_calc.py').write_text('def test_ok():\\n    assert True\\n')\n"
        + "except OSError:\n    pass\n"
    )
    async with open_sandbox(SandboxSettings(kind="docker")) as docker:
        [result] = await CodeVerifier(docker).score(TASK, [done(cheat)])
    assert result.gate == "fail"
    assert result.score < 1.0
    assert result.evidence["feedback"]
