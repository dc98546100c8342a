"""A fix whose comparison the tests do not pin is ambiguous, not verified (`repair.boundary`).

The repair set's `session_expiry` was verified with `now > expires_at`, which is wrong at the
exact instant; its visible tests accept `now >= expires_at` too. The workflow cases run real
pytest in `LocalSandbox` with a model that proposes nothing, so the mutation operators find the
fix and the boundary check decides what it is worth.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ponder.graph.testing import ScriptedBackend
from ponder.graph.types import Budget, SearchConfig
from ponder.plugin.repair.boundary import boundary_twins
from ponder.plugin.repair.outcome import RepairOutcome
from ponder.plugin.repair.project import load_project
from ponder.plugin.repair.workflow import repair_project
from ponder.plugin.runtime import open_runtime
from ponder.plugin.settings import PonderSettings
from ponder.sandbox import LocalSandbox

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")

BUGGY = (
    "def is_expired(now, expires_at):\n"
    '    """Over from the instant its time to live has elapsed."""\n'
    "    return now < expires_at\n"
)
TESTS = (
    "from sessions import is_expired\n\n\n"
    "def test_fresh():\n    assert not is_expired(130.0, 160.0)\n\n\n"
    "def test_old():\n    assert is_expired(500.0, 160.0)\n"
)
AT_THE_INSTANT = "\n\ndef test_at_the_instant():\n    assert is_expired(160.0, 160.0)\n"


def test_the_changed_comparison_gets_its_twin() -> None:
    fixed = BUGGY.replace("now < expires_at", "now > expires_at")
    [twin] = boundary_twins({"sessions.py": BUGGY}, {"sessions.py": fixed})
    assert (twin.path, twin.line, twin.written, twin.twin) == (
        "sessions.py",
        3,
        "now > expires_at",
        "now >= expires_at",
    )
    assert twin.files["sessions.py"] == BUGGY.replace("now < expires_at", "now >= expires_at")


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        pytest.param("ok = a + b < c\n", "ok = a - b < c\n", [], id="comparison-untouched"),
        pytest.param("ok = a <= b\n", "ok = a < b\n", [], id="twin-is-the-old-code"),
        pytest.param(
            "def f(n):\n    return 1 / n\n",
            "def f(n):\n    if n <= 0:\n        return 0\n    return 1 / n\n",
            ["m.py:2 `n <= 0` vs `n < 0`"],
            id="added-guard",
        ),
        pytest.param("ok = a == b\n", "ok = a != b\n", [], id="equality-has-no-boundary"),
        pytest.param("x = a >> 1\n", "x = a << 1\n", [], id="shifts-are-not-comparisons"),
        pytest.param(
            "ok = 0 < i > n\n",
            "ok = 0 <= i >= n\n",
            ["m.py:1 `0 <= i` vs `0 < i`", "m.py:1 `i >= n` vs `i > n`"],
            id="chained",
        ),
    ],
)
def test_which_comparisons_are_twinned(old: str, new: str, expected: list[str]) -> None:
    assert [str(t) for t in boundary_twins({"m.py": old}, {"m.py": new})] == expected


async def _repair(root: Path, tests: str) -> RepairOutcome:
    (root / "sessions.py").write_text(BUGGY)
    (root / "test_sessions.py").write_text(tests)
    config = SearchConfig(strategy="beam", budget=Budget(max_expansions=4))
    async with (
        LocalSandbox() as box,
        open_runtime(PonderSettings(), backend=ScriptedBackend(lambda ctx: "no idea"), sandbox=box) as rt,
    ):
        return await repair_project(load_project(root), rt, config, max_mutants=3, write=False)


async def test_tests_that_accept_both_sides_make_the_fix_ambiguous(tmp_path: Path) -> None:
    outcome = await _repair(tmp_path, TESTS)
    assert outcome.status == "ambiguous" and not outcome.verified
    assert "now > expires_at" in outcome.diff or "now >= expires_at" in outcome.diff
    assert "never test the boundary" in outcome.reason
    assert outcome.integrity["boundaries"]["also_pass"]
    assert (tmp_path / "sessions.py").read_text() == BUGGY


async def test_a_test_at_the_boundary_lets_the_right_side_verify(tmp_path: Path) -> None:
    outcome = await _repair(tmp_path, TESTS + AT_THE_INSTANT)
    assert outcome.status == "fixed", outcome.reason
    assert "+    return now >= expires_at" in outcome.diff
    boundaries = outcome.integrity["boundaries"]
    assert boundaries["checked"] == ["sessions.py:3 `now >= expires_at` vs `now > expires_at`"]
    assert boundaries["also_pass"] == []
