"""Contract tests for the served reward-model PRMs, against a real HTTP server on 127.0.0.1.

The server below answers with payloads that follow the real servers' schemas:
  - SGLang `POST /classify` (reward model launched with `--is-embedding`): request
    `{"text": [...], "model"?}`, response a list with one `{"embedding": [reward], "meta_info":
    {"id", "prompt_tokens", "cached_tokens", ...}}` per text (sgl-project/sglang, docs
    basic_usage/native_api "Classify (reward model)").
  - vLLM `POST /pooling`: request `{"model", "input": str | [str]}` or `{"model", "messages"}`,
    response `PoolingResponse {"id", "object": "list", "created", "model", "data": [
    {"index", "object": "pooling", "data": [[p0, p1], ...]}], "usage"}` with one two-class row
    per step tag for Qwen2.5-Math-PRM (vllm-project/vllm, entrypoints/openai protocol
    `PoolingResponseData.data: list[list[float]] | list[float] | str`).
Its "model" calls a step wrong when the step contains WRONG, so expected scores are exact.

The integration test at the end runs against a real reward server when PONDER_PRM_URL is set
(PONDER_PRM_PROTOCOL = sglang_classify | vllm_pooling, PONDER_PRM_MODEL, PONDER_PRM_FORMAT).
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from ponder.verifiers import Chain, VerifyTask
from ponder.verifiers.prm_http import (
    ClassifyRewardPRM,
    PoolingStepPRM,
    RewardServerError,
    RewardServerSettings,
    make_reward_prm,
    sigmoid,
)
from ponder.verifiers.step_format import LLAMA3, QWEN_MATH_PRM, QWEN_MATH_PRM_TEXT

TASK = VerifyTask(kind="math", question="What is 2 + 3 * 4?")
GOOD = Chain(steps=("3 * 4 = 12", "2 + 12 = 14"))
BAD = Chain(steps=("3 * 4 = 12", "2 + 12 = 15 WRONG"))
TAG = "<extra_0>"


def _reward(text: str) -> float:
    return 2.0 - 4.0 * text.count("WRONG")


def _row(step: str) -> list[float]:
    return [0.2, 0.8] if "WRONG" not in step else [0.9, 0.1]


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that gave up (the timeout test) is expected; anything else is shown."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class RewardServer:
    """Serves SGLang-/vLLM-shaped answers; `/flaky`, `/slow`, `/bad`, `/err` prefixes inject faults."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.flaky_left = 0
        self.httpd = _QuietServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                return None

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, body))
                prefix, _, endpoint = self.path.rpartition("/")
                if prefix == "/flaky" and server.flaky_left > 0:
                    server.flaky_left -= 1
                    return self._send(503, {"error": "warming up"})
                if prefix == "/slow":
                    time.sleep(1.0)
                if prefix == "/err":
                    return self._send(400, {"object": "error", "message": "model not found"})
                if prefix == "/bad":
                    return self._send(200, {"unexpected": True})
                if endpoint == "classify":
                    return self._send(200, server.classify(body))
                if endpoint == "pooling":
                    return self._send(200, server.pooling(body))
                return self._send(404, {"detail": "Not Found"})

            def _send(self, status: int, payload: Any) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler

    def classify(self, body: dict[str, Any]) -> Any:
        texts = body["text"] if isinstance(body["text"], list) else [body["text"]]
        out = [
            {
                "embedding": [_reward(t)],
                "meta_info": {"id": f"req-{i}", "prompt_tokens": len(t.split()), "cached_tokens": 3},
            }
            for i, t in enumerate(texts)
        ]
        return out if isinstance(body["text"], list) else out[0]

    def pooling(self, body: dict[str, Any]) -> dict[str, Any]:
        if "messages" in body:
            inputs = [next(m["content"] for m in body["messages"] if m["role"] == "assistant")]
        else:
            inputs = body["input"] if isinstance(body["input"], list) else [body["input"]]
        data = [
            {"index": i, "object": "pooling", "data": [_row(step) for step in text.split(TAG)[:-1]]}
            for i, text in enumerate(inputs)
        ]
        return {
            "id": "pool-1",
            "object": "list",
            "created": 0,
            "model": body.get("model", "Qwen/Qwen2.5-Math-PRM-7B"),
            "data": data,
            "usage": {
                "prompt_tokens": 10,
                "total_tokens": 10,
                "completion_tokens": 0,
                "prompt_tokens_details": None,
            },
        }


@pytest.fixture(scope="module")
def server() -> Iterator[RewardServer]:
    srv = RewardServer()
    thread = threading.Thread(target=srv.httpd.serve_forever, daemon=True)
    thread.start()
    yield srv
    srv.httpd.shutdown()
    srv.httpd.server_close()


@pytest.fixture(autouse=True)
def _fresh(server: RewardServer) -> None:
    server.requests.clear()
    server.flaky_left = 0


def _settings(url: str, **kw: Any) -> RewardServerSettings:
    return RewardServerSettings(url=url, max_retries=kw.pop("max_retries", 2), backoff_s=0.01, **kw)


async def test_classify_scores_latest_prefix_in_one_batched_request(server: RewardServer) -> None:
    prm = ClassifyRewardPRM(_settings(server.url, model="Skywork-Reward", step_format=LLAMA3))
    try:
        good, bad, dup = await prm.score(TASK, [GOOD, BAD, GOOD])
    finally:
        await prm.aclose()
    assert good.score == pytest.approx(sigmoid(2.0)) and bad.score == pytest.approx(sigmoid(-2.0))
    assert dup.score == good.score
    assert (good.gate, good.evidence["reward"], good.evidence["cached_tokens"]) == ("unknown", 2.0, 3)
    assert good.evidence["step_format"] == "llama3"
    [(path, body)] = server.requests  # siblings go together; the duplicate is sent once
    assert path == "/classify" and body["model"] == "Skywork-Reward"
    assert body["text"] == [LLAMA3.render(TASK.question, GOOD.steps), LLAMA3.render(TASK.question, BAD.steps)]
    assert body["text"][0].startswith("<|begin_of_text|><|start_header_id|>user")


async def test_classify_all_prefixes_share_one_request(server: RewardServer) -> None:
    prm = ClassifyRewardPRM(_settings(server.url, score_all_prefixes=True))
    [good, bad] = await prm.score(TASK, [GOOD, BAD])
    await prm.aclose()
    assert bad.evidence["step_scores"] == pytest.approx([sigmoid(2.0), sigmoid(-2.0)])
    assert good.evidence["step_scores"] == pytest.approx([sigmoid(2.0), sigmoid(2.0)])
    [(_, body)] = server.requests
    assert len(body["text"]) == 3  # the shared first prefix is sent once
    assert "model" not in body


async def test_classify_mapping_is_explicit(server: RewardServer) -> None:
    tempered = ClassifyRewardPRM(_settings(server.url, reward_offset=1.0, reward_temperature=2.0))
    [s] = await tempered.score(TASK, [GOOD])
    assert s.score == pytest.approx(sigmoid((2.0 - 1.0) / 2.0))
    identity = ClassifyRewardPRM(_settings(server.url, reward_mapping="identity"))
    with pytest.raises(RewardServerError, match=r"reward 2\.0 outside \[0, 1\].*reward_mapping='sigmoid'"):
        await identity.score(TASK, [GOOD])
    await tempered.aclose()
    await identity.aclose()


@pytest.mark.parametrize("fmt", [QWEN_MATH_PRM, QWEN_MATH_PRM_TEXT], ids=["messages", "input"])
async def test_pooling_step_scores_per_tag(server: RewardServer, fmt: Any) -> None:
    prm = PoolingStepPRM(_settings(server.url, protocol="vllm_pooling", model="qwen-prm", step_format=fmt))
    good, bad, root = await prm.score(TASK, [GOOD, BAD, Chain(steps=())])
    await prm.aclose()
    assert good.evidence["step_scores"] == pytest.approx([0.8, 0.8]) and good.score == pytest.approx(0.8)
    assert bad.evidence["step_scores"] == pytest.approx([0.8, 0.1]) and bad.score == pytest.approx(0.1)
    assert (root.score, root.evidence["reason"]) == (0.5, "no steps to score yet")
    bodies = [body for _, body in server.requests]
    assert all(b["model"] == "qwen-prm" for b in bodies)
    if fmt.chat:
        assert len(bodies) == 2  # one conversation per request
        assert all(b["messages"][0] == {"role": "system", "content": fmt.system} for b in bodies)
        sent = sorted(b["messages"][2]["content"] for b in bodies)  # concurrent: any order
        assert sent == [f"3 * 4 = 12{TAG}2 + 12 = 14{TAG}", f"3 * 4 = 12{TAG}2 + 12 = 15 WRONG{TAG}"]
    else:
        [body] = bodies
        assert body["input"][0].startswith("<|im_start|>system\nPlease reason step by step")
        assert body["input"][0].endswith(f"2 + 12 = 14{TAG}<|im_end|>\n")


async def test_pooling_logits_are_softmaxed_and_task_sent(server: RewardServer) -> None:
    settings = _settings(
        server.url, protocol="vllm_pooling", step_output="logits", pooling_task="token_classify"
    )
    prm = make_reward_prm(settings)
    assert isinstance(prm, PoolingStepPRM)
    [good] = await prm.score(TASK, [GOOD])
    await prm.aclose()
    assert good.score == pytest.approx(math.exp(0.8) / (math.exp(0.2) + math.exp(0.8)))
    assert server.requests[0][1]["task"] == "token_classify"


async def test_pooling_rejects_step_count_mismatch(server: RewardServer) -> None:
    prm = PoolingStepPRM(_settings(server.url, protocol="vllm_pooling"))
    tricky = Chain(steps=(f"a {TAG} b",))  # a step containing the tag yields two rows for one step
    with pytest.raises(RewardServerError, match=r"2 step scores for 1 steps.*step_tag_id 151651"):
        await prm.score(TASK, [tricky])
    await prm.aclose()


async def test_retries_5xx_then_succeeds(server: RewardServer) -> None:
    server.flaky_left = 2
    prm = ClassifyRewardPRM(_settings(server.url + "/flaky", max_retries=2))
    [s] = await prm.score(TASK, [GOOD])
    await prm.aclose()
    assert s.score == pytest.approx(sigmoid(2.0))
    assert len(server.requests) == 3


async def test_gives_up_after_retries_naming_url(server: RewardServer) -> None:
    server.flaky_left = 5
    prm = ClassifyRewardPRM(_settings(server.url + "/flaky", max_retries=1))
    with pytest.raises(RewardServerError, match=r"/flaky/classify answered HTTP 503") as info:
        await prm.score(TASK, [GOOD])
    await prm.aclose()
    assert info.value.status_code == 503 and len(server.requests) == 2


async def test_client_error_is_not_retried(server: RewardServer) -> None:
    prm = ClassifyRewardPRM(_settings(server.url + "/err", model="nope"))
    with pytest.raises(RewardServerError, match=r"answered HTTP 400.*model not found.*model='nope'"):
        await prm.score(TASK, [GOOD])
    await prm.aclose()
    assert len(server.requests) == 1


@pytest.mark.parametrize("protocol", ["sglang_classify", "vllm_pooling"])
async def test_wrong_payload_shape_names_protocol(server: RewardServer, protocol: Any) -> None:
    prm = make_reward_prm(_settings(server.url + "/bad", protocol=protocol))
    with pytest.raises(RewardServerError, match=rf"unexpected payload.*protocol '{protocol}'"):
        await prm.score(TASK, [GOOD])
    await prm.aclose()


async def test_timeout_names_url_and_setting(server: RewardServer) -> None:
    prm = ClassifyRewardPRM(_settings(server.url + "/slow", timeout_s=0.2))
    with pytest.raises(RewardServerError, match=r"/slow/classify did not answer within 0\.2s.*timeout_s"):
        await prm.score(TASK, [GOOD])
    await prm.aclose()


async def test_unreachable_server_names_url_and_fix() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    prm = ClassifyRewardPRM(_settings(f"http://127.0.0.1:{port}", max_retries=1))
    with pytest.raises(
        RewardServerError, match=rf"127\.0\.0\.1:{port}/classify unreachable after 2 attempts"
    ):
        await prm.score(TASK, [GOOD])
    await prm.aclose()


def test_settings_checks() -> None:
    with pytest.raises(ValueError, match="unknown step format 'nope'"):
        RewardServerSettings(url="http://127.0.0.1:1", step_format="nope")  # type: ignore[arg-type]
    assert RewardServerSettings(url="u", protocol="vllm_pooling").resolved_step_format() is QWEN_MATH_PRM
    with pytest.raises(ValueError, match="no tag after the last step"):
        PoolingStepPRM(RewardServerSettings(url="u", protocol="vllm_pooling", step_format="plain"))
    with pytest.raises(ValueError, match="speaks sglang_classify"):
        ClassifyRewardPRM(RewardServerSettings(url="u", protocol="vllm_pooling"))


@pytest.mark.skipif(
    not os.environ.get("PONDER_PRM_URL"), reason="set PONDER_PRM_URL to test a real reward server"
)
async def test_real_reward_server() -> None:
    settings = RewardServerSettings(
        url=os.environ["PONDER_PRM_URL"],
        protocol=os.environ.get("PONDER_PRM_PROTOCOL", "sglang_classify"),  # type: ignore[arg-type]
        model=os.environ.get("PONDER_PRM_MODEL"),
        step_format=os.environ.get("PONDER_PRM_FORMAT"),  # type: ignore[arg-type]
        score_all_prefixes=True,
    )
    prm = make_reward_prm(settings)
    try:
        results = await prm.score(TASK, [Chain(steps=GOOD.steps), Chain(steps=("3 * 4 = 12", "2 + 12 = 15"))])
    finally:
        await prm.aclose()
    for r in results:
        assert 0.0 <= r.score <= 1.0 and r.gate == "unknown"
        assert len(r.evidence["step_scores"]) == 2


def test_step_formats_lay_out_steps_as_trained() -> None:
    from ponder.verifiers.step_format import MATH_SHEPHERD, PLAIN, get_step_format

    steps = (" 3 * 4 = 12 ", "2 + 12 = 14")
    assert PLAIN.render("Q?", steps) == "Q?\n\n3 * 4 = 12\n\n2 + 12 = 14"
    assert MATH_SHEPHERD.render("Q?", steps) == "Q? 3 * 4 = 12 ки\n2 + 12 = 14 ки\n"
    assert QWEN_MATH_PRM.join_steps(()) == ""  # no steps, no tag to score
    assert [m["role"] for m in QWEN_MATH_PRM.messages("Q?", steps)] == ["system", "user", "assistant"]
    assert [m["role"] for m in LLAMA3.messages("Q?", steps)] == ["user", "assistant"]
    assert get_step_format("llama3") is LLAMA3


# -- the configured PRM in a whole search (runtime + settings), against the same loopback server ----


def _prm_settings(url: str) -> Any:
    from ponder.plugin.settings import PonderSettings

    return PonderSettings.model_validate(
        {"prm": {"kind": "served", "weight": 1.0, "server": {"url": url, "max_retries": 0}}}
    )


async def test_configured_prm_ranks_chains_but_never_passes_a_failed_gate(server: RewardServer) -> None:
    from ponder.graph.testing import ScriptedBackend
    from ponder.plugin.runtime import open_runtime
    from ponder.plugin.settings import PonderSettings
    from ponder.plugin.solve.workflow import build_solve_task

    # Two samples: the PRM dislikes the first (right) one and likes the second (wrong) one.
    def policy(ctx: Any) -> str:
        return "2 + 12 = 14 WRONG\nAnswer: 14" if ctx.sample == 0 else "12 + 2 = 15\nAnswer: 15"

    async def solve(settings: Any, reference: str | None) -> Any:
        async with open_runtime(settings, backend=ScriptedBackend(policy), need_sandbox=False) as rt:
            config = rt.search_config(strategy="best_of_n", n=2, budget={"max_expansions": 2})
            task = build_solve_task("2 + 3 * 4?", reference)
            return await rt.search(task, config, verifier=rt.math_verifier())

    gated = await solve(_prm_settings(server.url), "14")
    assert any(path == "/classify" for path, _ in server.requests), "the search called the reward server"
    # With a reference, the math gate decides: the PRM's favourite (15) fails it.
    assert gated.verified and gated.answer == "14"
    leaves = [n for n in gated.tree["nodes"] if n["answer"] in ("14", "15")]
    assert {n["answer"] for n in leaves} == {"14", "15"}
    for node in leaves:
        assert set(node["evidence"]["verifiers"]) == {"math", "reward_model"}
    # Without a reference nothing gates: the PRM's ranking picks its favourite, where the search
    # without a PRM keeps the first chain.
    ranked, plain = await solve(_prm_settings(server.url), None), await solve(PonderSettings(), None)
    assert not ranked.verified and ranked.answer == "15"
    assert plain.answer == "14"


def test_served_prm_without_a_server_is_a_one_line_settings_error() -> None:
    from ponder.plugin.settings import SettingsError, load_settings

    with pytest.raises(SettingsError, match=r"prm.kind='served' needs prm.server.*PONDER_PRM_SERVER"):
        load_settings(environ={"PONDER_PRM_KIND": "served"})
    settings = load_settings(
        environ={"PONDER_PRM_KIND": "served", "PONDER_PRM_SERVER": '{url = "http://127.0.0.1:9"}'}
    )
    assert settings.prm.server is not None and settings.prm.server.url == "http://127.0.0.1:9"
