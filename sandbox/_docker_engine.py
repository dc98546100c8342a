"""Reaching the Docker engine: a client that has answered a ping, and what `ponder doctor` reports
about the engine.

Apart from `docker_sandbox` because the CLI (`ponder sandbox build-image`, `doctor`) needs a
client without a sandbox, and the failure it gets must name where it looked and what to do.
"""

from __future__ import annotations

import json
from typing import Any

import docker
from docker.errors import DockerException

from ponder.sandbox.errors import SandboxUnavailableError


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
        "name": info.get("Name"),  # the engine host's name: where sandboxes run
        "os": f"{info.get('OperatingSystem', '?')}, {info.get('Architecture', '?')}",
        "runtimes": sorted(info.get("Runtimes", {})),
        "default_runtime": info.get("DefaultRuntime"),
        "cgroup": f"v{info.get('CgroupVersion', '?')} ({info.get('CgroupDriver', '?')})",
        "security": [json.dumps(s) if not isinstance(s, str) else s for s in info.get("SecurityOptions", [])],
    }
