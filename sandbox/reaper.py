"""Making sure no sandbox container outlives the process that started it.

Every container carries labels naming its owner (host, pid and the pid's start time, so a reused
pid is not mistaken for the owner). Three layers remove them: the sandbox's own close, an atexit
hook (normal exit, Ctrl-C, SIGTERM), and, for owners killed outright, a sweep of containers whose
owner is gone whenever a new sandbox starts.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import signal
import socket
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Protocol

import docker
from docker.errors import DockerException, NotFound

LABEL = "io.ponder.sandbox"
OWNER_LABEL = "io.ponder.sandbox.owner"
INSTANCE_LABEL = "io.ponder.sandbox.instance"
"""Which DockerSandbox object made the container (several may share one process)."""

log = logging.getLogger(__name__)


def _start_ticks(pid: int) -> str | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/PID/stat)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            stat = fh.read()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()[19]


def owner_id(pid: int | None = None) -> str:
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_ticks(pid) or '?'}"


def owner_alive(owner: str) -> bool:
    """False only when the owner is certainly gone: same host, and its pid is dead or reused."""
    host, _, rest = owner.partition(":")
    pid_text, _, ticks = rest.partition(":")
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine's container on a shared engine: not ours to judge
    current = _start_ticks(int(pid_text))
    return current is not None and (ticks == "?" or current == ticks)


def labels(instance: str) -> dict[str, str]:
    return {LABEL: "1", OWNER_LABEL: owner_id(), INSTANCE_LABEL: instance}


def sweep_orphans(client: docker.DockerClient) -> list[str]:
    """Remove sandbox containers whose owning process is gone; returns their ids."""
    removed = []
    for info in client.api.containers(all=True, filters={"label": LABEL}):
        owner = (info.get("Labels") or {}).get(OWNER_LABEL, "")
        if owner and not owner_alive(owner):
            with contextlib.suppress(NotFound):
                client.api.remove_container(info["Id"], force=True)
            removed.append(info["Id"])
    if removed:
        log.info("removed %d sandbox container(s) left by crashed processes", len(removed))
    return removed


class Closable(Protocol):
    def close(self) -> None: ...


_closers: weakref.WeakSet[Closable] = weakref.WeakSet()
_install_lock = threading.Lock()
_installed = False


def register(obj: Closable) -> None:
    """Close `obj` at interpreter exit, and make SIGTERM exit through atexit too (if nobody handles it)."""
    global _installed
    _closers.add(obj)
    with _install_lock:
        if _installed:
            return
        _installed = True
        atexit.register(_close_all)
        if threading.current_thread() is threading.main_thread():
            with contextlib.suppress(ValueError, OSError):
                if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
                    signal.signal(signal.SIGTERM, _exit_on_sigterm)


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def _close_all() -> None:
    for obj in list(_closers):
        try:
            obj.close()
        except (DockerException, OSError) as exc:  # best effort at exit; the next start sweeps
            log.warning("sandbox cleanup at exit failed: %s", exc)


def remover(client: docker.DockerClient) -> Callable[[str], None]:
    def remove(container_id: str) -> None:
        with contextlib.suppress(NotFound):
            client.api.remove_container(container_id, force=True)

    return remove
