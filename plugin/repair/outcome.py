"""What one repair ended with, as every surface (CLI, MCP, LangChain tool, bench) reads it.

Kept apart from the workflow so that a surface can name the outcome's type without importing
the search, and so the workflow module holds the flow alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ponder.graph.types import SearchResult
from ponder.sandbox.types import TestReport


@dataclass(frozen=True, slots=True)
class TestCounts:
    __test__ = False
    passed: int
    total: int
    skipped: int = 0
    """Skipped by the project's own marks or fixtures; a verified fix keeps exactly these."""

    @classmethod
    def of(cls, report: TestReport) -> TestCounts:
        return cls(report.passed, report.total, report.skipped)

    def __str__(self) -> str:
        return f"{self.passed}/{self.total} passed" + (f" ({self.skipped} skipped)" if self.skipped else "")


@dataclass(slots=True)
class RepairOutcome:
    """Everything a surface shows about one repair."""

    status: str
    """"fixed" (verified patch), "ambiguous" (a patch the tests accept, but they accept its
    boundary twin too: `boundary`), "no_fix" (budget spent, nothing verified), "nothing_to_fix"."""
    target: str | None
    """The suspect file; for a fix, the file it changes (the suspect one if it changes several)."""
    before: TestCounts
    after: TestCounts | None = None
    original: str = ""
    """`target` as it was."""
    fixed: str | None = None
    """`target` as the fix leaves it."""
    patched: dict[str, str] = field(default_factory=dict)
    """Every file the fix changes, path → new text (`target` among them); what ``--apply`` writes."""
    originals: dict[str, str] = field(default_factory=dict)
    """The same files as they were: an apply refuses a file that no longer has this text."""
    diff: str = ""
    source: str | None = None
    """"model", "mutation" or "both" (a tree path with edits of each): who produced the fix."""
    edit: str | None = None
    """How the fix was written: "hunks", "functions" (rewritten definitions), "file" or "mutation"."""
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
    prompt: dict[str, int] = field(default_factory=dict)
    """What the model was shown and allowed: excerpts, failures and test functions that fit the
    context, the prompt's tokens and the room for an answer."""
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
            "files": sorted(self.patched),
            "tests_before": str(self.before),
            "tests_after": str(self.after) if self.after else None,
            "source": self.source,
            "edit": self.edit,
            "description": self.description,
            "reason": self.reason,
            "tokens": spend.tokens_generated if spend else 0,
            "prompt_tokens": spend.prompt_tokens if spend else 0,
            "expansions": spend.expansions if spend else 0,
            "verifier_calls": spend.verifier_calls if spend else 0,
            "seconds": round(self.seconds, 2),
            "mutants": self.mutants,
            "unrun": self.unrun,
            "rejected": self.rejected,
            "failures": self.failures,
            "suspect_lines": self.suspect_lines,
            "suspects": self.suspects,
            "prompt": self.prompt,
            "best_candidate": self.best or None,
            "integrity": self.integrity,
            "diff": self.diff,
        }
