"""DockerSandbox against the real engine: every hardening default, the pool, the kill chain, the CLI.

What every sandbox shows (runs, limits, per-test reports) is in tests/contracts/test_sandbox_contract.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import docker
import pytest
from docker.errors import APIError
from typer.testing import CliRunner

from ponder.plugin.admin.sandbox import app as sandbox_cli
from ponder.sandbox import (
    DEFAULT_IMAGE,
    DockerSandbox,
    Limits,
    SandboxConfigError,
    SandboxSettings,
    SandboxUnavailableError,
    open_sandbox,
)
from ponder.sandbox.docker_sandbox import SANDBOX_UID, ContainerSpec, connect
from ponder.sandbox.files import tar_bytes
from ponder.sandbox.image import build_image, hashed_tag
from ponder.sandbox.reaper import LABEL, OWNER_LABEL, owner_id
from ponder.sandbox.runner import INTEGRITY_SOURCE

pytestmark = pytest.mark.docker

MiB = 1024 * 1024


@pytest.fixture(scope="module")
def client() -> docker.DockerClient:
    try:
        client = connect()
    except SandboxUnavailableError as exc:
        pytest.skip(str(exc))
    assert client.images.list(name=DEFAULT_IMAGE.split(":")[0]), (
        f"{DEFAULT_IMAGE} is missing: run `ponder sandbox build-image`"
    )
    return client


@pytest.fixture(scope="module")
def sandbox(client: docker.DockerClient) -> Iterator[DockerSandbox]:
    sb = DockerSandbox(pool_size=2, client=client)
    sb.open()
    yield sb
    sb.close()
    assert not sb.live_containers


def test_container_has_every_hardening_default(sandbox: DockerSandbox, client: docker.DockerClient) -> None:
    warm = sandbox._start_container()
    try:
        attrs = client.api.inspect_container(warm.id)
    finally:
        sandbox._drop(warm)
    host, config = attrs["HostConfig"], attrs["Config"]
    limits = sandbox.limits
    assert host["NetworkMode"] == "none"
    assert host["ReadonlyRootfs"] is True
    assert set(host["Tmpfs"]) == {"/tmp", "/work", "/ponder"}
    assert all(f"size={limits.tmpfs_mb}m" in host["Tmpfs"][p] for p in ("/tmp", "/work"))
    assert config["User"] == f"{SANDBOX_UID}:{SANDBOX_UID}"
    assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
    assert host["Privileged"] is False
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["PidsLimit"] == limits.pids
    assert host["Memory"] == host["MemorySwap"] == limits.memory_mb * MiB
    assert host["NanoCpus"] == int(limits.cpus * 1e9)
    ulimits = {u["Name"]: (u["Soft"], u["Hard"]) for u in host["Ulimits"]}
    assert ulimits["core"] == (0, 0)
    assert ulimits["fsize"] == (limits.file_size_mb * MiB,) * 2
    assert {"nofile", "nproc", "cpu"} <= set(ulimits)
    assert host["Init"] is True
    assert host["LogConfig"]["Type"] == "none"
    # The harness, whatever the image says, with the integrity module's source as its last argument.
    assert config["Entrypoint"][-2:] == ["--serve", INTEGRITY_SOURCE] and not config["Cmd"]
    assert config["Labels"][LABEL] == "1" and config["Labels"][OWNER_LABEL] == owner_id()


def test_put_archive_into_the_read_only_container_fails_so_files_travel_in_the_request(
    sandbox: DockerSandbox, client: docker.DockerClient
) -> None:
    warm = sandbox._start_container()
    try:
        with pytest.raises(APIError):
            client.api.put_archive(warm.id, "/work", tar_bytes({"m.py": b"print(1)"}))
    finally:
        sandbox._drop(warm)


async def test_each_run_gets_a_fresh_container(sandbox: DockerSandbox) -> None:
    first = await sandbox.run(
        {"state.txt": "left behind"}, ["sh", "-c", "cat /etc/hostname; touch /tmp/mark"]
    )
    second = await sandbox.run({}, ["sh", "-c", "cat /etc/hostname; ls /work /tmp"])
    assert first.stdout.strip() != second.stdout.splitlines()[0]
    assert "state.txt" not in second.stdout and "mark" not in second.stdout


async def test_host_deadline_kills_the_container_when_inner_timeouts_fail(sandbox: DockerSandbox) -> None:
    # The last layer of the kill chain on its own: the code stops every process it may signal (the
    # harness and `timeout` run as its uid), so neither inner timer can fire; the host deadline must.
    started = time.monotonic()
    result = await sandbox.run({}, ["sh", "-c", "kill -STOP -1; sleep 60"], Limits(timeout_s=1))
    elapsed = time.monotonic() - started
    assert result.timed_out and result.exit_code == 137 and not result.ok
    assert "killed by the host deadline" in result.stderr
    assert elapsed < 1 + 2 + 2, f"took {elapsed:.1f} s"


async def test_runs_with_other_limits_start_their_own_container(sandbox: DockerSandbox) -> None:
    result = await sandbox.run({}, ["cat", "/sys/fs/cgroup/pids/pids.max"], Limits(pids=42))
    assert result.stdout.strip() == "42"
    assert ContainerSpec.for_limits(DEFAULT_IMAGE, Limits(pids=42), None) != sandbox._spec


def test_missing_runtime_is_refused_with_the_fix(client: docker.DockerClient) -> None:
    sb = DockerSandbox(runtime="runsc", pool_size=0, client=client)
    with pytest.raises(SandboxConfigError, match=r"runtime 'runsc' is not registered.*runsc install"):
        sb.open()
    sb.close()


@pytest.mark.parametrize("runtime", ["runc", "auto"])
async def test_explicit_or_automatic_runtime_is_used(client: docker.DockerClient, runtime: str) -> None:
    expected = "runsc" if runtime == "auto" and "runsc" in client.info()["Runtimes"] else "runc"
    async with DockerSandbox(runtime=runtime, pool_size=0, client=client) as sb:
        warm = sb._start_container()
        assert client.api.inspect_container(warm.id)["HostConfig"]["Runtime"] == expected
        sb._drop(warm)


def test_missing_image_names_the_build_command(client: docker.DockerClient) -> None:
    sb = DockerSandbox(image="ponder-sandbox:absent", pool_size=0, client=client)
    with pytest.raises(SandboxUnavailableError, match="ponder sandbox build-image"):
        sb.open()
    sb.close()


async def test_open_sandbox_auto_picks_docker_and_cleans_up(client: docker.DockerClient) -> None:
    async with open_sandbox(SandboxSettings(kind="auto", pool_size=1)) as sb:
        assert isinstance(sb, DockerSandbox)
        assert (await sb.run({}, ["python3", "-c", "print('hi')"])).stdout == "hi\n"
        ours = sb.live_containers
    assert ours and not any(
        c["Id"] in ours for c in client.api.containers(all=True, filters={"label": LABEL})
    ), "closing the sandbox removes its containers"


def test_build_image_reuses_the_hash_tagged_image(client: docker.DockerClient) -> None:
    started = time.monotonic()
    built = build_image(client, source="debootstrap")
    assert built.reused and built.tag == hashed_tag(DEFAULT_IMAGE, "debootstrap")
    assert client.api.inspect_image(built.tag)["Id"] == client.api.inspect_image(DEFAULT_IMAGE)["Id"]
    assert time.monotonic() - started < 5


def test_cli_run_exits_with_the_commands_code() -> None:
    result = CliRunner().invoke(sandbox_cli, ["run", "--timeout", "5", "--", "sh", "-c", "echo out; exit 7"])
    assert result.exit_code == 7 and "out" in result.output


def test_cli_run_reports_a_timeout() -> None:
    result = CliRunner().invoke(sandbox_cli, ["run", "--timeout", "1", "--", "sleep", "30"])
    assert result.exit_code == 137 and "timed out after 1 s" in result.output


def test_cli_doctor_reports_engine_image_and_runtime() -> None:
    result = CliRunner().invoke(sandbox_cli, ["doctor"])
    assert result.exit_code == 0, result.output
    for fragment in (
        "engine:   Docker",
        f"image:    {DEFAULT_IMAGE}",
        "runtime:",
        "probe:    python 3",
        "ok",
    ):
        assert fragment in result.output
