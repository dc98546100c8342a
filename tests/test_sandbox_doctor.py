"""`ponder sandbox doctor` says where sandboxes run: the engine's address, what chose it, its host.

The docker SDK picks the engine from DOCKER_HOST (else the default socket), so pointing ponder at
another machine's engine is one variable; doctor is where a user checks which engine that is.
Only the local engine is ever contacted here: the other-machine wording is checked on the pure
formatter, which connects to nothing.
"""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from ponder.plugin.admin.sandbox import DEFAULT_SOCKET, app, engine_location


def test_a_remote_engine_is_named_as_another_machine() -> None:
    env = {"DOCKER_HOST": "tcp://10.1.2.3:2376", "DOCKER_TLS_VERIFY": "1"}
    assert engine_location("build-host", env) == (
        "tcp://10.1.2.3:2376 (DOCKER_HOST, TLS), sandboxes run on another machine (build-host): "
        "code and files go over the wire"
    )


@pytest.mark.docker
@pytest.mark.parametrize("docker_host", [None, DEFAULT_SOCKET])
def test_doctor_reports_the_local_engine_and_how_it_was_chosen(
    docker_host: str | None, monkeypatch: pytest.MonkeyPatch
) -> None:
    import docker

    if docker_host is None:
        monkeypatch.delenv("DOCKER_HOST", raising=False)
    else:
        monkeypatch.setenv("DOCKER_HOST", docker_host)
    engine_host = docker.from_env().info()["Name"]
    result = CliRunner().invoke(app, ["doctor"])
    assert result.exit_code == 0, result.output
    lines = {line.split(":", 1)[0]: line for line in result.output.splitlines()}
    assert lines["engine"].startswith("engine:   Docker ") and f" on {engine_host} (" in lines["engine"]
    how = "DOCKER_HOST" if docker_host else "default socket; set DOCKER_HOST for another engine"
    assert lines["where"] == f"where:    {DEFAULT_SOCKET} ({how}), sandboxes run on this machine"
