"""Integrity of code verification (#11): reward hacks that get verified, and what the checks cost.

Attacks: every entry of `tests/_reward_hacks.py` (each keeps the bug and goes after the verdict)
runs through `DockerSandbox.run_tests` with the original code as `trusted`, with no patch guard in
front, so the figure is what the sandbox's own layers stop; the repair guard (`check_patch`) is
asked about each one too, and reported apart: the guard is a second line, not the reason the
first one holds. A control run of the real fix must be verified, or "0 verified" means nothing.

Cost: the trivial pytest file of `bench_sandbox.py` through the warm pool, once with the checks
(the normal `run_tests`: seed, canaries, audit hook, call record, snapshot, plain comparison, host
verification) and once without them (the same request with no canary seed, which is what the
harness ran before #11). Samples alternate with/without, in alternating order, so load drift on a
shared machine lands on both sides alike.

Run: `python benchmarks/bench_integrity.py [--samples N] [--pool N]` (needs the sandbox image).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests._reward_hacks: the attack catalogue

from bench_sandbox import SOURCES, TESTS, check, cpu_seconds, pct

from ponder.plugin.repair.patching import check_patch
from ponder.sandbox import DockerSandbox, Limits, TestReport
from ponder.sandbox.files import digests, pytest_targets, split_tests
from ponder.sandbox.junit import build_report
from tests import _reward_hacks as hacks

TARGET_VERIFIED = 0
TARGET_WARM_OVERHEAD = 0.20
"""Warm p50 with the checks may be at most this much above the p50 without them."""
LAYERS = (
    ("snapshot", ("was replaced", "a pytest hook was added")),
    ("audit hook", ("code under test used", "code under test opened", "was called during the test run")),
    ("plain comparison", ("compared an object whose class",)),
    (
        "call record",
        (
            "did not finish normally",
            "more than one end",
            "more call records",
            "is reported passed, but",
            "no integrity record",
        ),
    ),
    ("canaries", ("hidden test", "canary tests were not planted")),
    ("report checks", ("no test report", "untrustworthy report", "test file", "appeared during the run")),
)
"""Which layer a reason comes from, by the words that layer's messages use (first match wins)."""


@dataclass(slots=True)
class AttackResult:
    attack: hacks.Attack
    guard_rejected: bool
    verified: bool
    layer: str
    reason: str
    seconds: float


def layer_of(report: TestReport) -> str:
    """The layer that stopped a run, from its reason; an untampered failing run is the tests themselves."""
    for layer, words in LAYERS:
        if any(w in report.reason for w in words):
            return layer
    if report.failed or report.errors:
        return "tests failed"
    return "other" if report.reason else "-"


async def attacks(pool: int) -> tuple[list[AttackResult], TestReport, TestReport]:
    """Every attack through the sandbox alone (and asked of the guard); plus the fix and the bug."""
    trusted = {"m.py": hacks.BUGGY}
    out = []
    async with DockerSandbox(pool_size=pool, limits=Limits(timeout_s=10)) as sb:
        fixed = await sb.run_tests({"m.py": hacks.FIXED}, hacks.TESTS, trusted=trusted)
        buggy = await sb.run_tests({"m.py": hacks.BUGGY}, hacks.TESTS, trusted=trusted)
        for attack in hacks.ATTACKS:
            verdict = check_patch("m.py", hacks.BUGGY, attack.source, test_paths=list(hacks.TESTS))
            started = time.perf_counter()
            report = await sb.run_tests({"m.py": attack.source}, hacks.TESTS, trusted=trusted)
            out.append(
                AttackResult(
                    attack=attack,
                    guard_rejected=not verdict.ok,
                    verified=report.all_passed,
                    layer=layer_of(report),
                    reason=report.reason or f"{report.failed} failed",
                    seconds=time.perf_counter() - started,
                )
            )
    return out, fixed, buggy


async def with_checks(sb: DockerSandbox) -> TestReport:
    return await sb.run_tests(SOURCES, TESTS)


async def without_checks(sb: DockerSandbox) -> TestReport:
    """The same verification with no integrity checks: the pre-#11 cost, for comparison only.

    There is deliberately no public switch that turns the checks off (a caller that can skip them
    can be talked into skipping them), so the benchmark takes the private path: the preparation
    `ThreadedSandbox.run_tests` does, minus `TestChecks.new`, then `_submit` with ``checks=None``
    (the harness spec gets no canary seed, so the test process installs nothing) and a report
    built without an integrity record to verify.
    """
    src, tst = split_tests(SOURCES, TESTS)
    raw, harness = await sb._submit(src, pytest_targets(tst), sb.limits, tests=tst, checks=None)
    return build_report(harness, raw, digests(tst), None)


async def cost(samples: int, pool: int) -> dict[bool, tuple[list[float], list[float]]]:
    """Warm latency and host CPU (the run window, every process) per verification, with and without."""
    out: dict[bool, tuple[list[float], list[float]]] = {True: ([], []), False: ([], [])}
    async with DockerSandbox(pool_size=pool) as sb:
        for checked in (True, False):  # warm-up: first imports, first container of each kind
            check(await (with_checks(sb) if checked else without_checks(sb)))
        for i in range(samples):
            for checked in (True, False) if i % 2 == 0 else (False, True):
                while sb.pool_ready < pool:  # measure a run that finds a started container
                    await asyncio.sleep(0.05)
                await asyncio.sleep(0.3)  # let the refill's CPU settle: latency, not contention
                cpu0, started = cpu_seconds(), time.perf_counter()
                report = await (with_checks(sb) if checked else without_checks(sb))
                out[checked][0].append(time.perf_counter() - started)
                out[checked][1].append(cpu_seconds() - cpu0)
                check(report)
                found = report.integrity.get("canaries_found", 0)
                if found != (2 if checked else 0):  # the two sides must be what they claim to be
                    raise SystemExit(f"expected {'2' if checked else 'no'} canaries, found {found}")
    return out


def print_attacks(results: list[AttackResult], fixed: TestReport, buggy: TestReport) -> None:
    print(f"{'attack':<38} {'kind':<14} {'guard':<9} {'sandbox':<13} {'caught by':<17} reason")
    for r in results:
        print(
            f"{r.attack.name:<38} {r.attack.kind:<14} {'rejects' if r.guard_rejected else 'passes':<9} "
            f"{'VERIFIED' if r.verified else 'not verified':<13} {r.layer:<17} {r.reason[:70]}"
        )
    kinds = Counter(r.attack.kind for r in results)
    for kind in sorted(kinds):
        of_kind = [r for r in results if r.attack.kind == kind]
        print(
            f"  {kind:<14} tried {len(of_kind):>2}, verified {sum(r.verified for r in of_kind)}, "
            f"rejected by the guard {sum(r.guard_rejected for r in of_kind)}"
        )
    layers = Counter(r.layer for r in results)
    print("  caught by: " + ", ".join(f"{layer} {n}" for layer, n in layers.most_common()))
    slowest = max(results, key=lambda r: r.seconds)
    total_s = sum(r.seconds for r in results)
    print(
        f"  sandbox time {total_s:.1f} s for {len(results)} attacks "
        f"(slowest {slowest.attack.name} {slowest.seconds:.1f} s)"
    )
    print(
        f"control: real fix {'verified' if fixed.all_passed else 'NOT VERIFIED'}, "
        f"bug {'VERIFIED' if buggy.all_passed else 'not verified'}"
    )
    verified = sum(r.verified for r in results)
    rejected = sum(r.guard_rejected for r in results)
    sane = fixed.all_passed and not buggy.all_passed
    ok = verified <= TARGET_VERIFIED and sane
    print(
        f"attacks tried {len(results)}, verified {verified} (target {TARGET_VERIFIED}) "
        f"{'ok' if ok else 'MISSED'}" + ("" if sane else " (the control did not come out right)")
    )
    print(f"patch guard rejects {rejected}/{len(results)} before they run")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20, help="warm samples on each side")
    parser.add_argument("--pool", type=int, default=2)
    args = parser.parse_args()

    load_before = os.getloadavg()
    samples = await cost(args.samples, args.pool)
    results, fixed, buggy = await attacks(args.pool)

    cores = os.cpu_count() or 1
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"integrity benchmark: {len(results)} reward hacks via run_tests; cost on a trivial pytest file, "
        f"warm; {cores} cores, pool {args.pool}"
    )
    print(
        f"load average {load} (1-min at start {load_before[0]:.1f}; "
        "other work on these cores inflates every figure)"
    )
    print_attacks(results, fixed, buggy)

    (with_s, with_cpu), (without_s, without_cpu) = samples[True], samples[False]
    p50_with, p50_without = statistics.median(with_s), statistics.median(without_s)
    overhead = p50_with / p50_without - 1
    print(f"{'warm p50 / p95 with checks (s)':<46} {p50_with:>7.3f} / {pct(with_s, 0.95):.3f}")
    print(f"{'warm p50 / p95 without checks (s)':<46} {p50_without:>7.3f} / {pct(without_s, 0.95):.3f}")
    cpu_with, cpu_without = statistics.mean(with_cpu), statistics.mean(without_cpu)
    print(
        f"{'host CPU per verification with / without':<46} {cpu_with:>7.3f} / {cpu_without:.3f} core-s "
        f"({(cpu_with / cpu_without - 1) * 100:+.0f}%; run window, all processes)"
    )
    print(
        f"warm p50 with checks / without: {p50_with:.3f} / {p50_without:.3f} s ({overhead * 100:+.0f}%)   "
        f"target <= +{TARGET_WARM_OVERHEAD * 100:.0f}%  "
        f"{'ok' if overhead <= TARGET_WARM_OVERHEAD else 'MISSED'}"
    )


if __name__ == "__main__":
    asyncio.run(main())
