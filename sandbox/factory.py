"""Choosing and opening a sandbox from settings, refusing silent downgrades."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.docker_sandbox import DockerSandbox, connect
from ponder.sandbox.errors import SandboxUnavailableError
from ponder.sandbox.local import LocalSandbox
from ponder.sandbox.settings import SandboxSettings
from ponder.sandbox.threaded import ThreadedSandbox
from ponder.sandbox.types import Limits


def make_sandbox(settings: SandboxSettings | None = None, *, limits: Limits | None = None) -> ThreadedSandbox:
    """An unopened sandbox for `settings` (blocking: it pings the engine).

    ``kind="docker"`` needs an engine; ``kind="auto"`` uses Docker when an engine answers and
    falls back to LocalSandbox only with ``allow_local`` (warning once); ``kind="local"`` is explicit.

    Raises:
        SandboxUnavailableError: Docker is required (or no fallback is allowed) and no engine answered.
    """
    settings = settings or SandboxSettings()
    if settings.kind == "local":
        return LocalSandbox(limits=limits, max_concurrency=settings.max_concurrency)
    try:
        client = connect(max_pool_size=(settings.max_concurrency or 4) + 4)
    except SandboxUnavailableError as exc:
        if settings.kind == "auto" and settings.allow_local:
            return LocalSandbox(limits=limits, max_concurrency=settings.max_concurrency)
        hint = (
            ""
            if settings.kind == "docker"
            else " (or set PONDER_SANDBOX_ALLOW_LOCAL=true to accept weaker isolation)"
        )
        raise SandboxUnavailableError(f"sandbox.kind={settings.kind}: {exc}{hint}") from exc
    return DockerSandbox.from_settings(settings, limits=limits, client=client)


@asynccontextmanager
async def open_sandbox(
    settings: SandboxSettings | None = None, *, limits: Limits | None = None
) -> AsyncIterator[BaseSandbox]:
    """Open the sandbox `settings` ask for, and close it (removing its containers) on exit.

    Example:
        async with open_sandbox(load_settings().sandbox) as sb:
            report = await sb.run_tests(sources, tests)
    """
    sandbox = await asyncio.to_thread(make_sandbox, settings, limits=limits)
    try:
        await asyncio.to_thread(sandbox.open)
        yield sandbox
    finally:
        await sandbox.aclose()
