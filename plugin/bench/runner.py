"""Run a suite × strategies × budgets × seeds through ponder's own workflows, checking every answer.

Each item goes through the same workflow a user would run (solve, analyze, repair) or, for
HumanEval, a code-generation task with the docstring examples as its only visible check; a few
bench strategies bring their own (`strategies.OWN_STRATEGIES`). The search never sees the gold
answer; the source's checker (`datasets`) judges the answer it returns and every other candidate
it produced (for the pass@N oracle).

Items are the outer loop, so after any prefix of a run every strategy has answered the same items
(paired comparisons stay valid when a run is cut short) and the engine's prefix cache serves one
item's prompt to every strategy in turn. Results are appended to the store as they finish; a
re-run skips them.

Greedy decoding is deterministic and stops on its own, so it runs once per item, at the largest
budget and the first seed, as the System-1 reference.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ponder.errors import PonderError
from ponder.graph.types import SearchConfig, SearchResult
from ponder.plugin.analyze.tables import Table, make_table, tatqa_table
from ponder.plugin.analyze.workflow import AnalyzeRequest, analyze
from ponder.plugin.bench import humaneval_select, repairset
from ponder.plugin.bench.codegen import SOURCE_PATH, build_codegen_task, has_examples
from ponder.plugin.bench.datasets import BenchItem, check_code_many, get_suite, load_items
from ponder.plugin.bench.run_info import backend_name
from ponder.plugin.bench.store import ItemResult, ResultStore
from ponder.plugin.bench.strategies import OWN_STRATEGIES, WorkflowFn
from ponder.plugin.repair.project import Project
from ponder.plugin.repair.workflow import repair_project
from ponder.plugin.runtime import Runtime
from ponder.plugin.solve.workflow import solve_question
from ponder.sandbox.types import Limits

REFERENCE_STRATEGY = "greedy"
MAX_CONSECUTIVE_ERRORS = 3
"""A part that is down (engine, Docker) fails every item; stop instead of recording hundreds of errors."""
REPAIR_LIMITS = Limits(timeout_s=10.0, memory_mb=512)
"""Buggy HumanEvalFix code can loop forever; each test run gets this much."""


class BenchAbortedError(PonderError):
    """Several items in a row failed with an error: something the bench depends on is broken."""


@dataclass(frozen=True, slots=True)
class BenchPlan:
    """What to run: one suite, the strategy × budget × seed grid, and how many items."""

    suite: str
    strategies: tuple[str, ...]
    budgets: tuple[int, ...]
    """Generated-token budgets per item (`Budget.max_tokens`)."""
    seeds: tuple[int, ...] = (0,)
    limit: int | None = None
    data: Path | None = None
    """The suite's data file; None = its dev split under `data_dir`."""
    data_dir: Path | None = None
    n: int = 4
    """Width of the sampling strategies (chains for self-consistency / best-of-N, subtrees for DVTS)."""
    mutants: int = 0
    """Repair only: mutation-operator seeds (0 = the model alone, so strategies compare on its output;
    for the repair set's mutation modes, 0 = `repairset.DEFAULT_MUTANTS`)."""

    def cells(self) -> list[tuple[str, int, int]]:
        """(strategy, budget, seed) combinations to run for each item."""
        if not self.strategies or not self.budgets or not self.seeds:
            raise ValueError("a bench plan needs at least one strategy, budget and seed")
        cells: list[tuple[str, int, int]] = []
        for strategy in self.strategies:
            if strategy == REFERENCE_STRATEGY:
                cells.append((strategy, max(self.budgets), self.seeds[0]))
                continue
            cells += [(strategy, b, s) for b in self.budgets for s in self.seeds]
        return cells

    def items(self) -> list[BenchItem]:
        items = load_items(self.suite, self.data, data_dir=self.data_dir)
        return items if self.limit is None else items[: self.limit]

    def needs_sandbox(self) -> bool:
        """Whether a unit executes code: every suite but the solve ones, and `OWN_STRATEGIES`."""
        return get_suite(self.suite).workflow != "solve" or any(s in OWN_STRATEGIES for s in self.strategies)


@dataclass(slots=True)
class Attempt:
    """What a workflow returned for one item, before checking."""

    answer: str | None
    status: str
    verified: bool
    result: SearchResult | None
    source: str | None = None
    patched: dict[str, str] | None = None
    """Repair set: the files the repair would write (path → new text); None when it writes none."""
    test_runs: int | None = None
    """Repair workflows: candidates whose tests ran in the sandbox (`repairset.count_test_runs`)."""


@dataclass(slots=True)
class BenchRun:
    """Counts of one `run_bench` call (the results themselves are in the store)."""

    ran: int = 0
    skipped: int = 0
    errors: int = 0
    results: list[ItemResult] = field(default_factory=list)
    streak: int = 0
    """Errors in a row among the results recorded last."""

    def skip(self, result: ItemResult, on_result: Callable[[ItemResult, bool], None] | None) -> None:
        """Count a unit whose result the store already holds."""
        self.skipped += 1
        if on_result is not None:
            on_result(result, True)

    def record(
        self, store: ResultStore, result: ItemResult, on_result: Callable[[ItemResult, bool], None] | None
    ) -> None:
        """Append a fresh result (in plan order); `BenchAbortedError` after too many errors in a row."""
        self.streak = self.streak + 1 if result.error is not None else 0
        self.errors += result.error is not None
        store.add(result)
        self.ran += 1
        self.results.append(result)
        if on_result is not None:
            on_result(result, False)
        if self.streak >= MAX_CONSECUTIVE_ERRORS:
            raise BenchAbortedError(
                f"{self.streak} items in a row failed, last: {result.error}; fix the cause and re-run "
                f"(finished items in {store.path} are kept)"
            )


Unit = tuple[BenchItem, str, int, int]
"""One item under one (strategy, budget, seed) cell: what one result line answers."""


def plan_units(plan: BenchPlan) -> list[Unit]:
    """Every unit of `plan`, items outermost: the order results are written in."""
    cells = plan.cells()
    return [(item, *cell) for item in plan.items() for cell in cells]


def unit_key(item: BenchItem, strategy: str, budget: int, seed: int) -> dict[str, Any]:
    """The fields of an `ItemResult` that name its unit (its store key)."""
    return {"suite": item.suite, "item": item.item_id, "strategy": strategy, "budget": budget, "seed": seed}


def stored_result(store: ResultStore, unit: Unit) -> ItemResult | None:
    """The store's result for `unit` if it finished without an error (errored units run again)."""
    item, strategy, budget, seed = unit
    key = (item.suite, item.item_id, strategy, budget, seed)
    if key in store and store.get(key).error is None:
        return store.get(key)
    return None


# ---------------------------------------------------------------- one item through its workflow


async def _solve(item: BenchItem, rt: Runtime, config: SearchConfig, plan: BenchPlan) -> Attempt:
    outcome = await solve_question(item.question, rt, config)
    return Attempt(outcome.answer, outcome.result.status, outcome.verified, outcome.result)


def analyze_request(item: BenchItem) -> AnalyzeRequest:
    """The analyze workflow's request for a finance item, without the reference answer."""
    record = item.record
    if item.suite == "tatqa":
        tables = [tatqa_table(record["table"])]
        paragraphs = [str(p) for p in record.get("paragraphs") or []]
    elif item.suite == "financemath":
        tables = [markdown_table(t, f"table{i}") for i, t in enumerate(record["tables"])]
        paragraphs = []
    else:
        tables, paragraphs = [], []
    return AnalyzeRequest(question=item.question, tables=tables, paragraphs=paragraphs)


def markdown_table(text: str, name: str) -> Table:
    """A FinanceMath markdown table: the first row is the header, the |---| rule is dropped."""
    lines = [ln.strip() for ln in text.strip().splitlines() if ln.strip().startswith("|")]
    cells = [[c.strip() for c in ln.strip("|").split("|")] for ln in lines]
    body = [row for row in cells if not all(set(c) <= set("-: ") for c in row)]
    return make_table(name, body[0] if body else [], body[1:])


async def _analyze(item: BenchItem, rt: Runtime, config: SearchConfig, plan: BenchPlan) -> Attempt:
    outcome = await analyze(analyze_request(item), rt, config)
    return Attempt(outcome.answer, outcome.status, outcome.verified, outcome.result)


def repair_project_of(item: BenchItem) -> Project:
    """A HumanEvalFix record as a one-file project: the buggy module and its test as pytest."""
    record = item.record
    entry = record["entry_point"]
    test = record["test"].rstrip().removesuffix(f"check({entry})").rstrip()
    tests = f"from solution import *  # noqa: F403\n{test}\n\n\ndef test_{entry}():\n    check({entry})\n"
    source = record["declaration"] + record["buggy_solution"]
    return Project(
        root=Path(item.item_id.replace("/", "_")),
        sources={SOURCE_PATH: source},
        tests={"test_solution.py": tests},
    )


async def _repair(item: BenchItem, rt: Runtime, config: SearchConfig, plan: BenchPlan) -> Attempt:
    project = repair_project_of(item)
    outcome = await repair_project(project, rt, config, max_mutants=plan.mutants, limits=REPAIR_LIMITS)
    runs = repairset.count_test_runs(outcome.result.tree) if outcome.result else 0
    if outcome.status == "fixed":
        return Attempt(outcome.fixed, "verified", True, outcome.result, outcome.source, test_runs=runs)
    result = outcome.result
    # No verified fix: the answer is the search's best unverified candidate, else the file unchanged.
    answer = result.answer if result is not None and result.answer else project.sources[SOURCE_PATH]
    status = "unverified" if outcome.status == "no_fix" else outcome.status
    return Attempt(answer, status, False, result, result.source if result else None, test_runs=runs)


async def _repair_set(item: BenchItem, rt: Runtime, config: SearchConfig, plan: BenchPlan) -> Attempt:
    """One repair-set case in one mode, through `ponder repair`'s workflow as a user runs it."""
    mode = repairset.mode_of(item)
    project = repairset.case_of(item).project()
    outcome = await repair_project(
        project,
        repairset.runtime_for(mode, rt),
        config,
        max_mutants=repairset.mutants_for(mode, plan.mutants),
        limits=REPAIR_LIMITS,
        write=repairset.writes(mode),
    )
    result = outcome.result
    runs = repairset.count_test_runs(result.tree) if result else 0
    if outcome.status != "fixed":
        status = "unverified" if outcome.status == "no_fix" else outcome.status
        return Attempt(None, status, False, result, result.source if result else None, test_runs=runs)
    patched = dict(outcome.patched)
    return Attempt(outcome.diff, "verified", True, result, outcome.source, patched=patched, test_runs=runs)


async def _codegen(item: BenchItem, rt: Runtime, config: SearchConfig, plan: BenchPlan) -> Attempt:
    task = build_codegen_task(item)
    config = humaneval_select.codegen_config(item, rt, config)
    result = await rt.search(task, config, verifier=rt.code_verifier())
    if result.verified and not has_examples(item):  # it defines the function; nothing more was checked
        return Attempt(result.answer, "unverified", False, result, result.source)
    return Attempt(result.answer, result.status, result.verified, result, result.source)


WORKFLOWS: dict[str, WorkflowFn] = {
    "solve": _solve,
    "analyze": _analyze,
    "repair": _repair,
    "codegen": _codegen,
    "repair_set": _repair_set,
}


# ---------------------------------------------------------------- checking and recording


def candidate_answers(result: SearchResult | None) -> list[str]:
    """Distinct non-empty answers of every terminal candidate, in tree order."""
    if result is None:
        return []
    seen = dict.fromkeys(
        c["answer"] for c in result.candidates if isinstance(c.get("answer"), str) and c["answer"].strip()
    )
    return list(seen)


async def judge(item: BenchItem, answer: str | None, candidates: Sequence[str], rt: Runtime) -> list[bool]:
    """[answer correct, each candidate correct...] by the source's rule; code in one sandbox run."""
    spec = get_suite(item.suite)
    answers = [answer, *candidates]
    if spec.is_code:
        return await check_code_many([(item, a) for a in answers], rt.require_sandbox())
    assert spec.check_text is not None
    return [a is not None and bool(a.strip()) and spec.check_text(item, a) for a in answers]


async def run_item(
    item: BenchItem, rt: Runtime, plan: BenchPlan, strategy: str, budget: int, seed: int
) -> ItemResult:
    """One item under one (strategy, budget, seed): search, check, measure.

    `seconds` is the workflow's time, as its user waits for it; judging the answer is not in it.
    """
    own = OWN_STRATEGIES.get(strategy)
    config = rt.search_config(
        strategy=own.search if own else strategy,
        seed=seed,
        n=plan.n,
        budget={"max_tokens": budget},
    )
    spec = get_suite(item.suite)
    workflow = own.workflow if own else WORKFLOWS[spec.workflow]
    started = time.monotonic()
    attempt = await workflow(item, rt, config, plan)
    seconds = time.monotonic() - started
    if spec.workflow == "repair_set":
        # Only what the repair would write is judged: a repair that verifies nothing writes nothing.
        candidates: list[str] = []
        verdicts = [await repairset.check_fix(item, attempt.patched, rt.require_sandbox())]
    else:
        candidates = candidate_answers(attempt.result)
        verdicts = await judge(item, attempt.answer, candidates, rt)
    spend = attempt.result.spend if attempt.result is not None else None
    return ItemResult(
        **unit_key(item, strategy, budget, seed),
        answer=attempt.answer,
        correct=verdicts[0],
        status=attempt.status,
        verified=attempt.verified,
        tokens_generated=spend.tokens_generated if spend else 0,
        tokens_reused=spend.tokens_reused if spend else 0,
        prompt_tokens=spend.prompt_tokens if spend else 0,
        expansions=spend.expansions if spend else 0,
        seconds=round(seconds, 3),
        source=attempt.source or (attempt.result.source if attempt.result else None),
        candidates=verdicts[1:],
        backend=backend_name(rt),
        mode=item.record.get("mode") if spec.workflow == "repair_set" else None,
        test_runs=attempt.test_runs,
    )


async def attempt_unit(unit: Unit, rt: Runtime, plan: BenchPlan) -> ItemResult:
    """`run_item` on one unit; a failure of a part becomes an error result (a re-run retries it)."""
    item, strategy, budget, seed = unit
    try:
        return await run_item(item, rt, plan, strategy, budget, seed)
    except (PonderError, OSError, RuntimeError, ValueError) as exc:
        return ItemResult(
            **unit_key(item, strategy, budget, seed),
            status="error",
            error=f"{type(exc).__name__}: {exc}",
            backend=backend_name(rt),
        )


async def run_bench(
    plan: BenchPlan,
    rt: Runtime,
    store: ResultStore,
    *,
    on_result: Callable[[ItemResult, bool], None] | None = None,
) -> BenchRun:
    """Run every (item, cell) of `plan` that `store` does not hold yet, appending each result.

    Args:
        on_result: called after each cell with (result, skipped) — the progress bar's feed.

    Raises:
        BenchAbortedError: `MAX_CONSECUTIVE_ERRORS` items in a row raised (their errors are recorded,
            and a re-run retries them).
    """
    run = BenchRun()
    for unit in plan_units(plan):
        done = stored_result(store, unit)
        if done is not None:
            run.skip(done, on_result)
        else:
            run.record(store, await attempt_unit(unit, rt, plan), on_result)
    return run
