"""Sandbox speed: a fresh container per verification (cold) against the warm pool.

Every figure runs a trivial pytest file through `run_tests` (the path a code verifier takes), on the
real engine with the full hardening. Cold = `DockerSandbox(pool_size=0)`: create, start, prepare,
run and remove one container per verification. Warm = the pool has a started container waiting.
Sustained = many verifications submitted at once to a pooled sandbox (default concurrency = cores).

Run: `python benchmarks/bench_sandbox.py [--samples N] [--burst N]` (needs the sandbox image).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from ponder.sandbox import DockerSandbox, TestReport

SOURCES = {"m.py": "def answer():\n    return 42\n"}
TESTS = {"test_m.py": "from m import answer\n\n\ndef test_answer():\n    assert answer() == 42\n"}
TARGET_WARM_P50_S = 0.150
TARGET_SPEEDUP = 4.0
TARGET_RUNS_PER_S = 5.0


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def check(report: TestReport) -> None:
    if not report.all_passed:
        raise SystemExit(f"benchmark verification did not pass: {report.to_dict()}")


async def cold(samples: int) -> list[float]:
    times = []
    async with DockerSandbox(pool_size=0) as sb:
        for _ in range(samples):
            started = time.perf_counter()
            check(await sb.run_tests(SOURCES, TESTS))
            times.append(time.perf_counter() - started)
    return times


async def warm(samples: int, pool: int) -> list[float]:
    times = []
    async with DockerSandbox(pool_size=pool) as sb:
        for _ in range(samples):
            while sb.pool_ready < pool:  # measure a run that finds a started container
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)  # let the refill's CPU settle: latency, not contention
            started = time.perf_counter()
            check(await sb.run_tests(SOURCES, TESTS))
            times.append(time.perf_counter() - started)
    return times


async def sustained(burst: int, pool: int) -> float:
    async with DockerSandbox(pool_size=pool) as sb:
        while sb.pool_ready < pool:
            await asyncio.sleep(0.05)
        started = time.perf_counter()
        reports = await asyncio.gather(*(sb.run_tests(SOURCES, TESTS) for _ in range(burst)))
        elapsed = time.perf_counter() - started
    for report in reports:
        check(report)
    return burst / elapsed


def row(name: str, value: str, target: str, ok: bool) -> None:
    print(f"{name:<34} {value:>16}   target {target:<14} {'ok' if ok else 'MISSED'}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=12)
    parser.add_argument("--burst", type=int, default=24)
    parser.add_argument("--pool", type=int, default=4)
    args = parser.parse_args()

    cold_s = await cold(args.samples)
    warm_s = await warm(args.samples, args.pool)
    rate = await sustained(args.burst, args.pool)

    cold_p50, warm_p50 = statistics.median(cold_s), statistics.median(warm_s)
    speedup = cold_p50 / warm_p50
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"sandbox benchmark: trivial pytest via run_tests, {os.cpu_count()} cores, pool {args.pool}")
    print(f"load average {load} (other work on these cores inflates every figure)")
    print(f"{'cold p50 / p95 (s)':<34} {cold_p50:>7.3f} / {pct(cold_s, 0.95):.3f}")
    print(f"{'warm p50 / p95 (s)':<34} {warm_p50:>7.3f} / {pct(warm_s, 0.95):.3f}")
    row("warm p50 (s)", f"{warm_p50:.3f}", f"<= {TARGET_WARM_P50_S}", warm_p50 <= TARGET_WARM_P50_S)
    row("cold p50 / warm p50 (ratio)", f"{speedup:.2f}x", f">= {TARGET_SPEEDUP}x", speedup >= TARGET_SPEEDUP)
    row(
        f"sustained runs/s ({args.burst} at once)",
        f"{rate:.2f}",
        f">= {TARGET_RUNS_PER_S}",
        rate >= TARGET_RUNS_PER_S,
    )


if __name__ == "__main__":
    asyncio.run(main())
