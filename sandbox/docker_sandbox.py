"""Hardened, single-use Docker containers for untrusted code.

Each run gets a container nobody used before (from the warm pool when its limits match the
pool's), and the container is removed right after. Inside, files arrive as a tar over ``docker exec``
stdin (``put_archive`` cannot write into a read-only root filesystem), the command runs as an
unprivileged uid under the harness, and three kill layers bound it: the harness's own timer,
``timeout -k`` around the harness, and a host deadline that kills the container.

Test files are extracted by a separate root exec, read-only and owned by root inside sticky
directories, so the code (uid 61000, no capabilities) can neither edit, replace nor delete them;
the harness re-hashes them after the run anyway and the host compares.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math
import socket
import struct
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.types import LogConfig, Ulimit

from ponder.sandbox import reaper
from ponder.sandbox.errors import SandboxConfigError, SandboxError, SandboxUnavailableError
from ponder.sandbox.files import tar_bytes
from ponder.sandbox.pool import WarmPool
from ponder.sandbox.runner import (
    HARNESS_SOURCE,
    KILL_GRACE_S,
    PYTEST_INI,
    harness_spec,
    parse_harness,
    pytest_command,
    report_cap,
)
from ponder.sandbox.settings import DEFAULT_IMAGE, SandboxSettings
from ponder.sandbox.threaded import ThreadedSandbox
from ponder.sandbox.types import ExecResult, Limits, MiB

SANDBOX_UID = 61000
"""The code's uid: not root, and unlikely to own anything on the host (RLIMIT_NPROC counts per uid)."""
WORKDIR = "/work"
HARNESS_DIR = "/ponder"
HARNESS = f"{HARNESS_DIR}/harness.py"
HOST_GRACE_S = 2.0
"""Seconds past the run's timeout before the host kills the container (the inner layers come first)."""
START_TIMEOUT_S = 60.0
NOFILE = 1024
NPROC = 4096
SIGKILL_EXIT = 137
OOM_COUNTERS = ("/sys/fs/cgroup/memory.events", "/sys/fs/cgroup/memory/memory.oom_control")
"""cgroup v2 and v1 files with an ``oom_kill <count>`` line; cat skips the one that does not exist."""
CPU_SECONDS_CAP = 3600
"""Container-wide RLIMIT_CPU backstop; each run gets its own tighter limit from the harness."""


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    """What a container is started with; runs whose limits match can use a pre-started one."""

    image: str
    memory_mb: int
    pids: int
    cpus: float
    tmpfs_mb: int
    file_size_mb: int
    runtime: str | None = None

    @classmethod
    def for_limits(cls, image: str, limits: Limits, runtime: str | None) -> ContainerSpec:
        return cls(
            image=image,
            memory_mb=limits.memory_mb,
            pids=limits.pids,
            cpus=limits.cpus,
            tmpfs_mb=limits.tmpfs_mb,
            file_size_mb=limits.file_size_mb,
            runtime=runtime,
        )

    def create_kwargs(self, labels: dict[str, str]) -> dict[str, Any]:
        """Arguments for ``containers.create``: every hardening default lives here."""
        tmpfs_opts = f"rw,nosuid,nodev,size={self.tmpfs_mb}m,mode=1777"
        return {
            "image": self.image,
            "command": ["sleep", "infinity"],
            "user": f"{SANDBOX_UID}:{SANDBOX_UID}",
            "environment": {"HOME": "/tmp", "LANG": "C.UTF-8"},
            "network_mode": "none",
            "read_only": True,
            "tmpfs": {
                "/tmp": tmpfs_opts,
                WORKDIR: tmpfs_opts,
                HARNESS_DIR: "rw,nosuid,nodev,noexec,size=8m,mode=755",
            },
            "cap_drop": ["ALL"],
            "security_opt": ["no-new-privileges:true"],
            "pids_limit": self.pids,
            "mem_limit": f"{self.memory_mb}m",
            "memswap_limit": f"{self.memory_mb}m",
            "nano_cpus": int(self.cpus * 1e9),
            "ulimits": [
                Ulimit(name="nofile", soft=NOFILE, hard=NOFILE),
                Ulimit(name="nproc", soft=NPROC, hard=NPROC),
                Ulimit(name="fsize", soft=self.file_size_mb * MiB, hard=self.file_size_mb * MiB),
                Ulimit(name="core", soft=0, hard=0),
                Ulimit(name="cpu", soft=CPU_SECONDS_CAP, hard=CPU_SECONDS_CAP),
            ],
            "init": True,
            "log_config": LogConfig(type=LogConfig.types.NONE),
            "labels": labels,
            "runtime": self.runtime,
            "detach": True,
        }


@dataclass(slots=True)
class _Exec:
    exit_code: int
    stdout: bytes
    stderr: bytes
    killed: bool
    """The host deadline fired and the container was killed."""


class DockerSandbox(ThreadedSandbox):
    """Runs code in fresh hardened containers, with a warm pool for speed.

    Example:
        async with DockerSandbox(pool_size=2) as sb:
            report = await sb.run_tests({"m.py": src}, {"test_m.py": tests})
            report.all_passed, report.first_failure()

    Args:
        image: needs python3 with pytest, numpy, pandas (`ponder sandbox build-image`).
        pool_size: containers kept started for runs with the default `limits`.
        runtime: e.g. "runsc" (gVisor), which must be registered with the engine; "auto" uses runsc
            when registered and the engine's default otherwise.
        client: a docker client; default from the environment (DOCKER_HOST).
    """

    name = "docker"

    def __init__(
        self,
        *,
        image: str = DEFAULT_IMAGE,
        pool_size: int = 2,
        max_concurrency: int | None = None,
        runtime: str | None = None,
        limits: Limits | None = None,
        client: docker.DockerClient | None = None,
    ) -> None:
        super().__init__(limits=limits, max_concurrency=max_concurrency)
        self.image = image
        self.runtime = runtime
        self.pool_size = pool_size
        self._client = client
        self._spec = ContainerSpec.for_limits(image, self.limits, runtime)
        self._pool: WarmPool | None = None
        self._live: set[str] = set()
        self._live_lock = threading.Lock()
        self.instance = uuid.uuid4().hex[:16]
        """Value of the instance label on every container this sandbox creates."""

    @classmethod
    def from_settings(
        cls,
        settings: SandboxSettings,
        *,
        limits: Limits | None = None,
        client: docker.DockerClient | None = None,
    ) -> DockerSandbox:
        return cls(
            client=client,
            image=settings.image,
            pool_size=settings.pool_size,
            max_concurrency=settings.max_concurrency,
            runtime=settings.runtime,
            limits=limits,
        )

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = connect(max_pool_size=self.max_concurrency + 4)
        return self._client

    @property
    def live_containers(self) -> set[str]:
        """Ids of containers this sandbox created and has not removed yet."""
        with self._live_lock:
            return set(self._live)

    @property
    def pool_ready(self) -> int:
        """Warm containers waiting for a run (0 without a pool)."""
        return self._pool.ready if self._pool is not None else 0

    # -- lifecycle -------------------------------------------------------------------------------

    def _open(self) -> None:
        client = self.client
        try:
            client.api.inspect_image(self.image)
        except ImageNotFound:
            raise SandboxUnavailableError(
                f"sandbox image {self.image} not found in the Docker engine at {client.api.base_url}; "
                "build it with `ponder sandbox build-image`"
            ) from None
        if self.runtime:
            runtimes = sorted(client.info().get("Runtimes", {}))
            if self.runtime == "auto":  # gVisor when the engine has it, the engine's default otherwise
                self.runtime = "runsc" if "runsc" in runtimes else None
                self._spec = ContainerSpec.for_limits(self.image, self.limits, self.runtime)
            elif self.runtime not in runtimes:
                raise SandboxConfigError(
                    f"container runtime {self.runtime!r} is not registered with the Docker engine "
                    f"(has: {', '.join(runtimes)}); install it (gVisor: `runsc install`) "
                    "or unset sandbox.runtime"
                )
        reaper.sweep_orphans(client)
        reaper.register(self)
        if self.pool_size > 0:
            self._pool = WarmPool(self._start_container, self._remove, self.pool_size)
            self._pool.fill()

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        for container_id in self.live_containers:
            self._remove(container_id)

    # -- containers ------------------------------------------------------------------------------

    def _start_container(self, spec: ContainerSpec | None = None) -> str:
        """Create, start and prepare (harness copied in) one container; returns its id."""
        kwargs = (spec or self._spec).create_kwargs(reaper.labels(self.instance))
        try:
            container = self.client.containers.create(**kwargs)
        except ImageNotFound:
            raise SandboxUnavailableError(
                f"sandbox image {kwargs['image']} vanished; rebuild it with `ponder sandbox build-image`"
            ) from None
        except APIError as exc:
            raise SandboxError(f"creating a sandbox container from {kwargs['image']} failed: {exc}") from exc
        with self._live_lock:
            self._live.add(container.id)
        try:
            container.start()
            prep = tar_bytes({"harness.py": HARNESS_SOURCE, "pytest.ini": PYTEST_INI}, file_mode=0o444)
            untar = ["tar", "-x", "-C", HARNESS_DIR, "-f", "-"]
            done = self._exec(container.id, untar, "0:0", prep, START_TIMEOUT_S)
            if done.exit_code != 0:
                why = done.stderr.decode(errors="replace").strip()
                raise SandboxError(f"preparing sandbox container {container.id[:12]} failed: {why}")
            # Helpers that wait for the run, off its latency path: the root unpacker writes the
            # tests (root-owned), the zygote imports pytest so a test run only has to fork.
            helpers = ((["--unpacker", WORKDIR], "0:0"), (["--zygote"], f"{SANDBOX_UID}:{SANDBOX_UID}"))
            for args, user in helpers:
                exec_id = self.client.api.exec_create(
                    container.id, ["python3", "-I", "-B", HARNESS, *args], user=user
                )
                self.client.api.exec_start(exec_id["Id"], detach=True)
        except (DockerException, SandboxError):
            self._remove(container.id)
            raise
        return str(container.id)

    def _remove(self, container_id: str) -> None:
        with contextlib.suppress(NotFound):
            self.client.api.remove_container(container_id, force=True)
        with self._live_lock:
            self._live.discard(container_id)

    def _acquire(self, limits: Limits) -> str:
        spec = ContainerSpec.for_limits(self.image, limits, self.runtime)
        if spec == self._spec and self._pool is not None and (warm := self._pool.take()):
            return warm
        return self._start_container(spec)

    def _discard(self, container_id: str) -> None:
        if self._pool is not None:
            self._pool.discard(container_id)
        else:
            self._remove(container_id)

    # -- runs ------------------------------------------------------------------------------------

    def _execute(
        self, files: dict[str, bytes], command: list[str], limits: Limits, tests: dict[str, bytes] | None
    ) -> tuple[ExecResult, dict[str, Any]]:
        container_id = self._acquire(limits)
        started = time.monotonic()
        try:
            # Tests travel to the root unpacker: root-owned, 0444, in sticky 1777 dirs the code can
            # add files to but not replace or remove them.
            tests_tar = tar_bytes(tests, file_mode=0o444, dir_mode=0o1777) if tests else b""
            stdin = len(tests_tar).to_bytes(8, "big") + tests_tar + tar_bytes(files)
            if tests is not None:
                command = pytest_command("python3", f"{HARNESS_DIR}/pytest.ini", command)
            spec = harness_spec(
                command,
                limits,
                cwd=WORKDIR,
                junit=tests is not None,
                hash_paths=sorted(tests or {}),
                zygote=tests is not None,
                stdin_files=True,
            )
            inner = math.ceil(limits.timeout_s + KILL_GRACE_S)
            argv = ["timeout", "-k", "1", str(inner), "python3", "-I", "-B", HARNESS, spec]
            done = self._exec(
                container_id,
                argv,
                f"{SANDBOX_UID}:{SANDBOX_UID}",
                stdin,
                limits.timeout_s + HOST_GRACE_S,
                cap=report_cap(limits),
            )
            result, report = parse_harness(
                done.stdout,
                exit_code=done.exit_code,
                wall_s=time.monotonic() - started,
                limits=limits,
                oom_killed=False,
                host_killed=done.killed,
                stderr=done.stderr,
            )
            if result.exit_code == SIGKILL_EXIT and not result.timed_out:
                result.oom_killed = self._oom_killed(container_id)
        finally:
            self._discard(container_id)
        return result, report

    def _oom_killed(self, container_id: str) -> bool:
        """Whether the kernel's OOM killer struck in this container.

        ``State.OOMKilled`` is the engine's word, but some engines (Docker 20.10 on cgroup v1) only
        set it when the container's main process dies, so the cgroup's own ``oom_kill`` counter is
        read too. Only asked after a SIGKILL, so normal runs pay nothing for it.
        """
        try:
            if self.client.api.inspect_container(container_id)["State"].get("OOMKilled"):
                return True
        except NotFound:
            return False
        done = self._exec(container_id, ["cat", *OOM_COUNTERS], "0:0", b"", START_TIMEOUT_S)
        counters = done.stdout.decode(errors="replace").split()
        return any(k == "oom_kill" and v.isdigit() and int(v) > 0 for k, v in itertools.pairwise(counters))

    def _exec(
        self, container_id: str, cmd: list[str], user: str, stdin: bytes, timeout_s: float, cap: int = MiB
    ) -> _Exec:
        """One ``docker exec`` fed `stdin`, read until it ends or the deadline kills the container."""
        api = self.client.api
        deadline = time.monotonic() + timeout_s
        exec_id = api.exec_create(container_id, cmd, stdin=True, user=user, workdir=WORKDIR)["Id"]
        stream = api.exec_start(exec_id, socket=True)
        sock: socket.socket = getattr(stream, "_sock", stream)
        killed = False
        try:
            sock.settimeout(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it may end unread
                sock.sendall(stdin)
                sock.shutdown(socket.SHUT_WR)
            out, err = _read_frames(sock, deadline, cap)
        except (TimeoutError, OSError):
            killed = True
            with contextlib.suppress(DockerException):
                api.kill(container_id)
            out, err = b"", b""
        finally:
            stream.close()
        return _Exec(exit_code=self._exit_code(exec_id, killed), stdout=out, stderr=err, killed=killed)

    def _exit_code(self, exec_id: str, killed: bool) -> int:
        for _ in range(50):
            try:
                info = self.client.api.exec_inspect(exec_id)
            except NotFound:
                return 137
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            if killed:
                return 137
            time.sleep(0.01)
        return 137


def _read_frames(sock: socket.socket, deadline: float, cap: int) -> tuple[bytes, bytes]:
    """Demultiplex Docker's stream frames (8-byte header), keeping at most `cap` bytes per stream."""
    kept: dict[int, list[bytes]] = {1: [], 2: []}
    sizes = {1: 0, 2: 0}
    buf = b""
    while True:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        if time.monotonic() > deadline:
            raise TimeoutError("exec deadline passed")
        chunk = sock.recv(1 << 16)
        if not chunk:
            break
        buf += chunk
        while len(buf) >= 8:
            stream, size = struct.unpack(">BxxxL", buf[:8])
            if len(buf) < 8 + size:
                break
            payload, buf = buf[8 : 8 + size], buf[8 + size :]
            if stream in kept and sizes[stream] < cap:
                kept[stream].append(payload[: cap - sizes[stream]])
                sizes[stream] += len(kept[stream][-1])
    return b"".join(kept[1]), b"".join(kept[2])


def connect(max_pool_size: int = 10, timeout_s: float = 60.0) -> docker.DockerClient:
    """A client for the engine in DOCKER_HOST (or the default socket) that has answered a ping.

    Raises:
        SandboxUnavailableError: no engine answered; the message says where it looked.
    """
    try:
        client = docker.from_env(max_pool_size=max_pool_size, timeout=int(timeout_s))
        client.ping()
    except DockerException as exc:
        raise SandboxUnavailableError(
            f"no Docker engine answered ({_short(exc)}); start Docker or point DOCKER_HOST at it, "
            "or set sandbox.kind=local with allow_local for the weaker subprocess sandbox"
        ) from exc
    return client


def _short(exc: Exception) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text if len(text) < 200 else text[:197] + "..."


def engine_summary(client: docker.DockerClient) -> dict[str, Any]:
    """What doctor prints about the engine."""
    info = client.info()
    return {
        "server_version": info.get("ServerVersion"),
        "runtimes": sorted(info.get("Runtimes", {})),
        "default_runtime": info.get("DefaultRuntime"),
        "cgroup": f"v{info.get('CgroupVersion', '?')} ({info.get('CgroupDriver', '?')})",
        "security": [json.dumps(s) if not isinstance(s, str) else s for s in info.get("SecurityOptions", [])],
    }
