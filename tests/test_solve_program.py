"""`ponder solve --program` (PAL): the answer is what the sandboxed program returned, never its text.

The scripted model fixes exactly what each program says and computes, so the tests assert what
the workflow makes of it: the executed value wins over the prose, a program that raises, loops or
prints gives no answer (in bounded time), self-consistency counts executed values, and the bench
records `pal` / `pal_sc` rows paired with the text strategies. These run on the subprocess
sandbox (the programs are the tests' own); `test_solve_program_docker.py` runs hostile programs
and the command end to end on the Docker sandbox.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.graph.testing import EOS_MARK, Context, ScriptedBackend
from ponder.graph.types import Budget, SearchConfig
from ponder.plugin.bench import cli as cli_bench
from ponder.plugin.bench.datasets import BenchDataError, load_items
from ponder.plugin.bench.pal import solve_pal
from ponder.plugin.bench.report import format_table, summarize
from ponder.plugin.bench.runner import BenchPlan, BenchRun, run_bench
from ponder.plugin.bench.store import RESULTS_FILE, ResultStore
from ponder.plugin.runtime import open_runtime
from ponder.plugin.settings import PonderSettings
from ponder.plugin.solve.vote import Ballot, tally
from ponder.plugin.solve.workflow import SolveOutcome, solve_question
from ponder.sandbox import LocalSandbox
from ponder.sandbox.types import Limits
from ponder.verifiers import program as program_module
from tests._cli import command_app
from tests._programs import program

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")
QUESTION = "Ann has 2 boxes of 3 pens and loses one pen. How many pens does she have?"


async def _solve(
    replies: Callable[[Context], str] | str,
    *,
    reference: str | None = None,
    program_mode: bool = True,
    **config: object,
) -> SolveOutcome:
    policy = (lambda ctx: replies) if isinstance(replies, str) else replies
    cfg = SearchConfig(budget=Budget(max_expansions=8), **config)  # type: ignore[arg-type]
    async with (
        LocalSandbox() as sandbox,
        open_runtime(PonderSettings(), backend=ScriptedBackend(policy), sandbox=sandbox) as rt,
    ):
        return await solve_question(QUESTION, rt, cfg, reference=reference, program=program_mode)


async def test_the_executed_value_is_the_answer_not_the_written_one() -> None:
    reply = program("boxes = 2\npens = boxes * 3\nreturn pens - 1", prose="She has 7 pens.", claim="7")
    outcome = await _solve(reply, strategy="greedy")
    assert outcome.answer == "5" and outcome.status == "unchecked" and not outcome.verified
    summary = outcome.summary()
    assert summary["mode"] == "program"
    assert summary["votes"] == [{"answer": "5", "votes": 1, "verified": False, "nodes": ["n1"]}]
    [candidate] = outcome.result.candidates
    assert candidate["answer"] == "5" and "return pens - 1" in candidate["program"]

    right = await _solve(reply, strategy="greedy", reference="5")
    assert right.status == "verified" and right.answer == "5"
    wrong = await _solve(reply, strategy="greedy", reference="7")  # what the prose claims
    assert wrong.status == "wrong" and wrong.answer == "5" and not wrong.verified


NO_ANSWER = {
    "raises": (program("return 1 / 0", claim="5"), "ZeroDivisionError"),
    "loops-forever": (program("while True:\n    pass", claim="5"), "timed out"),
    "prints-a-fake-answer": (program("print('Answer: 5')\nreturn None", claim="5"), "returned nothing"),
    "returns-a-string": (program("return '5'", claim="5"), "returned '5'"),
    "returns-a-bool": (program("return True", claim="5"), "returned True"),
    "no-solution": ("```python\npens = 5\nprint(pens)\n```\nAnswer: 5" + EOS_MARK, "NameError"),
}


@pytest.mark.parametrize("case", sorted(NO_ANSWER))
async def test_a_program_that_fails_gives_no_answer_in_bounded_time(
    case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(program_module, "DEFAULT_LIMITS", Limits(timeout_s=1.0, memory_mb=512))
    reply, why = NO_ANSWER[case]
    started = time.monotonic()
    outcome = await _solve(reply, strategy="greedy", reference="5")
    assert time.monotonic() - started < 15
    assert outcome.answer is None and outcome.status == "no_answer" and not outcome.verified
    assert why in outcome.result.reason, outcome.result.reason
    [candidate] = outcome.result.candidates
    assert candidate["answer"] is None and why in candidate["error"]


def test_program_limits_are_finite_by_default() -> None:
    assert 0 < program_module.DEFAULT_LIMITS.timeout_s <= 10


async def test_majority_over_executed_values_not_over_what_the_chains_claim() -> None:
    """Four siblings all claim 20; three compute 5 (written three ways), one computes 20."""
    replies = [
        program("return 2 * 3 - 1", claim="20"),
        program("return 20", claim="20"),
        program("pens = 6\npens -= 1\nreturn pens", claim="20"),
        program("return 4.9999999999", claim="20"),
    ]

    def policy(ctx: Context) -> str:
        return replies[ctx.sample % len(replies)]

    text = await _solve(policy, program_mode=False, strategy="self_consistency", n=4)
    assert text.answer == "20"  # the text vote believes the claims
    outcome = await _solve(policy, strategy="self_consistency", n=4)
    assert outcome.answer == "5"
    votes = outcome.summary()["votes"]
    assert [(v["answer"], v["votes"]) for v in votes] == [("5", 3), ("20", 1)]
    assert votes[0]["nodes"] == ["n1", "n3", "n4"]
    assert outcome.result.node_id == "n1" and outcome.result.tree["chosen"] == "n1"
    assert outcome.result.tree["chosen_path"] == ["n0", "n1"]
    assert "3 of 4 programs returned 5" in outcome.result.reason


def test_vote_ties_go_to_the_earliest_value_and_verified_values_win() -> None:
    [first, second] = tally([Ballot("a", 7.0), Ballot("b", 9.0), Ballot("c", 9.0), Ballot("d", 7.0)])
    assert (first.answer, first.votes, second.answer) == ("7", 2, "9")
    [close] = tally([Ballot("a", 1e9), Ballot("b", 1e9 + 100)])  # 1e-7 relative: one answer
    assert close.votes == 2 and close.answer == "1000000000"
    assert len(tally([Ballot("a", 0.5), Ballot("b", 0.5001)])) == 2
    [verified, majority] = tally([Ballot("a", 3.0), Ballot("b", 3.0), Ballot("c", 4.0, verified=True)])
    assert (verified.answer, verified.verified, majority.votes) == ("4", True, 2)


def gsm8k_policy(gold: dict[str, str]) -> Callable[[Context], str]:
    """Item 0: every reply right. Item 1: chains of thought wrong; programs right but every fourth."""
    first = next(iter(gold))

    def policy(ctx: Context) -> str:
        question = next(q for q in gold if q in ctx.messages[-1].content)
        wants_program = "solution()" in ctx.messages[0].content
        right, wrong = gold[question], str(int(gold[question]) + 7)
        if not wants_program:
            value = right if question == first else wrong
            return f"Step 1: work it out.\n\nAnswer: {value}{EOS_MARK}"
        value = wrong if question != first and ctx.sample % 4 == 3 else right
        return program(f"return {value}", claim=wrong)

    return policy


async def _bench(plan: BenchPlan, backend: ScriptedBackend, store: ResultStore) -> BenchRun:
    async with (
        LocalSandbox() as sandbox,
        open_runtime(PonderSettings(), backend=backend, sandbox=sandbox) as rt,
    ):
        return await run_bench(plan, rt, store)


def test_bench_records_pal_rows_paired_with_greedy_and_their_text_twin(tmp_path: Path) -> None:
    strategies = ("greedy", "self_consistency", "pal", "pal_sc")
    plan = BenchPlan(suite="gsm8k", strategies=strategies, budgets=(2000,), limit=2, n=4)
    assert plan.needs_sandbox()
    assert not BenchPlan(suite="gsm8k", strategies=("greedy",), budgets=(1,)).needs_sandbox()
    items = plan.items()
    backend = ScriptedBackend(gsm8k_policy({i.question: i.gold for i in items}))
    store = ResultStore(tmp_path / RESULTS_FILE)
    run = asyncio.run(_bench(plan, backend, store))
    assert (run.ran, run.errors) == (8, 0)
    by = {(r.item, r.strategy): r for r in store.results()}
    second = items[1].item_id
    pal_sc = by[(second, "pal_sc")]
    assert pal_sc.correct and pal_sc.answer == items[1].gold and pal_sc.expansions == 4
    assert pal_sc.candidates.count(True) == 1 and pal_sc.candidates.count(False) == 1  # executed values
    assert not by[(second, "self_consistency")].correct and by[(second, "pal")].correct

    rows = {r["strategy"]: r for r in summarize(store.results())}
    assert (rows["pal"]["accuracy"], rows["pal"]["vs_greedy"]) == (1.0, "+1/-0")
    assert rows["pal_sc"]["vs_twin"] == "+1/-0" and rows["pal_sc"]["twin"] == "self_consistency"
    assert rows["pal_sc"]["twin_mcnemar_p"] == 1.0 and rows["pal"]["twin"] is None
    table = format_table(list(rows.values()))
    assert "| vs CoT twin (McNemar p) |" in table
    assert "| +1/-0 vs self_consistency (p=1) |" in table

    args = ["bench", "--suite", "gsm8k", "--strategies", ",".join(strategies), "--budgets", "2000"]
    result = CliRunner().invoke(
        command_app(cli_bench), [*args, "--limit", "2", "--out", str(tmp_path), "--summary-only"]
    )
    assert result.exit_code == 0, result.output
    assert "| gsm8k | pal_sc | 2000 | 2 | 100.0% [" in result.stdout
    assert json.loads((tmp_path / "summary.json").read_text())[1]["strategy"] == "pal"


async def test_pal_refuses_suites_that_are_not_word_problems() -> None:
    item = load_items("humaneval")[0]
    plan = BenchPlan(suite="humaneval", strategies=("pal",), budgets=(10,))
    async with open_runtime(
        PonderSettings(), backend=ScriptedBackend(lambda ctx: ""), need_sandbox=False
    ) as rt:
        with pytest.raises(BenchDataError, match="--suite gsm8k"):
            await solve_pal(item, rt, rt.search_config(), plan)
