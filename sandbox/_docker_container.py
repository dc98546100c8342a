"""What a sandbox container is: the hardened `containers.create` arguments and the attach stream
its harness is served over.

Every hardening default (no network, read-only root, no capabilities, a non-root uid, ulimits, no
logs) is in `ContainerSpec.create_kwargs`, apart from the run logic in `docker_sandbox`, so the
whole security surface of a container can be audited in one place and a test can create exactly
what the sandbox creates.
"""

from __future__ import annotations

import contextlib
import socket
from dataclasses import dataclass
from typing import Any

from docker.types import LogConfig, Ulimit

from ponder.sandbox.runner import HARNESS_SOURCE, INTEGRITY_SOURCE
from ponder.sandbox.types import Limits, MiB

SANDBOX_UID = 61000
"""The code's uid: not root, and unlikely to own anything on the host (RLIMIT_NPROC counts per uid)."""
WORKDIR = "/work"
PRIVATE_DIR = "/ponder"
"""Root-owned, read-only to the code: pytest's config lives here."""
PYTEST_INI_PATH = f"{PRIVATE_DIR}/pytest.ini"
NOFILE = 1024
NPROC = 4096
CPU_SECONDS_CAP = 3600
"""Container-wide RLIMIT_CPU backstop; each run gets its own tighter limit from the harness."""
ATTACH = {"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
HARNESS_ARGV = ["python3", "-I", "-B", "-c", HARNESS_SOURCE.decode()]
"""The harness travels in argv, so a container needs no copy step before it can serve."""


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
            # As the entrypoint, so that an image's own ENTRYPOINT or CMD cannot wrap or replace it.
            "entrypoint": [*HARNESS_ARGV, "--serve", INTEGRITY_SOURCE],
            "stdin_open": True,
            "user": f"{SANDBOX_UID}:{SANDBOX_UID}",
            "environment": {"HOME": "/tmp", "LANG": "C.UTF-8"},
            "network_mode": "none",
            "read_only": True,
            "tmpfs": {
                "/tmp": tmpfs_opts,
                WORKDIR: tmpfs_opts,
                PRIVATE_DIR: "rw,nosuid,nodev,noexec,size=1m,mode=755",
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
class Warm:
    """A started container and the attach socket its harness reads requests from."""

    id: str
    stream: Any
    """What ``attach_socket`` returned; closing it releases the connection."""

    @property
    def sock(self) -> socket.socket:
        """The raw socket under the attach stream (docker-py wraps it on some transports)."""
        return getattr(self.stream, "_sock", self.stream)  # type: ignore[no-any-return]

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.stream.close()
