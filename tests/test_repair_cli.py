"""`ponder repair` end to end: the embedded model, the real Docker sandbox, the example project.

The fix of `examples/buggy_project` is reachable by a mutation operator, so these tests do not
depend on what a 135M model writes; they check what repair promises: a verified diff, nothing
written without --apply, an atomic apply with a backup, the "no fix" exit code on a budget too
small, and one-line errors for bad input.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.plugin.cli import EXIT_NO_FIX
from tests._repair import BUG, FIX, cli_app, copy_example


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def _pytest(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-c", "/dev/null", str(folder)],
        capture_output=True,
        text=True,
        cwd=folder,
        timeout=120,
    )


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return copy_example(tmp_path)


@pytest.fixture
def real_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    """The embedded model and Docker, never the subprocess sandbox."""
    pytest.importorskip("llama_cpp")
    monkeypatch.setenv("PONDER_SANDBOX_KIND", "docker")
    monkeypatch.setenv("PONDER_BACKEND_N_CTX", "4096")


@pytest.mark.docker
@pytest.mark.model
def test_repair_prints_a_verified_diff_then_applies_it(
    project: Path, tmp_path: Path, real_parts: None
) -> None:
    before = _digest(project)
    assert _pytest(project).returncode == 1  # the example really is broken

    report = tmp_path / "report"
    result = CliRunner().invoke(cli_app(), ["repair", str(project), "--report", str(report), "--quiet"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    assert out.startswith("--- a/stats.py\n+++ b/stats.py\n")
    assert f"-    for start in {BUG}:\n+    for start in {FIX}:\n" in out
    assert "verified fix for stats.py from mutation: shift-bound at stats.py:16" in out
    assert "tests: 4/6 passed → 6/6 passed" in out
    assert "not applied" in out
    assert _digest(project) == before  # nothing written without --apply
    assert {p.name for p in report.iterdir()} >= {"tree.json", "report.html"}

    result = CliRunner().invoke(cli_app(), ["repair", str(project), "--apply", "--quiet"])
    assert result.exit_code == 0, result.output
    assert "applied to stats.py (backup: " in result.stdout
    assert FIX in (project / "stats.py").read_text()
    assert BUG + ":" in (project / "stats.py.orig").read_text()
    assert _pytest(project).returncode == 0, "the applied fix must make the suite pass"

    result = CliRunner().invoke(cli_app(), ["repair", str(project), "--quiet"])
    assert result.exit_code == 0 and "nothing to repair: all 6 tests already pass" in result.stdout


@pytest.mark.docker
@pytest.mark.model
def test_budget_too_small_is_no_fix_and_leaves_files_untouched(project: Path, real_parts: None) -> None:
    before = _digest(project)
    args = ["repair", "--file", str(project / "stats.py"), "--tests", str(project / "test_stats.py")]
    args += ["--mutants", "0", "--max-expansions", "1", "--max-tokens", "48", "--apply", "--quiet"]
    result = CliRunner().invoke(cli_app(), args)
    assert result.exit_code == EXIT_NO_FIX, result.output
    assert "no verified fix for stats.py within the budget" in result.stdout
    assert "tests: 4/6 passed → 4/6 passed" in result.stdout
    assert _digest(project) == before


@pytest.mark.docker
@pytest.mark.model
def test_a_fix_the_tests_cannot_tell_from_its_twin_is_not_applied(tmp_path: Path, real_parts: None) -> None:
    # Weak tests accept `now > expires_at` and `now >= expires_at` alike (repair set: session_expiry).
    (tmp_path / "sessions.py").write_text("def is_expired(now, end):\n    return now < end\n")
    (tmp_path / "test_sessions.py").write_text(
        "from sessions import is_expired\n\n\ndef test_fresh():\n    assert not is_expired(1, 9)\n\n\n"
        "def test_old():\n    assert is_expired(9, 1)\n"
    )
    before = _digest(tmp_path)
    args = ["repair", str(tmp_path), "--mutants", "3", "--max-expansions", "2", "--apply", "--json"]
    result = CliRunner().invoke(cli_app(), args)
    assert result.exit_code == EXIT_NO_FIX, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "ambiguous" and not summary["verified"] and not summary["applied"]
    assert "never test the boundary" in summary["reason"]
    assert summary["integrity"]["boundaries"]["also_pass"]
    assert _digest(tmp_path) == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["{tmp}"], "no tests found in", id="no-tests"),
        pytest.param(["{tmp}/missing"], "does not exist", id="missing-folder"),
        pytest.param(["--file", "{tmp}/m.py"], "no tests given for", id="file-without-tests"),
        pytest.param(
            ["--file", "{tmp}/m.py", "--tests", "{tmp}/nope.py"], "test file", id="missing-test-file"
        ),
    ],
)
def test_bad_input_is_a_one_line_error_with_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "m.py").write_text("x = 1\n")
    result = CliRunner().invoke(cli_app(), ["repair", *(a.format(tmp=tmp_path) for a in args)])
    assert result.exit_code == 2
    text = " ".join(result.stderr.split())
    assert text.startswith("error: ") and message in text
    assert result.stdout == ""
