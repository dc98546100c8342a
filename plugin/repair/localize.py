"""Where is the bug? Spectrum-based fault localisation over the baseline run's line coverage.

A line that the failing tests run and the passing tests do not is suspicious; Ochiai's formula
turns that into a score in [0, 1]:

    score(line) = failed(line) / sqrt(total_failed * (failed(line) + passed(line)))

where failed(line) / passed(line) count the failing / passing tests that ran the line. It works
across files, so a bug in a helper module two calls below the test is found there, not in the
function the test happens to call. Lines named in the failures' tracebacks get a bonus: the
exception really happened there. The coverage comes from the sandbox (`run_tests(coverage=True)`),
recorded per test inside the test process. Without coverage, the tracebacks and the functions the
failing tests call are the evidence (`choose_target`).
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ponder.plugin.repair.patching import is_test_path
from ponder.plugin.repair.project import Project, RepairInputError
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


_PYTEST_LOC = re.compile(r"(?m)^\s*([^\s:\"']+\.py):(\d+):")
_PYTHON_LOC = re.compile(r"File \"([^\"]+\.py)\", line (\d+)")


def _match_source(reported: str, sources: Collection[str]) -> str | None:
    reported = reported.replace("\\", "/")
    if reported in sources:
        return reported
    hits = [s for s in sources if reported.endswith("/" + s) or s.endswith("/" + reported)]
    if len(hits) == 1:
        return hits[0]
    if reported.startswith("/"):
        return None  # a library's frame (/usr/lib/python3/dist-packages/_pytest/config/__init__.py)
    base = reported.rsplit("/", 1)[-1]
    hits = [s for s in sources if s.rsplit("/", 1)[-1] == base]
    return hits[0] if len(hits) == 1 else None


def _report_text(report: TestReport) -> str:
    parts = [t.message for t in report.tests if t.outcome in ("failed", "error")]
    if report.raw is not None:
        parts += [report.raw.stdout, report.raw.stderr]
    return "\n".join([*parts, report.reason])


def traceback_lines(report: TestReport, sources: Collection[str]) -> dict[str, set[int]]:
    """Source lines named in the failures' tracebacks, per source file."""
    found: dict[str, set[int]] = {}
    text = _report_text(report)
    for pattern in (_PYTEST_LOC, _PYTHON_LOC):
        for match in pattern.finditer(text):
            path = _match_source(match.group(1), sources)
            if path is not None and not is_test_path(path):
                found.setdefault(path, set()).add(int(match.group(2)))
    return found


def function_of_test(test_id: str) -> str:
    name = re.sub(r"\[.*\]$", "", test_id)
    return re.split(r"::|\.", name)[-1]


def called_function_lines(
    report: TestReport, tests: dict[str, str], sources: dict[str, str]
) -> dict[str, set[int]]:
    """Lines of the source functions that failing tests call by name.

    An assertion on a wrong return value fails inside the test, so its traceback never enters the
    buggy function; the functions the test calls are then the best place to look.
    """
    failing = {function_of_test(t.name) for t in report.tests if t.outcome in ("failed", "error")}
    called: set[str] = set()
    for text in tests.values():
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and (
                node.name in failing or not failing
            ):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.Call):
                        func = sub.func
                        called.add(func.id if isinstance(func, ast.Name) else getattr(func, "attr", ""))
    found: dict[str, set[int]] = {}
    for path, text in sources.items():
        if not path.endswith(".py"):
            continue
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in called:
                end = node.end_lineno or node.lineno
                found.setdefault(path, set()).update(range(node.lineno, end + 1))
    return found


SUSPECT_SHARE = 0.6
"""Lines scoring at least this share of the top suspect are where mutants focus. On the example
project the buggy loop scores 1.0 and `mean`, which it calls (and passing tests call too), 0.5."""


FOCUS_LINES = 12
"""At most this many suspect lines, across files, get mutants (the mutation tree's focus)."""
FOCUS_SHARE = 0.5
"""Lines scoring at least this share of the top suspect are in the mutation tree's focus. Wider
than SUSPECT_SHARE: a helper's line that passing tests run too (they miss the bug's input)
scores 1/sqrt(3) = 0.58 against 1.0 for the caller's lines only the failing test runs."""


def focus(suspects: Sequence[Suspect], primary: tuple[str, set[int]]) -> dict[str, set[int]]:
    """The lines mutants go to, per file, the file of the most suspicious line first.

    Lines scoring at least FOCUS_SHARE of the top one, up to FOCUS_LINES of them, in every file
    they are in: where a caller and the helper it calls score alike (every failing test runs
    both, no passing test runs either), both are mutated. `primary` (`choose_target`'s file and
    lines) is the focus when the baseline recorded no coverage; it is kept in any case.
    """
    out: dict[str, set[int]] = {}
    if suspects:
        floor = suspects[0].score * FOCUS_SHARE
        for s in [s for s in suspects if s.score >= floor][:FOCUS_LINES]:
            out.setdefault(s.path, set()).add(s.line)
    path, lines = primary
    out.setdefault(path, set()).update(lines)
    return out


def choose_target(project: Project, report: TestReport) -> tuple[str, set[int]]:
    """The source file to repair and the lines implicated in it.

    With the baseline's line coverage, the most suspicious line by spectrum (`rank`) decides the
    file, across files; its lines within SUSPECT_SHARE of
    the top score are the focus. Without coverage: traceback lines (the failure happened there),
    else the file defining the functions the failing tests call; a project with a single source
    file needs no evidence.
    """
    py_sources = {p: t for p, t in project.sources.items() if p.endswith(".py")}
    by_traceback = traceback_lines(report, py_sources)
    suspects = rank(report, py_sources, by_traceback)
    if suspects:
        target = suspects[0].path
        floor = suspects[0].score * SUSPECT_SHARE
        lines = {s.line for s in suspects if s.path == target and s.score >= floor}
        return target, lines | by_traceback.get(target, set())
    if by_traceback:
        # Several files can appear in one traceback (callers and callees); the file with the most
        # frames is where the failing tests spend their failing time.
        target = max(by_traceback, key=lambda p: len(by_traceback[p]))
        lines = set(by_traceback[target])
        lines |= called_function_lines(report, project.tests, {target: py_sources[target]}).get(target, set())
        return target, lines
    by_call = called_function_lines(report, project.tests, py_sources)
    if by_call:
        target = max(by_call, key=lambda p: len(by_call[p]))
        return target, by_call[target]
    candidates = [p for p in py_sources if not p.endswith("__init__.py")] or list(py_sources)
    if len(candidates) == 1:
        return candidates[0], set()
    raise RepairInputError(
        f"cannot tell which file in {project.root} the failing tests exercise; "
        "pass it with --file and --tests"
    )
