"""SGLangBackend: its wire contract, then end to end against `ponder engine serve` with the real model.

Contract tests run the client against tiny real HTTP servers on loopback that record what the
client sends and answer with payloads shaped like SGLang's (python/sglang/srt/managers/io_struct.py
`GenerateReqInput` for requests; the `{text, output_ids, meta_info}` results of
srt/managers/tokenizer_manager.py for answers; `finish_reason` as `{"type": "length", "length": N}`
/ `{"type": "stop", "matched": id|str}`; `output_token_logprobs` as `[logprob, token_id, text]`).
What every backend shows (determinism, stop strings, seeds, exact continuation from token ids,
prefix reuse in `cached_tokens`, retries, timeouts, cancellation, errors naming the URL) runs in
tests/contracts over the SGLang client against two servers: tests/_toy_llm.py's SGLang-protocol
fake (whose wire format also follows SGLang's own schema, as above) and `ponder engine serve`
over the real model. What is left here is the SGLang client's own.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from ponder.backends import SGLangBackend, make_backend
from ponder.backends.base import ChatMessage, GenerationRequest
from ponder.backends.errors import BackendConfigError, BackendResponseError, BackendUnavailableError
from ponder.plugin.settings import load_settings
from tests._toy_llm import ToyServer, sglang_app

ServeApp = Callable[[Any], str]


def _sglang_result(i: int, n_tokens: int = 3, logprobs: bool = False) -> dict[str, Any]:
    """A result as SGLang's tokenizer manager returns it (meta_info fields per its source)."""
    meta: dict[str, Any] = {
        "id": f"rid-{i}",
        "finish_reason": {"type": "length", "length": n_tokens},
        "prompt_tokens": 5,
        "completion_tokens": n_tokens,
        "cached_tokens": 2,
        "e2e_latency": 0.01,
    }
    if logprobs:
        meta["output_token_logprobs"] = [[-0.5, 100 + k, f"t{k}"] for k in range(n_tokens)]
        meta["output_top_logprobs"] = [[[-0.5, 100 + k, f"t{k}"], [-1.5, 200, None]] for k in range(n_tokens)]
    return {"text": f"out{i}", "output_ids": [100 + k for k in range(n_tokens)], "meta_info": meta}


def _recorder(tokenize: bool = False) -> tuple[FastAPI, list[dict[str, Any]]]:
    """An SGLang look-alike that records /generate bodies; /v1/tokenize only when `tokenize`."""
    app = FastAPI()
    seen: list[dict[str, Any]] = []

    @app.post("/generate")
    async def generate(request: Request) -> Any:
        body = await request.json()
        seen.append(body)
        params = body["sampling_params"]
        params = params if isinstance(params, list) else [params]
        logprob = body.get("return_logprob")
        logprob = logprob[0] if isinstance(logprob, list) else bool(logprob)
        count = sum(p.get("n", 1) for p in params)
        results = [_sglang_result(i, logprobs=logprob) for i in range(count)]
        single = isinstance(body.get("text"), str) or isinstance((body.get("input_ids") or [[]])[0], int)
        return results[0] if single and count == 1 else results

    if tokenize:

        @app.post("/v1/tokenize")
        async def tok(request: Request) -> Any:
            prompts = (await request.json())["prompt"]
            return {
                "tokens": [[len(p), 7] for p in prompts],
                "count": [2] * len(prompts),
                "max_model_len": -1,
            }

    return app, seen


# ---- the wire contract (no model) ------------------------------------------------------------


async def test_single_request_payload_and_parsing(serve_app: ServeApp) -> None:
    app, seen = _recorder()
    async with SGLangBackend(serve_app(app), top_k=20, stop_token_ids=[2]) as backend:
        req = GenerationRequest(prompt="Hi", max_tokens=3, temperature=0.5, top_p=0.9, stop=["\n"], seed=7)
        [[c]] = await backend.generate([req.model_copy(update={"logprobs": True, "top_logprobs": 2})])
    assert seen == [
        {
            "text": "Hi",
            "sampling_params": {
                "max_new_tokens": 3,
                "temperature": 0.5,
                "top_p": 0.9,
                "n": 1,
                "stop": ["\n"],
                "sampling_seed": 7,
                "top_k": 20,
                "stop_token_ids": [2],
            },
            "return_logprob": True,
            "top_logprobs_num": 2,
            "return_text_in_logprobs": True,
        }
    ]
    assert c.text == "out0" and c.token_ids == [100, 101, 102] and c.finish_reason == "length"
    assert c.prompt_token_ids == []  # this server has no /v1/tokenize
    assert (c.usage.prompt_tokens, c.usage.completion_tokens, c.usage.cached_tokens) == (5, 3, 2)
    assert c.logprobs is not None and [lp.token_id for lp in c.logprobs] == [100, 101, 102]
    assert c.logprobs[0].top == {"t0": -0.5, "200": -1.5}  # a None text falls back to the id


async def test_batch_groups_by_n_and_expands_seeded_samples(serve_app: ServeApp) -> None:
    app, seen = _recorder(tokenize=True)
    async with SGLangBackend(serve_app(app)) as backend:
        rows = await backend.generate(
            [
                GenerationRequest(prompt="a", n=2),
                GenerationRequest(prompt="bb", n=2),
                GenerationRequest(prompt="ccc", n=1),
                GenerationRequest(prompt="dddd", n=3, seed=10),
            ]
        )
    assert [len(r) for r in rows] == [2, 2, 1, 3]
    warm, *generate = seen
    # The seeded request's shared prompt is prefilled once before its three entries go out.
    assert warm["input_ids"] == [4, 7] and warm["sampling_params"]["max_new_tokens"] == 0
    by_n = {tuple(p["n"] for p in body["sampling_params"]): body for body in generate}
    assert set(by_n) == {(2, 2), (1, 1, 1, 1)}
    assert by_n[(2, 2)]["input_ids"] == [[1, 7], [2, 7]]
    seeds = [p.get("sampling_seed") for p in by_n[(1, 1, 1, 1)]["sampling_params"]]
    assert seeds == [None, 10, 11, 12]
    assert rows[3][0].prompt_token_ids == [4, 7]
    # The prompt is booked once per request: later samples carry no prompt tokens.
    assert [c.usage.prompt_tokens for c in rows[0]] == [5, 0]


async def test_results_without_output_ids_are_accepted(serve_app: ServeApp) -> None:
    """Older SGLang releases omit `output_ids`."""
    app = FastAPI()

    @app.post("/generate")
    async def generate() -> Any:
        result = _sglang_result(0)
        del result["output_ids"]
        result["meta_info"]["finish_reason"] = {"type": "stop", "matched": "\n"}
        return result

    async with SGLangBackend(serve_app(app)) as backend:
        [[c]] = await backend.generate([GenerationRequest(prompt="x")])
    assert c.token_ids == [] and c.finish_reason == "stop"


async def test_invalid_sampling_params_fail_before_any_request(serve_app: ServeApp) -> None:
    app, seen = _recorder()
    url = serve_app(app)
    bad = GenerationRequest.model_construct(prompt="x", temperature=-1.0, n=1, top_p=1.0, max_tokens=4)
    async with SGLangBackend(url) as backend:
        with pytest.raises(BackendConfigError, match="temperature"):
            await backend.generate([bad])
    with pytest.raises(BackendConfigError, match="top_k"):
        SGLangBackend(url, top_k=0)
    with pytest.raises(BackendConfigError, match="chat template"):
        SGLangBackend(url, chat_template="no-such-template")
    assert seen == []


def test_chat_template_by_name_file_or_settings(tmp_path: Any) -> None:
    msgs = [ChatMessage(role="user", content="Hi")]
    plain = SGLangBackend("http://127.0.0.1:9").render_chat(msgs)
    assert plain == "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
    smol = SGLangBackend("http://127.0.0.1:9", chat_template="smollm2").render_chat(msgs, "Step 1:")
    assert smol.startswith("<|im_start|>system\nYou are a helpful AI assistant named SmolLM")
    assert smol.endswith(plain + "Step 1:")
    jinja = tmp_path / "template.jinja"
    jinja.write_text("{% for m in messages %}[{{ m.role }}] {{ m.content }}\n{% endfor %}[assistant] ")
    assert (
        SGLangBackend("http://127.0.0.1:9", chat_template=str(jinja)).render_chat(msgs)
        == "[user] Hi\n[assistant] "
    )
    settings = load_settings(
        environ={"PONDER_BACKEND_KIND": "sglang", "PONDER_BACKEND_CHAT_TEMPLATE": "smollm2"}
    )
    assert make_backend(settings.backend).render_chat(msgs) == smol.removesuffix("Step 1:")
    with pytest.raises(BackendConfigError, match=r"unknown chat template 'nope.jinja'.*path of a Jinja"):
        SGLangBackend("http://127.0.0.1:9", chat_template="nope.jinja")


@pytest.mark.model
def test_smollm2_template_matches_the_models_own(engine_backend: Any) -> None:
    # The embedded engine renders with the GGUF's tokenizer.chat_template; the SGLang client's
    # `smollm2` preset must produce the same text, with and without a system turn.
    client = SGLangBackend("http://127.0.0.1:9", chat_template="smollm2")
    for msgs in (
        [ChatMessage(role="user", content="What is 2 + 2?")],
        [ChatMessage(role="system", content="Be brief."), ChatMessage(role="user", content="2 + 2?")],
    ):
        assert client.render_chat(msgs, "Step 1:") == engine_backend.render_chat(msgs, "Step 1:")


@pytest.mark.parametrize(
    "body",
    [
        pytest.param("<html>gateway</html>", id="not-json"),
        pytest.param('{"text": "no meta_info"}', id="wrong-shape"),
        pytest.param("[]", id="wrong-count"),
    ],
)
async def test_bad_payload_is_a_response_error(serve_app: ServeApp, body: str) -> None:
    app = FastAPI()

    @app.post("/generate")
    async def generate() -> Any:
        return PlainTextResponse(body, media_type="application/json")

    async with SGLangBackend(serve_app(app)) as backend:
        with pytest.raises(BackendResponseError, match="/generate"):
            await backend.generate([GenerationRequest(prompt="x")])


async def test_health_and_model_info_of_an_sglang_server(serve_app: ServeApp) -> None:
    async with SGLangBackend(serve_app(sglang_app(ToyServer()))) as backend:
        await backend.health()
        assert (await backend.model_info())["is_generation"] is True


async def test_server_info_falls_back_to_old_path(serve_app: ServeApp) -> None:
    app = FastAPI()

    @app.get("/server_info")
    async def old() -> Any:
        return {"version": "0.3.0"}

    async with SGLangBackend(serve_app(app)) as backend:
        assert (await backend.server_info())["version"] == "0.3.0"


# ---- end to end against `ponder engine serve` (real model) ------------------------------------


@pytest.mark.model
async def test_server_killed_mid_run_is_unavailable(
    engine_process: tuple[str, subprocess.Popen[bytes]],
) -> None:
    url, proc = engine_process
    long_prompt = " ".join(f"item{k}" for k in range(700))  # prefill alone takes seconds on a CPU
    async with SGLangBackend(url, max_retries=1, connect_timeout_s=1) as backend:
        task = asyncio.create_task(backend.generate([GenerationRequest(prompt=long_prompt, max_tokens=64)]))
        await asyncio.sleep(1.0)
        assert not task.done()
        os.kill(proc.pid, signal.SIGKILL)
        with pytest.raises(BackendUnavailableError, match=re.escape(url)):
            await asyncio.wait_for(task, timeout=30)
