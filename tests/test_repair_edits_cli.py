"""`ponder repair` with a model that answers in SEARCH/REPLACE hunks: the real CLI, the real Docker
sandbox, a scripted model behind an OpenAI-compatible server on loopback.

The project has two source files and the bug is in the one the failing tests do not call
directly, so the hunk must name it (or be found there) and the diff must be of that file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from tests._repair import cli_app
from tests._scripted_openai import openai_env, scripted_model

pytestmark = pytest.mark.docker

HELPER = "def rate(kind):\n    if kind == 'gold':\n        return 0.02\n    return 0.1\n"
MAIN = (
    "from helper import rate\n\n\n"
    "def price(amount, kind):\n    discount = rate(kind)\n    return amount * (1 - discount)\n"
)
TESTS = (
    "import pytest\n\nfrom main import price\n\n\n"
    "def test_gold():\n    assert price(100, 'gold') == pytest.approx(80)\n\n\n"
    "def test_plain():\n    assert price(100, 'plain') == pytest.approx(90)\n"
)
HUNK = (
    "The gold discount is 20%, not 2%.\n\nhelper.py\n```python\n<<<<<<< SEARCH\n"
    "    if kind == 'gold':\n        return 0.02\n=======\n    if kind == 'gold':\n        return 0.2\n"
    ">>>>>>> REPLACE\n```\n"
)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("PONDER_SANDBOX_KIND", "docker")
    monkeypatch.setenv("PONDER_SANDBOX_POOL_SIZE", "1")
    (tmp_path / "main.py").write_text(MAIN)
    (tmp_path / "helper.py").write_text(HELPER)
    (tmp_path / "test_price.py").write_text(TESTS)
    return tmp_path


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()
    }


def _repair(
    project: Path, reply: str, monkeypatch: pytest.MonkeyPatch, *extra: str
) -> tuple[int, str, list[list[dict[str, Any]]]]:
    with scripted_model(reply) as (url, calls):
        for key, value in openai_env(url).items():
            monkeypatch.setenv(key, value)
        args = [
            "repair",
            str(project),
            "--mutants",
            "0",
            "--strategy",
            "refine",
            "--max-expansions",
            "2",
            *extra,
        ]
        result = CliRunner().invoke(cli_app(), [*args, "--quiet"])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash is not an exit code: show its traceback
    return result.exit_code, result.output, calls


def test_a_hunk_from_the_model_is_verified_and_shown_as_a_diff(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _digest(project)
    code, out, calls = _repair(project, HUNK, monkeypatch)
    assert code == 0, out
    assert out.startswith(
        "--- a/helper.py\n+++ b/helper.py\n@@ -1,4 +1,4 @@\n def rate(kind):\n     if kind == 'gold':\n"
        "-        return 0.02\n+        return 0.2\n     return 0.1\n"
    ), out
    assert "verified fix for helper.py from model: model-written fix: 1 hunk in helper.py" in out
    assert "tests: 1/2 passed → 2/2 passed" in out and "0 violation(s)" in out
    assert _digest(project) == before, "nothing written without --apply"
    # One request; it showed the suspect function, numbered, and the failing test with its message.
    assert len(calls) == 1
    prompt = calls[0][-1]["content"]
    assert "   3 |         return 0.02" in prompt and "test_price::test_gold: assert" in prompt
    assert "def test_plain" not in prompt, "only the failing test's code"

    code, out, _ = _repair(project, HUNK, monkeypatch, "--apply")
    assert code == 0 and "applied to helper.py (backup: " in out, out
    assert (project / "helper.py").read_text() == HELPER.replace("0.02", "0.2")
    assert (project / "helper.py.orig").read_text() == HELPER


def test_a_hunk_that_matches_nothing_is_unverified_with_the_reason_and_files_stay(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _digest(project)
    wrong = HUNK.replace("        return 0.02\n=", "        return 0.05\n=")
    code, out, calls = _repair(project, wrong, monkeypatch, "--json", "--apply")
    assert code == 1, out
    summary = json.loads(out)
    assert summary["status"] == "no_fix" and summary["verified"] is False and summary["applied"] is False
    assert summary["diff"] == "" and summary["files"] == [] and summary["best_candidate"] is None
    assert "hunk 1: the SEARCH lines match nothing in helper.py" in summary["reason"]
    assert "the nearest are lines 2-3, where line 3 reads `return 0.02`" in summary["reason"]
    # Refinement showed the model why, then the budget (2 expansions) ran out.
    assert len(calls) == 2 and "match nothing in helper.py" in calls[1][-1]["content"]
    assert summary["prompt"]["excerpts"] >= 1 and summary["prompt"]["answer_room"] < 400
    assert _digest(project) == before, "files untouched"


def test_a_fix_in_two_files_is_applied_to_both_with_their_backups(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gold rate moves into main.py's call and helper.py loses it: neither hunk alone passes."""
    two = (
        "main.py\n```python\n<<<<<<< SEARCH\n    discount = rate(kind)\n=======\n"
        "    discount = 0.2 if kind == 'gold' else rate(kind)\n>>>>>>> REPLACE\n```\n\n"
        "helper.py\n```python\n<<<<<<< SEARCH\n    if kind == 'gold':\n        return 0.02\n=======\n"
        ">>>>>>> REPLACE\n```\n"
    )
    code, out, _ = _repair(project, two, monkeypatch, "--apply")
    assert code == 0, out
    assert "applied to helper.py, main.py (backup: " in out, out
    assert (project / "main.py").read_text() == MAIN.replace(
        "discount = rate(kind)", "discount = 0.2 if kind == 'gold' else rate(kind)"
    )
    assert (project / "helper.py").read_text() == "def rate(kind):\n    return 0.1\n"
    assert (project / "main.py.orig").read_text() == MAIN
    assert (project / "helper.py.orig").read_text() == HELPER
