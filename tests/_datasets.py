"""The shared dev datasets as verifier inputs: where they live, and each record as a task plus a
known-good and known-bad candidate. Used by the verifier tests and benchmarks/bench_verifiers.py.

The data sits next to the clone (`<clone>/../shared/datasets`), read-only; it is not copied
into the repository.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ponder.verifiers.types import VerifyTask

REPO_ROOT = Path(__file__).resolve().parent.parent
DATASETS_DIR = REPO_ROOT.parent / "shared" / "datasets"


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
