"""``ponder sandbox …``: build the image, check the setup, run one command in a fresh sandbox."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from ponder.plugin.cli import EXIT_ERROR
from ponder.sandbox.errors import SandboxError
from ponder.sandbox.types import Limits

if TYPE_CHECKING:  # pydantic and the settings models cost ponder --help a quarter second
    from ponder.sandbox.settings import SandboxSettings

# The docker SDK (behind docker_sandbox, image, reaper and factory) and the settings loader are imported
# inside the commands so that `ponder --help` and every other command start without them.

app = typer.Typer(no_args_is_help=True, help="Build, check and use the Docker sandbox.")
err = Console(stderr=True, highlight=False)
DEFAULT_LIMITS = Limits()
DEFAULT_SOCKET = "unix:///var/run/docker.sock"
"""Where the docker SDK looks when DOCKER_HOST is unset (on Linux and macOS)."""


def _settings(image: str | None = None) -> SandboxSettings:
    from ponder.plugin.settings import load_settings

    return load_settings({"sandbox": {"image": image}} if image else None).sandbox


def _fail(message: str) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}")
    return typer.Exit(EXIT_ERROR)


@app.command("build-image")
def build_image_cmd(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            help="auto: reuse a build, else the Dockerfile when python:3.12-slim can be pulled, "
            "else debootstrap (no registry needed).",
        ),
    ] = "auto",
    image: Annotated[str | None, typer.Option(help="Image name to tag (default: sandbox.image).")] = None,
    force: Annotated[bool, typer.Option(help="Rebuild even when an image with this recipe exists.")] = False,
    pull_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the registry probe (auto).")
    ] = 20.0,
) -> None:
    """Build (or reuse) the sandbox image: python3, pytest, pytest-asyncio, numpy, pandas, scipy."""
    if source not in ("auto", "debootstrap", "dockerfile"):
        raise typer.BadParameter("use auto, debootstrap or dockerfile", param_hint="--from")
    from ponder.sandbox.docker_sandbox import connect
    from ponder.sandbox.image import build_image

    target = _settings(image).image
    try:
        client = connect()
        built = build_image(
            client,
            source=source,  # type: ignore[arg-type]
            image=target,
            force=force,
            pull_timeout_s=pull_timeout,
            log=lambda msg: err.print(f"[dim]{msg}[/]"),
        )
    except SandboxError as exc:
        raise _fail(str(exc)) from None
    verb = "reused" if built.reused else f"built from {built.source}"
    typer.echo(f"{target} -> {built.tag} ({verb})")


@app.command()
def doctor() -> None:
    """Check engine, image and runtime; say what to do about anything missing."""
    from ponder.sandbox.docker_sandbox import connect, engine_summary
    from ponder.sandbox.image import find_image
    from ponder.sandbox.reaper import LABEL, owner_alive
    from ponder.sandbox.reaper import OWNER_LABEL as OWNER

    settings = _settings()
    problems: list[str] = []
    try:
        client = connect(timeout_s=10)
    except SandboxError as exc:
        typer.echo(f"engine:   missing ({exc})")
        local = "allowed" if settings.allow_local else "not allowed (sandbox.allow_local=false)"
        typer.echo(f"fallback: LocalSandbox {local}")
        raise _fail("no Docker engine; start one (or set DOCKER_HOST)") from None
    info = engine_summary(client)
    typer.echo(
        f"engine:   Docker {info['server_version']} on {info['name']} ({info['os']}), cgroup {info['cgroup']}"
    )
    typer.echo(f"where:    {engine_location(info['name'], os.environ)}")
    image_id = find_image(client, settings.image)
    if image_id:
        typer.echo(f"image:    {settings.image} ({image_id[7:19]})")
    else:
        typer.echo(f"image:    {settings.image} missing")
        problems.append("build the image: `ponder sandbox build-image`")
    wanted = settings.runtime or info["default_runtime"]
    has_runsc = "runsc" in info["runtimes"]
    typer.echo(f"runtime:  {wanted} (available: {', '.join(info['runtimes'])})")
    if settings.runtime and settings.runtime not in info["runtimes"]:
        problems.append(
            f"runtime {settings.runtime!r} is not registered; install it or unset sandbox.runtime"
        )
    elif not has_runsc:
        typer.echo("          gVisor (runsc) not installed: containers share the host kernel (optional)")
    deboot = shutil.which("debootstrap") or shutil.which("/usr/sbin/debootstrap")
    typer.echo(
        f"debootstrap: {deboot or 'missing (build-image --from debootstrap installs it with apt-get)'}"
    )
    orphans = [
        c["Id"][:12]
        for c in client.api.containers(all=True, filters={"label": LABEL})
        if not owner_alive((c.get("Labels") or {}).get(OWNER, ""))
    ]
    typer.echo(f"orphans:  {len(orphans)} sandbox container(s) from crashed runs (removed at next start)")
    if image_id and not problems:
        result = _run_once(settings, Limits(timeout_s=30), ["python3", "-c", _PROBE])
        typer.echo(f"probe:    {result}")
        if not result.startswith("python"):
            problems.append(
                "the image cannot import pytest/numpy/pandas: `ponder sandbox build-image --force`"
            )
    if problems:
        for item in problems:
            err.print(f"[yellow]todo:[/] {item}")
        raise typer.Exit(EXIT_ERROR)
    typer.echo("ok")


def engine_location(engine_host: str | None, env: Mapping[str, str]) -> str:
    """The engine's address, what chose it, and whether sandboxes run on this machine or another.

    The docker SDK reads DOCKER_HOST (with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH), else the default
    socket. Files travel inside each request and nothing is mounted, so a remote engine works as is.
    """
    address = env.get("DOCKER_HOST") or DEFAULT_SOCKET
    how = "DOCKER_HOST" if env.get("DOCKER_HOST") else "default socket; set DOCKER_HOST for another engine"
    if env.get("DOCKER_HOST") and env.get("DOCKER_TLS_VERIFY"):
        how += ", TLS"
    here = address.startswith(("unix://", "npipe://")) or engine_host == socket.gethostname()
    machine = "this machine" if here else f"another machine ({engine_host}): code and files go over the wire"
    return f"{address} ({how}), sandboxes run on {machine}"


_PROBE = (
    "import sys, pytest, numpy, pandas; "
    "print(f'python {sys.version.split()[0]}, pytest {pytest.__version__}, "
    "numpy {numpy.__version__}, pandas {pandas.__version__}')"
)


def _run_once(settings: SandboxSettings, limits: Limits, command: list[str]) -> str:
    from ponder.sandbox.factory import make_sandbox

    async def go() -> str:
        sandbox = make_sandbox(settings.model_copy(update={"pool_size": 0}), limits=limits)
        async with sandbox:
            result = await sandbox.run({}, command)
        text = result.stdout.strip() if result.ok else result.stderr.strip()
        return text.splitlines()[-1] if text else f"exit code {result.exit_code}"

    return asyncio.run(go())


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def run(
    command: Annotated[list[str], typer.Argument(help="The command, after `--`.")],
    timeout: Annotated[
        float, typer.Option(help="Seconds before the command is killed.")
    ] = DEFAULT_LIMITS.timeout_s,
    memory: Annotated[int, typer.Option(help="Memory limit in MiB.")] = DEFAULT_LIMITS.memory_mb,
) -> None:
    """Run one command in a fresh sandbox with the default limits; exit with its exit code."""
    from ponder.sandbox.factory import make_sandbox

    settings = _settings().model_copy(update={"pool_size": 0})
    limits = Limits(timeout_s=timeout, memory_mb=memory)

    async def go() -> int:
        async with make_sandbox(settings, limits=limits) as sandbox:
            result = await sandbox.run({}, command)
        sys.stdout.write(result.stdout)
        sys.stderr.write(result.stderr)
        notes = [
            f"timed out after {timeout:g} s" if result.timed_out else "",
            f"killed: over {memory} MiB" if result.oom_killed else "",
            "output truncated" if result.truncated else "",
        ]
        if any(notes):
            err.print(f"[yellow]sandbox:[/] {'; '.join(n for n in notes if n)}")
        return result.exit_code

    try:
        code = asyncio.run(go())
    except SandboxError as exc:
        raise _fail(str(exc)) from None
    raise typer.Exit(code)
