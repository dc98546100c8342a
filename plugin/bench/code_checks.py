"""Code suites' rule for "correct": the candidate module plus the record's own test runs clean.

Candidates are checked in batches (one sandbox run, each candidate in its own subprocess with a
time limit, so one that loops cannot cost the others their verdict); a batch whose report cannot
be trusted is re-checked one candidate at a time.
"""

from __future__ import annotations

import ast
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.types import Limits

if TYPE_CHECKING:
    from ponder.plugin.bench.datasets import BenchItem

CODE_SINGLE_LIMITS = Limits(timeout_s=20.0, memory_mb=512)
"""A candidate checked alone, after its batch could not be trusted."""


def prompt_imports(prompt: str) -> str:
    """The import lines of a HumanEval prompt: completions commonly omit them."""
    try:
        tree = ast.parse(prompt)
    except SyntaxError:
        return ""
    lines = [
        ast.get_source_segment(prompt, node) or ""
        for node in tree.body
        if isinstance(node, ast.Import | ast.ImportFrom)
    ]
    return "\n".join(lines)


def code_program(item: BenchItem, answer: str) -> str:
    """The program whose clean run makes `answer` correct: the source's own test run on it."""
    record = item.record
    test = record["test"].rstrip()
    call = f"check({record['entry_point']})"
    if not test.endswith(call):
        test += f"\n\n{call}"
    head = prompt_imports(record["prompt"]) if item.suite == "humaneval" else ""
    return f"{head}\n{answer}\n\n{test}\n"


CANDIDATE_TIMEOUT_S = 10.0
"""Seconds one candidate's test program may run inside a batch (buggy code often loops forever)."""

_BATCH_TESTS = """\
import pathlib
import subprocess
import sys

import pytest

HERE = pathlib.Path(__file__).resolve().parent
# Read every candidate before any of them runs: a candidate that rewrites another's file on disk
# cannot change what is tested.
SOURCES = [(HERE / f"cand_{{i}}.py").read_text(encoding="utf-8") for i in range({count})]


@pytest.mark.parametrize("index", range({count}))
def test_candidate(index):
    # Each candidate in its own interpreter: it cannot patch pytest or the other candidates.
    done = subprocess.run(
        [sys.executable, "-"], input=SOURCES[index], capture_output=True, text=True, timeout={timeout}
    )
    assert done.returncode == 0, done.stderr[-2000:]
"""


def _batch_tests(count: int, timeout_s: float = CANDIDATE_TIMEOUT_S) -> str:
    """One parametrized test per candidate: one trustworthy outcome each, read from JUnit."""
    return _BATCH_TESTS.format(count=count, timeout=timeout_s)


def batch_limits(count: int) -> Limits:
    """Room for `count` candidates that each use their whole `CANDIDATE_TIMEOUT_S`."""
    return Limits(timeout_s=min(900.0, 30.0 + CANDIDATE_TIMEOUT_S * count), memory_mb=1024, pids=256)


async def check_code_many(
    pairs: Sequence[tuple[BenchItem, str | None]],
    sandbox: BaseSandbox,
    *,
    limits: Limits | None = None,
    single_limits: Limits = CODE_SINGLE_LIMITS,
    candidate_timeout_s: float = CANDIDATE_TIMEOUT_S,
) -> list[bool]:
    """Whether each (item, module source) passes the item's own tests, in one sandbox run.

    Each candidate runs in its own interpreter with its own timeout, from source read before any
    candidate starts. A batch that still cannot be trusted as a whole (the run timed out, a
    candidate killed pytest, the report was tampered with) is rerun one candidate per run, so one
    bad candidate never costs the others their verdict.
    """
    runnable = [(i, item, ans) for i, (item, ans) in enumerate(pairs) if ans and ans.strip()]
    verdicts = [False] * len(pairs)
    if not runnable:
        return verdicts
    sources = {f"cand_{k}.py": code_program(item, ans) for k, (_, item, ans) in enumerate(runnable)}
    tests = {"test_bench_candidates.py": _batch_tests(len(runnable), candidate_timeout_s)}
    report = await sandbox.run_tests(sources, tests, limits or batch_limits(len(runnable)))
    outcomes = {t.name: t.outcome for t in report.tests}
    trusted = (
        not report.tampered
        and report.raw is not None
        and not report.raw.timed_out
        and len(outcomes) == len(runnable)
    )
    if trusted:
        for k, (i, _, _) in enumerate(runnable):
            name = next((n for n in outcomes if n.endswith(f"[{k}]")), None)
            verdicts[i] = name is not None and outcomes[name] == "passed"
        return verdicts
    for i, item, ans in runnable:
        single = await sandbox.run_tests(
            {"cand_0.py": code_program(item, ans)},
            {"test_bench_candidates.py": _batch_tests(1, candidate_timeout_s)},
            single_limits,
        )
        verdicts[i] = single.all_passed
    return verdicts
