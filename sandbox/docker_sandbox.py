"""Hardened, single-use Docker containers for untrusted code.

Each run gets a container nobody used before (from the warm pool when its limits match the
pool's), and the container is removed right after. The container's main process is the harness
(``harness.py --serve``), which imports pytest while the container waits in the pool. A run is one
request written to the harness's stdin over ``docker attach`` and one report read back from its
stdout: no ``docker exec`` on the run's path (an exec costs ~50 ms of runc work on its own).
``put_archive`` cannot write into the read-only root filesystem, so files travel inside the request.

Test files are extracted by a root helper (a detached exec started with the container), read-only
and owned by root inside sticky directories, so the code (uid 61000, no capabilities) can neither
edit, replace nor delete them; the harness re-hashes them after the run anyway and the host
compares. Three kill layers bound a run: the harness's own timer (SIGKILL to the run's process
group; a spawned command also runs under ``timeout -k``), RLIMIT_CPU, and a host deadline that
kills the container.

The sandbox is split by job: `_docker_container` (what a container is started with, and its attach
stream), `_docker_engine` (the client and the engine summary) and this module (the pool and the
runs).
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
import uuid
from collections.abc import Sequence

import docker
from docker.errors import APIError, DockerException, ImageNotFound, NotFound

from ponder.sandbox import reaper
from ponder.sandbox._docker_container import (
    ATTACH,
    HARNESS_ARGV,
    PYTEST_INI_PATH,
    SANDBOX_UID,
    WORKDIR,
    ContainerSpec,
    Warm,
)
from ponder.sandbox._docker_engine import connect, engine_summary
from ponder.sandbox.attach import block, new_key, read_report
from ponder.sandbox.errors import SandboxConfigError, SandboxError, SandboxUnavailableError
from ponder.sandbox.files import tar_bytes
from ponder.sandbox.integrity import TestChecks, test_timeout
from ponder.sandbox.pool import WarmPool
from ponder.sandbox.runner import KILL_GRACE_S, harness_spec, parse_harness, pytest_command, report_cap
from ponder.sandbox.settings import DEFAULT_IMAGE, SandboxSettings
from ponder.sandbox.threaded import ThreadedSandbox
from ponder.sandbox.types import ExecResult, HarnessReport, Limits

HOST_GRACE_S = 2.0
"""Seconds past the run's timeout before the host kills the container (the inner layers come first)."""
SIGKILL_EXIT = 137

__all__ = [
    "SANDBOX_UID",
    "ContainerSpec",
    "DockerSandbox",
    "Warm",
    "connect",
    "engine_summary",
]
"""The CLI, the factory and the tests import these from here, where they were first defined."""


class DockerSandbox(ThreadedSandbox):
    """Runs code in fresh hardened containers, with a warm pool for speed.

    Example:
        async with DockerSandbox(pool_size=2) as sb:
            report = await sb.run_tests({"m.py": src}, {"test_m.py": tests})
            report.all_passed, report.first_failure()

    Args:
        image: needs python3 with pytest, pytest-asyncio, numpy, pandas, scipy (`ponder sandbox build-image`).
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
        self._pool: WarmPool[Warm] | None = None
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
            self._pool = WarmPool(self._start_container, self._drop, self.pool_size)
            self._pool.fill()

    def _close(self) -> None:
        if self._pool is not None:
            self._pool.close()
        for container_id in self.live_containers:
            self._remove(container_id)

    # -- containers ------------------------------------------------------------------------------

    def _start_container(self, spec: ContainerSpec | None = None) -> Warm:
        """Create, attach to and start one container, and start its root unpacker."""
        kwargs = (spec or self._spec).create_kwargs(reaper.labels(self.instance))
        api = self.client.api
        try:
            container = self.client.containers.create(**kwargs)
        except ImageNotFound:
            raise SandboxUnavailableError(
                f"sandbox image {kwargs['image']} vanished; rebuild it with `ponder sandbox build-image`"
            ) from None
        except APIError as exc:
            raise SandboxError(f"creating a sandbox container from {kwargs['image']} failed: {exc}") from exc
        container_id = container.id
        if container_id is None:  # docker-py types the id optional; a created container has one
            raise SandboxError(f"the engine created a container from {kwargs['image']} but gave no id")
        with self._live_lock:
            self._live.add(container_id)
        warm = None
        try:
            # Attached before it starts, as `docker start -a` does, so no byte of its output is missed.
            warm = Warm(id=container_id, stream=api.attach_socket(container_id, params=ATTACH))
            container.start()
            unpack = [*HARNESS_ARGV, "--unpacker", WORKDIR, PYTEST_INI_PATH]
            api.exec_start(api.exec_create(container_id, unpack, user="0:0")["Id"], detach=True)
        except DockerException:
            if warm is not None:
                warm.close()
            self._remove(container_id)
            raise
        return warm

    def _remove(self, container_id: str) -> None:
        with contextlib.suppress(NotFound):
            self.client.api.remove_container(container_id, force=True)
        with self._live_lock:
            self._live.discard(container_id)

    def _drop(self, warm: Warm) -> None:
        warm.close()
        self._remove(warm.id)

    def _acquire(self, limits: Limits) -> Warm:
        spec = ContainerSpec.for_limits(self.image, limits, self.runtime)
        if spec == self._spec and self._pool is not None and (warm := self._pool.take()):
            return warm
        return self._start_container(spec)

    def _discard(self, warm: Warm) -> None:
        if self._pool is not None:
            self._pool.discard(warm)
        else:
            self._drop(warm)

    # -- runs ------------------------------------------------------------------------------------

    def _execute(
        self,
        files: dict[str, bytes],
        command: list[str],
        limits: Limits,
        tests: dict[str, bytes] | None,
        checks: TestChecks | None = None,
        pythonpath: Sequence[str] = (),
    ) -> tuple[ExecResult, HarnessReport]:
        warm = self._acquire(limits)
        started = time.monotonic()
        try:
            if tests is not None:
                command = pytest_command("python3", PYTEST_INI_PATH, command)
            else:  # the in-sandbox layer of the kill chain for anything the harness spawns
                command = ["timeout", "-k", "1", str(math.ceil(limits.timeout_s + KILL_GRACE_S)), *command]
            spec = harness_spec(
                command,
                limits,
                cwd=WORKDIR,
                junit=tests is not None,
                hash_paths=sorted(tests or {}),
                checks=checks.spec(test_timeout(limits)) if checks is not None else None,
                pythonpath=pythonpath,
            )
            # Tests go to the root unpacker: root-owned, 0444, in sticky 1777 dirs the code can add
            # files to but not replace or remove them.
            tests_tar = tar_bytes(tests, file_mode=0o444, dir_mode=0o1777) if tests else b""
            key = new_key()
            request = b"".join(block(part) for part in (key, spec.encode(), tests_tar, tar_bytes(files)))
            deadline = started + limits.timeout_s + HOST_GRACE_S
            report, stderr, killed = self._converse(warm, request, key, deadline, report_cap(limits))
            if killed:
                exit_code = SIGKILL_EXIT
            elif report is None:  # the harness died or its report was buried: how did it end?
                exit_code = self._exit_status(warm.id, SIGKILL_EXIT)
            else:
                exit_code = 0  # unused: the report carries the command's own exit code
            result, parsed = parse_harness(
                report or b"",
                exit_code=exit_code,
                wall_s=time.monotonic() - started,
                limits=limits,
                oom_killed=False,
                host_killed=killed,
                stderr=stderr,
            )
            if result.exit_code == SIGKILL_EXIT and not result.timed_out:
                result.oom_killed = parsed.get("oom_kills", 0) > 0 or self._state_oom(warm.id)
        finally:
            self._discard(warm)
        return result, parsed

    def _converse(
        self, warm: Warm, request: bytes, key: bytes, deadline: float, cap: int
    ) -> tuple[bytes | None, bytes, bool]:
        """Send one request to the harness and read its sealed report; past `deadline`, kill the container.

        Returns the report (None when the harness ended without one), what came on stderr, and
        whether the host deadline fired.
        """
        try:
            warm.sock.settimeout(max(0.1, deadline - time.monotonic()))
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # it may be dead already
                warm.sock.sendall(request)
            report, err = read_report(warm.sock, key, deadline, cap)
        except (TimeoutError, OSError):
            with contextlib.suppress(DockerException):
                self.client.api.kill(warm.id)
            return None, b"", True
        return report, err, False

    def _exit_status(self, container_id: str, default: int) -> int:
        """The harness's exit status once it ended without a report (killed, crashed)."""
        for _ in range(50):
            try:
                state = self.client.api.inspect_container(container_id)["State"]
            except NotFound:
                return default
            if not state.get("Running"):
                return int(state.get("ExitCode") or default)
            time.sleep(0.02)
        return default

    def _state_oom(self, container_id: str) -> bool:
        """The engine's word on OOM, for when the harness itself was killed before it could count.

        A harness that reports reads the cgroup's own ``oom_kill`` counter instead: some engines
        (Docker 20.10 on cgroup v1) set ``State.OOMKilled`` only when the main process dies.
        """
        try:
            return bool(self.client.api.inspect_container(container_id)["State"].get("OOMKilled"))
        except NotFound:
            return False
