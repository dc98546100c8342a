"""The repair workflow: from a project with failing tests to a verified patch.

    load_project → baseline test run (sandbox) → where it fails → mutants around those lines
      → SearchTask (model prompt + mutants as seeds) → search, every candidate checked by the
        full test suite (cheats rejected first) → confirm the winner once more → diff

The model and the mutation operators feed the same tree and the same verifier, so the result
says which of them produced the fix. Nothing here writes to the project; `apply_patch` does,
and only when the caller asks.
"""

from __future__ import annotations

import ast
import base64
import time
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ponder.backends.base import BaseBackend
from ponder.graph.types import SearchConfig, SearchEvent, SearchResult, SearchTask, Seed
from ponder.plugin import localize
from ponder.plugin.localize import choose_target, function_of_test, traceback_lines
from ponder.plugin.mutations import Mutant, generate_mutants
from ponder.plugin.patching import check_patch, unified_diff
from ponder.plugin.project import Project, RepairInputError
from ponder.plugin.prompts import REPAIR_FEEDBACK, repair_messages
from ponder.plugin.runtime import Runtime
from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.types import Limits, TestReport
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.types import Chain, StepScore, VerifyTask


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


def failing_test_code(report: TestReport, tests: dict[str, str]) -> dict[str, str]:
    """The source of each failing test function, per test file (all test code when none is found).

    Showing only what failed keeps the prompt short (prefill dominates a small model's cost) and
    keeps the model's attention on the behaviour it has to restore.
    """
    failing = {function_of_test(t.name) for t in report.tests if t.outcome in ("failed", "error")}
    shown: dict[str, str] = {}
    for path, text in tests.items():
        try:
            tree = ast.parse(text)
        except SyntaxError:
            continue
        parts = [
            ast.get_source_segment(text, node, padded=True) or ""
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name in failing
        ]
        if parts:
            shown[path] = "\n\n".join(p.strip("\n") for p in parts)
    return shown or {p: t for p, t in tests.items() if not p.endswith("conftest.py")}


# ---------------------------------------------------------------- guard and search


class GuardedVerifier(BaseVerifier):
    """Rejects cheating candidates (see `check_patch`) before the wrapped verifier runs them, and
    stops running candidates of a batch once one has passed.

    A rejection is an ordinary failed gate with the reason as feedback, so refinement tells the
    model why, and the report lists it like any other failure.

    Mutation seeds arrive as one large batch; running them in waves of `wave` candidates lets a
    repair end after the wave that holds the fix instead of after every mutant. Candidates left
    unrun get gate "unknown" (never "pass"), which is what they are: not checked.
    """

    step_level = False

    def __init__(
        self,
        inner: BaseVerifier,
        *,
        path: str,
        original: str,
        test_paths: Collection[str],
        wave: int = 4,
    ) -> None:
        self.inner = inner
        self.name = inner.name
        self.path = path
        self.original = original
        self.test_paths = set(test_paths)
        self.wave = max(1, wave)
        self.rejected: list[str] = []
        self.skipped = 0
        """Candidates not run because an earlier wave already held a passing one."""

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        results: list[StepScore | None] = [None] * len(chains)
        forward: list[int] = []
        for i, chain in enumerate(chains):
            if chain.terminal and chain.answer:
                verdict = check_patch(self.path, self.original, chain.answer, test_paths=self.test_paths)
                if not verdict.ok:
                    self.rejected.append(verdict.reason)
                    results[i] = StepScore(
                        score=0.0,
                        gate="fail",
                        evidence={
                            "reason": "rejected",
                            "rejected": verdict.reason,
                            "feedback": verdict.reason,
                        },
                    )
                    continue
            forward.append(i)
        passed = False
        for start in range(0, len(forward), self.wave):
            wave = forward[start : start + self.wave]
            if passed:
                for i in wave:
                    results[i] = StepScore(
                        score=0.5,
                        gate="unknown",
                        evidence={"reason": "not run: another candidate already passed"},
                    )
                self.skipped += len(wave)
                continue
            scored = await self.inner.score(task, [chains[i] for i in wave])
            for i, s in zip(wave, scored, strict=True):
                if isinstance(s.evidence.get("integrity"), dict):
                    s.evidence["integrity"]["guard"] = "accepted"  # it ran, so the guard let it through
                results[i] = s
                passed = passed or (s.gate == "pass" and chains[i].terminal)
        return [r for r in results if r is not None]

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass(frozen=True, slots=True)
class TestCounts:
    __test__ = False
    passed: int
    total: int

    @classmethod
    def of(cls, report: TestReport) -> TestCounts:
        return cls(report.passed, report.total)

    def __str__(self) -> str:
        return f"{self.passed}/{self.total} passed"


@dataclass(slots=True)
class RepairOutcome:
    """Everything a surface shows about one repair."""

    status: str
    """"fixed" (verified patch), "no_fix" (budget spent, nothing verified), "nothing_to_fix"."""
    target: str | None
    before: TestCounts
    after: TestCounts | None = None
    original: str = ""
    fixed: str | None = None
    diff: str = ""
    source: str | None = None
    """"model" or "mutation": which proposer produced the verified fix."""
    description: str = ""
    reason: str = ""
    seconds: float = 0.0
    mutants: int = 0
    unrun: int = 0
    """Candidates never tested because an earlier wave already held the fix."""
    rejected: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    suspect_lines: list[int] = field(default_factory=list)
    """Lines of `target` the failures point at (tracebacks, else the functions the tests call)."""
    best: str = ""
    """When no fix was verified: the best candidate's test progress and where it came from."""
    suspects: list[str] = field(default_factory=list)
    """The most suspicious lines across files, ``path:line (score)``, from the baseline's coverage."""
    integrity: dict[str, Any] = field(default_factory=dict)
    """What vouches for a verified fix beyond the outcomes: the guard's verdict, the hidden tests
    planted and found, the call records and the comparison mode of the confirming run."""
    result: SearchResult | None = None

    @property
    def verified(self) -> bool:
        return self.status == "fixed"

    def summary(self) -> dict[str, Any]:
        spend = self.result.spend if self.result else None
        return {
            "status": self.status,
            "verified": self.verified,
            "file": self.target,
            "tests_before": str(self.before),
            "tests_after": str(self.after) if self.after else None,
            "source": self.source,
            "description": self.description,
            "reason": self.reason,
            "tokens": spend.tokens_generated if spend else 0,
            "expansions": spend.expansions if spend else 0,
            "verifier_calls": spend.verifier_calls if spend else 0,
            "seconds": round(self.seconds, 2),
            "mutants": self.mutants,
            "unrun": self.unrun,
            "rejected": self.rejected,
            "failures": self.failures,
            "suspect_lines": self.suspect_lines,
            "suspects": self.suspects,
            "best_candidate": self.best or None,
            "integrity": self.integrity,
            "diff": self.diff,
        }


def repair_config(base: SearchConfig, source: str, backend: BaseBackend | None = None) -> SearchConfig:
    """Repairs generate a whole file per expansion: room for the file, a quarter more, and some prose."""
    try:
        size = len(backend.tokenize(source)) if backend is not None else len(source) // 3
    except NotImplementedError:
        size = len(source) // 3  # typical code tokenizers: ~3-4 characters per token
    room = max(base.max_step_tokens, size + size // 4 + 128)
    return base.model_copy(update={"single_step": True, "max_step_tokens": room})


def build_task(project: Project, target: str, report: TestReport, mutants: Sequence[Mutant]) -> SearchTask:
    """The search task: the model's prompt, the mutants as seeds, and the full test suite as check."""
    original = project.sources[target]
    return SearchTask(
        messages=repair_messages(
            path=target,
            source=original,
            failures=describe_failures(report),
            tests=failing_test_code(report, project.tests),
        ),
        verify=VerifyTask(
            kind="code",
            question=f"fix {target} so that the tests pass",
            inputs={
                "source_path": target,
                "files": dict(project.sources),
                "tests": dict(project.tests),
                "data": {p: base64.b64encode(b).decode() for p, b in project.data.items()},
            },
        ),
        answer_format="code",
        seeds=[Seed(answer=m.source, source="mutation", description=m.description) for m in mutants],
        early_stop=True,
        feedback_template=REPAIR_FEEDBACK,
    )


async def run_tests(
    sandbox: BaseSandbox,
    project: Project,
    limits: Limits | None = None,
    *,
    trusted: Project | None = None,
    coverage: bool = False,
) -> TestReport:
    """The project's suite in the sandbox; `trusted` (default: `project`) is the code as it was;
    `coverage` records each test's lines for fault localisation."""
    original = dict((trusted or project).sources)
    return await sandbox.run_tests(
        dict(project.sources), project.checked_files(), limits, trusted=original, coverage=coverage
    )


async def repair_project(
    project: Project,
    rt: Runtime,
    config: SearchConfig,
    *,
    max_mutants: int = 24,
    wave: int = 4,
    limits: Limits | None = None,
    on_event: Callable[[SearchEvent], None] | None = None,
) -> RepairOutcome:
    """Search for a patch that makes every test of `project` pass; never writes to disk.

    Args:
        config: strategy and budget (typically `refine`); made single-step here.
        max_mutants: mutation seeds near the failing lines (0 = model only).
        wave: candidates tested at once; a wave with a passing candidate ends the checking.
        limits: per test-run limits in the sandbox (buggy code often loops forever).
    """
    started = time.monotonic()
    sandbox = rt.require_sandbox()
    baseline = await run_tests(sandbox, project, limits, coverage=True)
    before = TestCounts.of(baseline)
    if baseline.all_passed:
        return RepairOutcome(
            status="nothing_to_fix",
            target=None,
            before=before,
            after=before,
            reason=f"all {baseline.total} tests already pass",
            seconds=time.monotonic() - started,
        )
    if baseline.tampered:
        raise RepairInputError(f"the baseline test run in {project.root} is untrustworthy: {baseline.reason}")
    target, lines = choose_target(project, baseline)
    py_sources = {p: t for p, t in project.sources.items() if p.endswith(".py")}
    ranked = localize.rank(baseline, py_sources, traceback_lines(baseline, py_sources))
    original = project.sources[target]
    mutants = generate_mutants(original, path=target, focus_lines=lines, max_mutants=max_mutants)
    by_answer = {m.source: m for m in mutants}
    task = build_task(project, target, baseline, mutants)
    verifier = GuardedVerifier(
        rt.code_verifier(limits=limits), path=target, original=original, test_paths=project.tests, wave=wave
    )
    result = await rt.search(
        task, repair_config(config, original, rt.backend), verifier=verifier, on_event=on_event
    )
    outcome = RepairOutcome(
        status="no_fix",
        target=target,
        before=before,
        original=original,
        mutants=len(mutants),
        rejected=verifier.rejected,
        unrun=verifier.skipped,
        failures=describe_failures(baseline),
        suspect_lines=sorted(lines),
        suspects=[str(s) for s in ranked[:5]],
        result=result,
    )
    if result.verified and result.answer is not None:
        fixed = result.answer
        # Belt and braces: the guard and one more full run decide what is reported as verified.
        verdict = check_patch(target, original, fixed, test_paths=project.tests)
        confirm = (
            await run_tests(sandbox, _with(project, target, fixed), limits, trusted=project)
            if verdict.ok
            else None
        )
        if confirm is not None and confirm.all_passed:
            mutant = by_answer.get(fixed)
            outcome.status = "fixed"
            outcome.integrity = {"guard": "accepted", **confirm.integrity}
            outcome.fixed = fixed
            outcome.after = TestCounts.of(confirm)
            outcome.diff = unified_diff(original, fixed, target)
            outcome.source = result.source
            if result.source == "mutation":
                outcome.description = mutant.description if mutant else "mutation-operator fix"
            else:
                outcome.description = f"{result.source}-written fix"
        else:
            again = confirm.reason if confirm is not None else ""
            outcome.reason = verdict.reason or f"the fix did not pass on a second run: {again}"
    else:
        outcome.reason = result.reason or f"no candidate passed every test (stopped: {result.stop_reason})"
    if not outcome.verified:
        outcome.best = best_candidate(result.tree, by_answer)
    outcome.seconds = time.monotonic() - started
    return outcome


def best_candidate(tree: dict[str, Any], mutants: dict[str, Mutant]) -> str:
    """``4/6 passed (mutation: flip-comparison at m.py:3)``: how close the search came, for a
    repair that found no fix; "" when no candidate ran its tests."""
    ran = [
        n
        for n in tree.get("nodes", [])
        if n.get("terminal") and isinstance(total := n.get("evidence", {}).get("total"), int) and total > 0
    ]
    if not ran:
        return ""
    # The most tests passed; among equals, the first one tried.
    _, best = max(
        enumerate(ran), key=lambda p: (p[1]["evidence"].get("passed", 0) / p[1]["evidence"]["total"], -p[0])
    )
    mutant = mutants.get(best.get("answer") or "")
    source = f"mutation: {mutant.description}" if mutant else str(best.get("source") or "model")
    evidence = best["evidence"]
    return f"{evidence.get('passed', 0)}/{evidence['total']} passed ({source})"


def _with(project: Project, path: str, text: str) -> Project:
    return replace(project, sources={**project.sources, path: text})
