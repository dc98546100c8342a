"""Judge a candidate source file by running the task's tests on it in the sandbox.

An executed test is the one signal in the search that cannot be talked round, so this verifier
gates: a chain passes only when every test ran and passed and the report was not tampered with.
What failed first goes into `evidence["feedback"]`, which the refinement strategy shows the
model on its next attempt.

Cheap checks come first: a candidate that does not even compile fails without a container, and
identical candidates (siblings often converge on the same fix) run once per verifier.

Example:
    ```python
    async with open_sandbox(settings) as sandbox:
        verifier = CodeVerifier(sandbox)
        task = VerifyTask(kind="code", question="fix add", inputs={
            "source_path": "calc.py", "files": {}, "tests": {"test_calc.py": TESTS}})
        [result] = await verifier.score(task, [Chain(steps=(text,), terminal=True, answer=source)])
        result.gate  # "pass" only when every test passed
    ```
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import json
import re
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

from ponder.sandbox.base import BaseSandbox
from ponder.sandbox.errors import SandboxError
from ponder.sandbox.types import Files, Limits, TestReport
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.errors import VerifierError
from ponder.verifiers.types import Chain, Evidence, StepScore, VerifyTask

FEEDBACK_CHARS = 1500
"""Longest feedback text; a model repairs from the first lines of a failure, not a whole log."""

PARTIAL_SCORE = 0.5


class CodeEvidence(Evidence, total=False):
    """What a test run found (`TestReport`, flattened), for the audit trail and the repair summary."""

    tests: list[dict[str, Any]]
    """Each test: {name, outcome, message}."""
    passed: int
    failed: int
    errors: int
    skipped: int
    total: int
    tampered: bool
    duration_s: float | None
    cached: bool
    """The verdict was reused from an identical earlier candidate (no second run)."""
    integrity: dict[str, Any]
    """What vouches for the run (hidden tests found, calls recorded, audit hook): `TestReport.integrity`."""


_ERROR_LINE = re.compile(r"^(E\s|[\w.-][\w./-]*\.py:\d+:)")


class CodeVerifier(BaseVerifier):
    """Outcome verifier for code tasks: compile, then run the tests in the sandbox.

    Reads `task.inputs`: `source_path` (the file the candidate replaces), `files` (the project
    as it is, path -> text; the entry for `source_path` is the original, whose comparison methods
    the sandbox trusts), `tests` (test files, path -> text) and optionally `data` (other files the
    tests read, path -> base64; they travel read-only with the tests) and `trusted` (the project
    as it was, path -> text, when `files` holds a candidate's changes to other files). A terminal chain's
    `answer` is the candidate's full source for `source_path`.

    Args:
        sandbox: Where the tests run; it bounds its own concurrency, so a batch is submitted
            at once.
        limits: Resource limits per test run; `None` = the sandbox's defaults.
        cache_size: Verdicts kept by content hash (task files + candidate); 0 disables the cache.
    """

    name = "code"
    step_level = False

    def __init__(self, sandbox: BaseSandbox, *, limits: Limits | None = None, cache_size: int = 512) -> None:
        self.sandbox = sandbox
        self.limits = limits
        self.cache_size = cache_size
        self._cache: OrderedDict[str, StepScore] = OrderedDict()
        self.runs = 0
        """Test runs actually sent to the sandbox (cache hits and syntax errors excluded)."""

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        source_path, files, tests = _code_inputs(task)
        roots = _import_roots(task)
        skips = _allowed_skips(task)
        run_inputs = (*roots, *sorted(skips.items()))  # the run's other inputs, for the cache key
        original = _trusted(task) or {**files, **_original(task, source_path)}
        results: list[StepScore | None] = [None] * len(chains)
        pending: dict[str, list[int]] = {}
        sources: dict[str, str] = {}
        for i, chain in enumerate(chains):
            if not chain.terminal:
                results[i] = StepScore(
                    score=PARTIAL_SCORE, evidence={"reason": "partial chain: tests run on finished code"}
                )
                continue
            if not chain.answer or not chain.answer.strip():
                results[i] = _fail(
                    "no code found in the answer", "the answer must end with a fenced code block"
                )
                continue
            syntax = _syntax_error(chain.answer, source_path) if source_path.endswith(".py") else None
            if syntax is not None:
                results[i] = _fail("syntax error", syntax)
                continue
            key = _cache_key(source_path, files, tests, chain.answer, run_inputs)
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                results[i] = _copy(cached, cached=True)
                continue
            pending.setdefault(key, []).append(i)
            sources[key] = chain.answer

        keys = list(pending)
        reports = await asyncio.gather(
            *(self._run(source_path, files, tests, sources[key], original, roots) for key in keys),
            return_exceptions=True,
        )
        for key, report in zip(keys, reports, strict=True):
            if isinstance(report, SandboxError):
                raise VerifierError(
                    f"code verifier: the sandbox could not run the tests: {report}"
                ) from report
            if isinstance(report, BaseException):
                raise report
            verdict = _verdict(report, skips)
            self._remember(key, verdict)
            for n, i in enumerate(pending[key]):
                results[i] = _copy(verdict, cached=n > 0)  # callers may annotate; the cache stays intact
        return [r for r in results if r is not None]

    async def _run(
        self,
        source_path: str,
        files: Files,
        tests: Files,
        source: str,
        original: Files,
        pythonpath: tuple[str, ...],
    ) -> TestReport:
        self.runs += 1
        # `original` is the project as it was: comparison methods it already has are trusted.
        return await self.sandbox.run_tests(
            {**files, source_path: source}, tests, self.limits, trusted=original, pythonpath=pythonpath
        )

    def _remember(self, key: str, verdict: StepScore) -> None:
        if self.cache_size <= 0:
            return
        self._cache[key] = verdict
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)


def _code_inputs(task: VerifyTask) -> tuple[str, Files, Files]:
    inputs = task.inputs
    source_path = inputs.get("source_path")
    tests = inputs.get("tests")
    if not isinstance(source_path, str) or not source_path:
        raise VerifierError(
            'code verifier: task.inputs["source_path"] is missing; set it to the file the answer replaces'
        )
    if not isinstance(tests, Mapping) or not tests:
        raise VerifierError(
            'code verifier: task.inputs["tests"] is empty; pass the test files (path -> text)'
        )
    files = dict(inputs.get("files") or {})
    files.pop(source_path, None)
    # Data the tests read travel with the tests: read-only and hashed, so that no candidate can
    # rewrite the expected outputs it is judged against.
    checked: dict[str, str | bytes] = dict(tests)
    for path, encoded in (inputs.get("data") or {}).items():
        try:
            checked[path] = base64.b64decode(encoded, validate=True)
        except (binascii.Error, TypeError, ValueError):
            raise VerifierError(
                f'code verifier: task.inputs["data"][{path!r}] is not base64; encode data files with base64'
            ) from None
    return source_path, files, checked


def _import_roots(task: VerifyTask) -> tuple[str, ...]:
    """`inputs["pythonpath"]`: the project's folders imports resolve from besides its root (a src
    layout's `src`), as the repair workflow read them from the project's config; () when absent."""
    roots = task.inputs.get("pythonpath") or ()
    if isinstance(roots, str) or not all(isinstance(r, str) for r in roots):
        raise VerifierError(
            'code verifier: task.inputs["pythonpath"] must be a list of folder paths, e.g. ["src"]'
        )
    return tuple(roots)


def _allowed_skips(task: VerifyTask) -> dict[str, str]:
    """`inputs["skipped"]`: test id -> reason of the tests the original code's run skipped (the
    project's own skipif marks); the same skip, for the same reason, does not fail a candidate."""
    skips = task.inputs.get("skipped") or {}
    if not isinstance(skips, Mapping) or not all(isinstance(v, str) for v in skips.values()):
        raise VerifierError(
            'code verifier: task.inputs["skipped"] must map test ids to skip reasons, e.g. {"t::x": "slow"}'
        )
    return {str(k): v for k, v in skips.items()}


def _original(task: VerifyTask, source_path: str) -> dict[str, str]:
    """The file being repaired as it was, when the task carries it (the repair workflow does)."""
    before = (task.inputs.get("files") or {}).get(source_path)
    return {source_path: before} if isinstance(before, str) else {}


def _trusted(task: VerifyTask) -> dict[str, str | bytes]:
    """`inputs["trusted"]`: the project as it was, when `files` already carries a candidate's
    change to other files (a multi-file repair); {} when absent."""
    trusted = task.inputs.get("trusted")
    return {k: v for k, v in trusted.items() if isinstance(v, str)} if isinstance(trusted, Mapping) else {}


def _syntax_error(source: str, path: str) -> str | None:
    """Why `source` does not compile, in the interpreter's words, or None."""
    try:
        compile(source, path, "exec", dont_inherit=True)
    except SyntaxError as exc:
        where = f"{path}:{exc.lineno}" if exc.lineno else path
        line = (exc.text or "").strip()
        detail = f"\n    {line}" if line else ""
        return f"{type(exc).__name__} at {where}: {exc.msg}{detail}"
    except ValueError as exc:  # e.g. source containing NUL bytes
        return f"{path} cannot be compiled: {exc}"
    return None


def _cache_key(
    source_path: str, files: Files, tests: Files, source: str, run: tuple[object, ...] = ()
) -> str:
    """`run`: what else decides the verdict (the import folders, the skips the baseline allows)."""

    def text(value: str | bytes) -> str:
        return value if isinstance(value, str) else value.hex()

    payload = json.dumps(
        [
            source_path,
            sorted((k, text(v)) for k, v in files.items()),
            sorted((k, text(v)) for k, v in tests.items()),
            list(run),
        ],
        separators=(",", ":"),
    )
    return hashlib.sha256(payload.encode() + b"\0" + source.encode()).hexdigest()


def _verdict(report: TestReport, skips: Mapping[str, str]) -> StepScore:
    evidence: CodeEvidence = {
        "tests": [{"name": t.name, "outcome": t.outcome, "message": _clip(t.message)} for t in report.tests],
        "passed": report.passed,
        "failed": report.failed,
        "errors": report.errors,
        "skipped": report.skipped,
        "total": report.total,
        "tampered": report.tampered,
        "reason": report.reason,
        "duration_s": round(report.raw.duration_s, 3) if report.raw else None,
        "cached": False,
        "integrity": report.integrity,
    }
    if report.passes_except(skips):
        return StepScore(score=1.0, gate="pass", evidence=evidence)
    score = 0.0 if report.tampered or report.total == 0 else report.passed / report.total
    evidence["feedback"] = _feedback(report, skips)
    return StepScore(score=score, gate="fail", evidence=evidence)


def _feedback(report: TestReport, skips: Mapping[str, str]) -> str:
    """The first thing a developer would look at: the first failing test, else a test the change
    made skip, else why nothing ran."""
    if report.tampered:
        return _clip(
            f"the test run cannot be trusted: {report.reason or 'test files changed during the run'}"
        )
    first = report.first_failure()
    raw = report.raw
    if first is not None:
        text = f"{first.name} {first.outcome}: {first.message}".rstrip(": ")
        if first.outcome == "error" and raw is not None:
            # An error outside a test body (import, fixture, collection) says little in its
            # one-line message; the traceback in the output says where.
            text += "\n" + _error_lines(raw.stdout + "\n" + raw.stderr)
        return _clip(text)
    skipped = (t for t in report.tests if t.outcome == "skipped" and skips.get(t.name) != t.message)
    new_skip = next(skipped, None)
    if new_skip is not None:
        return _clip(
            f"{new_skip.name} skipped: {new_skip.message}; it did not skip before the change, "
            "and a fix may not skip a test"
        )
    tail = ""
    if raw is not None:
        if raw.timed_out:
            return "the tests timed out: look for an infinite loop or very slow code"
        if raw.oom_killed:
            return "the tests ran out of memory"
        tail = (raw.stdout + "\n" + raw.stderr).strip()[-FEEDBACK_CHARS:]
    reason = report.reason or ("no tests ran" if report.total == 0 else "the test run did not succeed")
    return _clip(f"{reason}\n{tail}".strip())


def _error_lines(output: str) -> str:
    """pytest's own digest of an error: the "file.py:12: in <module>" and "E   ..." lines."""
    keep = [line for line in output.splitlines() if _ERROR_LINE.match(line)]
    return "\n".join(keep[-12:])


def _fail(reason: str, feedback: str) -> StepScore:
    evidence: CodeEvidence = {"reason": reason, "feedback": _clip(feedback), "tests": [], "total": 0}
    return StepScore(score=0.0, gate="fail", evidence=evidence)


def _copy(verdict: StepScore, *, cached: bool) -> StepScore:
    evidence: CodeEvidence = json.loads(json.dumps(verdict.evidence))
    evidence["cached"] = cached
    return StepScore(score=verdict.score, gate=verdict.gate, evidence=evidence)


def _clip(text: str) -> str:
    return text if len(text) <= FEEDBACK_CHARS else text[: FEEDBACK_CHARS - 3] + "..."
