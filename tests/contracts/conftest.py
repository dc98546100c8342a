"""The implementations each contract runs over, as fixtures parametrised by implementation.

A contract test asks for `subject` (any `BaseBackend`), `served` (a backend client with its fake
server, for what only HTTP clients do) or `sandbox` (any `BaseSandbox`) and asserts behaviour the
base class promises. A new implementation joins every contract by adding one `pytest.param` here;
the marks say what it needs (`model`: the embedded SmolLM2 engine, `docker`: the engine and image).
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from ponder.backends import OpenAICompatBackend, SGLangBackend
from ponder.backends.base import BaseBackend, ChatMessage, GenerationRequest
from ponder.sandbox import Limits, SandboxUnavailableError
from ponder.sandbox.threaded import ThreadedSandbox
from tests._toy_llm import ToyServer, openai_app, sglang_app

ServeApp = Callable[[Any], str]

QUESTION = [ChatMessage(role="user", content="Name three colours of the rainbow.")]
COUNTING = "The numbers from one to twenty in words: one, two, three,"
"""A raw prompt no model ends within a dozen tokens (so a small `max_tokens` ends in "length")."""


# ---- backends ------------------------------------------------------------------------------------


@dataclass
class BackendSubject:
    """A backend under contract, and the fake engine behind it when there is one."""

    backend: BaseBackend
    toy: ToyServer | None = None
    """The toy engine the client talks to (its knobs slow it down); None for a real model."""
    slow_request: GenerationRequest | None = None
    """A request that takes seconds on this backend (None: none can be made cheaply here)."""


@dataclass(frozen=True)
class Fake:
    """An HTTP client and the protocol it speaks to the toy engine."""

    app: Callable[[ToyServer], Any]
    client: Callable[..., BaseBackend]
    """(url, **options) -> the client."""
    suffix: str = ""
    """Appended to the server's address to make the client's URL (the OpenAI API root is /v1)."""

    def start(self, serve_app: ServeApp) -> tuple[ToyServer, str]:
        toy = ToyServer()
        return toy, serve_app(self.app(toy)) + self.suffix


FAKES = {
    "sglang-fake": Fake(sglang_app, SGLangBackend),
    "openai-fake": Fake(openai_app, OpenAICompatBackend, "/v1"),
}


def _toy_slow_request(toy: ToyServer) -> GenerationRequest:
    toy.delay_s = 0.05  # 200 tokens take 10 s
    return GenerationRequest(prompt=COUNTING, max_tokens=200, temperature=0)


@pytest.fixture(
    params=[
        pytest.param("embedded", marks=pytest.mark.model),
        pytest.param("sglang-fake"),
        pytest.param("openai-fake"),
        pytest.param("sglang-engine", marks=pytest.mark.model),
    ]
)
async def subject(request: pytest.FixtureRequest) -> AsyncIterator[BackendSubject]:
    """Every `BaseBackend`: the embedded engine, the SGLang and OpenAI clients against the toy
    engine, and the SGLang client against `ponder engine serve` over the real model."""
    kind: str = request.param
    if kind == "embedded":
        backend = request.getfixturevalue("engine_backend")  # one per session; never closed here
        long = GenerationRequest(
            prompt=COUNTING + " (a long story follows)", n=8, max_tokens=2000, temperature=1.0, seed=1
        )
        yield BackendSubject(backend, slow_request=long)
        return
    if kind == "sglang-engine":
        # No slow request: the shared engine would go on decoding a cancelled one for the next test.
        async with SGLangBackend(request.getfixturevalue("engine_url")) as engine_client:
            yield BackendSubject(engine_client)
        return
    fake = FAKES[kind]
    toy, url = fake.start(request.getfixturevalue("serve_app"))
    async with fake.client(url) as client:
        yield BackendSubject(client, toy=toy, slow_request=_toy_slow_request(toy))


@dataclass
class ServedSubject:
    """The toy engine and a way to connect clients with options to it (timeouts, retries)."""

    toy: ToyServer
    url: str
    connect: Callable[..., BaseBackend]


@pytest.fixture(params=sorted(FAKES))
def served(request: pytest.FixtureRequest, serve_app: ServeApp) -> ServedSubject:
    """Each HTTP client against its own toy engine (what only clients of a server must show)."""
    fake = FAKES[request.param]
    toy, url = fake.start(serve_app)
    return ServedSubject(toy, url, lambda **options: fake.client(url, **options))


# ---- sandboxes -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SandboxClaims:
    """What an implementation promises beyond the base contract (BaseSandbox has no capability flags,
    so the claims its docstring makes are written down here)."""

    network_isolated: bool
    """Code cannot reach the host's network (DockerSandbox: `network_mode=none`)."""
    reports_oom: bool
    """Going over `Limits.memory_mb` is reported as `oom_killed` (a cgroup kill), not only as a failure."""


@dataclass
class SandboxSubject:
    sandbox: ThreadedSandbox
    claims: SandboxClaims


def _docker_sandbox() -> ThreadedSandbox:
    from ponder.sandbox import DockerSandbox
    from ponder.sandbox.docker_sandbox import connect

    try:
        client = connect()
    except SandboxUnavailableError as exc:
        pytest.skip(str(exc))
    sb = DockerSandbox(pool_size=2, client=client, limits=Limits(timeout_s=20))
    sb.open()
    return sb


def _local_sandbox() -> ThreadedSandbox:
    from ponder.sandbox import LocalSandbox

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "weaker isolation": known and accepted here
        return LocalSandbox(limits=Limits(timeout_s=20))


SANDBOXES: dict[str, tuple[Callable[[], ThreadedSandbox], SandboxClaims]] = {
    "docker": (_docker_sandbox, SandboxClaims(network_isolated=True, reports_oom=True)),
    "local": (_local_sandbox, SandboxClaims(network_isolated=False, reports_oom=False)),
}


@pytest.fixture(
    scope="module",
    params=[pytest.param("docker", marks=pytest.mark.docker), pytest.param("local")],
)
def sandbox_subject(request: pytest.FixtureRequest) -> Iterator[SandboxSubject]:
    """Every `BaseSandbox` (both are `ThreadedSandbox`s): one per module, closed at its end."""
    make, claims = SANDBOXES[request.param]
    sb = make()
    yield SandboxSubject(sb, claims)
    sb.close()
