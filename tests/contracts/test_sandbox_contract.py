"""What every `BaseSandbox` shows, whichever isolation is behind it (see sandbox/base.py).

Each test runs over `sandbox_subject` (tests/contracts/conftest.py): DockerSandbox on the real
engine and LocalSandbox as a plain subprocess, both `ThreadedSandbox`s sharing the harness. The
base contract: files in, a command run in a fresh work dir, its exit code and output as data,
the time limit enforced, bad calls refused before anything runs, and `run_tests` returning
per-test outcomes from a report the code under test cannot forge. Limits an implementation
claims beyond that (network isolation, OOM reporting) are checked where `SandboxClaims` says so.
Hardening that only one implementation has stays in tests/test_sandbox_<name>.py.
"""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from ponder.sandbox import Limits, SandboxConfigError, SandboxError
from tests.contracts.conftest import SANDBOXES, SandboxSubject

SOURCE_OK = "def add(a, b):\n    return a + b\n"
SOURCE_BAD = "def add(a, b):\n    return a - b\n"
TESTS = {
    "tests/test_m.py": "from m import add\n\n"
    "def test_add():\n    assert add(2, 2) == 4\n\n"
    "def test_neg():\n    assert add(-1, 1) == 0\n",
}
GRAB = "chunks = []\nwhile True:\n    chunks.append(b'x' * (16 * 1024 * 1024))\n"


async def test_run_copies_files_in_and_returns_output_and_exit_code(sandbox_subject: SandboxSubject) -> None:
    files = {
        "pkg/data.txt": "41",
        "m.py": "import sys\nprint(int(open('pkg/data.txt').read()) + 1)\nsys.exit(5)",
    }
    result = await sandbox_subject.sandbox.run(files, ["python3", "m.py"])
    assert (result.exit_code, result.stdout, result.stderr, result.ok) == (5, "42\n", "", False)
    assert not (result.timed_out or result.oom_killed or result.truncated)
    assert result.duration_s > 0


async def test_each_run_starts_in_a_fresh_work_dir(sandbox_subject: SandboxSubject) -> None:
    sb = sandbox_subject.sandbox
    first = await sb.run({"state.txt": "left behind"}, ["sh", "-c", "touch mark; ls"])
    second = await sb.run({}, ["sh", "-c", "ls -A"])
    assert "state.txt" in first.stdout and "mark" in first.stdout
    assert second.stdout == "" and second.exit_code == 0


async def test_concurrent_runs_each_see_only_their_own_files(sandbox_subject: SandboxSubject) -> None:
    read = ["python3", "-c", "print(open('f.txt').read())"]
    results = await asyncio.gather(*(sandbox_subject.sandbox.run({"f.txt": str(i)}, read) for i in range(6)))
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(6)]


async def test_a_command_over_its_time_limit_is_killed_and_reported(sandbox_subject: SandboxSubject) -> None:
    started = time.monotonic()
    result = await sandbox_subject.sandbox.run({}, ["python3", "-c", "while True: pass"], Limits(timeout_s=2))
    elapsed = time.monotonic() - started
    assert result.timed_out and not result.ok
    assert elapsed < 2 + 2, f"took {elapsed:.1f} s"


async def test_output_past_the_cap_is_cut_with_a_flag(sandbox_subject: SandboxSubject) -> None:
    code = "import sys\nfor _ in range(40): sys.stdout.write('x' * 65536)"
    result = await sandbox_subject.sandbox.run({}, ["python3", "-c", code], Limits(output_bytes=100_000))
    assert result.truncated and len(result.stdout) == 100_000 and result.exit_code == 0


async def test_bad_calls_fail_before_running(sandbox_subject: SandboxSubject) -> None:
    sb = sandbox_subject.sandbox
    with pytest.raises(SandboxConfigError, match="escapes the work dir"):
        await sb.run({"../evil.py": ""}, ["true"])
    with pytest.raises(SandboxConfigError, match="non-empty list"):
        await sb.run({}, "python3 m.py")  # type: ignore[arg-type]
    with pytest.raises(SandboxConfigError, match="runner 'unittest'"):
        await sb.run_tests({}, TESTS, runner="unittest")
    with pytest.raises(SandboxConfigError, match=r"no \.py test files"):
        await sb.run_tests({"m.py": SOURCE_OK}, {"conftest.py": ""})


async def test_run_tests_reports_each_test_outcome(sandbox_subject: SandboxSubject) -> None:
    sb = sandbox_subject.sandbox
    good = await sb.run_tests({"m.py": SOURCE_OK}, TESTS)
    assert good.all_passed and (good.passed, good.total) == (2, 2), good.to_dict()
    bad = await sb.run_tests({"m.py": SOURCE_BAD}, TESTS)
    assert (bad.passed, bad.failed, bad.all_passed, bad.tampered) == (0, 2, False, False)
    first = bad.first_failure()
    assert first is not None and first.name == "tests.test_m::test_add" and "assert 0 == 4" in first.message
    assert "assert -2 == 0" in bad.tests[1].message
    assert bad.raw is not None and bad.raw.exit_code != 0


async def test_a_collection_error_is_an_error_outcome(sandbox_subject: SandboxSubject) -> None:
    report = await sandbox_subject.sandbox.run_tests(
        {"m.py": "def add(a, b) return"}, {"test_m.py": "from m import add\n"}
    )
    assert not report.all_passed and report.errors == 1
    assert "SyntaxError" in report.tests[0].message or "invalid syntax" in report.tests[0].message


async def test_pythonpath_folders_are_importable_in_the_tests_and_their_subprocesses(
    sandbox_subject: SandboxSubject,
) -> None:
    """A src layout: the tests import `m` from `src/`, in process and from a child python."""
    sb = sandbox_subject.sandbox
    tests = {
        "tests/test_m.py": "import subprocess, sys\nfrom m import add\n\n"
        "def test_add():\n    assert add(2, 2) == 4\n\n"
        "def test_child():\n    out = subprocess.run([sys.executable, '-c', 'import m; print(m.add(1, 2))'],"
        " capture_output=True, text=True)\n    assert out.stdout == '3\\n', out.stderr\n",
    }
    found = await sb.run_tests({"src/m.py": SOURCE_OK}, tests, pythonpath=["src"])
    assert found.all_passed and found.total == 2, found.to_dict()
    missing = await sb.run_tests({"src/m.py": SOURCE_OK}, tests)
    assert missing.errors == 1 and "No module named 'm'" in missing.tests[0].message
    with pytest.raises(SandboxConfigError, match="escapes the work dir"):
        await sb.run_tests({"src/m.py": SOURCE_OK}, tests, pythonpath=["../src"])


async def test_a_hanging_test_costs_that_test_only(sandbox_subject: SandboxSubject) -> None:
    # A busy loop and a long sleep each fail on the per-test limit; the tests around them report.
    tests = {
        "test_m.py": "import time\nfrom m import add, spin\n\n"
        "def test_add():\n    assert add(2, 2) == 4\n\n"
        "def test_spin():\n    spin()\n\n"
        "def test_sleep():\n    time.sleep(100)\n\n"
        "def test_zero():\n    assert add(0, 1) == 0\n",
    }
    source = SOURCE_OK + "\ndef spin():\n    while True:\n        pass\n"
    started = time.monotonic()
    report = await sandbox_subject.sandbox.run_tests(
        {"m.py": source}, tests, Limits(timeout_s=8, test_timeout_s=1.0)
    )
    outcomes = {t.name.split("::")[1]: t for t in report.tests}
    assert time.monotonic() - started < 8 and report.raw is not None and not report.raw.timed_out
    assert [outcomes[n].outcome for n in ("test_add", "test_spin", "test_sleep", "test_zero")] == [
        "passed",
        "failed",
        "failed",
        "failed",
    ]
    assert "longer than its 1 s limit" in outcomes["test_spin"].message
    assert "longer than its 1 s limit" in outcomes["test_sleep"].message
    assert "assert 1 == 0" in outcomes["test_zero"].message and not report.tampered


async def test_unittest_testcases_run_with_the_per_test_limit_and_coverage(
    sandbox_subject: SandboxSubject,
) -> None:
    """pytest runs `unittest.TestCase` tests through its unittest support, not pytest_pyfunc_call:
    they once all failed with "no option named 'trace'" under the integrity checks."""
    tests = {
        "test_m.py": "import unittest\nfrom m import add, spin\n\n\nclass T(unittest.TestCase):\n"
        "    def test_add(self):\n        self.assertEqual(add(2, 2), 4)\n\n"
        "    def test_zero(self):\n        self.assertEqual(add(0, 1), 0)\n\n"
        "    def test_spin(self):\n        spin()\n",
    }
    source = SOURCE_OK + "\ndef spin():\n    while True:\n        pass\n"
    report = await sandbox_subject.sandbox.run_tests(
        {"m.py": source}, tests, Limits(timeout_s=8, test_timeout_s=1.0), coverage=True
    )
    outcomes = {t.name.split("::")[1]: t for t in report.tests}
    assert {n: o.outcome for n, o in outcomes.items()} == {
        "test_add": "passed",
        "test_zero": "failed",
        "test_spin": "failed",
    }, report.to_dict()
    assert "1 != 0" in outcomes["test_zero"].message and not report.tampered
    assert "longer than its 1 s limit" in outcomes["test_spin"].message
    assert 2 in report.coverage["test_m.T::test_add"]["m.py"]


async def test_async_tests_run_under_pytest_asyncio(sandbox_subject: SandboxSubject) -> None:
    """`async def` tests run (pytest-asyncio in auto mode) and are judged like any other."""
    tests = {
        "test_m.py": "import asyncio\nfrom m import add\n\n"
        "async def test_add():\n    await asyncio.sleep(0)\n    assert add(2, 2) == 4\n",
    }
    good = await sandbox_subject.sandbox.run_tests({"m.py": SOURCE_OK}, tests)
    assert good.all_passed and good.total == 1, good.to_dict()
    bad = await sandbox_subject.sandbox.run_tests({"m.py": SOURCE_BAD}, tests)
    assert bad.failed == 1 and "assert 0 == 4" in bad.tests[0].message and not bad.tampered, bad.to_dict()


async def test_fake_passed_output_and_an_early_exit_are_not_passes(sandbox_subject: SandboxSubject) -> None:
    sb = sandbox_subject.sandbox
    tests = {"test_m.py": TESTS["tests/test_m.py"]}
    liar = SOURCE_BAD + "print('test_m.py::test_add PASSED')\nprint('==== 2 passed in 0.01s ====')\n"
    report = await sb.run_tests({"m.py": liar}, tests)
    assert report.failed == 2 and not report.all_passed
    quitter = await sb.run_tests({"m.py": "import os\nos._exit(0)\n"}, tests)
    assert quitter.raw is not None and quitter.raw.exit_code == 0
    assert not quitter.all_passed and quitter.reason == "no test report (pytest exit code 0)"


async def test_going_over_the_memory_limit_fails_the_run(sandbox_subject: SandboxSubject) -> None:
    limits = Limits(memory_mb=128, timeout_s=20)
    result = await sandbox_subject.sandbox.run({}, ["python3", "-c", GRAB], limits)
    assert not result.ok and not result.timed_out, result
    if sandbox_subject.claims.reports_oom:
        assert result.oom_killed and result.exit_code == 137, result
    else:
        assert "MemoryError" in result.stderr, result


async def test_the_hosts_network_is_unreachable_where_isolation_is_claimed(
    sandbox_subject: SandboxSubject,
) -> None:
    if not sandbox_subject.claims.network_isolated:
        pytest.skip(f"{sandbox_subject.sandbox.name} does not claim network isolation")
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        probe = (
            "import socket\ntry:\n"
            f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n    print('reached')\n"
            "except OSError as exc:\n    print('blocked', type(exc).__name__)\n"
        )
        result = await sandbox_subject.sandbox.run({}, ["python3", "-c", probe])
    assert result.stdout.startswith("blocked"), result


@pytest.mark.parametrize("kind", [pytest.param("docker", marks=pytest.mark.docker), pytest.param("local")])
async def test_a_closed_sandbox_refuses_runs_naming_the_fix(kind: str) -> None:
    make, _ = SANDBOXES[kind]
    sb = make()
    await sb.aclose()
    await sb.aclose()  # closing twice is fine
    with pytest.raises(SandboxError, match="closed; create a new one"):
        await sb.run({}, ["true"])
