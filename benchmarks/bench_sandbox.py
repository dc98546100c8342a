"""Sandbox speed: a fresh container per verification (cold) against the warm pool.

Every figure runs a trivial pytest file through `run_tests` (the path a code verifier takes), on the
real engine with the full hardening. Cold = `DockerSandbox(pool_size=0)`: create, start, prepare,
run and remove one container per verification. Warm = the pool has a started container waiting.
Sustained = many verifications submitted at once to a pooled sandbox (default concurrency = cores).

Throughput on a small machine is bounded by CPU, not by waiting, so the sustained figure comes
with the host CPU each verification cost (all processes: engine, runc, the container's Python)
and two floors: what the engine alone spends to create, start and remove one container with the
same hardening that runs `true`, and the same with `import pytest`, the least a fresh container can
do before it runs a pytest file. cores / (CPU per verification) is the ceiling any scheduling could
reach with one fresh container per run.

Run: `python benchmarks/bench_sandbox.py [--samples N] [--burst N]` (needs the sandbox image).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time

from ponder.sandbox import DockerSandbox, TestReport, reaper

SOURCES = {"m.py": "def answer():\n    return 42\n"}
TESTS = {"test_m.py": "from m import answer\n\n\ndef test_answer():\n    assert answer() == 42\n"}
TARGET_WARM_P50_S = 0.150
TARGET_SPEEDUP = 4.0
TARGET_RUNS_PER_S = 5.0


def cpu_seconds() -> float:
    """Busy CPU time of the whole machine so far (every process, user + system), in core-seconds."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


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


async def sustained(burst: int, pool: int) -> tuple[float, float]:
    """Runs per second, and host core-seconds per run, for `burst` verifications at once."""
    async with DockerSandbox(pool_size=pool) as sb:
        while sb.pool_ready < pool:
            await asyncio.sleep(0.05)
        cpu0, started = cpu_seconds(), time.perf_counter()
        reports = await asyncio.gather(*(sb.run_tests(SOURCES, TESTS) for _ in range(burst)))
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu0
    for report in reports:
        check(report)
    return burst / elapsed, cpu / burst


def container_cpu(samples: int, command: list[str]) -> float:
    """Core-seconds to create, start and remove one hardened container that runs `command` to its end."""
    sb = DockerSandbox(pool_size=0)
    sb.open()
    try:
        kwargs = sb._spec.create_kwargs(reaper.labels(sb.instance))
        kwargs.update(entrypoint=command, stdin_open=False)  # in place of the harness
        cpu0 = cpu_seconds()
        for _ in range(samples):
            container = sb.client.containers.create(**kwargs)
            container.start()
            container.wait()
            container.remove(force=True)
        return (cpu_seconds() - cpu0) / samples
    finally:
        sb.close()


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
    rate, cpu_per_run = await sustained(args.burst, args.pool)
    floors = [
        ("engine alone, empty container", container_cpu(args.samples, ["true"])),
        ("same + `import pytest`", container_cpu(args.samples, ["python3", "-I", "-c", "import pytest"])),
    ]

    cores = os.cpu_count() or 1
    cold_p50, warm_p50 = statistics.median(cold_s), statistics.median(warm_s)
    speedup = cold_p50 / warm_p50
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"sandbox benchmark: trivial pytest via run_tests, {cores} cores, pool {args.pool}")
    print(f"load average {load} (other work on these cores inflates every figure)")
    print(f"{'cold p50 / p95 (s)':<34} {cold_p50:>7.3f} / {pct(cold_s, 0.95):.3f}")
    print(f"{'warm p50 / p95 (s)':<34} {warm_p50:>7.3f} / {pct(warm_s, 0.95):.3f}")
    for name, cost in [("host CPU per verification", cpu_per_run), *floors]:
        print(f"{name:<34} {cost:>7.3f} core-s (ceiling {cores / cost:.2f} runs/s)")
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
