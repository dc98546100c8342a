"""LocalSandbox (real subprocesses through the shared harness) and how open_sandbox chooses.

What every sandbox shows (runs, limits, per-test reports) is in tests/contracts/test_sandbox_contract.py.
"""

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


async def test_rewriting_a_test_file_is_detected(sandbox: LocalSandbox) -> None:
    # Here the code runs as the host user and could edit the file; the hash check catches it.
    rewrite = (
        "import os\nos.chmod('test_m.py', 0o644)\nopen('test_m.py', 'w').write('def test_add(): pass')\n"
    )
    report = await sandbox.run_tests({"m.py": SOURCE_BAD + rewrite}, TESTS)
    assert report.tampered and not report.all_passed and "test_m.py was modified" in report.reason


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
