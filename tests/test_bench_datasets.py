"""Loaders and checkers on every dev file: gold answers score 100%, real errors score 0%.

Perturbations are the mistakes a model actually makes: a wrong value (5% off), a wrong scale
(thousand for million, a fraction for a percent), a flipped sign, a buggy function. Code is run
in the subprocess sandbox: the dataset's own code is trusted, and the check is the same pytest
run the Docker sandbox does.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ponder.plugin.bench import SUITE_NAMES
from ponder.plugin.bench.datasets import (
    DEFAULT_DATA_DIR,
    SUITES,
    BenchDataError,
    BenchItem,
    check_answers,
    check_code_many,
    get_suite,
    load_items,
)
from ponder.sandbox import LocalSandbox
from ponder.verifiers.answers import number_text

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")

SIZES = {
    "gsm8k": 200,
    "tatqa": 150,
    "financemath": 100,
    "theoremqa": 40,
    "humanevalfix": 40,
    "humaneval": 164,
    "repair": 96,
}
"""Items per suite; the repair set's are its 24 cases × 4 modes (model, mutations, ranked, both)."""
TEXT_SUITES = ["gsm8k", "tatqa", "financemath", "theoremqa"]
TATQA_WRONG_SCALE = {"": "thousand", "thousand": "million", "million": "billion", "billion": "million"}


def _gold_text(item: BenchItem) -> str:
    """The gold answer as a model would write it after "Answer:"."""
    if item.suite == "tatqa":
        scale = item.record["scale"]
        value = number_text(item.gold)
        return f"{value}%" if scale == "percent" else f"{value} {scale}".strip()
    if item.suite == "gsm8k":
        return f"${int(item.gold):,}" if item.gold.isdigit() else item.gold
    return str(item.gold)


def _perturbed(item: BenchItem) -> list[str]:
    """Wrong answers for `item`: a wrong value, a wrong scale and (when nonzero) a flipped sign."""
    if item.suite == "theoremqa" and item.record["Answer_type"] == "bool":
        return [str(not item.gold)]
    gold = float(item.gold)
    wrong_value = gold * 1.05 if abs(gold) >= 1 else gold + 1
    out = []
    if item.suite == "tatqa":
        scale = item.record["scale"]
        if scale == "percent":
            out += [f"{number_text(wrong_value)}%", number_text(gold / 100)]  # fraction for a percent
        else:
            out += [
                f"{number_text(wrong_value)} {scale}".strip(),
                f"{number_text(gold)} {TATQA_WRONG_SCALE[scale]}",
            ]
        if gold != 0:
            out.append(
                f"{number_text(-gold)}%" if scale == "percent" else f"{number_text(-gold)} {scale}".strip()
            )
        return out
    out.append(number_text(wrong_value))
    if gold != 0:
        out.append(number_text(gold * (100 if item.suite == "theoremqa" else 1000)))  # wrong scale
        out.append(number_text(-gold))
    return out


def test_every_dev_file_loads_with_the_documented_size() -> None:
    assert tuple(SUITES) == SUITE_NAMES == tuple(SIZES)
    for name, size in SIZES.items():
        items = load_items(name)
        assert len(items) == size, name
        assert len({i.item_id for i in items}) == size, f"{name}: item ids must be unique (resume keys)"
        assert all(i.suite == name and i.question for i in items)


@pytest.mark.parametrize("suite", TEXT_SUITES)
async def test_text_checkers_accept_every_gold_and_reject_every_perturbation(suite: str) -> None:
    items = load_items(suite)
    for item in items:
        assert await check_answers(item, [_gold_text(item)]) == [True], (item.item_id, _gold_text(item))
        wrong = _perturbed(item)
        assert wrong, item.item_id
        assert await check_answers(item, wrong) == [False] * len(wrong), (item.item_id, item.gold, wrong)


def test_checker_edge_cases_follow_each_source() -> None:
    tatqa = next(i for i in load_items("tatqa") if i.record["scale"] == "million")
    # TAT-QA: a number written without a scale is in the table's scale; another scale is wrong.
    assert SUITES["tatqa"].check_text(tatqa, number_text(tatqa.gold))  # type: ignore[misc]
    assert not SUITES["tatqa"].check_text(tatqa, f"{number_text(tatqa.gold / 1000)} billion")  # type: ignore[misc]
    fm = next(i for i in load_items("financemath") if i.gold > 1)
    assert SUITES["financemath"].check_text(fm, f"{fm.gold * 1.009:.4f}")  # type: ignore[misc]
    assert not SUITES["financemath"].check_text(fm, f"{fm.gold * 1.011:.4f}")  # type: ignore[misc]
    tq = next(i for i in load_items("theoremqa") if i.record["Answer_type"] == "float" and 0 < i.gold < 1)
    assert SUITES["theoremqa"].check_text(tq, f"{100 * tq.gold:.6g}%")  # type: ignore[misc]
    tq_int = next(i for i in load_items("theoremqa") if i.record["Answer_type"] == "integer")
    assert not SUITES["theoremqa"].check_text(tq_int, f"{tq_int.gold + 0.4}")  # type: ignore[misc]
    gsm = load_items("gsm8k")[0]
    assert SUITES["gsm8k"].check_text(gsm, f"{gsm.gold} dollars")  # type: ignore[misc]


async def test_no_answer_is_never_correct() -> None:
    for suite in TEXT_SUITES:
        item = load_items(suite)[0]
        assert await check_answers(item, [None, "", "I don't know"]) == [False, False, False]


@pytest.fixture
async def local_sandbox() -> Any:
    async with LocalSandbox() as sandbox:
        yield sandbox


@pytest.mark.slow  # every HumanEvalFix item, fixed and buggy, in the subprocess sandbox
async def test_humanevalfix_canonical_passes_and_buggy_fails(local_sandbox: LocalSandbox) -> None:
    items = load_items("humanevalfix")
    assert await check_code_many([(i, i.gold) for i in items], local_sandbox) == [True] * len(items)
    buggy = [(i, i.record["declaration"] + i.record["buggy_solution"]) for i in items]
    assert await check_code_many(buggy, local_sandbox) == [False] * len(items)


_WRONG_VALUE = '''

_right = {entry}


def {entry}(*args, **kwargs):
    """The canonical function, with every result made wrong (a real wrong value, not a crash)."""
    value = _right(*args, **kwargs)
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 1
    if isinstance(value, str):
        return value + "x"
    if isinstance(value, list | tuple):
        return type(value)([*value, 0])
    return [value]
'''


@pytest.mark.slow  # every HumanEval item, right and wrong, in the subprocess sandbox
async def test_humaneval_canonical_passes_and_wrong_values_fail(local_sandbox: LocalSandbox) -> None:
    items = load_items("humaneval")
    assert await check_code_many([(i, i.gold) for i in items], local_sandbox) == [True] * len(items)
    wrong = [(i, i.gold + _WRONG_VALUE.format(entry=i.record["entry_point"])) for i in items]
    assert await check_code_many(wrong, local_sandbox) == [False] * len(items)


async def test_one_looping_candidate_does_not_cost_the_others_their_verdict(
    local_sandbox: LocalSandbox,
) -> None:
    item = load_items("humanevalfix")[0]
    looping = item.record["declaration"] + "    while True:\n        pass\n"
    verdicts = await check_code_many(
        [(item, item.gold), (item, looping), (item, None)], local_sandbox, candidate_timeout_s=2.0
    )
    assert verdicts == [True, False, False]


_SABOTAGE = """
import pathlib

for path in pathlib.Path(".").glob("cand_*.py"):
    try:
        path.write_text("")  # every other candidate would now 'pass'
    except OSError:
        pass
"""


async def test_a_candidate_cannot_make_another_one_pass(local_sandbox: LocalSandbox) -> None:
    item = load_items("humanevalfix")[0]
    buggy = item.record["declaration"] + item.record["buggy_solution"]
    verdicts = await check_code_many([(item, item.gold + _SABOTAGE), (item, buggy)], local_sandbox)
    assert verdicts == [True, False]


async def test_code_suites_need_a_sandbox() -> None:
    with pytest.raises(BenchDataError, match="open a sandbox"):
        await check_answers(load_items("humanevalfix")[0], ["x = 1"])


async def test_financemath_python_solutions_reproduce_ground_truth(local_sandbox: LocalSandbox) -> None:
    """The checker accepts what each record's own `python_solution` computes.

    Solutions that import a package this environment lacks (one needs scipy) are reported as None
    and counted, so a growing number of them fails the test instead of hiding in it.
    """
    items = load_items("financemath")
    script = "import json\nresults = []\n"
    for i, item in enumerate(items):
        script += (
            f"def _s{i}():\n    ns = {{}}\n    exec({item.record['python_solution']!r}, ns)\n"
            f"    return ns['solution']()\n"
            f"try:\n    results.append(_s{i}())\nexcept ImportError:\n    results.append(None)\n"
        )
    script += "print(json.dumps(results))\n"
    run = await local_sandbox.run({"solve.py": script}, ["python3", "solve.py"])
    assert run.exit_code == 0, run.stderr[-2000:]
    values = json.loads(run.stdout)
    ran = [(item, v) for item, v in zip(items, values, strict=True) if v is not None]
    assert len(ran) >= len(items) - 1
    verdicts = [await check_answers(item, [repr(float(v))]) for item, v in ran]
    assert verdicts == [[True]] * len(ran)


def test_data_flag_reads_another_file_of_the_same_source(tmp_path: Path) -> None:
    records = [
        json.loads(line) for line in (DEFAULT_DATA_DIR / "gsm8k_dev.jsonl").read_text().splitlines()[:3]
    ]
    path = tmp_path / "gsm8k_other.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    items = load_items("gsm8k", path)
    assert [i.item_id for i in items] == [r["id"] for r in records]


def test_loader_errors_name_the_file_and_the_flag(tmp_path: Path) -> None:
    with pytest.raises(BenchDataError, match="--data"):
        load_items("tatqa", tmp_path / "missing.jsonl")
    wrong = tmp_path / "wrong.jsonl"
    wrong.write_text(json.dumps({"question": "q", "answer": "no final line"}) + "\n")
    with pytest.raises(BenchDataError, match=r"wrong.jsonl, line 1: not a gsm8k record"):
        load_items("gsm8k", wrong)
    with pytest.raises(BenchDataError, match="unknown suite"):
        get_suite("mmlu")
