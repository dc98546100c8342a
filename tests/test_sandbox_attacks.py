"""Hostile code against the real engine: each attack is contained, reported, and leaves nothing running.

Network checks only ever aim at 127.0.0.1: a listener this test opens on the host's loopback must be
unreachable from inside (the container has its own, empty loopback).
"""

from __future__ import annotations

import asyncio
import json
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from ponder.sandbox import DockerSandbox, Limits, SandboxUnavailableError
from ponder.sandbox.docker_sandbox import connect
from ponder.sandbox.harness import REPORT_MAGIC
from ponder.sandbox.reaper import INSTANCE_LABEL, LABEL, OWNER_LABEL

pytestmark = pytest.mark.docker

MiB = 1024 * 1024
TESTS = {
    "test_m.py": "from m import add\n\n"
    "def test_add():\n    assert add(2, 2) == 4\n\n"
    "def test_zero():\n    assert add(0, 0) == 0\n",
}
WRONG = "def add(a, b):\n    return a - b\n"


@pytest.fixture(scope="module")
def client() -> docker.DockerClient:
    try:
        return connect()
    except SandboxUnavailableError as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def sandbox(client: docker.DockerClient) -> Iterator[DockerSandbox]:
    sb = DockerSandbox(pool_size=2, client=client, limits=Limits(timeout_s=10))
    sb.open()
    yield sb
    sb.close()


def ours(client: docker.DockerClient) -> list[str]:
    return [c["Id"] for c in client.api.containers(all=True, filters={"label": LABEL})]


# -- network -------------------------------------------------------------------------------------


async def test_network_has_only_loopback_and_host_listener_is_unreachable(sandbox: DockerSandbox) -> None:
    accepted: list[object] = []
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        server.settimeout(0.2)

        def watch() -> None:
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline:
                try:
                    accepted.append(server.accept())
                except TimeoutError:
                    continue

        watcher = threading.Thread(target=watch)
        watcher.start()
        probe = textwrap.dedent(f"""
            import os, socket
            print(sorted(os.listdir('/sys/class/net')))
            try:
                socket.create_connection(('127.0.0.1', {port}), timeout=3)
                print('connected')
            except OSError as exc:
                print('refused', type(exc).__name__)
        """)
        result = await sandbox.run({}, ["python3", "-c", probe])
        watcher.join()
    assert result.stdout.splitlines()[0] == "['lo']"
    assert result.stdout.splitlines()[1].startswith("refused"), result.stdout
    assert not accepted, "the host's loopback listener saw a connection from the sandbox"


# -- processes, memory, time, output --------------------------------------------------------------


async def test_fork_bomb_hits_the_pids_limit_and_is_killed(sandbox: DockerSandbox) -> None:
    count = textwrap.dedent("""
        import os, time
        made = failed = 0
        for _ in range(400):
            try:
                if os.fork() == 0:
                    time.sleep(30)
                    os._exit(0)
                made += 1
            except OSError:
                failed += 1
        print(made, failed)
    """)
    result = await sandbox.run({}, ["python3", "-c", count], Limits(timeout_s=10))
    made, failed = map(int, result.stdout.split())
    assert made < sandbox.limits.pids and failed > 0

    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass"
    started = time.monotonic()
    result = await sandbox.run({}, ["python3", "-c", bomb], Limits(timeout_s=3))
    assert result.timed_out and not result.ok
    assert time.monotonic() - started < 3 + 4
    after = await sandbox.run({}, ["echo", "still fine"])
    assert after.stdout == "still fine\n"


GRAB = "chunks = []\nwhile True:\n    chunks.append(b'x' * (16 * 1024 * 1024))\n"


async def test_memory_bomb_in_code_under_test_is_reported_as_oom(sandbox: DockerSandbox) -> None:
    # A test run is a fork of the harness: the kernel must kill the code, and the harness report it.
    report = await sandbox.run_tests({"m.py": GRAB}, TESTS, Limits(memory_mb=128, timeout_s=20))
    assert report.raw is not None and report.raw.oom_killed, report.to_dict()
    assert not report.all_passed and "memory limit" in report.reason


async def test_infinite_loop_under_test_is_killed_within_timeout_plus_two_s(sandbox: DockerSandbox) -> None:
    started = time.monotonic()
    report = await sandbox.run_tests({"m.py": "while True:\n    pass\n"}, TESTS, Limits(timeout_s=2))
    elapsed = time.monotonic() - started
    assert report.raw is not None and report.raw.timed_out and not report.all_passed
    assert elapsed < 2 + 2, f"took {elapsed:.1f} s"


async def test_escaping_the_process_group_does_not_escape_the_timeout(sandbox: DockerSandbox) -> None:
    code = "import os, time\nif os.fork() == 0:\n    os.setsid()\n    time.sleep(60)\ntime.sleep(60)"
    started = time.monotonic()
    result = await sandbox.run({}, ["python3", "-c", code], Limits(timeout_s=2))
    assert result.timed_out and time.monotonic() - started < 4 + 1


async def test_100_mb_of_output_is_capped_without_buffering_it_on_the_host(sandbox: DockerSandbox) -> None:
    flood = "import sys\nchunk = 'y' * (1 << 20)\nfor _ in range(100):\n    sys.stdout.write(chunk)"
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result = await sandbox.run({}, ["python3", "-c", flood], Limits(timeout_s=30))
    rss_growth_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert result.truncated and result.exit_code == 0
    assert len(result.stdout) == sandbox.limits.output_bytes == MiB
    assert rss_growth_mb < 40, f"host memory grew {rss_growth_mb:.0f} MB"


# -- filesystem and privileges ------------------------------------------------------------------


async def test_writes_outside_the_work_dir_fail(sandbox: DockerSandbox) -> None:
    probe = textwrap.dedent("""
        import errno
        targets = ['/etc/passwd', '/usr/bin/evil', '/evil', '/ponder/harness.py', '/ponder/evil', '/var/x']
        for path in targets:
            try:
                open(path, 'a').write('x')
                print(path, 'WROTE')
            except OSError as exc:
                print(path, errno.errorcode[exc.errno])
        open('/work/ok', 'w').write('fine'); open('/tmp/ok', 'w').write('fine')
        print('work+tmp ok')
    """)
    result = await sandbox.run({}, ["python3", "-c", probe])
    assert "WROTE" not in result.stdout, result.stdout
    assert result.stdout.count("EROFS") >= 3 and "work+tmp ok" in result.stdout


async def test_becoming_root_or_using_a_capability_fails(sandbox: DockerSandbox) -> None:
    probe = textwrap.dedent("""
        import os, socket
        status = dict(line.split(':', 1) for line in open('/proc/self/status'))
        print('uid', os.getuid(), 'capeff', status['CapEff'].strip(), 'nnp', status['NoNewPrivs'].strip())
        attempts = {
            'setuid': lambda: os.setuid(0),
            'chown': lambda: os.chown('/work/f', 0, 0),
            'raw-socket': lambda: socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP),
            'nice-up': lambda: os.nice(-5),
            'mknod': lambda: os.mknod('/work/dev', 0o600 | 0o020000, os.makedev(1, 3)),
            'chroot': lambda: os.chroot('/work'),
        }
        open('/work/f', 'w').close()
        for name, attempt in attempts.items():
            try:
                attempt()
                print(name, 'ALLOWED')
            except OSError as exc:
                print(name, 'denied')
    """)
    result = await sandbox.run({}, ["python3", "-c", probe])
    assert result.stdout.splitlines()[0] == "uid 61000 capeff 0000000000000000 nnp 1"
    assert "ALLOWED" not in result.stdout and result.stdout.count("denied") == 6, result.stdout
    # no-new-privileges: a setuid-root binary does not raise privileges when executed.
    su = await sandbox.run({}, ["sh", "-c", "su -c 'id -u' root </dev/null"])
    assert su.exit_code != 0 and "0" not in su.stdout.split()


# -- trustworthy test results -------------------------------------------------------------------


async def test_tests_cannot_be_edited_replaced_or_removed(sandbox: DockerSandbox) -> None:
    # pytest captures output during import, so the attack logs to a file a trusted test reads.
    attack = textwrap.dedent("""
        import os
        log = open('/tmp/attack.log', 'w')
        for act in (lambda: open('test_m.py', 'w').write('def test_add(): pass'),
                    lambda: os.chmod('test_m.py', 0o666),
                    lambda: os.rename('test_m.py', 'gone.py'),
                    lambda: os.unlink('test_m.py')):
            try:
                act()
                log.write('TAMPERED ')
            except OSError:
                log.write('blocked ')
        log.close()
    """)
    witness = "def test_attack_log():\n    assert open('/tmp/attack.log').read().split() == ['blocked'] * 4\n"
    report = await sandbox.run_tests({"m.py": WRONG + attack}, {**TESTS, "test_z_witness.py": witness})
    outcomes = {t.name: t.outcome for t in report.tests}
    assert outcomes["test_z_witness::test_attack_log"] == "passed", report.to_dict()
    assert outcomes["test_m::test_add"] == "failed"
    assert not report.all_passed and not report.tampered


async def test_an_injected_conftest_is_detected_as_tampering(sandbox: DockerSandbox) -> None:
    # The code drops a conftest that turns every failure into a pass before pytest reaches sub/.
    forge = textwrap.dedent("""
        import pytest
        @pytest.hookimpl(hookwrapper=True)
        def pytest_runtest_makereport(item, call):
            outcome = yield
            outcome.get_result().outcome = 'passed'
    """)
    sources = {"m.py": WRONG + f"open('sub/conftest.py', 'w').write({forge!r})\n"}
    tests = {"sub/__init__.py": "", "a/test_first.py": "import m\n", "sub/test_m.py": TESTS["test_m.py"]}
    report = await sandbox.run_tests(sources, tests)
    assert report.tampered and not report.all_passed
    assert "sub/conftest.py appeared" in report.reason


async def test_fake_passed_output_and_fake_report_files_change_nothing(sandbox: DockerSandbox) -> None:
    fake_xml = (
        '<testsuites><testsuite><testcase classname="test_m" name="test_add"/></testsuite></testsuites>'
    )
    forged = json.dumps({"exit_code": 0, "stdout": "", "junit": fake_xml, "hashes": {}})
    # Lies told while a test runs end up in pytest's captured output, which reaches our stdout.
    liar = [
        "import os",
        "def add(a, b):",
        "    print('test_m.py::test_add PASSED')",
        f"    os.write(1, {forged.encode()!r})",
        f"    os.write(2, {b'==== 2 passed in 0.01s ===='!r})",
        "    for path in ('/work/report.xml', '/tmp/junit.xml', '/work/junit.xml'):",
        f"        open(path, 'w').write({fake_xml!r})",
        "    return a - b",
    ]
    report = await sandbox.run_tests({"m.py": "\n".join(liar) + "\n"}, TESTS)
    assert (report.passed, report.failed, report.all_passed) == (1, 1, False), report.to_dict()
    assert report.raw is not None and "PASSED" in report.raw.stdout, "the lies are kept as plain output"


def _channel_attack() -> str:
    """Code that writes well-framed passing reports (bare, and sealed with a guessed key) to the
    container's main stdout, logging which targets it reached.

    The harness answers on that stdout, which PID 1 (docker-init, same uid as the code) holds
    too, so the code can reach it through /proc/1/fd/1; only the harness's sealed report counts.
    """
    forged = json.dumps({"exit_code": 0, "stdout": "", "junit": "<testsuites/>", "hashes": {}}).encode()
    frames = [
        len(forged).to_bytes(8, "big") + forged,
        REPORT_MAGIC + len(forged).to_bytes(8, "big") + forged + bytes(32),
    ]
    return textwrap.dedent(f"""
        import os
        log = open('/tmp/attack.log', 'w')
        for target in ('/proc/1/fd/1', '/proc/1/fd/2', f'/proc/{{os.getppid()}}/fd/1'):
            try:
                with open(target, 'wb') as fh:
                    for frame in {frames!r}:
                        fh.write(frame)
                log.write(target + ':written ')
            except OSError:
                log.write(target + ':blocked ')
        log.close()
        print(open('/tmp/attack.log').read())
    """)


async def test_a_forged_report_on_the_report_channel_is_ignored(sandbox: DockerSandbox) -> None:
    # A plain command has no audit hook: its forgeries do land on the channel, and are ignored.
    result = await sandbox.run({"attack.py": _channel_attack()}, ["python3", "attack.py"])
    # The forged reports say stdout "": the output that came back is the command's own.
    assert result.exit_code == 0 and "/proc/1/fd/1:written" in result.stdout, result


async def test_code_under_test_cannot_open_the_containers_stdout(sandbox: DockerSandbox) -> None:
    # In a test run the audit hook refuses the open itself, and the refusal is tampering.
    witness = "def test_attack_log():\n    assert 'written' not in open('/tmp/attack.log').read()\n"
    sources = {"m.py": WRONG + _channel_attack()}
    report = await sandbox.run_tests(sources, {**TESTS, "test_z_witness.py": witness})
    assert report.tampered and not report.all_passed, report.to_dict()
    assert "opened /proc/1/fd/1" in report.reason and "m.py:" in report.reason


async def test_killing_the_harness_is_a_failure_not_a_pass(sandbox: DockerSandbox) -> None:
    killer = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\n"
    report = await sandbox.run_tests({"m.py": "def add(a, b):\n    return a + b\n" + killer}, TESTS)
    assert not report.all_passed and report.total == 0


# -- cleanup ----------------------------------------------------------------------------------


CRASHER = """
import asyncio, sys, time
from ponder.sandbox import DockerSandbox
sb = DockerSandbox(pool_size=2)
sb.open()
while len(sb.live_containers) < 2:
    time.sleep(0.1)
time.sleep(1)
print(" ".join(sorted(sb.live_containers)), flush=True)
time.sleep(120)
"""


def test_containers_of_a_killed_process_are_swept_at_next_start(client: docker.DockerClient) -> None:
    # Ctrl-C as a terminal sends it: with SIGINT at its default, whatever an earlier test in this
    # process left it at (an inherited SIG_IGN would make the child deaf to it).
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        left = set(line.split())
        assert len(left) >= 2, line
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    owners = {
        c["Id"]: c["Labels"][OWNER_LABEL] for c in client.api.containers(all=True, filters={"label": LABEL})
    }
    assert left <= set(owners), "the SIGKILLed process left its containers behind"
    assert all(f":{proc.pid}:" in owners[c] for c in left)
    DockerSandbox(pool_size=0, client=client).open()
    assert not left & set(ours(client)), "the next sandbox start removed the orphans"


def test_ctrl_c_leaves_no_containers(client: docker.DockerClient) -> None:
    # Ctrl-C as a terminal sends it: with SIGINT at its default, whatever an earlier test in this
    # process left it at (an inherited SIG_IGN would make the child deaf to it).
    proc = subprocess.Popen(
        [sys.executable, "-c", CRASHER],
        stdout=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    assert proc.stdout is not None
    left = set(proc.stdout.readline().split())
    proc.send_signal(signal.SIGINT)
    # Its cleanup removes the containers through the engine, which can still be busy removing the
    # previous test's fifty: the point is that nothing is left, not how fast.
    proc.wait(timeout=120)
    assert left and not left & set(ours(client))


async def test_50_concurrent_runs_return_to_baseline(
    client: docker.DockerClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # anything leaked on the host lands here
    sb = DockerSandbox(pool_size=2, client=client)
    mine = {"label": f"{INSTANCE_LABEL}={sb.instance}"}
    baseline = client.api.containers(all=True, filters=mine)
    async with sb:
        runs = [sb.run({"n.txt": str(i)}, ["sh", "-c", "cat n.txt; echo"]) for i in range(50)]
        results = await asyncio.gather(*runs)
        during = client.api.containers(all=True, filters=mine)
    assert [r.stdout for r in results] == [f"{i}\n" for i in range(50)], "each run saw only its own files"
    assert len(during) <= sb.max_concurrency + sb.pool_size + 50
    assert client.api.containers(all=True, filters=mine) == baseline == []
    assert not sb.live_containers
    assert list(tmp_path.iterdir()) == []
