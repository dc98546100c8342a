"""Benchmark results as JSON lines, one finished item per line, so a run can stop and resume.

A run is long (a small model on a laptop: minutes per item under search), so every item is
appended and flushed as soon as it is checked. A re-run reads the file, skips every key already
present and appends the rest; a line cut short by a crash is ignored (and rewritten when the item
runs again) rather than poisoning the file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

RESULTS_FILE = "results.jsonl"

Key = tuple[str, str, str, int, int]
"""(suite, item, strategy, budget, seed): what makes a result line unique."""


class ItemResult(BaseModel):
    """What one (item, strategy, budget, seed) produced and cost."""

    suite: str
    item: str
    strategy: str
    budget: int
    """Generated-token budget of the search (`Budget.max_tokens`)."""
    seed: int
    answer: str | None = None
    correct: bool = False
    """By the source's own rule (see `datasets`), independent of the search's verification."""
    status: str = "no_answer"
    """The workflow's verification status: verified / unverified / no_answer / error."""
    verified: bool = False
    tokens_generated: int = 0
    tokens_reused: int = 0
    """Prompt tokens served from the prefix cache."""
    prompt_tokens: int = 0
    expansions: int = 0
    seconds: float = 0.0
    source: str | None = None
    """Who proposed the chosen answer: "model" or a seed's source (e.g. "mutation")."""
    candidates: list[bool] = Field(default_factory=list)
    """Correctness of every distinct terminal candidate the search produced (pass@N reads it)."""
    error: str | None = None
    """Set when the workflow raised; the item then counts as wrong."""
    backend: str = ""
    mode: str | None = None
    """Repair set: who proposed candidates ("model", "mutations" or "both"); None for other suites."""
    test_runs: int | None = None
    """Repair workflows: candidates whose tests ran in the sandbox before the search stopped."""

    @property
    def key(self) -> Key:
        return (self.suite, self.item, self.strategy, self.budget, self.seed)


class ResultStore:
    """Append-only JSONL of `ItemResult`s with an in-memory index of finished keys."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._results: dict[Key, ItemResult] = {}
        self.skipped_lines = 0
        """Lines that were not valid results (e.g. cut short by a crash); they are ignored."""
        if path.is_file():
            for result in self._read():
                self._results[result.key] = result

    def _read(self) -> Iterator[ItemResult]:
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if not line.strip():
                    continue
                try:
                    yield ItemResult.model_validate(json.loads(line))
                except (json.JSONDecodeError, ValidationError):
                    self.skipped_lines += 1

    def __contains__(self, key: object) -> bool:
        return key in self._results

    def __len__(self) -> int:
        return len(self._results)

    def get(self, key: Key) -> ItemResult:
        """The stored result for `key` (KeyError when it has not run)."""
        return self._results[key]

    def results(self) -> list[ItemResult]:
        """Every finished result, in the order first written."""
        return list(self._results.values())

    def add(self, result: ItemResult) -> None:
        """Record `result` durably (appended and flushed before returning)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = result.model_dump_json()
        with self.path.open("ab") as fh:
            # A crash can leave a partial last line; start ours on a fresh one.
            if fh.tell() > 0 and not self._ends_with_newline():
                fh.write(b"\n")
            fh.write(line.encode("utf-8") + b"\n")
            fh.flush()
        self._results[result.key] = result

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as fh:
            fh.seek(-1, 2)
            return fh.read(1) == b"\n"

    def to_rows(self) -> list[dict[str, Any]]:
        return [r.model_dump() for r in self._results.values()]
