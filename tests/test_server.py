"""`ponder serve`: the OpenAI-compatible app on a real loopback uvicorn, driven by the official clients."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from ponder.graph.testing import Context, ScriptedBackend
from ponder.graph.types import Budget, SearchConfig
from ponder.plugin.serve.app import create_app, model_ids
from ponder.plugin.settings import PonderSettings

KEY = "test-key"


def _adder(ctx: Context) -> str:
    """Two steps: a calculation, then the answer; the answer is right (5) for '2 + 3'."""
    return "2 + 3 = 5" if not ctx.steps else "Answer: 5"


def _settings() -> PonderSettings:
    return PonderSettings(search=SearchConfig(strategy="greedy", budget=Budget(max_expansions=6)))


@pytest.fixture
def server(serve_app: Callable[[Any], str]) -> Callable[..., tuple[str, ScriptedBackend]]:
    def start(
        policy: Any = _adder, *, api_key: str | None = KEY, delay: float = 0.0
    ) -> tuple[str, ScriptedBackend]:
        backend = ScriptedBackend(policy, delay=delay)
        url = serve_app(create_app(_settings(), backend=backend, api_key=api_key))
        return f"{url}/v1", backend

    return start


def _client(base_url: str, key: str = KEY) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=base_url, api_key=key, http_client=httpx.Client(trust_env=False), max_retries=0
    )


def test_models_lists_one_per_strategy(server: Callable[..., tuple[str, ScriptedBackend]]) -> None:
    url, _ = server()
    ids = [m.id for m in _client(url).models.list().data]
    assert ids == model_ids()
    assert {"ponder", "ponder-beam", "ponder-mcts", "ponder-best_of_n", "ponder-refine"} <= set(ids)


def test_non_streaming_answer_with_reasoning_usage_and_verification(
    server: Callable[..., tuple[str, ScriptedBackend]],
) -> None:
    url, backend = server()
    reply = _client(url).chat.completions.create(
        model="ponder-best_of_n",
        messages=[{"role": "user", "content": "What is 2 + 3?"}],
        extra_body={"n": 3, "reference": "5", "budget": {"max_expansions": 6}},
    )
    message = reply.choices[0].message
    assert message.content == "5"
    assert getattr(message, "reasoning_content", None) == "2 + 3 = 5\n\nAnswer: 5"
    assert reply.choices[0].finish_reason == "stop"
    extra = reply.model_extra or {}
    assert extra["ponder"]["status"] == "verified" and extra["ponder"]["strategy"] == "best_of_n"
    usage = reply.usage
    assert usage is not None and usage.completion_tokens > 0
    assert usage.completion_tokens_details is not None
    reasoning = usage.completion_tokens_details.reasoning_tokens
    assert reasoning is not None and 0 < reasoning < usage.completion_tokens
    # best-of-N with n=3 asked for three chains in one request, within the budget of 6 expansions
    assert backend.log.requests[0].n == 3 and extra["ponder"]["spend"]["expansions"] <= 6


def test_wrong_answer_is_reported_unverified(server: Callable[..., tuple[str, ScriptedBackend]]) -> None:
    url, _ = server(lambda ctx: "Answer: 6")
    reply = _client(url).chat.completions.create(
        model="ponder", messages=[{"role": "user", "content": "2 + 3?"}], extra_body={"reference": "5"}
    )
    ponder = (reply.model_extra or {})["ponder"]
    assert reply.choices[0].message.content == "6"
    assert ponder["status"] == "unverified" and not ponder["verified"]
    assert "not correct" in ponder["reason"]


def test_streaming_sends_reasoning_while_searching_then_answer(
    server: Callable[..., tuple[str, ScriptedBackend]],
) -> None:
    generated_at: list[float] = []

    def slow(ctx: Context) -> str:
        generated_at.append(time.monotonic())
        return _adder(ctx)

    url, _ = server(slow, delay=0.3)
    stream = _client(url).chat.completions.create(
        model="ponder-greedy",
        messages=[{"role": "user", "content": "What is 2 + 3?"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    reasoning: list[tuple[float, str]] = []
    content: list[str] = []
    finish: list[str] = []
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            delta = choice.delta
            text = (delta.model_extra or {}).get("reasoning_content")
            if text:
                assert not content, "reasoning must come before the answer"
                reasoning.append((time.monotonic(), text))
            if delta.content:
                content.append(delta.content)
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    assert "".join(content) == "5" and finish == ["stop"]
    assert len(generated_at) == 2  # greedy: one call per step
    # the first step's reasoning reached the client before the model was asked for the second step
    first_step = next(t for t, text in reasoning if "2 + 3 = 5" in text)
    assert first_step < generated_at[1]
    assert reasoning[0][1].startswith("Searching with greedy")
    assert "Search finished" in reasoning[-1][1]
    assert usage is not None and usage.completion_tokens_details is not None
    assert usage.completion_tokens_details.reasoning_tokens


async def test_two_concurrent_requests_interleave(server: Callable[..., tuple[str, ScriptedBackend]]) -> None:
    order: list[str] = []

    def policy(ctx: Context) -> str:
        question = ctx.messages[-1].content
        order.append(question)
        return f"Answer: {question}" if len(ctx.steps) >= 2 else f"thinking about {question}"

    url, _ = server(policy, delay=0.2)
    client = openai.AsyncOpenAI(
        base_url=url, api_key=KEY, http_client=httpx.AsyncClient(trust_env=False), max_retries=0
    )
    started = time.monotonic()
    a, b = await asyncio.gather(
        client.chat.completions.create(model="ponder-greedy", messages=[{"role": "user", "content": "A"}]),
        client.chat.completions.create(model="ponder-greedy", messages=[{"role": "user", "content": "B"}]),
    )
    elapsed = time.monotonic() - started
    assert (a.choices[0].message.content, b.choices[0].message.content) == ("A", "B")
    # each search makes three 0.2 s model calls; served one after the other they would take >= 1.2 s
    assert order.index("B") < len(order) - order[::-1].index("A") - 1, f"not interleaved: {order}"
    assert elapsed < 1.2
    await client.close()


def test_api_key_is_required_when_configured(server: Callable[..., tuple[str, ScriptedBackend]]) -> None:
    url, _ = server()
    with pytest.raises(openai.AuthenticationError, match="invalid or missing API key"):
        _client(url, key="wrong").models.list()
    raw = httpx.post(f"{url}/chat/completions", json={"messages": []}, trust_env=False)
    assert raw.status_code == 401
    assert httpx.get(url.removesuffix("/v1") + "/health", trust_env=False).status_code == 200


def test_bad_requests_are_openai_errors(server: Callable[..., tuple[str, ScriptedBackend]]) -> None:
    url, _ = server(api_key=None)
    client = _client(url, key="anything")
    with pytest.raises(openai.NotFoundError, match="ponder-guess"):
        client.chat.completions.create(model="ponder-guess", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="no user message"):
        client.chat.completions.create(model="ponder", messages=[{"role": "system", "content": "x"}])
    with pytest.raises(openai.BadRequestError, match="max_depth"):
        client.chat.completions.create(
            model="ponder", messages=[{"role": "user", "content": "x"}], extra_body={"max_depth": 0}
        )


def test_langchain_openai_works_unchanged(server: Callable[..., tuple[str, ScriptedBackend]]) -> None:
    from langchain_openai import ChatOpenAI

    url, _ = server()
    llm = ChatOpenAI(
        model="ponder-beam",
        base_url=url,
        api_key=KEY,  # type: ignore[arg-type]
        http_client=httpx.Client(trust_env=False),
        max_retries=0,
        extra_body={"reference": "5", "beam_width": 1},
    )
    reply = llm.invoke("What is 2 + 3?")
    assert reply.content == "5"
    assert reply.response_metadata["model_name"] == "ponder-beam"
    streamed = "".join(str(chunk.content) for chunk in llm.stream("What is 2 + 3?"))
    assert streamed == "5"


@pytest.mark.model
def test_embedded_model_behind_the_openai_client(
    serve_app: Callable[[Any], str], engine_backend: Any
) -> None:
    settings = PonderSettings(
        search=SearchConfig(strategy="best_of_n", n=2, max_step_tokens=40, budget=Budget(max_expansions=3))
    )
    url = serve_app(create_app(settings, backend=engine_backend)) + "/v1"
    client = _client(url, key="unused")
    reply = client.chat.completions.create(
        model="ponder",
        messages=[{"role": "user", "content": "What is 2 + 3?"}],
        extra_body={"reference": "5"},
    )
    ponder = (reply.model_extra or {})["ponder"]
    assert ponder["spend"]["expansions"] <= 3 + 2  # budget, exceeded by at most one in-flight batch
    assert ponder["verified"] == (ponder["status"] == "verified")
    assert (
        reply.usage is not None and reply.usage.completion_tokens == ponder["spend"]["tokens_generated"] > 0
    )
    if reply.choices[0].message.content not in ("", None) and ponder["verified"]:
        assert "5" in reply.choices[0].message.content
    chunks = list(
        client.chat.completions.create(
            model="ponder-greedy",
            messages=[{"role": "user", "content": "Say hi."}],
            stream=True,
            extra_body={"max_depth": 1},
        )
    )
    reasoning = [
        c for c in chunks for ch in c.choices if (ch.delta.model_extra or {}).get("reasoning_content")
    ]
    assert reasoning, "the search's progress is streamed as reasoning_content"
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


def test_openai_client_example_against_the_server(
    server: Callable[..., tuple[str, ScriptedBackend]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "examples" / "openai_client.py"
    spec = importlib.util.spec_from_file_location("example_openai_client", path)
    assert spec is not None and spec.loader is not None
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    url, _ = server()
    monkeypatch.setenv("PONDER_API_KEY", KEY)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    example.main(["What is 2 + 3?", "--reference", "5", "--base-url", url, "--model", "ponder-greedy"])
    out, err = capsys.readouterr()
    assert "answer: 5   status: verified" in out
    assert out.rstrip().endswith("5") and "Searching with greedy" in err


def test_serve_command_listens_on_loopback_with_an_api_key() -> None:
    """The real `serve` command in its own process; the backend is built lazily, on the first chat."""
    import subprocess
    import sys

    from tests.conftest import free_port

    port = free_port()
    code = (
        "import typer; from ponder.plugin.serve import cli as cli_serve; app = typer.Typer(); "
        "app.callback()(lambda: None); cli_serve.register(app); app()"
    )
    args = [
        sys.executable,
        "-c",
        code,
        "serve",
        "--port",
        str(port),
        "--api-key",
        KEY,
        "--log-level",
        "warning",
    ]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                models = _client(url).models.list()
                break
            except openai.APIConnectionError:
                assert proc.poll() is None, "serve exited during start-up"
                assert time.monotonic() < deadline, "serve did not answer within 60 s"
                time.sleep(0.2)
        assert [m.id for m in models.data] == model_ids()
        with pytest.raises(openai.AuthenticationError):
            _client(url, key="wrong").models.list()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert f"http://127.0.0.1:{port}/v1" in err
