"""OpenAICompatBackend against real OpenAI-compatible servers on loopback.

The main target is a third party: llama-cpp-python's own server (`python -m llama_cpp.server`)
running the bundled SmolLM2 model. It ignores `n` and takes no token-id prompts, which exercises
the emulation paths. `ponder engine serve`'s `/v1` (which honours `n` and reports cached tokens)
covers the native paths. Assertions are about behaviour, not about what the model says. What
every backend shows (against tests/_toy_llm.py's OpenAI fake) is in tests/contracts.
"""

from __future__ import annotations

import pytest

from ponder.backends import OpenAICompatBackend, make_backend
from ponder.backends.base import Capabilities, ChatMessage, GenerationRequest
from ponder.backends.errors import BackendConfigError
from ponder.backends.settings import BackendSettings
from tests.conftest import free_port

ASK = [ChatMessage(role="user", content="Name a colour.")]


# ---- no model ---------------------------------------------------------------------------------


async def test_unsupported_inputs_fail_before_any_request() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens: a request would be an Unavailable error
    async with OpenAICompatBackend(url, model="m") as backend:
        with pytest.raises(BackendConfigError, match="token-id"):
            await backend.generate([GenerationRequest(token_ids=[1, 2, 3])])
        with pytest.raises(BackendConfigError, match="assistant_prefix"):
            await backend.generate([GenerationRequest(messages=ASK, assistant_prefix="Red")])
        bad = GenerationRequest.model_construct(messages=ASK, n=1, temperature=9.0, top_p=1.0, max_tokens=4)
        with pytest.raises(BackendConfigError, match="temperature"):
            await backend.generate([bad])


def test_factory_builds_each_kind() -> None:
    with pytest.raises(BackendConfigError, match=r"backend\.url"):
        make_backend(BackendSettings(kind="openai"))
    backend = make_backend(BackendSettings(kind="openai", url="http://127.0.0.1:9/v1", model="m"))
    assert isinstance(backend, OpenAICompatBackend) and backend.model == "m"
    sglang = make_backend(BackendSettings(kind="sglang", url="http://127.0.0.1:9"))
    assert sglang.name == "sglang" and sglang.capabilities.token_ids


# ---- llama-cpp-python's server (third party, real model) ----------------------------------------


@pytest.mark.model
async def test_chat_with_model_discovery_and_usage(llama_cpp_server_url: str) -> None:
    async with OpenAICompatBackend(llama_cpp_server_url) as backend:
        [[c]] = await backend.generate([GenerationRequest(messages=ASK, max_tokens=8, temperature=0)])
    assert backend.model == "smollm2"  # the alias the server lists first
    assert c.finish_reason in ("stop", "length") and c.token_ids == []  # OpenAI APIs return no ids
    assert c.usage.prompt_tokens > 0 and 0 < c.usage.completion_tokens <= 8


@pytest.mark.model
async def test_n_is_emulated_when_the_server_ignores_it(llama_cpp_server_url: str) -> None:
    req = GenerationRequest(messages=ASK, max_tokens=4, temperature=1.0, n=3, seed=11)
    async with OpenAICompatBackend(llama_cpp_server_url) as backend:
        assert backend.capabilities.n
        [first] = await backend.generate([req])
        assert not backend.capabilities.n  # learned from the short answer
        [second] = await backend.generate([req])
    # llama.cpp's KV reuse can flip near-ties between runs, so texts are not compared here.
    assert len(first) == len(second) == 3
    assert all(c.usage.prompt_tokens > 0 for c in second)  # each emulated sample was a real request


@pytest.mark.model
async def test_logprobs_and_completions_with_stop(llama_cpp_server_url: str) -> None:
    async with OpenAICompatBackend(llama_cpp_server_url) as backend:
        chat = GenerationRequest(messages=ASK, max_tokens=5, temperature=0, logprobs=True, top_logprobs=2)
        text = GenerationRequest(prompt="Fruits: apple, banana,", max_tokens=10, temperature=0, logprobs=True)
        [[c], [free]] = await backend.generate([chat, text])
        assert c.logprobs is not None and 0 < len(c.logprobs) <= 5
        assert all(lp.logprob <= 0 and len(lp.top) <= 2 for lp in c.logprobs)
        assert free.logprobs is not None and len(free.logprobs) == free.usage.completion_tokens
        stop = free.text.strip()[:2]
        [[cut]] = await backend.generate([text.model_copy(update={"stop": [stop], "logprobs": False})])
    assert cut.finish_reason == "stop" and stop not in cut.text and free.text.startswith(cut.text)


# ---- ponder engine serve's /v1 (native n, cached tokens, token prompts) ---------------------------


@pytest.mark.model
async def test_native_n_cached_tokens_and_token_prompts(engine_url: str) -> None:
    caps = Capabilities(
        logprobs=True, top_logprobs=True, n=True, token_ids=True, prefix_cache=True, seed=True
    )
    shared = "Rules: answer briefly. " * 10 + "Say a number."
    async with OpenAICompatBackend(engine_url + "/v1", capabilities=caps) as backend:
        req = GenerationRequest(messages=[ChatMessage(role="user", content=shared)], max_tokens=4, n=2)
        [first] = await backend.generate([req])
        [second] = await backend.generate([req])
        [[by_ids]] = await backend.generate([GenerationRequest(token_ids=[28120, 905], max_tokens=3)])
    assert len(first) == 2 and backend.capabilities.n
    assert second[0].usage.cached_tokens > 0  # the server reported its prefix reuse
    assert second[1].usage == type(second[1].usage)()  # one response's usage is booked once
    assert by_ids.usage.prompt_tokens == 2
