"""The shared dev datasets as verifier inputs: where they live, and each record as a task plus a
known-good and known-bad candidate. Used by the verifier tests and benchmarks/bench_verifiers.py.

The data sits next to the clone (`<clone>/../shared/datasets`), read-only; it is not copied
into the repository. `PONDER_DATASETS` points elsewhere (the benchmarks honour it too).
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from ponder.verifiers.types import VerifyTask

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS_DIR = Path(os.environ.get("PONDER_DATASETS", REPO_ROOT.parent / "shared" / "datasets"))


def load(name: str) -> list[dict[str, Any]]:
    """All records of one dev file, e.g. `load("gsm8k_dev.jsonl")`."""
    path = DATASETS_DIR / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: the dev datasets belong in <clone>/../shared/datasets")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def humanevalfix_task(record: dict[str, Any]) -> VerifyTask:
    """A HumanEvalFix record as a code task: `solution.py` is the candidate, the record's
    `check(candidate)` function becomes one pytest test."""
    test = record["test"].rstrip()
    call = f"check({record['entry_point']})"
    if test.endswith(call):
        test = test[: -len(call)]
    tests = (
        "from solution import *  # noqa: F403\n"
        f"{test.rstrip()}\n\n\n"
        f"def test_{record['entry_point']}():\n"
        f"    check({record['entry_point']})\n"
    )
    return VerifyTask(
        kind="code",
        question=record["prompt"],
        inputs={"source_path": "solution.py", "files": {}, "tests": {"test_solution.py": tests}},
    )


def humanevalfix_source(record: dict[str, Any], *, buggy: bool) -> str:
    """The full module: declaration plus the canonical (or buggy) function body."""
    body = record["buggy_solution"] if buggy else record["canonical_solution"]
    return record["declaration"] + body


def markdown_table(text: str, name: str = "table") -> dict[str, Any]:
    """A FinanceMath markdown table as a verifier table: header cells as columns, the rest as rows."""
    lines = [line.strip() for line in text.strip().splitlines() if line.strip().startswith("|")]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
    body = [row for row in cells if not all(set(c) <= set("-: ") for c in row)]
    return {"name": name, "columns": body[0] if body else [], "rows": body[1:]}


def tatqa_task(record: dict[str, Any], *, reference: bool = True) -> VerifyTask:
    """A TAT-QA record as a finance task; the table's raw rows (headers included) are the rows."""
    scale = record["scale"]
    inputs: dict[str, Any] = {
        "tables": [{"name": "table", "columns": [], "rows": record["table"]}],
        "paragraphs": record["paragraphs"],
        "scale_hint": "" if scale == "percent" else scale,
    }
    if reference:
        inputs |= {"reference": record["answer"], "reference_scale": scale}
    return VerifyTask(kind="finance", question=record["question"], inputs=inputs)


def tatqa_code(derivation: str) -> str:
    """A TAT-QA derivation ("[(433+685)/2] - (2,088)") as a Python expression."""
    expr = derivation.replace("[", "(").replace("]", ")").replace("%", "").replace("$", "")
    return re.sub(r"(?<=\d),(?=\d{3})", "", expr)


def tatqa_unit(scale: str) -> str:
    return {"percent": "%", "": ""}.get(scale, scale)


def financemath_task(record: dict[str, Any], *, reference: bool = True) -> VerifyTask:
    inputs: dict[str, Any] = {
        "tables": [markdown_table(t, f"table{i}") for i, t in enumerate(record["tables"])],
        "paragraphs": [],
    }
    if reference:
        inputs["reference"] = record["ground_truth"]
    return VerifyTask(kind="finance", question=record["question"], inputs=inputs)
