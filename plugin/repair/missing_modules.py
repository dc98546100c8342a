"""Tests that cannot import a module the project does not hold: the sandbox lacks a dependency.

The sandbox image carries python3, pytest, pytest-asyncio, numpy, pandas and scipy. A project
whose tests import anything else fails to collect, and no edit of its code can change that, so
repair stops with what is missing and how to provide it instead of searching (or saying it
cannot tell which file to fix).
A module the project holds itself (a misnamed package, an import the bug broke) is left to repair.
"""

from __future__ import annotations

import re

from ponder.plugin.repair.import_roots import top_level_names
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
    paths = [*project.sources, *project.tests, *project.data]
    return any(top in top_level_names(paths, root) for root in ("", *project.pythonpath))


__all__ = ["missing_dependency"]
