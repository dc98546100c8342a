"""What a repair prompt is made of: the suspect functions, the failing tests' code and messages.

A model fixes what it is shown. Whole files made the prompt (and a small model's prefill) grow with
the project and buried the faulty lines; the fault localisation (`ponder.plugin.repair.localize`) already
says which lines are suspect, so the prompt shows the function around each of them, most
suspicious first, with line numbers for orientation, next to the code and the messages of the
tests that fail. `ponder.plugin.repair.prompts` decides how many of these fit the model's context.
"""

from __future__ import annotations

import ast
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass

from ponder.plugin.repair.localize import Suspect, function_of_test
from ponder.sandbox.types import TestReport

MAX_EXCERPTS = 6
"""Suspect functions considered for one prompt; the budget usually stops earlier."""
MODULE_CONTEXT = 3
"""Lines shown either side of a suspect line outside any function."""
MESSAGE_LINES = 8
MESSAGE_CHARS = 600
"""Per failing test: the head of its message is where the mismatch is stated."""


@dataclass(frozen=True, slots=True)
class CodeExcerpt:
    """Consecutive lines of one source file, with the suspect line they were chosen for."""

    path: str
    start: int
    """1-based number of the first line."""
    lines: tuple[str, ...]
    hot: int
    """The most suspicious line in the excerpt (1-based)."""
    score: float

    @property
    def end(self) -> int:
        return self.start + len(self.lines) - 1

    def numbered(self) -> str:
        return "\n".join(f"{n:>4} | {line}".rstrip() for n, line in enumerate(self.lines, start=self.start))

    def around_hot(self, radius: int) -> CodeExcerpt:
        """The excerpt cut to `radius` lines either side of its suspect line (a function too long
        for the budget)."""
        lo = max(self.start, self.hot - radius)
        hi = min(self.end, self.hot + radius)
        kept = self.lines[lo - self.start : hi - self.start + 1]
        return CodeExcerpt(self.path, lo, kept, self.hot, self.score)


@dataclass(frozen=True, slots=True)
class FailedTest:
    """One failing test as the prompt shows it."""

    name: str
    message: str
    source: str | None
    """The test function's code, when it is found in the test files."""


def describe_failures(report: TestReport) -> list[str]:
    """One line per failing test: its name and the first line of its message."""
    lines = []
    for t in report.tests:
        if t.outcome in ("failed", "error"):
            first = (t.message or "").strip().splitlines()
            lines.append(f"{t.name}: {first[0]}" if first else t.name)
    if not lines and report.reason:
        lines.append(report.reason.strip().splitlines()[0])
    return lines


def _scopes(text: str) -> list[tuple[int, int]]:
    """(first, last) 1-based lines of every function in a module, decorators included."""
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError):
        return []
    spans = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            spans.append((first, node.end_lineno or node.lineno))
    return spans


def suspect_code(
    sources: Mapping[str, str], ranked: Sequence[Suspect], *, target: str, focus: Collection[int] = ()
) -> list[CodeExcerpt]:
    """The innermost function around each suspect line, most suspicious first, each once.

    Without ranked suspects (no coverage), the `focus` lines of `target` stand in; with neither,
    the whole target file is the one excerpt.
    """
    suspects = list(ranked) or [Suspect(score=0.0, path=target, line=n) for n in sorted(focus)]
    scopes: dict[str, list[tuple[int, int]]] = {}
    seen: set[tuple[str, int, int]] = set()
    out: list[CodeExcerpt] = []
    for s in suspects:
        text = sources.get(s.path)
        if text is None:
            continue
        lines = text.splitlines()
        spans = scopes.setdefault(s.path, _scopes(text))
        around = [sp for sp in spans if sp[0] <= s.line <= sp[1]]
        if around:
            first, last = max(around)  # the innermost: the latest start that still contains the line
        else:
            first, last = max(1, s.line - MODULE_CONTEXT), min(len(lines), s.line + MODULE_CONTEXT)
        key = (s.path, first, last)
        if key in seen or first > len(lines):
            continue
        seen.add(key)
        out.append(CodeExcerpt(s.path, first, tuple(lines[first - 1 : last]), s.line, s.score))
        if len(out) >= MAX_EXCERPTS:
            break
    if not out and target in sources:
        lines = sources[target].splitlines()
        out.append(CodeExcerpt(target, 1, tuple(lines), 1, 0.0))
    return out


def _clip_message(message: str) -> str:
    lines = message.strip().splitlines()[:MESSAGE_LINES]
    text = "\n".join(lines)
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 3].rstrip() + "..."


def _test_sources(tests: Mapping[str, str]) -> dict[str, list[tuple[str, str]]]:
    """Test function name → [(test file, source)], for every function in the test files."""
    found: dict[str, list[tuple[str, str]]] = {}
    for path, text in tests.items():
        try:
            tree = ast.parse(text)
        except (SyntaxError, ValueError, RecursionError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                source = ast.get_source_segment(text, node, padded=True) or ""
                found.setdefault(node.name, []).append((path, source.strip("\n")))
    return found


def failed_tests(report: TestReport, tests: Mapping[str, str]) -> list[FailedTest]:
    """The failing tests in report order, with their messages and code (each function shown once,
    however many parametrised cases of it fail)."""
    sources = _test_sources(tests)
    shown: set[str] = set()
    out = []
    for t in report.tests:
        if t.outcome not in ("failed", "error"):
            continue
        name = function_of_test(t.name)
        module = t.name.split("::", 1)[0].removesuffix(".py").replace(".", "/")
        options = sources.get(name, [])
        match = next((src for path, src in options if path.removesuffix(".py").endswith(module)), None)
        source = match or (options[0][1] if options else None)
        if source in shown:
            source = None
        elif source is not None:
            shown.add(source)
        out.append(FailedTest(t.name, _clip_message(t.message or t.outcome), source))
    if not out and report.reason:
        out.append(FailedTest("the test run", _clip_message(report.reason), None))
    return out
