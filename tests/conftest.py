"""Shared fixtures: real servers on loopback (127.0.0.1 only, OS-chosen ports).

* `serve_app` runs any ASGI app under uvicorn in a thread, for tiny purpose-built servers;
* `engine_url` is `ponder engine serve`'s app over the real embedded model (one per session);
* `engine_process` starts `ponder engine serve` as a subprocess, for tests that must kill it;
* `llama_cpp_server_url` is llama-cpp-python's own OpenAI-compatible server (a third party).

Other areas may append fixtures here; keep these names stable.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

LOOPBACK = "127.0.0.1"
STARTUP_TIMEOUT_S = 60.0


class LoopbackServer:
    """uvicorn serving one ASGI app on 127.0.0.1 in a daemon thread; the port is chosen by the OS."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        config = uvicorn.Config(app, host=LOOPBACK, port=0, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="loopback-server", daemon=True)

    def start(self) -> str:
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while not self._server.started:
            if not self._thread.is_alive():
                raise RuntimeError("loopback server thread exited during start-up")
            if time.monotonic() > deadline:
                raise TimeoutError(f"loopback server did not start within {STARTUP_TIMEOUT_S}s")
            time.sleep(0.01)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://{LOOPBACK}:{port}"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


@pytest.fixture
def serve_app() -> Iterator[Callable[[Any], str]]:
    """Start ASGI apps on loopback for one test; returns each app's base URL."""
    servers: list[LoopbackServer] = []

    def start(app: Any) -> str:
        server = LoopbackServer(app)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()


@pytest.fixture(scope="session")
def model_path() -> Path:
    """The bundled SmolLM2-135M GGUF (skips when the `local` extra is not installed)."""
    pytest.importorskip("llama_cpp")
    from ponder.backends.llama.model import default_model_path

    return default_model_path()


@pytest.fixture(scope="session")
def engine_backend(model_path: Path) -> Iterator[Any]:
    """One embedded engine for the session (loading it costs about a second)."""
    from ponder.backends.llama.backend import EmbeddedBackend
    from ponder.backends.settings import BackendSettings

    backend = EmbeddedBackend(BackendSettings(model_path=model_path, n_ctx=4096))
    yield backend
    asyncio.run(backend.aclose())


@pytest.fixture(scope="session")
def engine_url(engine_backend: Any) -> Iterator[str]:
    """`ponder engine serve`'s app over the real embedded model, on loopback, for the session."""
    from ponder.backends.server import create_engine_app

    server = LoopbackServer(create_engine_app(engine_backend))
    url = server.start()
    yield url
    server.stop()


def free_port() -> int:
    """A port nothing listens on right now (small race window; fine for tests)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, proc: subprocess.Popen[bytes], timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """Poll `url` until it answers 200, failing early if the process dies (SGLang's launch loop)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} during start-up; see its log above")
        try:
            if httpx.get(url, timeout=1.0, trust_env=False).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise TimeoutError(f"{url} did not answer within {timeout_s}s")


def _start_process(args: list[str], health_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # Inherit the test run's stderr: a pipe nobody reads would fill up and stall the server.
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=None, env=env)
    try:
        _wait_http(health_url, proc)
    except BaseException:
        proc.kill()
        proc.wait(timeout=10)
        raise
    return proc


def _stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@pytest.fixture
def engine_process(model_path: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`ponder engine serve` in its own process (so a test can SIGKILL it); yields (url, process)."""
    port = free_port()
    code = "from ponder.plugin.admin.engine import app; app()"
    args = [sys.executable, "-c", code, "serve", "--port", str(port), "--model-path", str(model_path)]
    url = f"http://{LOOPBACK}:{port}"
    proc = _start_process([*args, "--threads", "1"], f"{url}/health")
    yield url, proc
    _stop_process(proc)


@pytest.fixture(scope="session")
def llama_cpp_server_url(model_path: Path) -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server running the bundled model; yields its /v1 URL."""
    pytest.importorskip("llama_cpp.server.app", reason="needs the `server` extra (fastapi, sse-starlette, …)")
    port = free_port()
    args = [sys.executable, "-m", "llama_cpp.server", "--model", str(model_path)]
    args += ["--host", LOOPBACK, "--port", str(port), "--n_ctx", "2048", "--n_threads", "1"]
    args += ["--model_alias", "smollm2"]
    url = f"http://{LOOPBACK}:{port}"
    proc = _start_process(args, f"{url}/v1/models")
    yield f"{url}/v1"
    _stop_process(proc)


@pytest.fixture
async def verifier() -> AsyncIterator[Any]:
    """The finance verifier over the subprocess sandbox, for the finance tests' fixed, trusted
    calculations (a test file that needs another verifier defines its own `verifier`)."""
    from ponder.sandbox import LocalSandbox
    from ponder.verifiers import FinanceVerifier

    async with LocalSandbox() as sandbox:
        yield FinanceVerifier(sandbox)
