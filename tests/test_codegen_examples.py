"""HumanEval's visible test (`plugin/bench/codegen.py`): the docstring's examples, run as pytest.

The examples used to run through doctest's runner, which swaps `sys.settrace` and `builtins._`;
the sandbox's integrity checks flag both, so every candidate of a prompt with examples failed as
tampered, the right ones included. These run the generated test file with plain pytest on the
host (our own code and the dataset's canonical solutions only), and once through the sandbox's
integrity plugin in `tests/test_bench_run.py`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from ponder.plugin.bench.codegen import SOURCE_PATH, example_tests, examples_text, has_examples
from ponder.plugin.bench.datasets import BenchItem, load_items

ITEMS = {i.item_id: i for i in load_items("humaneval")}
DOCSTRING_CONTRADICTS_TESTS = {"HumanEval/47", "HumanEval/116"}
"""Examples HumanEval's own canonical solution fails: `median([-10, 4, 6, 1000, 10, 20])` is 8.0,
not the docstring's 15.0; `sort_array`'s example sorts by value, its tests by binary ones."""


def _passes(item: BenchItem, source: str, folder: Path) -> bool:
    folder.mkdir()
    (folder / SOURCE_PATH).write_text(source, encoding="utf-8")
    for name, text in example_tests(item).items():
        (folder / name).write_text(text, encoding="utf-8")
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "."],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return run.returncode == 0


def _canonical(item: BenchItem) -> str:
    return item.record["prompt"] + item.record["canonical_solution"]


@pytest.mark.parametrize(
    "item_id",
    [
        "HumanEval/0",  # plain expressions and reprs
        "HumanEval/51",  # a written "\n" inside an example's string literal
        "HumanEval/65",  # '"21"' for '21': the same literal in other quotes
        "HumanEval/108",  # `>>> count_nums([]) == 0` with no output line: an assertion
    ],
)
def test_the_canonical_solution_passes_its_examples_and_a_stub_does_not(item_id: str, tmp_path: Path) -> None:
    item = ITEMS[item_id]
    assert has_examples(item) and '"""' not in examples_text(item)
    assert _passes(item, _canonical(item), tmp_path / "right")
    assert not _passes(item, item.record["prompt"] + "    return None\n", tmp_path / "stub")


def test_a_prompt_without_examples_has_no_behaviour_to_check() -> None:
    item = ITEMS["HumanEval/41"]
    assert not has_examples(item)
    assert "test_defines_car_race_collision" in example_tests(item)["test_examples.py"]


@pytest.mark.slow
def test_every_canonical_solution_passes_its_examples(tmp_path: Path) -> None:
    """All 76 prompts with examples, but the two whose docstrings contradict their own tests."""
    with_examples = [i for i in ITEMS.values() if has_examples(i)]
    failing = {
        i.item_id
        for i in with_examples
        if not _passes(i, _canonical(i), tmp_path / i.item_id.replace("/", "_"))
    }
    assert len(with_examples) >= 70 and failing == DOCSTRING_CONTRADICTS_TESTS
