"""Where is the bug? Spectrum-based fault localisation over the baseline run's line coverage.

A line that the failing tests run and the passing tests do not is suspicious; Ochiai's formula
turns that into a score in [0, 1]:

    score(line) = failed(line) / sqrt(total_failed * (failed(line) + passed(line)))

where failed(line) / passed(line) count the failing / passing tests that ran the line. It works
across files, so a bug in a helper module two calls below the test is found there, not in the
function the test happens to call. Lines named in the failures' tracebacks get a bonus: the
exception really happened there. The coverage comes from the sandbox (`run_tests(coverage=True)`),
recorded per test inside the test process.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from ponder.sandbox.types import TestReport

TRACEBACK_BONUS = 0.25
"""Added to a line's score when a failure's traceback names it."""


@dataclass(frozen=True, slots=True, order=True)
class Suspect:
    score: float
    path: str
    line: int

    def __str__(self) -> str:
        return f"{self.path}:{self.line} ({self.score:.2f})"


def ochiai(report: TestReport, sources: Mapping[str, str]) -> list[Suspect]:
    """Every line of `sources` that a failing test ran, most suspicious first."""
    failing = {t.name for t in report.tests if t.outcome in ("failed", "error")}
    passing = {t.name for t in report.tests if t.outcome == "passed"}
    if not failing or not report.coverage:
        return []
    failed: dict[tuple[str, int], int] = {}
    passed: dict[tuple[str, int], int] = {}
    for test, files in report.coverage.items():
        counts = failed if test in failing else passed if test in passing else None
        if counts is None:
            continue
        for path, lines in files.items():
            if path in sources:
                for line in lines:
                    counts[(path, line)] = counts.get((path, line), 0) + 1
    out = [
        Suspect(score=ef / math.sqrt(len(failing) * (ef + passed.get((path, line), 0))), path=path, line=line)
        for (path, line), ef in failed.items()
    ]
    return sorted(out, key=lambda s: (-s.score, s.path, s.line))


def rank(report: TestReport, sources: Mapping[str, str], traceback: Mapping[str, set[int]]) -> list[Suspect]:
    """Spectrum scores with the traceback bonus; traceback lines no test's coverage saw still count."""
    scores = {(s.path, s.line): s.score for s in ochiai(report, sources)}
    for path, lines in traceback.items():
        for line in lines:
            scores[(path, line)] = scores.get((path, line), 0.0) + TRACEBACK_BONUS
    ranked = [Suspect(score=min(1.0, v), path=p, line=n) for (p, n), v in scores.items()]
    return sorted(ranked, key=lambda s: (-s.score, s.path, s.line))
