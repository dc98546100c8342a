"""What the repair and solve tests share: the broken example project and the CLI under test."""

from __future__ import annotations

import shutil
from pathlib import Path

import typer

from ponder.plugin.repair import cli as cli_repair
from ponder.plugin.solve import cli as cli_solve
from tests._cli import command_app

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "buggy_project"
BUG = "range(len(values) - window)"
FIX = "range(len(values) - window + 1)"
"""The one off-by-one in the example, and the line that fixes it (a mutation operator reaches it)."""


def copy_example(tmp_path: Path) -> Path:
    """A fresh copy of the example project to break or repair (caches and notes left out)."""
    target = tmp_path / "proj"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "*.md"))
    return target


def cli_app() -> typer.Typer:
    """The repair and solve commands under a test root, so subcommands keep their names."""
    return command_app(cli_repair, cli_solve)
