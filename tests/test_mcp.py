"""`ponder mcp` through the official `mcp` client, over stdio and over streamable HTTP.

The server is the real command in its own process (`ponder mcp`, `ponder mcp --http PORT`); the
model is a scripted OpenAI-compatible server on loopback (so each test fixes what the "model"
says) and code runs in the Docker sandbox. The code fixes come from the mutation operators, so
they do not depend on the scripted replies. One test runs the embedded model instead.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

mcp = pytest.importorskip("mcp", reason="needs the `server` extra (mcp SDK)")
from mcp import Client, StdioServerParameters  # noqa: E402
from mcp_types import CallToolResult  # noqa: E402

from ponder.plugin.analyze.prompts import ANALYZE_SYSTEM  # noqa: E402
from ponder.plugin.mcp.cli import exposure_warning  # noqa: E402
from ponder.plugin.solve.prompts import PROGRAM_SYSTEM  # noqa: E402
from tests._repair import BUG, FIX, copy_example  # noqa: E402
from tests._reward_hacks import BUGGY, FIXED, TESTS  # noqa: E402
from tests._scripted_openai import openai_env, scripted_model  # noqa: E402
from tests.conftest import LOOPBACK, _stop_process, _wait_http, free_port  # noqa: E402

TENK = Path(__file__).resolve().parent.parent / "examples" / "tenk_table.csv"
QUESTION = "What was the change in revenue from FY2022 to FY2023?"
ANALYSIS = (
    "```python\nrev = t0.iloc[0, 1]\nprev = t0.iloc[0, 2]\nchange = rev - prev\n```\nAnswer: 525 million"
)
SOLUTION = "Step 1: 2 + 2 = 4.\nAnswer: 4"
PROGRAM = "Two and two make five.\n```python\ndef solution():\n    return 2 + 2\n```\nAnswer: 5"
"""Program mode's reply: the prose claims 5, the program computes 4; the executed value is the answer."""
KEY = "mcp-test-key"
PONDER = [sys.executable, "-c", "from ponder.plugin.cli import main; main()", "mcp"]
TOOLS = {"repair_code", "analyze_table", "solve", "think"}

Connect = Callable[[], AbstractAsyncContextManager[Client]]


def reply(messages: list[dict[str, Any]]) -> str:
    """The scripted model: an executed, traced calculation for tables, a program for program mode,
    "4" for everything else."""
    system = str(messages[0].get("content", ""))
    if system.startswith(ANALYZE_SYSTEM):
        return ANALYSIS
    return PROGRAM if system.startswith(PROGRAM_SYSTEM) else SOLUTION


def _server_env(url: str, **extra: str) -> dict[str, str]:
    passed = {k: v for k, v in os.environ.items() if k.startswith(("DOCKER_", "PATH", "HOME"))}
    sandbox = {"PONDER_SANDBOX_KIND": "docker", "PONDER_SANDBOX_POOL_SIZE": "1"}
    return {**passed, **openai_env(url), **sandbox, "PYTHONUNBUFFERED": "1", **extra}


@asynccontextmanager
async def _stdio(env: dict[str, str], cwd: Path) -> AsyncIterator[Client]:
    params = StdioServerParameters(command=PONDER[0], args=PONDER[1:], env=env, cwd=cwd)
    async with Client(params) as client:
        yield client


@pytest.fixture
def http_server(tmp_path: Path) -> Callable[[dict[str, str]], str]:
    """Start `ponder mcp --http PORT --api-key KEY` with an environment; returns the /mcp URL."""
    import subprocess

    procs: list[subprocess.Popen[bytes]] = []

    def start(env: dict[str, str]) -> str:
        port = free_port()
        args = [*PONDER, "--http", str(port), "--api-key", KEY]
        proc = subprocess.Popen(args, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL)
        procs.append(proc)
        _wait_http(f"http://{LOOPBACK}:{port}/health", proc)
        return f"http://{LOOPBACK}:{port}/mcp"

    yield start
    for proc in procs:
        _stop_process(proc)


@pytest.fixture(params=["stdio", "http"])
def connect(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[dict[str, str]], Connect]:
    """A client factory for the transport under test, given the server's environment."""

    def make(env: dict[str, str]) -> Connect:
        if request.param == "stdio":
            return lambda: _stdio(env, tmp_path)
        url = request.getfixturevalue("http_server")(env)

        @asynccontextmanager
        async def over_http() -> AsyncIterator[Client]:
            import httpx2
            from mcp.client.streamable_http import streamable_http_client

            headers = {"Authorization": f"Bearer {KEY}"}
            async with (
                httpx2.AsyncClient(headers=headers, timeout=300) as http,
                Client(streamable_http_client(url, http_client=http)) as client,
            ):
                yield client

        return over_http

    return make


@pytest.fixture(scope="module")
def model_url() -> Iterator[str]:
    with scripted_model(reply) as (url, _calls):
        yield url


class Progress:
    """Collects the progress notifications of one call."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, float | None, str | None]] = []
        self.first = anyio.Event()

    async def __call__(self, progress: float, total: float | None, message: str | None) -> None:
        self.seen.append((progress, total, message))
        self.first.set()

    def assert_increasing(self) -> None:
        values = [p for p, _, _ in self.seen]
        assert values and values == sorted(values) and len(set(values)) == len(values), values


def _text(result: CallToolResult) -> str:
    return "\n".join(getattr(block, "text", "") for block in result.content)


async def _call(client: Client, tool: str, args: dict[str, Any]) -> tuple[CallToolResult, Progress]:
    progress = Progress()
    result = await client.call_tool(tool, args, progress_callback=progress)
    assert not result.is_error, _text(result)
    progress.assert_increasing()
    return result, progress


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    (root / "m.py").write_text(BUGGY)
    for name, text in TESTS.items():
        (root / name).write_text(text)
    return root


@pytest.mark.docker
@pytest.mark.slow
async def test_each_tool_answers_with_progress(
    connect: Callable[[dict[str, str]], Connect], model_url: str, project: Path
) -> None:
    async with connect(_server_env(model_url))() as client:
        assert {t.name for t in (await client.list_tools()).tools} == TOOLS

        result, progress = await _call(client, "repair_code", {"path": str(project), "strategy": "greedy"})
        summary = result.structured_content or {}
        assert summary["status"] == "fixed" and summary["source"] == "mutation", summary
        assert "-    return a - b\n+    return a + b\n" in summary["diff"] and summary["applied"] is False
        assert "not applied" in _text(result) and (project / "m.py").read_text() == BUGGY
        assert progress.seen[0][2] == "running the project's tests in the sandbox (baseline)"

        one_file = {"path": str(project / "m.py"), "tests": [str(project / "test_m.py")], "apply": True}
        result, _ = await _call(client, "repair_code", one_file)
        assert (result.structured_content or {})["applied"] is True
        assert (project / "m.py").read_text() == FIXED and (project / "m.py.orig").read_text() == BUGGY

        inline = {"files": {"m.py": BUGGY, **TESTS}, "strategy": "greedy"}
        result, _ = await _call(client, "repair_code", inline)
        assert (result.structured_content or {})["status"] == "fixed"

        args = {"data": str(TENK), "question": QUESTION, "strategy": "greedy"}
        result, progress = await _call(client, "analyze_table", args)
        summary = result.structured_content or {}
        assert summary["status"] == "verified" and summary["value"] == 525, summary
        assert summary["audit"][0]["values"]["change"] == 525
        assert "status: VERIFIED" in _text(result)
        assert any("Searching with greedy" in (m or "") for _, _, m in progress.seen)

        result, progress = await _call(
            client, "solve", {"question": "What is 2 + 2?", "reference": "4", "strategy": "greedy"}
        )
        assert (result.structured_content or {})["status"] == "verified"
        assert progress.seen[-1][1] == 64  # the configured expansion budget is the total

        args = {"question": "What is 2 + 2?", "reference": "4", "strategy": "greedy", "program": True}
        result, _ = await _call(client, "solve", args)
        summary = result.structured_content or {}
        assert summary["status"] == "verified" and summary["answer"] == "4", summary
        assert summary["votes"][0]["votes"] == 1 and "votes: 4 x1" in _text(result)

        turns = [{"role": "user", "content": "What is 2 + 2?"}]
        result, _ = await _call(
            client, "think", {"messages": turns, "strategy": "greedy", "max_expansions": 3}
        )
        summary = result.structured_content or {}
        assert (
            summary["answer"] == "4" and summary["status"] == "unverified" and summary["strategy"] == "greedy"
        )
        assert _text(result).startswith("4\n")


BAD_CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("repair_code", {"path": "/nowhere/proj"}, "path '/nowhere/proj' does not exist"),
    ("repair_code", {}, "pass either `path`"),
    ("analyze_table", {"data": "NOTES", "question": "q?"}, "is not a table"),
    ("solve", {"question": "q", "strategy": "fastest"}, "argument `strategy`: "),
    ("think", {"messages": [{"role": "system", "content": "hi"}]}, "no user message"),
    ("solve", {}, "argument `question`: field required"),
]
"""Bad calls and the words their one-line error must hold; one server answers them all in turn,
which also shows that a bad call leaves the server serving the next."""


async def test_bad_arguments_are_one_line_tool_errors(model_url: str, tmp_path: Path) -> None:
    notes = tmp_path / "notes.json"
    notes.write_text('{"title": "board minutes"}')
    async with _stdio(_server_env(model_url), tmp_path) as client:
        for tool, args, message in BAD_CALLS:
            args = {k: (str(notes) if v == "NOTES" else v) for k, v in args.items()}
            result = await client.call_tool(tool, args)
            text = _text(result)
            assert result.is_error and message in text and "\n" not in text, (tool, args, text)
            assert text.startswith(f"Error executing tool {tool}: "), text
        assert (await client.list_tools()).tools, "the server still serves after the bad calls"


async def test_schemas_say_what_to_pass(model_url: str, tmp_path: Path) -> None:
    async with _stdio(_server_env(model_url), tmp_path) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    assert set(tools) == TOOLS
    for tool in tools.values():
        assert tool.description and len(tool.description) > 80
        assert all(p.get("description") for p in tool.input_schema["properties"].values()), tool.name
    assert tools["analyze_table"].input_schema["required"] == ["question"]
    assert tools["think"].input_schema["required"] == ["messages"]
    assert tools["repair_code"].annotations is not None and tools["repair_code"].annotations.destructive_hint
    assert tools["solve"].annotations is not None and tools["solve"].annotations.read_only_hint


@pytest.mark.slow
async def test_cancel_stops_the_search(connect: Callable[[dict[str, str]], Connect]) -> None:
    def wrong(messages: list[dict[str, Any]]) -> str:
        time.sleep(0.3)
        return "Answer: 5"

    # Each refinement round is one more request to the model, so the request count shows whether
    # the search still runs after the cancel.
    search = {"PONDER_SEARCH_SINGLE_STEP": "true", "PONDER_SEARCH_REFINE_ROUNDS": "100"}
    with scripted_model(wrong) as (url, calls):
        async with connect(_server_env(url, **search))() as client:
            progress = Progress()
            turns = [{"role": "user", "content": "What is 2 + 2?"}]
            args = {"messages": turns, "reference": "4", "strategy": "refine", "max_seconds": 120}
            ended: list[CallToolResult] = []

            async def call() -> None:
                ended.append(await client.call_tool("think", args, progress_callback=progress))

            with anyio.fail_after(60):
                async with anyio.create_task_group() as group:
                    group.start_soon(call)
                    await progress.first.wait()
                    await anyio.sleep(1.0)
                    group.cancel_scope.cancel()
            at_cancel = len(calls)
            assert not ended and at_cancel >= 2, (ended, at_cancel)
            await anyio.sleep(2.0)
            assert len(calls) <= at_cancel + 1, "the search went on after the cancel"
            result, _ = await _call(client, "solve", {"question": "What is 2 + 2?", "max_expansions": 1})
            assert result.structured_content is not None


async def test_http_needs_the_key(http_server: Callable[[dict[str, str]], str], model_url: str) -> None:
    url = http_server(_server_env(model_url))
    body = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        response = httpx.post(url, json=body, headers=headers, timeout=10)
        assert response.status_code == 401 and "Authorization: Bearer" in response.json()["error"]
    assert httpx.get(url.replace("/mcp", "/health"), timeout=10).json() == {"status": "ok"}


@pytest.mark.parametrize(
    ("host", "key", "warned"),
    [("127.0.0.1", None, False), ("::1", None, False), ("localhost", None, False), ("0.0.0.0", None, True)],
)
def test_only_an_exposed_keyless_server_is_warned_about(host: str, key: str | None, warned: bool) -> None:
    assert (exposure_warning(host, key) is not None) == warned
    assert exposure_warning(host, "secret") is None


@pytest.mark.docker
@pytest.mark.model
@pytest.mark.slow
async def test_embedded_model_and_docker_over_stdio(tmp_path: Path, model_path: Path) -> None:
    root = copy_example(tmp_path)
    env = {k: v for k, v in os.environ.items() if k.startswith(("DOCKER_", "PATH", "HOME"))}
    env |= {"PONDER_BACKEND_KIND": "embedded", "PONDER_BACKEND_MODEL_PATH": str(model_path)}
    env |= {"PONDER_BACKEND_N_CTX": "4096", "PONDER_SANDBOX_KIND": "docker", "PONDER_SANDBOX_POOL_SIZE": "1"}
    async with _stdio(env, tmp_path) as client:
        result, progress = await _call(client, "repair_code", {"path": str(root), "max_expansions": 4})
        summary = result.structured_content or {}
        assert summary["status"] == "fixed" and f"+    for start in {FIX}:" in summary["diff"], summary
        assert BUG in (root / "stats.py").read_text(), "nothing written without apply"
        assert len(progress.seen) >= 2

        result, progress = await _call(client, "solve", {"question": "What is 3 + 4?", "max_expansions": 2})
        summary = result.structured_content or {}
        assert summary["status"] in ("unchecked", "no_answer") and summary["expansions"] >= 1, summary
        assert any((m or "").startswith("Searching with") for _, _, m in progress.seen)
