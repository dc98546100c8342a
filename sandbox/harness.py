"""In-sandbox runner: runs one command and reports how it ended as one JSON document on stdout.

This file is copied into every sandbox and run with the sandbox's own ``python3 -I`` (3.11+), so it
uses the standard library only and never imports ponder.

Why a harness process at all: it is the only process holding the exec's stdout. The command (and
so the untrusted code) gets fresh pipes instead, so nothing the code prints can be mistaken for the
report: fake ``PASSED`` lines or a forged JSON document are just captured output. The harness makes
itself non-dumpable, which stops same-uid processes from ptracing it or opening its descriptors
through ``/proc``. The JUnit XML travels over a pipe the harness reads while pytest runs, so no file
for it ever exists where the code could pre-create, overwrite or replace it. Output is capped here,
inside the sandbox, so 100 MB of prints never crosses the Docker socket.

What it cannot do: pytest imports the code under test into its own process, so code that
deliberately rewrites pytest's in-memory reports can still lie in the XML. The host therefore
cross-checks the XML against pytest's exit code and the test-file hashes reported here (see
ponder.sandbox.junit), and the container is discarded after one run.

Speed: importing pytest costs more than a small test run, so a warm container also starts a
*zygote* (``harness.py --zygote``) that imports pytest and waits on an abstract unix socket (private
to the container's network namespace). A test run's harness hands it the spec and its pipe ends
(SCM_RIGHTS); the zygote forks one child for the run and reports its exit status, then exits. The
child gets exactly the pipes a subprocess would, so the trust argument above is unchanged; without
a zygote the harness starts pytest itself.

Usage: ``python3 -I -B harness.py '<json spec>'`` (see ponder.sandbox.runner.harness_spec) or
``python3 -I -B harness.py --zygote``.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import json
import os
import resource
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
JUNIT_CAP = 8 * 1024 * 1024
READ_CHUNK = 65536
DRAIN_GRACE_S = 0.5
KILL_WAIT_S = 5.0
ZYGOTE_ADDRESS = "\0ponder-zygote"
"""Abstract socket: private to the container's network namespace, no file anyone could replace."""
UNPACKER_ADDRESS = "\0ponder-unpacker"
ZYGOTE_WAIT_S = 3.0
"""How long a run waits for a zygote still importing pytest before starting pytest itself."""
CONFIG_NAMES = ("conftest.py", "pytest.ini", "tox.ini", "setup.cfg")


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


def _via_zygote(spec: dict[str, Any], out: int, err: int, junit: int | None) -> Child | None:
    """Hand the pytest run to this container's zygote (pytest already imported); None if there is none.

    The pipes travel as file descriptors over the zygote's socket, so the harness keeps the only
    copy of the exec's stdout exactly as with a subprocess.
    """
    conn = _connect(ZYGOTE_ADDRESS, ZYGOTE_WAIT_S)
    if conn is None:
        return None
    payload = json.dumps(spec).encode()
    fds = [out, err] if junit is None else [out, err, junit]
    socket.send_fds(conn, [len(payload).to_bytes(8, "big")], fds)
    conn.sendall(payload)
    reader = conn.makefile("rb")
    pid = int(reader.readline())

    def wait(timeout: float) -> int | None:
        conn.settimeout(timeout)
        try:
            line = reader.readline()
        except (TimeoutError, OSError):
            return None
        return int(line) if line.strip() else 137  # the zygote died: no status to trust

    return Child(pid, wait)


def zygote() -> int:
    """Serve one pytest run: import pytest now, fork a child for the run when a harness asks."""
    _no_dump()
    import pytest  # the expensive import this process exists to do ahead of time

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(ZYGOTE_ADDRESS)
    listener.listen(1)
    conn, _ = listener.accept()
    listener.close()
    head, fds, _flags, _addr = socket.recv_fds(conn, 8, 3)
    size = int.from_bytes(head, "big")
    payload = b""
    while len(payload) < size:
        payload += conn.recv(size - len(payload))
    spec = json.loads(payload)
    pid = os.fork()
    if pid == 0:
        conn.close()
        os.setsid()
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        _limiter(spec.get("rlimits", {}))()
        os.chdir(spec["cwd"])
        os.environ.clear()
        os.environ.update(spec["env"])
        sys.path.insert(0, spec["cwd"])
        args = spec["cmd"][spec["cmd"].index("pytest") + 1 :]
        if len(fds) > 2:
            args.append(f"--junitxml=/dev/fd/{fds[2]}")
        code = pytest.main(args)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(int(code))
    for fd in fds:
        os.close(fd)
    conn.sendall(f"{pid}\n".encode())
    _, status = os.waitpid(pid, 0)
    conn.sendall(f"{os.waitstatus_to_exitcode(status)}\n".encode())
    return 0


def _read_exactly(fd: int, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = os.read(fd, min(size - len(data), 1 << 20))
        if not chunk:
            raise OSError(f"stdin ended {size - len(data)} bytes early")
        data += chunk
    return data


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
            time.sleep(0.02)


def _untar(data: bytes, cwd: str) -> None:
    """Extract a host-made archive (paths already checked on the host), keeping its file modes."""
    if not data:
        return
    # Python >= 3.12 asks for an extraction filter; these archives are the host's own.
    trusted: dict[str, Any] = {"filter": "fully_trusted"} if hasattr(tarfile, "data_filter") else {}
    with tarfile.open(fileobj=io.BytesIO(data)) as archive:
        archive.extractall(cwd, **trusted)


def receive_files(cwd: str) -> str | None:
    """Unpack the run's files from stdin: ``<8-byte size><tests tar><sources tar>``.

    The tests go to the root unpacker (so they end up root-owned and read-only); it is always
    contacted, even with no tests, so it has exited before any untrusted code starts. The sources
    are extracted here, as the sandbox user. Returns an error message, or None.
    """
    try:
        tests = _read_exactly(0, int.from_bytes(_read_exactly(0, 8), "big"))
        conn = _connect(UNPACKER_ADDRESS, ZYGOTE_WAIT_S)
        if conn is None:
            return "the root unpacker did not answer"
        with conn:
            conn.sendall(len(tests).to_bytes(8, "big") + tests)
            answer = conn.makefile("rb").readline().decode(errors="replace").strip()
        if answer != "ok":
            return f"unpacking the tests failed: {answer or 'no answer'}"
        sources = b"".join(iter(lambda: os.read(0, 1 << 20), b""))
        _untar(sources, cwd)
    except (OSError, tarfile.TarError) as exc:
        return f"receiving the files failed: {exc}"
    return None


def unpacker(cwd: str) -> int:
    """Root side of `receive_files`: extract one tar of tests, keeping the archive's modes."""
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


def run(spec: dict[str, Any]) -> dict[str, Any]:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    junit_r, junit_w = os.pipe() if spec.get("junit") else (None, None)
    started = time.monotonic()
    try:
        child = _via_zygote(spec, out_w, err_w, junit_w) if spec.get("zygote") else None
        child = child or _spawn(spec, out_w, err_w, junit_w)
    except OSError as exc:
        return {"exit_code": 127, "stdout": "", "stderr": f"cannot start {spec['cmd'][0]}: {exc.strerror}\n"}
    finally:
        for fd in (out_w, err_w, junit_w):
            if fd is not None:
                os.close(fd)
    readers = [CappedReader(out_r, spec["cap"]), CappedReader(err_r, spec["cap"])]
    if junit_r is not None:
        readers.append(CappedReader(junit_r, JUNIT_CAP))
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
    return report


def main() -> int:
    if sys.argv[1:] == ["--zygote"]:
        return zygote()
    if sys.argv[1] == "--unpacker":
        return unpacker(sys.argv[2])
    _no_dump()
    spec = json.loads(sys.argv[1])
    problem = receive_files(spec["cwd"]) if spec.get("stdin_files") else None
    report = {"setup_error": problem} if problem else run(spec)
    sys.stdout.write(json.dumps(report))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
