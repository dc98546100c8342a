"""The host's half of the integrity layers: what to ask the test process for, and what to believe.

The test process runs `ponder.sandbox._integrity` (see there for the layers). Here the host
picks the run's canary seed, works out which comparison methods the original code already had,
and reads the integrity channel back: a verdict is trusted only when every planted canary is in
the JUnit report with its right outcome, every test the report calls passed also returned from
its call, pytest finished (one end record), and nothing was refused or replaced on the way.
"""

from __future__ import annotations

import ast
import secrets
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ponder.sandbox._integrity import SUSPECT_DUNDERS, Canary, canary_plan, canary_seed
from ponder.sandbox.types import IntegritySpec, Limits, TestOutcome, TestReport

__all__ = ["TestChecks", "allowed_dunders", "describe", "verify"]


@dataclass(frozen=True, slots=True)
class TestChecks:
    """One test run's integrity parameters, made fresh on the host for each run."""

    __test__ = False
    seed: bytes
    canaries: tuple[Canary, ...]
    allowed: frozenset[str] = field(default_factory=frozenset)
    coverage: bool = False
    """Also record which lines of the code under test each test ran (fault localisation)."""

    @classmethod
    def new(
        cls,
        tests: Mapping[str, bytes],
        trusted: Mapping[str, str | bytes] | None = None,
        *,
        coverage: bool = False,
    ) -> TestChecks:
        """Checks for a run of `tests`; `trusted` is the original code, whose comparison methods stand."""
        seed = canary_seed(secrets.token_bytes(32))
        sources = {p: data.decode("utf-8", "replace") for p, data in tests.items() if p.endswith(".py")}
        return cls(
            seed=seed,
            canaries=tuple(canary_plan(seed, sources)),
            allowed=allowed_dunders(trusted or {}),
            coverage=coverage,
        )

    def spec(self, test_timeout_s: float | None = None) -> IntegritySpec:
        """What the harness spec carries: the seed (names are derived from it), the allowed methods
        and the per-test time limit."""
        out: IntegritySpec = {"canary_seed": self.seed.hex(), "allowed": sorted(self.allowed)}
        if self.coverage:
            out["coverage"] = True
        if test_timeout_s:
            out["test_timeout_s"] = test_timeout_s
        return out


def test_timeout(limits: Limits) -> float:
    """One test's time limit: the configured one, else half the run's, so one hang leaves room."""
    return limits.test_timeout_s if limits.test_timeout_s else limits.timeout_s / 2


def allowed_dunders(sources: Mapping[str, str | bytes]) -> frozenset[str]:
    """``path:Class.__eq__`` for each comparison-steering method the original code defines.

    A decorated class (``@dataclass``, ``@total_ordering``, attrs...) may get any of them from
    its decorator, so all of them are allowed for it: the original code is trusted, only what a
    candidate adds is suspect.
    """
    out: set[str] = set()
    for path, text in sources.items():
        if not path.endswith(".py"):
            continue
        try:
            tree = ast.parse(text.decode("utf-8", "replace") if isinstance(text, bytes) else text)
        except SyntaxError:
            continue
        out |= _class_dunders(path, tree.body, "")
    return frozenset(out)


def _class_dunders(path: str, body: list[ast.stmt], prefix: str) -> set[str]:
    out: set[str] = set()
    for node in body:
        if not isinstance(node, ast.ClassDef):
            continue
        qualname = f"{prefix}{node.name}"
        defined = {target for stmt in node.body for target in _defined_names(stmt)}
        names = SUSPECT_DUNDERS if node.decorator_list else SUSPECT_DUNDERS & defined
        out |= {f"{path}:{qualname}.{name}" for name in names}
        out |= _class_dunders(path, node.body, f"{qualname}.")
    return out


def _defined_names(stmt: ast.stmt) -> list[str]:
    if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
        return [stmt.name]
    if isinstance(stmt, ast.Assign):
        return [t.id for t in stmt.targets if isinstance(t, ast.Name)]
    if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
        return [stmt.target.id]
    return []


def describe(summary: Mapping[str, Any]) -> str:
    """One line for people: what vouches for a verdict besides its outcomes."""
    parts = []
    if "guard" in summary:
        parts.append(f"patch guard {summary['guard']}")
    if summary.get("canaries_planned"):
        parts.append(f"{summary.get('canaries_found', 0)}/{summary['canaries_planned']} hidden tests found")
    if "calls_recorded" in summary:
        parts.append(f"{summary['calls_recorded']} test calls recorded independently")
    if summary.get("audit_hook"):
        parts.append("audit hook on")
    if summary.get("comparison"):
        parts.append("plain-data comparison")
    violations = summary.get("violations") or []
    parts.append(f"{len(violations)} violation(s)" + (f": {violations[0]}" if violations else ""))
    return "; ".join(parts)


def verify(report: TestReport, record: str | None, checks: TestChecks) -> None:
    """Check the run's integrity record against its JUnit outcomes; mark `report` tampered if they differ.

    Also takes the canaries out of `report.tests` (they are not the suite's tests) and fills
    `report.integrity` with what was checked, for the evidence users see.
    """
    summary: dict[str, Any] = {
        "canaries_planned": len(checks.canaries),
        "canaries_found": 0,
        "calls_recorded": 0,
        "audit_hook": True,
        "snapshot": "pytest, pluggy and builtins namespaces, hook implementations",
        "comparison": "plain data (operands whose class from the code under test overrides comparison fail)",
        "violations": [],
    }
    report.integrity = summary
    problem = _verify(report, record, checks, summary)
    canary_keys = {c.key for c in checks.canaries}
    report.tests = [t for t in report.tests if t.name not in canary_keys]
    if problem is not None:
        report.reason = report.reason if report.tampered else f"tampering: {problem}"
        report.tampered = True


def _verify(
    report: TestReport, record: str | None, checks: TestChecks, summary: dict[str, Any]
) -> str | None:
    if record is None:
        return "no integrity record came back (the channel overflowed or pytest never started)"
    try:  # Python literals (see _integrity.Channel); literal_eval evaluates nothing else
        lines = [ast.literal_eval(line) for line in record.splitlines() if line.strip()]
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return "the integrity record is not what the test process writes (malformed line)"
    if not all(isinstance(line, dict) for line in lines):
        return "the integrity record is not what the test process writes"
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for line in lines:
        by_kind.setdefault(str(line.get("t")), []).append(line)
    violations = [str(v.get("what")) for v in by_kind.get("violation", [])]
    summary["violations"] = violations[:10]
    if violations:
        return violations[0]
    ends = by_kind.get("end", [])
    if len(ends) != 1:
        return (
            "pytest did not finish normally (the test process exited early)"
            if not ends
            else ("the integrity record has more than one end: something else wrote to it")
        )
    items = Counter(str(i.get("key")) for i in by_kind.get("item", []))
    placed = {str(c.get("key")) for c in by_kind.get("canary", []) if c.get("placed")}
    items.update(placed)
    calls: dict[str, Counter[str]] = {}
    for call in by_kind.get("call", []):
        calls.setdefault(str(call.get("key")), Counter())[str(call.get("result"))] += 1
    extra = sorted(k for k, n in calls.items() if n.total() > items[k])
    if extra:
        return f"more call records than tests for {extra[0]}: something else wrote to the integrity record"
    summary["calls_recorded"] = sum(n.total() for n in calls.values())
    report.coverage = _coverage(by_kind.get("lines", []), checks)
    outcomes = {t.name: t for t in report.tests}
    for canary in checks.canaries:
        why = _canary_problem(canary, canary.key in placed, outcomes.get(canary.key), calls.get(canary.key))
        if why:
            return why
        summary["canaries_found"] += canary.key in placed
    functions = {str(i.get("key")) for i in by_kind.get("item", []) if i.get("kind") == "function"}
    passed = Counter(t.name for t in report.tests if t.outcome == "passed")
    for name, count in sorted(passed.items()):
        returned = calls.get(name, Counter())["returned"]
        if name in functions and count > returned:
            raised = calls.get(name, Counter())["raised"]
            how = "its call raised" if raised else "it was never called"
            return f"{name} is reported passed, but {how}"
    if checks.canaries and not placed and report.passed and not report.failed + report.errors:
        return "the canary tests were not planted, yet every test passed"
    return None


def _coverage(records: list[dict[str, Any]], checks: TestChecks) -> dict[str, dict[str, list[int]]]:
    """Test key -> {source path -> lines run}, canaries left out (they run no code under test)."""
    canaries = {c.key for c in checks.canaries}
    out: dict[str, dict[str, list[int]]] = {}
    for record in records:
        key, files = str(record.get("key")), record.get("files")
        if key in canaries or not isinstance(files, dict):
            continue
        merged = out.setdefault(key, {})
        for path, lines in files.items():
            if isinstance(path, str) and isinstance(lines, list):
                merged[path] = sorted({*merged.get(path, []), *(n for n in lines if isinstance(n, int))})
    return out


def _canary_problem(
    canary: Canary, placed: bool, outcome: TestOutcome | None, calls: Counter[str] | None
) -> str | None:
    if not placed:
        return None  # its module did not collect: that run has failed already
    must = "must fail" if canary.must_fail else "must pass"
    if outcome is None:
        return f"hidden test {canary.name} ({must}) is missing from the report"
    want = "failed" if canary.must_fail else "passed"
    if outcome.outcome != want:
        return f"hidden test {canary.name} ({must}) was reported {outcome.outcome}"
    if calls is None or calls != Counter({"raised" if canary.must_fail else "returned": 1}):
        return f"hidden test {canary.name} ({must}) did not run as planted"
    return None
