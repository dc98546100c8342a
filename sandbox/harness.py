"""In-sandbox runner: runs one command and reports how it ended as one JSON document.

This file is copied into every sandbox and run with the sandbox's own ``python3 -I`` (3.11+), so it
uses the standard library only and never imports ponder.

Why a harness process at all: it is the only process holding the channel the report travels on.
The command (and so the untrusted code) gets fresh pipes instead, so nothing the code prints can be
mistaken for the report: fake ``PASSED`` lines or a forged JSON document are just captured output.
The harness makes itself non-dumpable, which stops same-uid processes from ptracing it or opening
its descriptors through ``/proc``. The JUnit XML travels over a pipe the harness reads while pytest
runs, so no file for it ever exists where the code could pre-create, overwrite or replace it. Output
is capped here, inside the sandbox, so 100 MB of prints never crosses the Docker socket.

What it cannot do: pytest imports the code under test into its own process, so code that
deliberately rewrites pytest's in-memory reports can still lie in the XML. The host therefore
cross-checks the XML against pytest's exit code and the test-file hashes reported here (see
ponder.sandbox.junit), and the container is discarded after one run.

Why one long file: it runs standalone in the container (``python3 -I -c <source>``), so it can
import nothing of ponder; what the test process adds lives in ``_integrity.py``, sent beside it.

Two ways in:

- ``harness.py '<json spec>'`` (LocalSandbox): the files are already in place; the report goes to
  stdout.
- ``harness.py --serve`` (DockerSandbox): the container's main process. It imports pytest while the
  container waits in the warm pool, then reads one length-prefixed request (report key, spec,
  tests tar, sources tar) from stdin, which the host writes over ``docker attach``, and answers
  with one report on stdout, sealed with that key (see SealKey). A test run is a fork of this
  process, so it skips pytest's import; any other command is spawned under ``timeout -k``. No
  ``docker exec`` is on the path of a run, which is what makes a warm run cheap. The tests go to a
  root *unpacker* (``--unpacker``, started by the host as a root exec) so they end up root-owned
  and read-only.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import hmac
import io
import json
import mmap
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from typing import Any

PR_SET_DUMPABLE = 4
JUNIT_FD = 3
"""Where a forked test run finds the JUnit pipe (0-2 are its stdio; everything above is closed)."""
INTEGRITY_FD = 4
"""Where it finds the integrity channel (see ponder.sandbox._integrity)."""
INTEGRITY_CAP = 4 * 1024 * 1024
JUNIT_CAP = 8 * 1024 * 1024
READ_CHUNK = 65536
DRAIN_GRACE_S = 0.5
KILL_WAIT_S = 5.0
REPORT_MAGIC = b"PONDER1\n"
"""Starts a sealed report frame on the container's stdout (see SealKey)."""
UNPACKER_ADDRESS = "\0ponder-unpacker"
"""Abstract socket: private to the container's network namespace, no file anyone could replace."""
UNPACKER_WAIT_S = 10.0
"""How long a run waits for the root unpacker to come up (it starts with the container)."""
CONFIG_NAMES = ("conftest.py", "pytest.ini", "tox.ini", "setup.cfg")
PYTEST_INI = "[pytest]\njunit_family = xunit2\n"
"""Passed with ``-c`` so pytest.ini/pyproject/setup.cfg among the sources cannot change pytest's config."""
OOM_COUNTERS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
"""cgroup v2 and v1 files with an ``oom_kill <count>`` line for the container's cgroup."""
OOM_SCORE_ADJ = "500"
"""The command's OOM score bias: when memory runs out, the kernel kills the code, not the harness."""


class CappedReader(threading.Thread):
    """Reads a pipe to its end, keeping the first `cap` bytes and counting the rest."""

    def __init__(self, fd: int, cap: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.cap = cap
        self.chunks: list[bytes] = []
        self.kept = 0
        self.seen = 0
        self.lock = threading.Lock()

    def run(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, READ_CHUNK)
                if not chunk:
                    return
                with self.lock:
                    self.seen += len(chunk)
                    room = self.cap - self.kept
                    if room > 0:
                        self.chunks.append(chunk[:room])
                        self.kept += min(room, len(chunk))
        except OSError:
            return

    def result(self) -> tuple[bytes, bool]:
        with self.lock:
            return b"".join(self.chunks), self.seen > self.cap


def _no_dump() -> None:
    # Not Linux: LocalSandbox on another OS still runs, with weaker guarantees.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)


def _limiter(rlimits: dict[str, int]) -> Any:
    def apply() -> None:
        for name, value in rlimits.items():
            res = getattr(resource, f"RLIMIT_{name}")
            _soft, hard = resource.getrlimit(res)
            value = value if hard == resource.RLIM_INFINITY else min(value, hard)
            resource.setrlimit(res, (value, value))

    return apply


def _sha256(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return hashlib.sha256(fh.read()).hexdigest()
    except OSError:
        return None


def _config_files(root: str) -> list[str]:
    """Every pytest config/conftest file under `root`: the host flags the ones it did not send."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            if name in CONFIG_NAMES:
                found.append(os.path.relpath(os.path.join(folder, name), root))
    return sorted(found)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


class Child:
    """The running command: its pid (a session leader) and how to wait for its exit status."""

    def __init__(self, pid: int, wait: Callable[[float], int | None]) -> None:
        self.pid = pid
        self.wait = wait
        """Exit status within `timeout` seconds, or None if it is still running."""


def _spawn(spec: dict[str, Any], out: int, err: int, junit: int | None) -> Child:
    cmd = list(spec["cmd"])
    if junit is not None:
        cmd.append(f"--junitxml=/dev/fd/{junit}")
    proc = subprocess.Popen(
        cmd,
        cwd=spec["cwd"],
        env=spec["env"],
        stdin=subprocess.DEVNULL,
        stdout=out,
        stderr=err,
        pass_fds=() if junit is None else (junit,),
        start_new_session=True,
        preexec_fn=_limiter(spec.get("rlimits", {})),
    )

    def wait(timeout: float) -> int | None:
        try:
            return proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    return Child(proc.pid, wait)


def _asyncio_args() -> list[str]:
    """Run `async def` tests where the image has pytest-asyncio (plugins do not autoload here):
    in auto mode, as a project that has them would configure it; without it they are skipped."""
    import importlib.util

    if importlib.util.find_spec("pytest_asyncio") is None:
        return []
    return ["-p", "pytest_asyncio.plugin", "-o", "asyncio_mode=auto"]


def _fork_pytest(
    spec: dict[str, Any], out: int, err: int, junit: int | None, integrity: int | None = None
) -> Child:
    """Run pytest in a fork of this process, which imported it while the container waited.

    The child gets exactly what a spawned process would: /dev/null, the capture pipes, the JUnit
    pipe and the integrity channel, nothing else (the report channel and every other descriptor
    are closed), its own session, the rlimits, and a raised OOM score so that the kernel picks
    it, not the harness. The integrity layers (audit hook, canaries, snapshot, plain-data
    comparison) are installed before pytest imports a single test module.
    """
    import pytest  # already imported by serve(); a no-op lookup here

    checks = _load_integrity() if integrity is not None else None
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 70
        try:
            os.setsid()
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(out, 1)
            os.dup2(err, 2)
            if junit is not None:
                os.dup2(junit, JUNIT_FD)
            if integrity is not None:
                os.dup2(integrity, INTEGRITY_FD)
            os.closerange(INTEGRITY_FD + 1 if integrity is not None else JUNIT_FD + 1, 1 << 16)
            _raise_oom_score()
            _limiter(spec.get("rlimits", {}))()
            os.chdir(spec["cwd"])
            os.environ.clear()
            os.environ.update(spec["env"])
            sys.path.insert(0, spec["cwd"])
            for i, root in enumerate(spec.get("pythonpath", [])):
                sys.path.insert(1 + i, os.path.join(spec["cwd"], root))
            args = spec["cmd"][spec["cmd"].index("pytest") + 1 :]
            args += _asyncio_args()
            if junit is not None:
                args.append(f"--junitxml=/dev/fd/{JUNIT_FD}")
            plugins = []
            if checks is not None:
                args += ["-p", "no:debugging"]  # its pytestPDB class holds the config in a global
                plugins.append(
                    checks.install(
                        cwd=spec["cwd"],
                        test_paths=spec.get("hash", []),
                        seed=bytes.fromhex(spec["canary_seed"]),
                        allowed=spec.get("allowed", []),
                        fd=INTEGRITY_FD,
                        test_timeout_s=spec.get("test_timeout_s"),
                        coverage=bool(spec.get("coverage")),
                    )
                )
            code = int(pytest.main(args, plugins=plugins))
            sys.stdout.flush()
            sys.stderr.flush()
        finally:
            os._exit(code)

    def wait(timeout: float) -> int | None:
        return _wait_pid(pid, timeout)

    return Child(pid, wait)


def _wait_pid(pid: int, timeout: float) -> int | None:
    """Exit status of our child `pid` within `timeout` seconds (a pidfd, so no polling), else None."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:  # gone already, or a kernel without pidfd: fall back to polling
        pidfd = None
    try:
        deadline = time.monotonic() + timeout
        while True:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                return os.waitstatus_to_exitcode(status)
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            if pidfd is not None:
                select.select([pidfd], [], [], left)
            else:
                time.sleep(min(left, 0.01))
    finally:
        if pidfd is not None:
            os.close(pidfd)


def _raise_oom_score() -> None:
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as fh:
        fh.write(OOM_SCORE_ADJ)


def _oom_kills() -> int:
    """OOM kills so far in this container's memory cgroup (the kernel's count; the code cannot fake it)."""
    for path in OOM_COUNTERS:
        try:
            with open(path) as fh:
                for line in fh:
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and value.strip().isdigit():
                        return int(value)
        except OSError:
            continue
    return 0


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, min(size - len(data), 1 << 20))
        if not chunk:
            raise OSError(f"input ended {size - len(data)} bytes early")
        data += chunk
    return data


def read_block(fd: int) -> bytes:
    """One ``<8-byte big-endian size><payload>`` block: the framing of every serve() message."""
    return _read_exactly(fd, int.from_bytes(_read_exactly(fd, 8), "big"))


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _connect(address: str, wait_s: float) -> socket.socket | None:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            conn.connect(address)
            return conn
        except OSError:
            if time.monotonic() > deadline:
                conn.close()
                return None
            time.sleep(0.005)


def _untar(data: bytes, cwd: str) -> None:
    """Extract a host-made archive (paths already checked on the host), keeping its file modes."""
    if not data:
        return
    # Python >= 3.12 asks for an extraction filter; these archives are the host's own.
    trusted: dict[str, Any] = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(cwd, **trusted)


def receive_files(cwd: str, tests: bytes, sources: bytes) -> str | None:
    """Put a run's files in place: tests through the root unpacker, sources extracted here.

    The unpacker is always contacted, even with no tests, so it has exited before any untrusted
    code starts. The sources are extracted as the sandbox user. Returns an error message, or None.
    """
    try:
        conn = _connect(UNPACKER_ADDRESS, UNPACKER_WAIT_S)
        if conn is None:
            return "the root unpacker did not answer"
        with conn:
            conn.sendall(len(tests).to_bytes(8, "big") + tests)
            answer = conn.makefile("rb").readline().decode(errors="replace").strip()
        if answer != "ok":
            return f"unpacking the tests failed: {answer or 'no answer'}"
        _untar(sources, cwd)
    except (OSError, tarfile.TarError) as exc:
        return f"receiving the files failed: {exc}"
    return None


def unpacker(cwd: str, ini_path: str) -> int:
    """Root side of `receive_files`: write pytest's config, then extract one tar of tests."""
    with open(ini_path, "w") as fh:
        fh.write(PYTEST_INI)
    os.chmod(ini_path, 0o444)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(UNPACKER_ADDRESS)
    listener.listen(1)
    conn, _ = listener.accept()
    listener.close()
    with conn:
        size = int.from_bytes(conn.recv(8, socket.MSG_WAITALL), "big")
        data = conn.recv(size, socket.MSG_WAITALL) if size else b""
        try:
            _untar(data, cwd)
        except (OSError, tarfile.TarError) as exc:
            conn.sendall(f"{exc}".replace("\n", " ").encode()[:500] + b"\n")
            return 1
        conn.sendall(b"ok\n")
    return 0


def run(spec: dict[str, Any], fork: bool = False) -> dict[str, Any]:
    """Run the spec's command (a pytest run as a fork of this process when `fork`), capped and timed."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    junit_r, junit_w = os.pipe() if spec.get("junit") else (None, None)
    checked = fork and "pytest" in spec["cmd"] and "canary_seed" in spec
    integrity_r, integrity_w = os.pipe() if checked else (None, None)
    started = time.monotonic()
    try:
        if fork and "pytest" in spec["cmd"]:
            child = _fork_pytest(spec, out_w, err_w, junit_w, integrity_w)
        else:
            child = _spawn(spec, out_w, err_w, junit_w)
    except OSError as exc:
        return {"exit_code": 127, "stdout": "", "stderr": f"cannot start {spec['cmd'][0]}: {exc.strerror}\n"}
    finally:
        for fd in (out_w, err_w, junit_w, integrity_w):
            if fd is not None:
                os.close(fd)
    readers = [CappedReader(out_r, spec["cap"]), CappedReader(err_r, spec["cap"])]
    if junit_r is not None:
        readers.append(CappedReader(junit_r, JUNIT_CAP))
    if integrity_r is not None:
        readers.append(CappedReader(integrity_r, INTEGRITY_CAP))
    for reader in readers:
        reader.start()
    timed_out = False
    exit_code = child.wait(max(0.0, spec["timeout"] - (time.monotonic() - started)))
    if exit_code is None:
        timed_out = True
        _kill_group(child.pid)
        exit_code = child.wait(KILL_WAIT_S)
        exit_code = -signal.SIGKILL if exit_code is None else exit_code
    duration = time.monotonic() - started
    if exit_code < 0:  # killed by a signal: report it the way shells and `timeout` do
        exit_code = 128 - exit_code
    # Background processes left in the group may still hold the pipes open; they do not get to
    # keep the report waiting.
    _kill_group(child.pid)
    deadline = time.monotonic() + DRAIN_GRACE_S
    for reader in readers:
        reader.join(max(0.0, deadline - time.monotonic()))
    (out, out_cut), (err, err_cut) = readers[0].result(), readers[1].result()
    report: dict[str, Any] = {
        "exit_code": exit_code,
        "stdout": out.decode("utf-8", "replace"),
        "stderr": err.decode("utf-8", "replace"),
        "truncated": out_cut or err_cut,
        "timed_out": timed_out,
        "duration_s": duration,
    }
    if junit_r is not None:
        xml, cut = readers[2].result()
        report["junit"] = None if cut or not xml else xml.decode("utf-8", "replace")
        report["hashes"] = {p: _sha256(os.path.join(spec["cwd"], p)) for p in spec.get("hash", [])}
        report["config_files"] = _config_files(spec["cwd"])
    if integrity_r is not None:
        record, cut = readers[-1].result()
        report["integrity"] = None if cut else record.decode("utf-8", "replace")
    return report


def _preload_pytest() -> bool:
    """Import pytest and its built-in plugins now, so a test run only has to fork."""
    try:
        import importlib

        import _pytest.config
        import pytest  # noqa: F401

        for name in _pytest.config.default_plugins:
            with contextlib.suppress(ImportError):
                importlib.import_module(f"_pytest.{name}")
    except ImportError:
        return False
    return True


class SealKey:
    """The run's report key, held where no fork of this process can see it.

    The report travels on the container's main stdout, and PID 1 (docker-init) holds that pipe too.
    docker-init runs as the code's uid and is dumpable, so the code can open ``/proc/1/fd/1`` and
    write a forged report of its own. The host therefore sends a fresh random key with each request
    and accepts only a report sealed with it (HMAC-SHA256). The key is read straight into a mapping
    marked MADV_DONTFORK: a test run forked from this process does not inherit it, and this process
    is non-dumpable, so its memory cannot be read through ``/proc``. A spawned command starts from
    a fresh image and never had it.
    """

    def __init__(self, fd: int) -> None:
        size = int.from_bytes(_read_exactly(fd, 8), "big")
        if not 16 <= size <= 64:
            raise ValueError(f"a report key of {size} bytes")
        self._map = mmap.mmap(-1, mmap.PAGESIZE)
        self._map.madvise(mmap.MADV_DONTFORK)
        view = memoryview(self._map)[:size]
        got = 0
        while got < size:
            n = os.readv(fd, [view[got:]])
            if not n:
                raise OSError("input ended inside the report key")
            got += n
        view.release()
        self._size = size

    def seal(self, payload: bytes) -> bytes:
        """``MAGIC, size, payload, HMAC(key, payload)``: the only frame the host accepts."""
        mac = hmac.new(self._map[: self._size], payload, hashlib.sha256).digest()
        return REPORT_MAGIC + len(payload).to_bytes(8, "big") + payload + mac


def serve() -> int:
    """The container's main process: wait for one request on stdin, answer it on stdout, exit."""
    _no_dump()
    fork = _preload_pytest()
    if fork:
        _load_integrity()  # ~10 ms that no run then waits for
    try:
        key = SealKey(0)
        spec = json.loads(read_block(0))
        tests, sources = read_block(0), read_block(0)
    except (OSError, ValueError):
        return 1  # the host went away before sending a whole request
    problem = receive_files(spec["cwd"], tests, sources)
    report: dict[str, Any] = {"setup_error": problem} if problem else run(spec, fork=fork)
    report["oom_kills"] = _oom_kills()
    _write_all(1, key.seal(json.dumps(report).encode()))
    return 0


_integrity_source: list[str] = []
"""ponder.sandbox._integrity's source, from argv (this file runs standalone, so it cannot import it)."""
_integrity_module: list[Any] = []
"""The compiled module, once per process (serve() compiles it while the container waits)."""


def _load_integrity() -> Any:
    """The integrity module, compiled under a name no file in the work dir can have.

    It is registered in sys.modules only while it executes (dataclasses look their module up),
    so the code under test finds no module of that name to patch, and it gets a private copy of
    the builtins, taken before any code under test ran.
    """
    import builtins
    import types

    if _integrity_module:
        return _integrity_module[0]
    module = types.ModuleType("ponder_integrity")
    module.__dict__["__builtins__"] = dict(vars(builtins))  # its own: rebinding `vars` elsewhere is moot
    sys.modules[module.__name__] = module
    try:
        exec(compile(_integrity_source[0], "<ponder-integrity>", "exec"), module.__dict__)
    finally:
        del sys.modules[module.__name__]
    _integrity_module.append(module)
    return module


def main() -> int:
    if sys.argv[1] == "--serve":
        _integrity_source.append(sys.argv[2])
        return serve()
    if sys.argv[1] == "--unpacker":
        return unpacker(sys.argv[2], sys.argv[3])
    _no_dump()
    _integrity_source.append(sys.argv[2])
    report = run(json.loads(sys.argv[1]), fork=True)
    sys.stdout.write(json.dumps(report))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
