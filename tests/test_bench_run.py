"""`ponder bench` end to end: workflows, checking, JSONL, summary, plot, resume.

The scripted model (ponder.graph.testing) makes the outcome known in advance, so the tests assert
what the harness computes from it (accuracy, pass@N, McNemar, verification status, skipped items
on resume) rather than what a 135M model happens to write. One test runs the real CLI on the
embedded model with tiny budgets and asserts only behaviour: files, rows, resume.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from ponder.graph.testing import EOS_MARK, Context, ScriptedBackend
from ponder.plugin.bench import cli as cli_bench
from ponder.plugin.bench.datasets import BenchItem, load_items
from ponder.plugin.bench.plot import plot_accuracy
from ponder.plugin.bench.report import format_table, summarize, write_summary
from ponder.plugin.bench.runner import (
    WORKFLOWS,
    BenchAbortedError,
    BenchPlan,
    repair_project_of,
    run_bench,
)
from ponder.plugin.bench.store import RESULTS_FILE, ItemResult, ResultStore
from ponder.plugin.runtime import open_runtime
from ponder.plugin.settings import PonderSettings
from ponder.sandbox import LocalSandbox
from tests._cli import command_app

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")


def _question(ctx: Context) -> str:
    return next(m.content for m in ctx.messages if m.role == "user")


def gsm8k_policy(items: list[BenchItem]) -> Callable[[Context], str]:
    """Item 0: always right. Item 1: greedy wrong; sampled chains right except every fourth."""
    gold = {i.question: i.gold for i in items}
    first = items[0].question

    def policy(ctx: Context) -> str:
        question = next(q for q in gold if q in _question(ctx))
        right = f"Step 1: work it out.\n\nAnswer: {gold[question]}{EOS_MARK}"
        wrong = f"Step 1: work it out.\n\nAnswer: {int(gold[question]) + 7}{EOS_MARK}"
        if question == first:
            return right
        if ctx.request.temperature == 0.0:
            return wrong
        return wrong if ctx.sample % 4 == 3 else right

    return policy


async def _run(plan: BenchPlan, backend: ScriptedBackend, store: ResultStore, **kwargs: Any) -> Any:
    async with open_runtime(PonderSettings(), backend=backend, need_sandbox=False, **kwargs) as rt:
        return await run_bench(plan, rt, store)


def test_plan_runs_greedy_once_at_the_largest_budget() -> None:
    plan = BenchPlan(suite="gsm8k", strategies=("greedy", "best_of_n"), budgets=(64, 256), seeds=(3, 4))
    assert plan.cells() == [
        ("greedy", 256, 3),
        ("best_of_n", 64, 3),
        ("best_of_n", 64, 4),
        ("best_of_n", 256, 3),
        ("best_of_n", 256, 4),
    ]
    with pytest.raises(ValueError, match="at least one"):
        BenchPlan(suite="gsm8k", strategies=(), budgets=(1,)).cells()


async def test_two_items_two_strategies_give_jsonl_summary_and_png(tmp_path: Path) -> None:
    plan = BenchPlan(suite="gsm8k", strategies=("greedy", "self_consistency"), budgets=(400,), limit=2, n=4)
    items = plan.items()
    backend = ScriptedBackend(gsm8k_policy(items))
    store = ResultStore(tmp_path / RESULTS_FILE)
    run = await _run(plan, backend, store)
    assert (run.ran, run.skipped, run.errors) == (4, 0, 0)

    lines = [json.loads(line) for line in (tmp_path / RESULTS_FILE).read_text().splitlines()]
    assert len(lines) == 4
    by = {(r["item"], r["strategy"]): r for r in lines}
    first, second = (i.item_id for i in items)
    assert by[(first, "greedy")]["correct"] and not by[(second, "greedy")]["correct"]
    assert by[(first, "self_consistency")]["correct"] and by[(second, "self_consistency")]["correct"]
    sc = by[(second, "self_consistency")]
    assert sc["candidates"].count(True) == 1 and sc["candidates"].count(False) == 1  # distinct answers
    assert sc["tokens_generated"] > by[(second, "greedy")]["tokens_generated"] > 0
    assert sc["expansions"] == 4 and sc["seconds"] > 0
    # solve without a reference cannot verify: the status says so, correctness is the checker's.
    assert {r["status"] for r in lines} == {"unverified"} and not any(r["verified"] for r in lines)

    rows = summarize(store.results())
    greedy, sc_row = rows
    assert (greedy["strategy"], greedy["accuracy"], greedy["pass_at_n"]) == ("greedy", 0.5, 0.5)
    assert (sc_row["strategy"], sc_row["accuracy"], sc_row["pass_at_n"]) == ("self_consistency", 1.0, 1.0)
    assert sc_row["vs_greedy"] == "+1/-0" and sc_row["mcnemar_p"] == 1.0
    assert sc_row["ci_low"] < 1.0 == sc_row["ci_high"]
    table = format_table(rows)
    assert "| gsm8k | self_consistency | 400 | 2 | 100.0% [" in table

    paths = write_summary(rows, tmp_path)
    assert json.loads(paths["summary_json"].read_text())[1]["accuracy"] == 1.0
    png = plot_accuracy(rows, tmp_path / "accuracy.png")
    assert png.read_bytes()[:8] == PNG_MAGIC and png.stat().st_size > 5_000


async def test_resume_skips_finished_items_and_reruns_the_rest(tmp_path: Path) -> None:
    plan = BenchPlan(suite="gsm8k", strategies=("greedy", "best_of_n"), budgets=(300,), limit=2, n=2)
    policy = gsm8k_policy(plan.items())
    path = tmp_path / RESULTS_FILE
    first = ScriptedBackend(policy)
    await _run(plan, first, ResultStore(path))
    assert first.log.generate_calls > 0

    again = ScriptedBackend(policy)
    run = await _run(plan, again, ResultStore(path))
    assert (run.ran, run.skipped) == (0, 4)
    assert again.log.generate_calls == 0

    # A crash mid-write leaves half a line: that item runs again, nothing else does.
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[:3]) + "\n" + lines[3][:40])
    store = ResultStore(path)
    assert (len(store), store.skipped_lines) == (3, 1)
    third = ScriptedBackend(policy)
    run = await _run(plan, third, store)
    assert (run.ran, run.skipped) == (1, 3)
    assert third.log.generate_calls > 0
    assert len(ResultStore(path)) == 4


async def test_errors_are_recorded_then_the_run_stops(tmp_path: Path) -> None:
    from ponder.backends.errors import BackendError

    def broken(ctx: Context) -> str:
        raise BackendError("engine at 127.0.0.1:1 is down; start it")

    plan = BenchPlan(suite="gsm8k", strategies=("greedy",), budgets=(100,), limit=5)
    store = ResultStore(tmp_path / RESULTS_FILE)
    with pytest.raises(BenchAbortedError, match="3 items in a row failed"):
        await _run(plan, ScriptedBackend(broken), store)
    results = store.results()
    assert len(results) == 3
    assert all(r.status == "error" and not r.correct and "engine at" in (r.error or "") for r in results)
    # Errored items are retried on the next run, not skipped.
    plan_ok = BenchPlan(suite="gsm8k", strategies=("greedy",), budgets=(100,), limit=3)
    run = await _run(plan_ok, ScriptedBackend(gsm8k_policy(plan_ok.items())), store)
    assert (run.ran, run.skipped) == (3, 0)
    assert all(r.error is None for r in ResultStore(store.path).results())


async def test_repair_suite_checks_the_fix_with_the_hidden_rule(tmp_path: Path) -> None:
    """HumanEvalFix through the repair workflow: the model's fix is verified by the tests and the
    checker agrees; the unchanged buggy file is neither."""
    items = load_items("humanevalfix")[:2]
    fixes = {i.record["entry_point"]: (repair_project_of(i).sources["solution.py"], i.gold) for i in items}
    fixed_item = items[0].item_id

    def policy(ctx: Context) -> str:
        # The prompt shows the suspect function (numbered), not the whole file: find it by name.
        buggy, gold = next(v for name, v in fixes.items() if f"def {name}(" in _question(ctx))
        if gold.startswith(items[0].record["declaration"]):
            return f"```python\n{gold}```{EOS_MARK}"
        return f"```python\n{buggy}```{EOS_MARK}"

    plan = BenchPlan(suite="humanevalfix", strategies=("greedy",), budgets=(2000,), limit=2)
    store = ResultStore(tmp_path / RESULTS_FILE)
    sandbox = LocalSandbox()
    async with sandbox:
        await _run(plan, ScriptedBackend(policy), store, sandbox=sandbox)
    by = {r.item: r for r in store.results()}
    assert by[fixed_item].correct and by[fixed_item].verified and by[fixed_item].status == "verified"
    other = by[items[1].item_id]
    assert not other.correct and not other.verified and other.status == "unverified"
    assert other.candidates == [False]


async def test_humaneval_without_examples_is_never_verified() -> None:
    """A prompt with no docstring examples gets only a does-it-define check: it gates code that
    does not import and vouches for no behaviour, so an answer that passes it is unverified (the
    12-03 run had labelled HumanEval/41's `return 0` verified). With examples, the right answer
    passes them under the sandbox's integrity checks (doctest's runner had failed it as tampered)."""
    items = {i.item_id: i for i in load_items("humaneval")}
    bare, with_examples = items["HumanEval/41"], items["HumanEval/0"]
    assert ">>>" not in bare.record["prompt"] and ">>>" in with_examples.record["prompt"]
    answers = {
        "car_race_collision": "def car_race_collision(n: int) -> int:\n    return 0\n",
        "has_close_elements": with_examples.record["prompt"] + with_examples.record["canonical_solution"],
    }

    def policy(ctx: Context) -> str:
        name = next(n for n in answers if f"`{n}`" in _question(ctx))
        return f"```python\n{answers[name]}```{EOS_MARK}"

    plan = BenchPlan(suite="humaneval", strategies=("greedy",), budgets=(4096,))
    sandbox = LocalSandbox()
    async with (
        sandbox,
        open_runtime(PonderSettings(), backend=ScriptedBackend(policy), sandbox=sandbox) as rt,
    ):
        config = rt.search_config(strategy="greedy", budget={"max_tokens": 4096})
        unchecked = await WORKFLOWS["codegen"](bare, rt, config, plan)
        checked = await WORKFLOWS["codegen"](with_examples, rt, config, plan)
    assert unchecked.answer and "return 0" in unchecked.answer
    assert unchecked.result is not None and unchecked.result.verified  # the define check passed...
    assert not unchecked.verified and unchecked.status == "unverified"  # ...and vouches for nothing
    assert checked.verified and checked.status == "verified"


def _app() -> typer.Typer:
    return command_app(cli_bench)


@pytest.mark.model
def test_cli_on_the_embedded_model_writes_results_and_resumes(tmp_path: Path, model_path: Path) -> None:
    out = tmp_path / "bench"
    args = ["bench", "--suite", "gsm8k", "--limit", "2", "--strategies", "greedy,best_of_n"]
    args += ["--budgets", "24", "--n", "2", "--out", str(out), "--quiet"]
    first = CliRunner().invoke(_app(), args)
    assert first.exit_code == 0, first.output
    rows = [ItemResult.model_validate_json(line) for line in (out / RESULTS_FILE).read_text().splitlines()]
    assert len(rows) == 4
    assert {r.strategy for r in rows} == {"greedy", "best_of_n"}
    assert all(r.error is None and 0 < r.tokens_generated <= 24 + 2 * 24 for r in rows)
    assert "| gsm8k | greedy | 24 | 2 |" in first.stdout
    assert (out / "accuracy.png").read_bytes()[:8] == PNG_MAGIC
    info = json.loads((out / "run.json").read_text())
    assert info["suite"] == "gsm8k" and info["command"].startswith("ponder bench")
    assert info["prm"] == "none"  # which PRM weighted best-of-N, so a weighted figure says so

    again = CliRunner().invoke(_app(), args)
    assert again.exit_code == 0, again.output
    assert len((out / RESULTS_FILE).read_text().splitlines()) == 4


def test_cli_rejects_bad_flags_in_one_line(tmp_path: Path) -> None:
    bad = CliRunner().invoke(_app(), ["bench", "--strategies", "greedy,telepathy", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "unknown strategy 'telepathy'" in bad.output
    bad = CliRunner().invoke(_app(), ["bench", "--budgets", "10,lots", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "whole numbers" in bad.output
    bad = CliRunner().invoke(_app(), ["bench", "--suite", "mmlu", "--out", str(tmp_path)])
    assert bad.exit_code != 0 and "unknown suite 'mmlu'" in bad.output


async def test_analyze_suite_separates_verified_from_correct() -> None:
    """TAT-QA through the analyze workflow with executed calculations: both answers trace to the
    code's result, but only the one in the gold's scale is correct by TAT-QA's rule, and the
    verifier's scale rule (the table's scale, no reference needed) verifies only that one."""
    from tests._datasets import tatqa_code

    items = [i for i in load_items("tatqa") if i.record["scale"] == "million"][:2]
    by_question = {i.question: i for i in items}

    def policy(ctx: Context) -> str:
        item = next(i for q, i in by_question.items() if q in _question(ctx))
        scale = "million" if item is items[0] else "thousand"
        code = f"```python\nresult = {tatqa_code(item.record['derivation'])}\nprint(result)\n```"
        value = f"{item.gold:.2f}".rstrip("0").rstrip(".")
        return f"{code}\n\nAnswer: {value} {scale}{EOS_MARK}"

    plan = BenchPlan(suite="tatqa", strategies=("greedy",), budgets=(2000,), limit=None)
    plan_items = [i for i in plan.items() if i.question in by_question]
    sandbox = LocalSandbox()
    async with (
        sandbox,
        open_runtime(PonderSettings(), backend=ScriptedBackend(policy), sandbox=sandbox) as rt,
    ):
        from ponder.plugin.bench.runner import run_item

        results = [await run_item(i, rt, plan, "greedy", 2000, 0) for i in plan_items]
    right, wrong_scale = sorted(results, key=lambda r: r.item != items[0].item_id)
    assert right.correct and right.answer is not None and "million" in right.answer
    assert not wrong_scale.correct and "thousand" in (wrong_scale.answer or "")
    assert right.verified and not wrong_scale.verified and right.tokens_generated > 0
    [row] = summarize([right, wrong_scale])
    assert (row["accuracy"], row["verified_rate"], row["verified_precision"]) == (0.5, 0.5, 1.0)


def test_finance_items_become_analyze_requests_without_the_answer() -> None:
    from ponder.plugin.bench.runner import analyze_request

    fm = next(i for i in load_items("financemath") if i.record["tables"])
    request = analyze_request(fm)
    table = request.tables[0]
    assert table["columns"][1] == "March 31, 20X7 Share Price"
    assert table["rows"][0] == ["Stock X", 15, 100, 20, 100]  # the |---| rule dropped, cells parsed
    tatqa = load_items("tatqa")[0]
    request = analyze_request(tatqa)
    assert request.paragraphs == tatqa.record["paragraphs"] and len(request.tables) == 1
    theorem = load_items("theoremqa")[0]
    assert analyze_request(theorem).tables == []
    for item in (fm, tatqa, theorem):
        assert analyze_request(item).reference is None  # the search never sees the gold


def test_summary_only_reports_existing_results_without_running(tmp_path: Path) -> None:
    plan = BenchPlan(suite="gsm8k", strategies=("greedy", "self_consistency"), budgets=(400,), limit=2, n=4)
    backend = ScriptedBackend(gsm8k_policy(plan.items()))
    asyncio.run(_run(plan, backend, ResultStore(tmp_path / RESULTS_FILE)))
    args = ["bench", "--suite", "gsm8k", "--limit", "2", "--strategies", "greedy,self_consistency"]
    args += ["--budgets", "400", "--out", str(tmp_path), "--summary-only"]
    result = CliRunner().invoke(_app(), args)
    assert result.exit_code == 0, result.output
    assert "| gsm8k | greedy | 400 | 2 | 50.0% [" in result.stdout
    assert "| gsm8k | self_consistency | 400 | 2 | 100.0% [" in result.stdout
    assert (tmp_path / "accuracy.png").read_bytes()[:8] == PNG_MAGIC
    assert (tmp_path / "summary.md").read_text().count("| gsm8k |") == 2
    empty = CliRunner().invoke(_app(), [*args[:-3], "--out", str(tmp_path / "none"), "--summary-only"])
    assert empty.exit_code != 0 and "no gsm8k results in" in empty.output


async def test_auto_is_a_bench_strategy_that_resolves_per_budget(tmp_path: Path) -> None:
    # "auto" is listed as asked for; each run records what it resolved to (one chain at 400
    # tokens without a hard check: greedy, per graph/strategies/auto.py's table).
    plan = BenchPlan(suite="gsm8k", strategies=("auto",), budgets=(400,), limit=1, n=4)
    backend = ScriptedBackend(gsm8k_policy(plan.items()))
    store = ResultStore(tmp_path / RESULTS_FILE)
    run = await _run(plan, backend, store)
    assert (run.ran, run.errors) == (1, 0)
    [line] = [json.loads(line) for line in (tmp_path / RESULTS_FILE).read_text().splitlines()]
    assert line["strategy"] == "auto" and line["expansions"] == 1 and line["error"] is None
