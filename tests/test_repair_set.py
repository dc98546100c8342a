"""The dev repair set: every case is broken as stated, its reference fix is right, and the bench
suite over it judges fixes by the hidden tests, in each mode.

The reference fixes are our own code, so they are checked with plain pytest in a subprocess on the
host. The suite's own path (loading, modes, judging, recording) runs through `run_bench` with a
scripted model and the subprocess sandbox, so the outcomes are known in advance.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ponder.graph.testing import EOS_MARK, Context, ScriptedBackend
from ponder.plugin.bench.datasets import BenchDataError, get_suite, load_items
from ponder.plugin.bench.repairset import (
    DEFAULT_SET,
    MODES,
    case_of,
    check_fix,
    load_cases,
    parse_modes,
)
from ponder.plugin.bench.report import format_table, summarize
from ponder.plugin.bench.runner import BenchPlan, run_bench
from ponder.plugin.bench.store import RESULTS_FILE, ItemResult, ResultStore
from ponder.plugin.runtime import open_runtime
from ponder.plugin.settings import PonderSettings
from ponder.sandbox import LocalSandbox
from ponder.sandbox.types import Limits

DEPOSIT = '            raise ValueError("deposits are positive")\n        self.balance -= amount'
"""The lines of wallet.py's first bug, as a SEARCH block."""

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")

CASES = load_cases()
HANGS = "bisect_search"
"""A case whose buggy loop never ends on some inputs."""


def _pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    """pytest on `folder` as its own root (no config of this repository), each test capped."""
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--timeout", "5", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_the_set_is_large_and_varied() -> None:
    kinds = {c.kind for c in CASES}
    assert len(CASES) >= 22
    for kind in ("wrong operator", "off-by-one", "flipped comparison", "wrong variable", "wrong constant"):
        assert any(k.startswith(kind) for k in kinds), kind
    for kind in (
        "missing guard",
        "missing return",
        "swapped arguments",
        "two edits",
        "hangs",
        "class method",
    ):
        assert any(kind in k for k in kinds), kind
    assert any("two-file" in k for k in kinds)
    readme = (DEFAULT_SET / "README.md").read_text(encoding="utf-8")
    assert all(f"`{c.name}`" in readme for c in CASES), "benchmarks/repair_set/README.md lists every case"


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_buggy_fails_and_the_reference_fix_passes_every_test(case, tmp_path: Path) -> None:
    work = tmp_path / case.name
    shutil.copytree(case.project_dir, work)
    buggy = _pytest(work)
    assert buggy.returncode == 1 and " failed" in buggy.stdout, buggy.stdout[-2000:]
    for rel, text in {**case.fixed_files(), **case.hidden_tests()}.items():
        (work / rel).write_text(text, encoding="utf-8")
    fixed = _pytest(work)
    assert fixed.returncode == 0, fixed.stdout[-2000:]
    assert "test_hidden.py" in fixed.stdout or "passed" in fixed.stdout


def test_hidden_tests_and_fixes_stay_out_of_what_repair_reads() -> None:
    for case in CASES:
        project = case.project()
        assert set(case.fixed_files()) <= set(project.sources), case.name
        shown = {*project.sources, *project.tests, *project.data}
        assert not any("hidden" in p or "fixed" in p for p in shown), case.name


def test_modes_by_suite_name() -> None:
    assert parse_modes("repair") == MODES
    assert parse_modes("repair:both,mutations") == ("both", "mutations")
    with pytest.raises(BenchDataError, match="unknown repair mode 'magic'"):
        get_suite("repair:magic")
    items = load_items("repair:mutations")
    assert [i.item_id for i in items] == [f"{c.name}@mutations" for c in CASES]
    assert all(i.suite == "repair:mutations" for i in items)
    assert len(load_items("repair")) == len(MODES) * len(CASES) == 4 * len(CASES)


def test_a_folder_without_cases_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(BenchDataError, match="no repair cases"):
        load_items("repair", tmp_path)
    (tmp_path / "broken" / "project").mkdir(parents=True)
    with pytest.raises(BenchDataError, match=r"task\.json"):
        load_items("repair", tmp_path)


async def test_the_judge_needs_the_hidden_tests_too() -> None:
    """session_expiry's visible tests miss the boundary: `now > expires_at` passes them and fails
    the hidden ones, so it is not a correct fix; the reference fix is."""
    [item] = [i for i in load_items("repair:both") if i.record["case"] == "session_expiry"]
    case = case_of(item)
    sources = case.project().sources
    near_miss = {
        "sessions.py": sources["sessions.py"].replace("now < self.expires_at", "now > self.expires_at")
    }
    async with LocalSandbox() as sandbox:
        assert await check_fix(item, case.fixed_files(), sandbox)
        assert not await check_fix(item, near_miss, sandbox)
        assert not await check_fix(item, None, sandbox)
        assert not await check_fix(item, {"elsewhere.py": "x = 1\n"}, sandbox)


async def test_a_hanging_test_under_coverage_is_a_timeout_not_tampering() -> None:
    """The repair's baseline records coverage; a test that hangs must fail on its own time limit
    (its timer can fire inside the coverage tracer) and leave the run trustworthy."""
    project = next(c for c in CASES if c.name == HANGS).project()
    async with LocalSandbox() as sandbox:
        report = await sandbox.run_tests(
            dict(project.sources),
            project.checked_files(),
            Limits(timeout_s=8.0, test_timeout_s=1.0),
            trusted=dict(project.sources),
            coverage=True,
        )
    assert not report.tampered, report.reason
    assert report.total == 4 and report.passed == 3


@pytest.mark.slow
async def test_bench_runs_each_mode_and_judges_with_the_hidden_tests(tmp_path: Path) -> None:
    """A scripted model that writes the reference fix as two hunks: model and both fix it (correct); the
    mutations alone cannot fix a two-edit bug; mutations-only spends no tokens."""
    case = next(c for c in CASES if c.name == "wallet")
    hunks = "".join(
        f"wallet.py\n```python\n<<<<<<< SEARCH\n{bug}\n=======\n{fix}\n>>>>>>> REPLACE\n```\n"
        for bug, fix in [
            (DEPOSIT, DEPOSIT.replace("-=", "+=")),
            ("        if amount >= self.balance:", "        if amount > self.balance:"),
        ]
    )

    def policy(ctx: Context) -> str:
        return hunks + EOS_MARK

    one_case = tmp_path / "set"
    shutil.copytree(case.root, one_case / case.name)
    plan = BenchPlan(suite="repair", strategies=("refine",), budgets=(4000,), mutants=4, data=one_case)
    store = ResultStore(tmp_path / RESULTS_FILE)
    async with (
        LocalSandbox() as sandbox,
        open_runtime(PonderSettings(), backend=ScriptedBackend(policy), sandbox=sandbox) as rt,
    ):
        run = await run_bench(plan, rt, store)
    by = {r.item: r for r in run.results if r.item.startswith("wallet@")}
    assert set(by) == {"wallet@model", "wallet@mutations", "wallet@ranked", "wallet@both"}
    assert by["wallet@model"].verified and by["wallet@model"].correct and by["wallet@model"].source == "model"
    assert by["wallet@both"].verified and by["wallet@both"].correct
    mutations = by["wallet@mutations"]
    assert not mutations.verified and not mutations.correct and mutations.tokens_generated == 0
    # 4 first edits, and as many again on top of any that passes more tests (the edit tree).
    assert mutations.expansions == 0 and 0 < (mutations.test_runs or 0) <= 2 * 4
    ranked = by["wallet@ranked"]  # the scripted model gives no logprobs: it neither ranks nor writes
    assert ranked.tokens_generated == 0 and ranked.test_runs == mutations.test_runs
    assert by["wallet@model"].test_runs == 1 and by["wallet@model"].mode == "model"
    table = format_table(summarize(list(by.values())))
    assert "| repair | model | refine | 4000 | 1 |" in table and "test runs/item" in table


def test_the_summary_has_a_row_per_mode_with_test_runs() -> None:
    def result(item: str, mode: str, correct: bool, runs: int) -> ItemResult:
        return ItemResult(
            suite="repair", item=f"{item}@{mode}", strategy="refine", budget=512, seed=0, mode=mode,
            verified=correct, correct=correct, test_runs=runs,
        )  # fmt: skip

    results = [
        result("a", "both", True, 5),
        result("a", "mutations", True, 12),
        result("b", "mutations", False, 24),
        result("a", "model", False, 3),
    ]
    rows = summarize(results)
    assert [(r["mode"], r["n"], r["accuracy"], r["test_runs_per_item"]) for r in rows] == [
        ("model", 1, 0.0, 3.0),
        ("mutations", 2, 0.5, 18.0),
        ("both", 1, 1.0, 5.0),
    ]
    table = format_table(rows)
    assert "| repair | mutations | refine | 512 | 2 | 50.0%" in table and "| 18.0 |" in table
    plain = format_table(
        summarize([ItemResult(suite="gsm8k", item="1", strategy="greedy", budget=8, seed=0)])
    )
    assert "mode" not in plain and "test runs" not in plain
