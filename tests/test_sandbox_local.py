"""LocalSandbox (real subprocesses through the shared harness) and how open_sandbox chooses."""

from __future__ import annotations

import asyncio
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

from ponder.sandbox import (
    Limits,
    LocalSandbox,
    SandboxConfigError,
    SandboxSettings,
    SandboxUnavailableError,
    open_sandbox,
)
from ponder.sandbox import local as local_module

SOURCE_OK = "def add(a, b):\n    return a + b\n"
SOURCE_BAD = "def add(a, b):\n    return a - b\n"
TESTS = {
    "test_m.py": "from m import add\n\n"
    "def test_add():\n    assert add(2, 2) == 4\n\n"
    "def test_zero():\n    assert add(0, 0) == 0\n"
}


@pytest.fixture
def sandbox() -> Iterator[LocalSandbox]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sb = LocalSandbox(limits=Limits(timeout_s=20))
    yield sb
    sb.close()


async def test_run_returns_output_and_exit_code(sandbox: LocalSandbox) -> None:
    result = await sandbox.run({"m.py": "import sys\nprint(6 * 7)\nsys.exit(3)"}, ["python3", "m.py"])
    assert (result.exit_code, result.stdout, result.ok) == (3, "42\n", False)


async def test_run_times_out_and_kills_the_loop(sandbox: LocalSandbox) -> None:
    started = time.monotonic()
    result = await sandbox.run({}, ["python3", "-c", "while True: pass"], Limits(timeout_s=1))
    assert result.timed_out and not result.ok
    assert time.monotonic() - started < 3


async def test_output_is_capped_with_a_flag(sandbox: LocalSandbox) -> None:
    code = "import sys\nfor _ in range(40): sys.stdout.write('x' * 65536)"
    result = await sandbox.run({}, ["python3", "-c", code], Limits(output_bytes=100_000))
    assert result.truncated and len(result.stdout) == 100_000 and result.exit_code == 0


async def test_run_tests_reports_each_outcome(sandbox: LocalSandbox) -> None:
    good = await sandbox.run_tests({"m.py": SOURCE_OK}, TESTS)
    assert good.all_passed and good.passed == 2
    bad = await sandbox.run_tests({"m.py": SOURCE_BAD}, TESTS)
    assert not bad.all_passed and (bad.passed, bad.failed) == (1, 1)
    failure = bad.first_failure()
    assert failure is not None and failure.name == "test_m::test_add" and "assert 0 == 4" in failure.message


async def test_fake_passed_output_and_early_exit_change_nothing(sandbox: LocalSandbox) -> None:
    liar = SOURCE_BAD + "print('test_m.py::test_add PASSED')\nprint('==== 2 passed in 0.01s ====')\n"
    report = await sandbox.run_tests({"m.py": liar}, TESTS)
    assert report.failed == 1 and not report.all_passed
    quitter = "import os\nos._exit(0)\n"
    report = await sandbox.run_tests({"m.py": quitter}, TESTS)
    assert report.raw is not None and report.raw.exit_code == 0
    assert not report.all_passed and report.reason == "no test report (pytest exit code 0)"


async def test_rewriting_a_test_file_is_detected(sandbox: LocalSandbox) -> None:
    # Here the code runs as the host user and could edit the file; the hash check catches it.
    rewrite = (
        "import os\nos.chmod('test_m.py', 0o644)\nopen('test_m.py', 'w').write('def test_add(): pass')\n"
    )
    report = await sandbox.run_tests({"m.py": SOURCE_BAD + rewrite}, TESTS)
    assert report.tampered and not report.all_passed and "test_m.py was modified" in report.reason


async def test_bad_calls_fail_before_running(sandbox: LocalSandbox) -> None:
    with pytest.raises(SandboxConfigError, match="escapes the work dir"):
        await sandbox.run({"../evil.py": ""}, ["true"])
    with pytest.raises(SandboxConfigError, match="non-empty list"):
        await sandbox.run({}, "python3 m.py")  # type: ignore[arg-type]
    with pytest.raises(SandboxConfigError, match="runner 'unittest'"):
        await sandbox.run_tests({}, TESTS, runner="unittest")


async def test_concurrent_runs_leave_no_temp_dirs(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sandbox = LocalSandbox(temp_root=tmp_path, max_concurrency=4)
    async with sandbox:
        runs = [
            sandbox.run({"f.txt": str(i)}, ["python3", "-c", "print(open('f.txt').read())"])
            for i in range(20)
        ]
        results = await asyncio.gather(*runs)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(20)], "each run sees only its own files"
    assert list(tmp_path.iterdir()) == []


def test_local_sandbox_warns_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(local_module, "_warned", False)
    with pytest.warns(RuntimeWarning, match="weaker|no network"):
        LocalSandbox().close()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LocalSandbox().close()


@pytest.fixture
def no_engine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/absent.sock")


@pytest.mark.usefixtures("no_engine")
async def test_docker_asked_for_without_engine_fails_naming_the_fix() -> None:
    with pytest.raises(SandboxUnavailableError, match=r"no Docker engine answered.*start Docker"):
        async with open_sandbox(SandboxSettings(kind="docker", allow_local=True)):
            pass


@pytest.mark.usefixtures("no_engine")
async def test_auto_without_engine_refuses_unless_local_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SandboxUnavailableError, match="PONDER_SANDBOX_ALLOW_LOCAL"):
        async with open_sandbox(SandboxSettings(kind="auto")):
            pass
    monkeypatch.setattr(local_module, "_warned", False)
    with pytest.warns(RuntimeWarning, match="LocalSandbox"):
        async with open_sandbox(SandboxSettings(kind="auto", allow_local=True)) as sb:
            assert isinstance(sb, LocalSandbox)
            assert (await sb.run({}, ["python3", "-c", "print('ok')"])).stdout == "ok\n"


async def test_concurrency_is_bounded(tmp_path: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sandbox = LocalSandbox(max_concurrency=2, temp_root=tmp_path)
    nap = ["python3", "-c", "import time; time.sleep(0.5)"]
    async with sandbox:
        started = time.monotonic()
        await asyncio.gather(*(sandbox.run({}, nap) for _ in range(6)))
    assert time.monotonic() - started >= 3 * 0.5, "six half-second runs, two at a time, take >= 1.5 s"


def test_one_sandbox_serves_several_threads_and_event_loops(sandbox: LocalSandbox) -> None:
    outputs: dict[int, str] = {}

    def worker(n: int) -> None:
        result = asyncio.run(sandbox.run({"n.txt": str(n)}, ["python3", "-c", "print(open('n.txt').read())"]))
        outputs[n] = result.stdout

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outputs == {n: f"{n}\n" for n in range(4)}
