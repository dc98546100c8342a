"""Scale-out behind the real sglang-router: two `ponder engine serve` workers answer beam searches.

The router (the `sglang-router` wheel, a Rust binary) registers each worker through its
`/health`, `/server_info` and `/model_info`, serves `/v1/tokenize` itself from `--tokenizer-path`,
and routes each `/generate` by the longest prefix it already sent somewhere (cache-aware policy),
else to the least busy worker. What the search owes that policy: the siblings of a node go out
together, behind a warm-up of their shared prefix, so they all land on the worker that holds it.

The router reads one `sampling_params` object per request; a batch of seeded siblings (one seed
each) is therefore refused once with 422 and then posted as one broadcast body per seed, at once.
The first test checks that fallback against a router-like fake; the second runs the real router.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ponder.backends.base import GenerationRequest
from ponder.backends.sglang import SGLangBackend
from ponder.graph import Budget, SearchConfig, run_search
from ponder.graph.testing import ScriptedVerifier, text_task
from ponder.verifiers.types import StepScore
from tests._toy_llm import ToyServer, sglang_app
from tests.conftest import LOOPBACK, _start_process, _stop_process, free_port

STARTUP_S = 90.0
"""Seconds a worker or the router may take to come up (two model loads share two cores)."""


# ---- a router-like fake: one sampling_params object per request --------------------------------


def refuses_param_lists(inner: Any) -> Any:
    """`inner` behind the router's rule: a `/generate` whose `sampling_params` is a list gets 422."""

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"] != "/generate":
            await inner(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        raw = b"".join(chunks)
        if isinstance(json.loads(raw).get("sampling_params"), list):
            text = b"Failed to deserialize the JSON body: sampling_params[0]: invalid type: map"
            await send({"type": "http.response.start", "status": 422, "headers": []})
            await send({"type": "http.response.body", "body": text})
            return
        replay = iter([{"type": "http.request", "body": raw, "more_body": False}])
        await inner(scope, lambda: _next_or_disconnect(replay), send)

    return app


async def _next_or_disconnect(messages: Iterator[dict[str, Any]]) -> dict[str, Any]:
    return next(messages, {"type": "http.disconnect"})


async def test_seeded_siblings_fall_back_to_one_body_per_seed(serve_app: Any) -> None:
    """Same samples as one batched body, posted concurrently; the 422 is paid once, not per call."""
    plain, routed = ToyServer(), ToyServer()
    requests = [GenerationRequest(prompt="two plus two", n=3, seed=5, max_tokens=6, temperature=0.9)]
    async with SGLangBackend(serve_app(sglang_app(plain))) as backend:
        [expected] = await backend.generate(requests)
    async with SGLangBackend(serve_app(refuses_param_lists(sglang_app(routed)))) as backend:
        [got] = await backend.generate(requests)
        [again] = await backend.generate(requests)
    assert [c.token_ids for c in got] == [c.token_ids for c in expected] == [c.token_ids for c in again]
    sent = [b for b in routed.bodies if b["sampling_params"].get("max_new_tokens")]
    assert all(isinstance(b["sampling_params"], dict) for b in routed.bodies)
    assert sorted(b["sampling_params"]["sampling_seed"] for b in sent) == [5, 5, 6, 6, 7, 7]


# ---- the real router in front of two real workers ---------------------------------------------


def build_tokenizer_json(gguf_path: Path, out: Path) -> Path:
    """The GGUF's byte-level BPE as a `tokenizer.json` for the router (SmolLM2: llama.cpp's
    "smollm" pre-tokenizer is digits one by one, then GPT-2's byte-level split)."""
    gguf = pytest.importorskip("gguf", reason="needs the `scale` extra: pip install 'ponder[scale]'")
    tk = pytest.importorskip("tokenizers", reason="needs the `scale` extra: pip install 'ponder[scale]'")
    fields = gguf.GGUFReader(gguf_path).fields
    assert fields["tokenizer.ggml.model"].contents() == "gpt2", "only byte-level BPE models are converted"
    tokens = fields["tokenizer.ggml.tokens"].contents()
    merges = [tuple(m.split(" ", 1)) for m in fields["tokenizer.ggml.merges"].contents()]
    tokenizer = tk.Tokenizer(tk.models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
    tokenizer.pre_tokenizer = tk.pre_tokenizers.Sequence(
        [
            tk.pre_tokenizers.Digits(individual_digits=True),
            tk.pre_tokenizers.ByteLevel(add_prefix_space=False),
        ]
    )
    tokenizer.decoder = tk.decoders.ByteLevel()
    control = [
        t for t, kind in zip(tokens, fields["tokenizer.ggml.token_type"].contents(), strict=True) if kind == 3
    ]
    tokenizer.add_special_tokens([tk.AddedToken(t, special=True, normalized=False) for t in control])
    tokenizer.save(str(out))
    return out


def _wait_for_workers(router: str, count: int) -> None:
    """Poll the router's `/workers` until `count` workers are registered and healthy."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        try:
            workers = httpx.get(f"{router}/workers", timeout=2.0, trust_env=False).json()["workers"]
            if len(workers) == count and all(w["is_healthy"] for w in workers):
                return
        except (httpx.HTTPError, ValueError, KeyError):
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the router at {router} did not register {count} healthy workers in {STARTUP_S}s")


@pytest.fixture
def routed_workers(model_path: Path, tmp_path: Path) -> Iterator[tuple[str, str, list[str]]]:
    """Two workers and the router on loopback; yields (router URL, metrics URL, worker URLs)."""
    pytest.importorskip("sglang_router", reason="needs the `scale` extra: pip install 'ponder[scale]'")
    tokenizer = build_tokenizer_json(model_path, tmp_path / "tokenizer.json")
    procs = []
    try:
        workers = []
        for _ in range(2):
            port = free_port()
            code = "from ponder.plugin.admin.engine import app; app()"
            args = [sys.executable, "-c", code, "serve", "--port", str(port), "--model-path", str(model_path)]
            url = f"http://{LOOPBACK}:{port}"
            procs.append(_start_process([*args, "--threads", "1"], f"{url}/health"))
            workers.append(url)
        port, metrics_port = free_port(), free_port()
        args = [sys.executable, "-m", "sglang_router.launch_router", "--host", LOOPBACK, "--port", str(port)]
        args += ["--worker-urls", *workers, "--policy", "cache_aware", "--tokenizer-path", str(tokenizer)]
        args += [
            "--prometheus-host",
            LOOPBACK,
            "--prometheus-port",
            str(metrics_port),
            "--log-level",
            "error",
        ]
        router = f"http://{LOOPBACK}:{port}"
        procs.append(_start_process(args, f"{router}/health"))
        _wait_for_workers(router, len(workers))
        yield router, f"http://{LOOPBACK}:{metrics_port}/metrics", workers
    finally:
        for proc in reversed(procs):
            _stop_process(proc)


class Recorder(httpx.AsyncBaseTransport):
    """The client's transport, keeping each `/generate` body and answer with when it was in flight."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.generates: list[tuple[dict[str, Any], Any, float, float]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = time.monotonic()
        response = await self.inner.handle_async_request(request)
        raw = await response.aread()
        if request.url.path == "/generate" and response.status_code == 200:
            self.generates.append((json.loads(request.content), json.loads(raw), started, time.monotonic()))
        return httpx.Response(response.status_code, headers=response.headers, content=raw)

    async def aclose(self) -> None:
        await self.inner.aclose()


def served_per_worker(metrics: str, workers: list[str]) -> dict[str, int]:
    """Requests each worker answered, from the router's Prometheus text (0.3.x names it
    `smg_worker_cb_outcomes_total{worker=…,outcome="success"}`; older releases
    `sgl_router_processed_requests_total{worker=…}`)."""
    counts = dict.fromkeys(workers, 0)
    pattern = re.compile(
        r"^(smg_worker_cb_outcomes_total|sgl_router_processed_requests_total)\{(.*)\} (\S+)$"
    )
    for line in metrics.splitlines():
        match = pattern.match(line)
        if not match or ('outcome="' in match[2] and 'outcome="success"' not in match[2]):
            continue
        worker = re.search(r'worker="([^"]+)"', match[2])
        if worker and worker[1] in counts:
            counts[worker[1]] += int(float(match[3]))
    return counts


# Distinct long questions: their prefill keeps each task's first request in flight while the
# next task's arrives (so the least-busy rule spreads them), and no two share a prefix.
TOPICS = ["lighthouses", "volcanoes", "honeybees", "glaciers"]
QUESTION = (
    "Here are some notes about {topic}. "
    + "The notes go on about {topic} at some length. " * 12
    + "In one sentence, what are {topic}?"
)


@pytest.mark.model
@pytest.mark.timeout(300)
async def test_beam_search_through_the_router_uses_both_workers(
    routed_workers: tuple[str, str, list[str]],
) -> None:
    router, metrics_url, workers = routed_workers
    recorder = Recorder()
    # Beam (two beams, two children each) two steps deep, with nothing but the depth to stop it.
    unlimited = Budget(max_expansions=None, max_tokens=None, max_seconds=None)
    config = SearchConfig(strategy="beam", max_depth=2, max_step_tokens=8, budget=unlimited)
    verifier = ScriptedVerifier(lambda chain: StepScore(score=0.5))
    async with SGLangBackend(router, transport=recorder, timeout_s=60.0) as backend:
        searches = [
            run_search(text_task(QUESTION.format(topic=t)), config, backend=backend, verifier=verifier)
            for t in TOPICS
        ]
        results = await asyncio.wait_for(asyncio.gather(*searches), timeout=240)

    assert all(r.spend.expansions >= 2 and r.spend.tokens_generated > 0 for r in results)
    # Every task's siblings: one warmed prefix, sampled by requests that were all in flight at once
    # and all found that prefix cached, i.e. they reached the worker that prefilled it.
    siblings: dict[tuple[int, ...], list[tuple[Any, float, float]]] = defaultdict(list)
    for body, answer, started, ended in recorder.generates:
        if body["sampling_params"]["max_new_tokens"] == 0:
            continue  # a warm-up
        inputs, answers = body["input_ids"], answer if isinstance(answer, list) else [answer]
        for ids, one in zip(inputs if isinstance(inputs[0], list) else [inputs], answers, strict=True):
            siblings[tuple(ids)].append((one, started, ended))
    assert len(siblings) >= len(TOPICS) and all(len(group) >= 2 for group in siblings.values())
    for prefix, group in siblings.items():
        assert max(s for _, s, _ in group) < min(e for _, _, e in group), "siblings went out one by one"
        for answer, _, _ in group:
            meta = answer["meta_info"]
            assert meta["prompt_tokens"] == len(prefix)
            assert meta["cached_tokens"] >= len(prefix) - 1, "a sibling missed its prefilled prefix"
    served = served_per_worker(httpx.get(metrics_url, timeout=5.0, trust_env=False).text, workers)
    assert all(n > 0 for n in served.values()), f"the router used one worker only: {served}"
    assert sum(served.values()) >= len(recorder.generates)
