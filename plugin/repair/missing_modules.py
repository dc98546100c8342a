"""Tests that cannot import a module the project does not hold: the sandbox lacks a dependency.

The sandbox image carries python3, pytest, pytest-asyncio, numpy, pandas and scipy. A project
whose tests import anything else fails to collect, and no edit of its code can change that, so
repair stops with what is missing and how to provide it instead of searching (or saying it
cannot tell which file to fix).
A module the project holds itself (a misnamed package, an import the bug broke) is left to repair.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from ponder.plugin.repair.project import Project
from ponder.sandbox.types import TestReport

_NO_MODULE = re.compile(r"No module named '([\w.]+)'")


def missing_dependency(report: TestReport, project: Project) -> tuple[str, str] | None:
    """(module, test file) of the first test that could not import a module outside the project."""
    for outcome in report.tests:
        if outcome.outcome != "error":
            continue
        found = _NO_MODULE.search(outcome.message or "")
        if found and not _holds(project, found.group(1).split(".")[0]):
            return found.group(1), outcome.name
    return None


def _holds(project: Project, top: str) -> bool:
    """Whether the project has a module or package named `top` at its root or an import root."""
    paths: Iterable[str] = [*project.sources, *project.tests, *project.data]
    for path in paths:
        for root in ("", *(f"{r}/" for r in project.pythonpath)):
            if not path.startswith(root):
                continue
            first = path[len(root) :].split("/", 1)[0]
            if first in (top, f"{top}.py"):
                return True
    return False


__all__ = ["missing_dependency"]
