"""Turning pytest's JUnit XML into per-test outcomes, and deciding whether to believe it.

The XML is one witness; pytest's exit code and the test-file hashes are two more. A report is only
trusted when all three agree, so code that forges one of them (prints, a rewritten test, an early
``os._exit(0)``) ends up with a failed verdict instead of a pass.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Mapping

from ponder.sandbox.integrity import TestChecks, verify
from ponder.sandbox.types import ExecResult, HarnessReport, Outcome, TestOutcome, TestReport

MESSAGE_CHARS = 400
PYTEST_EXIT = {
    0: "all tests passed",
    1: "some tests failed",
    2: "pytest was interrupted",
    3: "pytest hit an internal error",
    4: "pytest was called wrongly",
    5: "no tests were collected",
}


class JunitError(ValueError):
    """The XML is missing, malformed or uses features a plain pytest report never has."""


def parse_junit(xml: str) -> list[TestOutcome]:
    """Outcomes of every ``<testcase>`` in a pytest JUnit report.

    Raises:
        JunitError: unparsable XML or a DTD (pytest never writes one; entities are refused outright).
    """
    if "<!DOCTYPE" in xml or "<!ENTITY" in xml:
        raise JunitError("JUnit report contains a DTD")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise JunitError(f"JUnit report is not valid XML ({exc})") from exc
    if root.tag not in ("testsuites", "testsuite"):
        raise JunitError(f"JUnit report has root <{root.tag}>, expected <testsuites>")
    return [_outcome(case) for case in root.iter("testcase")]


def _outcome(case: ET.Element) -> TestOutcome:
    classname, name = case.get("classname", ""), case.get("name", "?")
    full = f"{classname}::{name}" if classname else name
    outcome: Outcome = "passed"
    message = ""
    for tag, kind in (("error", "error"), ("failure", "failed"), ("skipped", "skipped")):
        node = case.find(tag)
        if node is not None:
            outcome = kind  # type: ignore[assignment]
            message = _message(node)
            break
    return TestOutcome(name=full, outcome=outcome, message=message)


def _message(node: ET.Element) -> str:
    """pytest's `message` attribute is the assertion line; fall back to the last ``E`` line of the trace."""
    text = node.get("message") or ""
    trace = (node.text or "").strip()
    if trace and text in ("", "collection failure"):
        # Collection errors carry a generic message; the exception is the trace's last "E" line.
        errors = [ln[1:].strip() for ln in trace.splitlines() if ln.startswith("E ")]
        detail = errors[-1] if errors else trace.splitlines()[-1]
        text = f"{text}: {detail}" if text else detail
    text = " ".join(text.split())
    return text if len(text) <= MESSAGE_CHARS else text[: MESSAGE_CHARS - 1] + "…"


def build_report(
    harness: HarnessReport,
    raw: ExecResult,
    expected_hashes: Mapping[str, str],
    checks: TestChecks | None,
) -> TestReport:
    """Combine the harness's findings into a TestReport, marking anything that does not add up.

    Args:
        harness: the harness JSON (``junit``, ``hashes``, ``config_files``, ``integrity``).
        raw: the command's result (exit code, output, timeout, OOM).
        expected_hashes: sha256 of each test file as the host sent it.
        checks: the run's integrity parameters (canaries...); every sandbox run passes them.
            None only where a test examines the XML rules alone.
    """
    report = TestReport(raw=raw)
    if not harness:
        # Killed before it reported (the deadline, memory): nothing ran to completion, so there is
        # nothing to trust or distrust; the reason below says what stopped it. Not passing either way.
        expected_hashes = {}
    changed = sorted(p for p, h in expected_hashes.items() if harness.get("hashes", {}).get(p) != h)
    injected = sorted(set(harness.get("config_files", [])) - set(expected_hashes))
    if changed or injected:
        report.tampered = True
        what = f"test file {changed[0]} was modified or removed" if changed else f"{injected[0]} appeared"
        report.reason = f"tampering: {what} during the run"
    if raw.timed_out:
        report.reason = report.reason or "timed out before the tests finished"
    elif raw.oom_killed:
        report.reason = report.reason or "killed for exceeding the memory limit"
    xml = harness.get("junit")
    if not xml:
        report.reason = report.reason or f"no test report (pytest exit code {raw.exit_code})"
        return report
    try:
        report.tests = parse_junit(xml)
    except JunitError as exc:
        report.tampered = True
        report.reason = report.reason or f"untrustworthy report: {exc}"
        return report
    if checks is not None:
        verify(report, harness.get("integrity"), checks)
    _cross_check(report, raw.exit_code)
    return report


def _cross_check(report: TestReport, exit_code: int) -> None:
    bad = report.failed + report.errors
    if exit_code == 0 and (bad or report.total == 0):
        contradiction = "pytest exited 0 but the report lists failures or no tests"
    elif exit_code == 1 and not bad:
        contradiction = "pytest exited 1 but the report lists no failures"
    else:
        contradiction = ""
    if contradiction:
        report.tampered = True
        report.reason = report.reason or f"untrustworthy report: {contradiction}"
    elif exit_code not in (0, 1):
        report.reason = report.reason or _exit_text(exit_code)


def _exit_text(exit_code: int) -> str:
    return PYTEST_EXIT.get(exit_code, f"pytest exited with code {exit_code}")
