"""`ponder engine serve` (backends/server.py) over the real embedded model, over real HTTP on loopback.

The request bodies below are written from SGLang's own schema: `GenerateReqInput`
(python/sglang/srt/managers/io_struct.py: text | input_ids, single or batch, sampling_params dict
or list, return_logprob, top_logprobs_num, return_text_in_logprobs, rid) and `SamplingParams`
(srt/sampling/sampling_params.py: max_new_tokens, temperature, top_p, top_k, stop,
stop_token_ids, n, sampling_seed). The response assertions pin SGLang's shape: `{text,
output_ids, meta_info{id, finish_reason{type, matched|length}, prompt_tokens, completion_tokens,
cached_tokens, output_token_logprobs[[logprob, token_id, text|None]], output_top_logprobs}}`, a
list for batches with `n` results per prompt grouped consecutively. Assertions rest on
behaviour (greedy determinism, grouping, counts), never on what a 135M model says.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Sequence
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ponder.backends.base import BaseBackend, Capabilities, Completion, GenerationRequest
from ponder.backends.server import create_engine_app

GREEDY = {"temperature": 0, "max_new_tokens": 8}


def _post(url: str, path: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(url + path, json=body, timeout=120, trust_env=False)


def _assert_sglang_result(result: dict[str, Any]) -> None:
    assert set(result) == {"text", "output_ids", "meta_info"}
    meta = result["meta_info"]
    assert {"id", "finish_reason", "prompt_tokens", "completion_tokens", "cached_tokens"} <= set(meta)
    assert isinstance(result["text"], str)
    assert all(isinstance(t, int) for t in result["output_ids"])
    assert meta["completion_tokens"] == len(result["output_ids"])
    reason = meta["finish_reason"]
    assert reason["type"] in ("stop", "length", "abort")
    if reason["type"] == "length":
        assert reason["length"] == meta["completion_tokens"]
    else:
        assert "matched" in reason


@pytest.mark.model
def test_single_text_is_one_object(engine_url: str) -> None:
    response = _post(engine_url, "/generate", {"text": "The capital of France is", "sampling_params": GREEDY})
    assert response.status_code == 200
    result = response.json()
    assert isinstance(result, dict)
    _assert_sglang_result(result)
    assert result["meta_info"]["prompt_tokens"] > 0
    assert result["meta_info"]["completion_tokens"] <= 8


@pytest.mark.model
def test_batch_with_n_is_grouped_per_prompt(engine_url: str) -> None:
    prompts = ["Count: one, two,", "Colours: red, green,"]
    singles = [_post(engine_url, "/generate", {"text": p, "sampling_params": GREEDY}).json() for p in prompts]
    body = {"text": prompts, "sampling_params": {**GREEDY, "n": 2}, "rid": ["a", "b"]}
    results = _post(engine_url, "/generate", body).json()
    assert isinstance(results, list) and len(results) == 4
    for r in results:
        _assert_sglang_result(r)
    assert [r["meta_info"]["id"] for r in results] == ["a-0", "a-1", "b-0", "b-1"]
    # Each group answers its own prompt: the prompt's length, and greedy samples of one prompt in
    # one batch are the same computation. (Across calls a greedy choice can differ at a near-tie of
    # this 135M model once the KV cache holds other batches' cells; the contract suite reports it.)
    lengths = [s["meta_info"]["prompt_tokens"] for s in singles]
    assert [r["meta_info"]["prompt_tokens"] for r in results] == [
        lengths[0],
        lengths[0],
        lengths[1],
        lengths[1],
    ]
    ids = [r["output_ids"] for r in results]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[0] != ids[2]


@pytest.mark.model
def test_input_ids_prefill_only(engine_url: str) -> None:
    ids = httpx.post(engine_url + "/v1/tokenize", json={"prompt": "Prefill this prefix once"}).json()[
        "tokens"
    ]
    result = _post(
        engine_url, "/generate", {"input_ids": ids, "sampling_params": {"max_new_tokens": 0}}
    ).json()
    _assert_sglang_result(result)
    assert result["text"] == "" and result["output_ids"] == []
    assert result["meta_info"]["finish_reason"] == {"type": "length", "length": 0}
    assert result["meta_info"]["prompt_tokens"] == len(ids)
    again = _post(engine_url, "/generate", {"input_ids": ids, "sampling_params": GREEDY}).json()
    assert again["meta_info"]["cached_tokens"] > 0


@pytest.mark.model
def test_logprobs_shape(engine_url: str) -> None:
    body = {
        "text": "Two plus two is",
        "sampling_params": GREEDY,
        "return_logprob": True,
        "top_logprobs_num": 2,
        "return_text_in_logprobs": True,
    }
    result = _post(engine_url, "/generate", body).json()
    meta = result["meta_info"]
    chosen = meta["output_token_logprobs"]
    assert len(chosen) == meta["completion_tokens"]
    for (logprob, token_id, text), out_id, top in zip(
        chosen, result["output_ids"], meta["output_top_logprobs"], strict=True
    ):
        assert logprob <= 0 and token_id == out_id and isinstance(text, str)
        assert len(top) == 2
        # Greedy picks the most likely token, so it heads the alternatives.
        assert top[0][0] == pytest.approx(logprob, abs=1e-4)


@pytest.mark.model
def test_stop_token_ids_cut_the_sample(engine_url: str) -> None:
    full = _post(engine_url, "/generate", {"text": "List: apple, pear,", "sampling_params": GREEDY}).json()
    stop_id = full["output_ids"][2]
    cut_at = full["output_ids"].index(stop_id)
    params = {**GREEDY, "stop_token_ids": [stop_id]}
    result = _post(engine_url, "/generate", {"text": "List: apple, pear,", "sampling_params": params}).json()
    assert result["output_ids"] == full["output_ids"][: cut_at + 1]
    assert result["meta_info"]["finish_reason"] == {"type": "stop", "matched": stop_id}


@pytest.mark.model
@pytest.mark.parametrize(
    ("body", "needle"),
    [
        pytest.param({"text": "x", "sampling_params": {"regex": "[0-9]+"}}, "regex", id="regex"),
        pytest.param({"text": "x", "sampling_params": {"top_k": 40}}, "top_k", id="top-k"),
        pytest.param({"text": "x", "sampling_params": {"max_new_token": 3}}, "max_new_token", id="typo"),
        pytest.param({"text": "x", "stream": True}, "stream", id="stream"),
        pytest.param({"text": "x", "sampling_params": {"temperature": -1}}, "temperature", id="bad-value"),
        pytest.param({"sampling_params": {}}, "text or input_ids", id="no-input"),
        pytest.param({"text": ["a", "b"], "sampling_params": [{}]}, "sampling_params", id="list-mismatch"),
    ],
)
def test_refused_requests_name_the_parameter(engine_url: str, body: dict[str, Any], needle: str) -> None:
    response = _post(engine_url, "/generate", body)
    assert response.status_code == 400
    assert needle in response.json()["error"]["message"]


@pytest.mark.model
def test_info_endpoints(engine_url: str, model_path: Any) -> None:
    assert httpx.get(engine_url + "/health").status_code == 200
    for path in ("/get_model_info", "/model_info"):  # the second is what sglang-router asks
        info = httpx.get(engine_url + path).json()
        assert info["model_path"] == str(model_path) and info["is_generation"] is True
    for path in ("/get_server_info", "/server_info"):
        server = httpx.get(engine_url + path).json()
        assert server["context_length"] == 4096 and server["capabilities"]["token_ids"] is True
    assert httpx.post(engine_url + "/flush_cache").status_code == 200
    models = httpx.get(engine_url + "/v1/models").json()
    assert models["data"][0]["id"] == model_path.name


@pytest.mark.model
def test_tokenize_round_trip(engine_url: str) -> None:
    tokens = httpx.post(engine_url + "/v1/tokenize", json={"prompt": ["hello world", "bye"]}).json()
    assert tokens["count"] == [len(t) for t in tokens["tokens"]]
    text = httpx.post(engine_url + "/detokenize", json={"tokens": tokens["tokens"][0]}).json()["text"]
    assert text == "hello world"


@pytest.mark.model
def test_openai_chat_completions(engine_url: str) -> None:
    body = {
        "model": "anything",
        "messages": [{"role": "user", "content": "Say one word."}],
        "max_tokens": 6,
        "temperature": 0,
        "n": 2,
        "logprobs": True,
        "top_logprobs": 1,
    }
    data = _post(engine_url, "/v1/chat/completions", body).json()
    assert data["object"] == "chat.completion" and len(data["choices"]) == 2
    first, second = data["choices"]
    assert first["message"]["content"] == second["message"]["content"]  # greedy
    assert len(first["logprobs"]["content"]) <= 6
    usage = data["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert "cached_tokens" in usage["prompt_tokens_details"]


def test_cli_serve_help() -> None:
    from ponder.plugin.admin.engine import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0
    assert "127.0.0.1" in result.output and "--model-path" in result.output


class _SlowBackend(BaseBackend):
    """Takes 5 s per call and records whether the server cancelled it."""

    name = "slow"

    def __init__(self) -> None:
        self.cancelled = threading.Event()

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            logprobs=False, top_logprobs=False, n=True, token_ids=False, prefix_cache=False, seed=False
        )

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        try:
            await asyncio.sleep(5)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        return [[Completion(text="", token_ids=[], finish_reason="stop")] for _ in requests]


def test_client_disconnect_cancels_backend_work(serve_app: Callable[[Any], str]) -> None:
    backend = _SlowBackend()
    url = serve_app(create_engine_app(backend))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(url + "/generate", json={"text": "x"}, timeout=0.5, trust_env=False)
    assert backend.cancelled.wait(3.0)  # the engine stops decoding for a client that left
