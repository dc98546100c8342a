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

Usage: ``python3 -I -B harness.py '<json spec>'``; see `ponder.sandbox.runner.HarnessSpec`.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import json
import os
import resource
import signal
import subprocess
import sys
import threading
import time
from typing import Any

PR_SET_DUMPABLE = 4
JUNIT_CAP = 8 * 1024 * 1024
READ_CHUNK = 65536
DRAIN_GRACE_S = 0.5
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


def run(spec: dict[str, Any]) -> dict[str, Any]:
    cmd = list(spec["cmd"])
    cwd = spec["cwd"]
    pass_fds: tuple[int, ...] = ()
    junit_reader = None
    if spec.get("junit"):
        read_fd, write_fd = os.pipe()
        cmd.append(f"--junitxml=/dev/fd/{write_fd}")
        pass_fds = (write_fd,)
        junit_reader = CappedReader(read_fd, JUNIT_CAP)
    started = time.monotonic()
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=spec["env"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=pass_fds,
            start_new_session=True,
            preexec_fn=_limiter(spec.get("rlimits", {})),
        )
    except OSError as exc:
        return {"exit_code": 127, "stdout": "", "stderr": f"cannot start {cmd[0]}: {exc.strerror}\n"}
    finally:
        for fd in pass_fds:
            os.close(fd)
    readers = [CappedReader(pipe.fileno(), spec["cap"]) for pipe in (proc.stdout, proc.stderr) if pipe]
    if junit_reader is not None:
        readers.append(junit_reader)
    for reader in readers:
        reader.start()
    timed_out = False
    try:
        exit_code = proc.wait(timeout=spec["timeout"])
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        exit_code = proc.wait()
    duration = time.monotonic() - started
    if exit_code < 0:  # killed by a signal: report it the way shells and `timeout` do
        exit_code = 128 - exit_code
    # Background processes left in the group may still hold the pipes open; they do not get to
    # keep the report waiting.
    _kill_group(proc.pid)
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
    if junit_reader is not None:
        xml, cut = junit_reader.result()
        report["junit"] = None if cut or not xml else xml.decode("utf-8", "replace")
        report["hashes"] = {p: _sha256(os.path.join(cwd, p)) for p in spec.get("hash", [])}
        report["config_files"] = _config_files(cwd)
    return report


def main() -> int:
    _no_dump()
    spec = json.loads(sys.argv[1])
    report = run(spec)
    sys.stdout.write(json.dumps(report))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
