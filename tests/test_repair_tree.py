"""Repair as a tree search (`ponder.plugin.repair.edit_tree`): a child makes one more edit to its
parent's code, and the share of tests passing is the node's value.

The two-edit project is built so that no single edit fixes it: `count_above` compares with
``>=`` instead of ``>`` (three tests fail) and `window_sums` drops the last window (two fail).
One test passes as it is; either first fix alone moves the suite from 1/6 to 4/6 (or 3/6), and
only the second edit on top passes all six. Mutations only (no model) in the real Docker
sandbox; the "both" test scripts the model in-process, with the subprocess sandbox.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from ponder.backends.base import Capabilities, Completion, GenerationRequest, TokenLogprob
from ponder.backends.errors import BackendResponseError
from ponder.graph.testing import Context, ScriptedBackend
from ponder.graph.types import Budget, SearchConfig
from ponder.plugin.bench.repairset import SilentBackend
from ponder.plugin.repair.edit_tree import EditTree, interleave, render
from ponder.plugin.repair.localize import Suspect, focus
from ponder.plugin.repair.mutant_rank import rank_mutants
from ponder.plugin.repair.mutations import generate_mutants, mutants_across, tiers
from ponder.plugin.repair.outcome import RepairOutcome
from ponder.plugin.repair.project import Project, load_project
from ponder.plugin.repair.tree_search import edit_tree
from ponder.plugin.repair.workflow import repair_project
from ponder.plugin.runtime import open_runtime
from ponder.plugin.settings import PonderSettings
from ponder.sandbox import LocalSandbox
from ponder.sandbox.types import TestReport

SERIES = '''\
def count_above(values, limit):
    """How many values are strictly above `limit`."""
    return sum(1 for v in values if v >= limit)


def window_sums(values, k):
    """The sums of every run of `k` consecutive values."""
    return [sum(values[i : i + k]) for i in range(len(values) - k)]
'''
FIRST_FIX = ("v >= limit", "v > limit")
SECOND_FIX = ("range(len(values) - k)", "range(len(values) - k + 1)")
SERIES_TESTS = """\
from series import count_above, window_sums


def test_count_above_skips_the_limit():
    assert count_above([1, 2, 3], 2) == 1


def test_count_above_all_equal():
    assert count_above([4, 4], 4) == 0


def test_count_above_mixed():
    assert count_above([5, 1, 5, 9], 5) == 1


def test_count_above_none_equal():
    assert count_above([1, 7, 9], 5) == 2


def test_window_sums():
    assert window_sums([1, 2, 3, 4], 2) == [3, 5, 7]


def test_window_whole():
    assert window_sums([1, 2, 3], 3) == [6]
"""
MUTANTS = 12
"""First edits; as many again on top of partial fixes (each one test run)."""


def _two_edit_project(root: Path) -> Path:
    (root / "series.py").write_text(SERIES)
    (root / "test_series.py").write_text(SERIES_TESTS)
    return root


def _nodes(outcome: RepairOutcome) -> dict[str, dict[str, Any]]:
    assert outcome.result is not None
    return {n["id"]: n for n in outcome.result.tree["nodes"]}


@pytest.fixture
def use_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_SANDBOX_KIND", "docker")
    monkeypatch.setenv("PONDER_SANDBOX_POOL_SIZE", "2")


@pytest.mark.docker
@pytest.mark.parametrize("strategy", ["beam", "mcts", "refine"])
async def test_a_fix_that_needs_two_edits_is_found_by_the_tree_search(
    tmp_path: Path, use_docker: None, strategy: str
) -> None:
    project = load_project(_two_edit_project(tmp_path))
    async with open_runtime(PonderSettings(), backend=SilentBackend()) as rt:
        config = SearchConfig(strategy=strategy, budget=Budget(max_seconds=600))  # type: ignore[arg-type]
        outcome = await repair_project(project, rt, config, max_mutants=MUTANTS)
    assert outcome.status == "fixed", outcome.reason
    assert str(outcome.before) == "1/6 passed" and str(outcome.after) == "6/6 passed"
    fixed = SERIES.replace(*SECOND_FIX)
    either = {fixed.replace(*FIRST_FIX), fixed.replace("v >= limit", "v >= limit + 1")}  # both correct
    assert set(outcome.patched) == {"series.py"} and outcome.patched["series.py"] in either
    assert "; then " in outcome.description and outcome.source == "mutation"
    nodes = _nodes(outcome)
    fix = nodes[outcome.result.node_id or ""] if outcome.result else {}
    parent = nodes[fix["parent"]]
    assert parent["gate"] == "unknown" and parent["evidence"]["passed"] in (3, 4), "a partial fix, kept open"
    assert any(n["evidence"].get("progress") == "1/6 → 4/6" for n in nodes.values()), "one edit: 1/6 → 4/6"
    assert all(n["evidence"].get("passed", 0) < 6 for n in nodes.values() if n["depth"] == 1)
    runs = sum(1 for n in nodes.values() if n["evidence"].get("cached") is False)
    assert 2 <= runs <= 2 * MUTANTS and outcome.mutants <= 2 * MUTANTS  # within the tree's budget
    assert outcome.result is not None and outcome.result.spend.tokens_generated == 0


@pytest.fixture
async def sandbox() -> AsyncIterator[LocalSandbox]:
    async with LocalSandbox() as box:
        yield box


def _second_edit_by_model(ctx: Context) -> str:
    """The scripted model: fixes `window_sums` when shown code whose first bug is already fixed
    (a node of the tree), else it has nothing to offer."""
    shown = "\n".join(m.content for m in ctx.messages)
    if "v > limit" not in shown:
        return "I am not sure."
    search = next(line for line in SERIES.splitlines() if SECOND_FIX[0] in line)
    replace = search.replace(*SECOND_FIX)
    return f"series.py\n```python\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```\n"


@pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")
async def test_both_interleaves_the_model_into_the_tree_and_it_writes_the_second_edit(
    tmp_path: Path, sandbox: LocalSandbox
) -> None:
    # One model child per expansion, the rest mutants: the model's edit is written on top of a
    # mutant's partial fix, shown with that node's code and its failing tests.
    project = load_project(_two_edit_project(tmp_path))
    backend = ScriptedBackend(lambda ctx: _second_edit_by_model(ctx), token_ids=False, prefix_cache=False)
    async with open_runtime(PonderSettings(), backend=backend, sandbox=sandbox) as rt:
        config = SearchConfig(strategy="beam", budget=Budget(max_seconds=300, max_tokens=100_000))
        outcome = await repair_project(project, rt, config, max_mutants=MUTANTS)
    assert outcome.status == "fixed", outcome.reason
    assert outcome.source == "both"
    assert outcome.description.startswith("flip-comparison at series.py:3")
    assert "; then model edit: 1 hunk in series.py" in outcome.description
    assert backend.log.generate_calls >= 2  # once at the root, once on top of the partial fix
    assert outcome.result is not None and outcome.result.spend.tokens_generated > 0
    assert outcome.mutants < 2 * MUTANTS  # the model had its share before the mutants ran out


def test_focus_takes_the_top_lines_of_every_file() -> None:
    ranked = [Suspect(1.0, "cart.py", 15), Suspect(1.0, "money.py", 6), Suspect(0.4, "cart.py", 30)]
    assert focus(ranked, ("cart.py", {15})) == {"cart.py": {15}, "money.py": {6}}
    assert focus([], ("only.py", {3})) == {"only.py": {3}}


def test_mutants_across_files_come_on_suspect_lines_first() -> None:
    sources = {
        "a.py": "def f(x):\n    y = x + 1\n    return y < 2\n",
        "b.py": "def g(n):\n    return n * 3\n",
    }
    found = mutants_across(sources, {"a.py": {3}, "b.py": {2}})
    assert {m.path for m in found if m.distance == 0} == {"a.py", "b.py"}
    distances = [m.distance for m in found]
    assert distances == sorted(distances)


def test_mutants_at_one_distance_go_most_suspicious_line_first() -> None:
    """Both lines are in the focus; the one the failing tests alone run (Ochiai 1.0) is mutated
    before the one passing tests run too (0.58), though the operators' rank (a comparison flip
    first) would start on the other."""
    source = "def f(x, y):\n    a = x + 1\n    return a < y\n"
    plain = mutants_across({"m.py": source}, {"m.py": {2, 3}})
    scored = mutants_across({"m.py": source}, {"m.py": {2, 3}}, scores={("m.py", 2): 1.0, ("m.py", 3): 0.58})
    assert plain and len(plain) == len(scored)
    assert next(m.line for m in plain if m.distance == 0) == 3
    lines = [m.line for m in scored if m.distance == 0]
    assert lines == sorted(lines) and lines[0] == 2
    assert {m.description for m in plain} == {m.description for m in scored}
    # scores this close do not tell the lines apart: the operators' order stands
    close = mutants_across({"m.py": source}, {"m.py": {2, 3}}, scores={("m.py", 2): 0.67, ("m.py", 3): 0.63})
    assert [m.description for m in close] == [m.description for m in plain]


def test_tiers_are_per_file_so_a_helper_keeps_its_first_edits() -> None:
    """A helper that passing tests run too scores 0.58 against its caller's 1.0; its top line is
    still in the first tier of its file, and a line far below its file's top is not."""
    scores = {("cart.py", 5): 1.0, ("cart.py", 6): 0.97, ("cart.py", 9): 0.6, ("money.py", 3): 0.58}
    assert tiers(scores) == {("cart.py", 5): 0, ("cart.py", 6): 0, ("cart.py", 9): 1, ("money.py", 3): 0}
    sources = {
        "cart.py": "def total(x):\n    return x + 1\n",
        "money.py": "def cents(y):\n    return y * 100\n",
    }
    found = mutants_across(
        sources, {"cart.py": {2}, "money.py": {2}}, scores={("cart.py", 2): 1.0, ("money.py", 2): 0.58}
    )
    assert {m.path for m in found[:4]} == {"cart.py", "money.py"}


async def test_a_mutant_that_undoes_the_parent_is_never_proposed_again() -> None:
    source = "def f(x):\n    return x <= 1\n"
    project = Project(root=Path("p"), sources={"m.py": source}, tests={"test_m.py": ""})
    tree = EditTree(project, {"m.py": {2}}, max_mutants=8, baseline_passed=0)
    first = await tree._mutants(project.sources, 8, frozenset(), first=True)
    child = {"m.py": first[0].source}
    tree.states[render(child)] = tree.states.get(render(child)) or _state(child)
    again = await tree._mutants(child, 8, frozenset({("m.py", 2)}), first=False)
    assert source not in [m.source for m in again], "back to the project's code is not a new candidate"
    assert render(child) not in [m.source for m in again]


def _state(files: dict[str, str]) -> Any:
    from ponder.plugin.repair.edit_tree import TreeState

    return TreeState(files, None, "first", "mutation")


class NextTokenModel(SilentBackend):
    """A scripted language model that gives the alternatives' logprobs for the next token: the
    prompt's last line decides (``v >`` after ``if v`` is likely, ``v >=`` is not), a stand-in
    for what a trained model finds natural."""

    name = "next-token"

    def __init__(self, table: dict[str, dict[str, float]]) -> None:
        self.table = table
        self.prompts: list[str] = []

    @property
    def capabilities(self) -> Capabilities:
        return replace(super().capabilities, logprobs=True, top_logprobs=True)

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        out = []
        for req in requests:
            prompt = req.prompt or ""
            self.prompts.append(prompt)
            tail = prompt.rsplit("\n", 1)[-1].strip()
            top = self.table.get(tail, {})
            out.append([Completion("", [], "length", logprobs=[TokenLogprob(None, None, 0.0, top)])])
        return out


async def test_the_model_ranks_the_most_natural_mutant_first() -> None:
    source = "def f(values, limit):\n    return sum(1 for v in values if v >= limit)\n"
    mutants = generate_mutants(source, path="m.py", focus_lines=[2], max_mutants=6)
    bound = next(m for m in mutants if m.replacement == "limit + 1")
    assert mutants.index(bound) > 0, "the operators' order puts another mutant first"
    line = "return sum(1 for v in values if v"
    model = NextTokenModel(
        {
            line: {" >=": -0.1, " >": -3.0, " <": -4.0},  # the comparison as written is natural
            f"{line} >=": {" limit": -0.2},  # shared by `limit` and `limit + 1`: asked further
            f"{line} >= limit": {" +": -0.5, ")": -2.0},  # here the written code is unlikely
        }
    )
    ranked = await rank_mutants(model, {"m.py": source}, mutants)
    assert ranked[0] == bound
    assert sorted(ranked, key=lambda m: m.description) == sorted(mutants, key=lambda m: m.description)
    assert all(p.startswith("def f(values, limit):\n") for p in model.prompts)  # the file up to the site


async def test_the_tested_order_alternates_the_models_choices_and_the_operators() -> None:
    # Neither order alone keeps all its fixes (repair set: the model's finds the right variable,
    # the operators' a flipped comparison it ranks low); alternating keeps each one's k-th within 2k.
    source = "def f(a, b):\n    return a - b < 3\n"
    ops = generate_mutants(source, path="m.py", max_mutants=6)
    model = list(reversed(ops))
    tree = EditTree(
        Project(root=Path("p"), sources={"m.py": source}, tests={"test_m.py": ""}),
        {"m.py": {2}},
        max_mutants=4,
        baseline_passed=0,
        ranker=lambda base, mutants: _as_ranked(list(reversed(mutants))),
    )
    assert interleave(model, ops) == [ops[5], ops[0], ops[4], ops[1], ops[3], ops[2]]
    assert interleave(ops, ops) == ops
    chosen = await tree._mutants({"m.py": source}, 4, frozenset(), first=True)
    window = mutants_across({"m.py": source}, {"m.py": {2}})[:12]  # k * RANK_WINDOW
    assert [m.description for m in chosen] == [
        m.description for m in (window[-1], window[0], window[-2], window[1])
    ]


async def _as_ranked(mutants: list[Any]) -> list[Any]:
    return mutants


async def test_without_alternatives_logprobs_the_order_stays() -> None:
    source = "def f(x):\n    return x - 1\n"
    mutants = generate_mutants(source, path="m.py", max_mutants=5)
    assert await rank_mutants(SilentBackend(), {"m.py": source}, mutants) == mutants


class ChatOnlyModel(NextTokenModel):
    """Claims alternatives' logprobs but refuses raw-prompt completions, as a chat-only
    OpenAI-compatible server does (its /v1/completions answers 404)."""

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        self.prompts.extend(r.prompt or "" for r in requests)
        raise BackendResponseError("http://127.0.0.1:9/v1 answered 404 for model 'chat-only'")


async def test_a_server_that_refuses_ranking_leaves_the_operators_order() -> None:
    source = "def f(x):\n    return x - 1\n"
    project = Project(root=Path("p"), sources={"m.py": source}, tests={"test_m.py": ""})
    mutants = generate_mutants(source, path="m.py", max_mutants=5)
    model = ChatOnlyModel({})
    tree = edit_tree(
        project,
        TestReport(),
        SearchConfig(),
        model,
        lambda shown: [],
        focus={"m.py": {2}},
        suspects=["m.py"],
        max_mutants=5,
        write=False,
    )
    assert tree.ranker is not None
    assert await tree.ranker(project.sources, mutants) == mutants
    asked = len(model.prompts)
    assert asked > 0 and await tree.ranker(project.sources, mutants) == mutants
    assert len(model.prompts) == asked  # refused once: not asked again for the rest of the repair
