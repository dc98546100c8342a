"""`ponder repair` on projects shaped like real ones: tests that read data files, git checkouts,
classes the tests compare. The model is scripted (an OpenAI-compatible server on loopback), the
sandbox is the real Docker one.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ponder.plugin.repair.localize import ochiai, rank
from ponder.plugin.repair.project import MAX_FILE_BYTES, load_project
from ponder.sandbox.types import TestOutcome, TestReport
from tests._repair import cli_app
from tests._scripted_openai import openai_env, scripted_model

SCALE_BUG = "def scale(values, factor):\n    return [v + factor for v in values]\n"
SCALE_FIX = "def scale(values, factor):\n    return [v * factor for v in values]\n"
DATA_TESTS = (
    "import json\nfrom pathlib import Path\n\nfrom scaler import scale\n\n"
    "CASES = json.loads((Path(__file__).parent / 'data' / 'cases.json').read_text())\n\n\n"
    "def test_cases():\n    for case in CASES:\n"
    "        assert scale(case['values'], case['factor']) == case['expected']\n\n\n"
    "def test_empty():\n    assert scale([], 3) == []\n"
)
CASES = [{"values": [1, 2], "factor": 3, "expected": [3, 6]}, {"values": [0], "factor": 5, "expected": [0]}]


def _data_project(root: Path) -> Path:
    (root / "tests" / "data").mkdir(parents=True)
    (root / "scaler.py").write_text(SCALE_BUG)
    (root / "tests" / "test_scaler.py").write_text(DATA_TESTS)
    (root / "tests" / "data" / "cases.json").write_text(json.dumps(CASES))
    (root / "tests" / "data" / "blob.bin").write_bytes(bytes(range(256)))
    return root


def _digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def test_data_files_travel_with_the_tests_and_big_ones_are_left_out(tmp_path: Path) -> None:
    root = _data_project(tmp_path)
    (root / "huge.dat").write_bytes(b"\0" * (MAX_FILE_BYTES + 1))
    project = load_project(root)
    assert set(project.sources) == {"scaler.py"} and set(project.tests) == {"tests/test_scaler.py"}
    assert set(project.data) == {"tests/data/cases.json", "tests/data/blob.bin"}
    assert project.data["tests/data/blob.bin"] == bytes(range(256))  # binary, byte for byte
    assert project.skipped == ("huge.dat",)
    assert set(project.checked_files()) == {"tests/test_scaler.py", *project.data}


def test_a_git_checkout_is_read_as_git_sees_it(tmp_path: Path) -> None:
    root = _data_project(tmp_path)
    (root / "build.log").write_text("noise\n")
    (root / "scratch").mkdir()
    (root / "scratch" / "notes.txt").write_text("mine\n")
    (root / ".gitignore").write_text("*.log\nscratch/\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True, timeout=30)
    project = load_project(root)
    assert "build.log" not in project.data and "scratch/notes.txt" not in project.data
    assert "tests/data/cases.json" in project.data, "untracked but not ignored files still count"


@pytest.fixture
def use_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PONDER_SANDBOX_KIND", "docker")
    monkeypatch.setenv("PONDER_SANDBOX_POOL_SIZE", "1")


def _repair(root: Path, answer: str, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    with scripted_model(f"Fixed.\n```python\n{answer}```\n") as (url, _calls):
        for key, value in openai_env(url).items():
            monkeypatch.setenv(key, value)
        args = ["repair", str(root), "--mutants", "0", "--strategy", "greedy", "--max-expansions", "2"]
        result = CliRunner().invoke(cli_app(), args)
    return result.exit_code, result.output


@pytest.mark.docker
def test_a_project_whose_tests_read_json_beside_them_is_repaired(
    tmp_path: Path, use_docker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _data_project(tmp_path)
    before = _digest(root)
    code, out = _repair(root, SCALE_FIX, monkeypatch)
    assert code == 0, out
    assert "verified fix for scaler.py from model" in out and "tests: 1/2 passed → 2/2 passed" in out
    assert _digest(root) == before  # nothing written without --apply


@pytest.mark.docker
def test_a_candidate_that_rewrites_the_expected_data_is_not_verified(
    tmp_path: Path, use_docker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The bug stays; the "fix" rewrites the expected outputs it is judged against, at import time.
    # Written so the patch guard lets it through: the sandbox must be what stops it.
    rewrite = (
        "from pathlib import Path\n\n"
        "_cases = Path(__file__).parent / 'tests' / 'data' / 'cases.json'\n"
        "try:\n    _cases.write_text('[]')\nexcept OSError:\n    pass\n\n" + SCALE_BUG
    )
    root = _data_project(tmp_path)
    before = _digest(root)
    code, out = _repair(root, rewrite, monkeypatch)
    assert code == 1 and "no verified fix for scaler.py" in out, out
    assert _digest(root) == before


@pytest.mark.docker
@pytest.mark.parametrize(
    "config",
    [None, ("pyproject.toml", '[tool.pytest.ini_options]\npythonpath = ["src"]\n')],
    ids=["plain-src-layout", "pythonpath-in-pyproject"],
)
def test_a_src_layout_project_is_repaired(
    tmp_path: Path, use_docker: None, monkeypatch: pytest.MonkeyPatch, config: tuple[str, str] | None
) -> None:
    """The tests import `scaling` from `src/`: the sandbox never reads the project's pytest config,
    so the folder comes from the project as loaded (before, collection failed and repair gave up
    with "cannot tell which file")."""
    (tmp_path / "src" / "scaling").mkdir(parents=True)
    (tmp_path / "src" / "scaling" / "__init__.py").write_text("")
    (tmp_path / "src" / "scaling" / "core.py").write_text(SCALE_BUG)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_core.py").write_text(
        "from scaling.core import scale\n\n\ndef test_scale():\n    assert scale([1, 2], 3) == [3, 6]\n\n\n"
        "def test_empty():\n    assert scale([], 3) == []\n"
    )
    if config is not None:
        (tmp_path / config[0]).write_text(config[1])
    assert load_project(tmp_path).pythonpath == ("src",)
    code, out = _repair(tmp_path, SCALE_FIX, monkeypatch)
    assert code == 0, out
    assert "verified fix for src/scaling/core.py from model" in out and "1/2 passed → 2/2 passed" in out


def test_a_missing_dependency_is_told_apart_from_a_module_the_project_holds(tmp_path: Path) -> None:
    from ponder.plugin.repair.missing_modules import missing_dependency

    (tmp_path / "src" / "scaling").mkdir(parents=True)
    (tmp_path / "src" / "scaling" / "__init__.py").write_text("")
    (tmp_path / "test_s.py").write_text("import scaling\n\n\ndef test_s():\n    pass\n")
    project = load_project(tmp_path)

    def report(module: str) -> TestReport:
        message = f"collection failure: ModuleNotFoundError: No module named '{module}'"
        return TestReport(tests=[TestOutcome(name="test_s", outcome="error", message=message)])

    assert missing_dependency(report("requests.adapters"), project) == ("requests.adapters", "test_s")
    assert missing_dependency(report("scaling.core"), project) is None  # the project's own: repair's job


@pytest.mark.docker
def test_tests_that_import_what_the_sandbox_lacks_end_in_one_line_naming_it(
    tmp_path: Path, use_docker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _data_project(tmp_path)
    test = root / "tests" / "test_scaler.py"
    test.write_text("import ponder_no_such_dependency\n" + test.read_text())
    code, out = _repair(root, SCALE_FIX, monkeypatch)
    assert code != 0
    line = next(ln for ln in out.splitlines() if "cannot import" in ln)
    assert "'ponder_no_such_dependency'" in line and "PONDER_SANDBOX_IMAGE" in line, out


SKIPPING_TESTS = (
    "import sys\n\nimport pytest\n\nfrom scaler import scale\n\n\n"
    "def test_scale():\n    assert scale([1, 2], 3) == [3, 6]\n\n\n"
    "def test_empty():\n    assert scale([], 3) == []\n\n\n"
    "@pytest.mark.skipif(sys.platform != 'win32', reason='windows paths')\n"
    "def test_windows():\n    assert False\n"
)


@pytest.mark.docker
def test_a_suite_with_its_own_skips_is_repaired_and_a_new_skip_is_not_a_pass(
    tmp_path: Path, use_docker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The project skips a test on this platform: the fix keeps that skip and is verified. A
    candidate that makes a failing test skip itself (`pytest.skip` from the code) is not."""
    (tmp_path / "scaler.py").write_text(SCALE_BUG)
    (tmp_path / "test_scaler.py").write_text(SKIPPING_TESTS)
    code, out = _repair(tmp_path, SCALE_FIX, monkeypatch)
    assert code == 0 and "verified fix for scaler.py from model" in out, out
    assert "2/3 passed (1 skipped)" in out
    # unittest's SkipTest, which pytest honours too, gets past the patch guard's pytest-import rule.
    dodge = "import unittest\n\n\ndef scale(values, factor):\n    raise unittest.SkipTest('not today')\n"
    code, out = _repair(tmp_path, dodge, monkeypatch)
    assert code == 1 and "no verified fix for scaler.py" in out, out
    assert "0/3 passed (3 skipped)" in out or "1/3 passed (1 skipped)" in out, out


DATACLASS_BUG = (
    "from dataclasses import dataclass\n\n\n@dataclass\nclass Point:\n    x: int\n    y: int\n\n\n"
    "def shift(p, dx):\n    return Point(p.x - dx, p.y)\n"
)


@pytest.mark.docker
def test_comparison_methods_the_original_code_has_are_trusted(
    tmp_path: Path, use_docker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tests compare Points; the dataclass's __eq__ is the original's, so the fix is verified.
    (tmp_path / "geo.py").write_text(DATACLASS_BUG)
    (tmp_path / "test_geo.py").write_text(
        "from geo import Point, shift\n\n\n"
        "def test_shift():\n    assert shift(Point(1, 2), 3) == Point(4, 2)\n\n\n"
        "def test_zero():\n    assert shift(Point(1, 2), 0) == Point(1, 2)\n"
    )
    code, out = _repair(tmp_path, DATACLASS_BUG.replace("p.x - dx", "p.x + dx"), monkeypatch)
    assert code == 0 and "verified fix for geo.py" in out and "0 violation(s)" in out, out


def _outcomes(*names: tuple[str, str]) -> list[TestOutcome]:
    return [TestOutcome(name=name, outcome=outcome) for name, outcome in names]  # type: ignore[arg-type]


def test_ochiai_ranks_the_line_only_failing_tests_run_first() -> None:
    report = TestReport(
        tests=_outcomes(("t::a", "failed"), ("t::b", "passed"), ("t::c", "failed")),
        coverage={
            "t::a": {"main.py": [1, 2], "helper.py": [5, 6]},
            "t::b": {"main.py": [1, 3], "helper.py": [5]},
            "t::c": {"main.py": [1, 2], "helper.py": [5, 6]},
        },
    )
    sources = {"main.py": "", "helper.py": ""}
    ranked = ochiai(report, sources)
    assert [(s.path, s.line) for s in ranked[:2]] == [("helper.py", 6), ("main.py", 2)]
    assert ranked[0].score == pytest.approx(1.0) and ranked[-1].score == pytest.approx(2 / math.sqrt(2 * 3))
    bonus = rank(report, sources, {"main.py": {3}})
    assert ("main.py", 3) in {(s.path, s.line) for s in bonus}, (
        "a traceback line counts even if no failing test ran it"
    )
    assert ochiai(TestReport(tests=_outcomes(("t::b", "passed"))), sources) == []


HELPER = "def rate(kind):\n    if kind == 'gold':\n        return 0.2\n    return 0.1\n"
HELPER_BUG = HELPER.replace("return 0.2", "return 0.02")
MAIN = (
    "from helper import rate\n\n\n"
    "def price(amount, kind):\n    discount = rate(kind)\n    return amount * (1 - discount)\n"
)
PRICE_TESTS = (
    "import pytest\n\nfrom main import price\n\n\n"
    "def test_gold():\n    assert price(100, 'gold') == pytest.approx(80)\n\n\n"
    "def test_plain():\n    assert price(100, 'plain') == pytest.approx(90)\n"
)


@pytest.mark.docker
def test_a_bug_in_a_helper_module_is_localised_to_that_module(
    tmp_path: Path, use_docker: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The failing test calls main.price; its traceback ends in the test (a wrong value, no raise).
    # Only the spectrum says the one line that the failing test alone runs is in helper.py.
    (tmp_path / "main.py").write_text(MAIN)
    (tmp_path / "helper.py").write_text(HELPER_BUG)
    (tmp_path / "test_price.py").write_text(PRICE_TESTS)
    code, out = _repair(tmp_path, HELPER, monkeypatch)
    assert code == 0 and "verified fix for helper.py from model" in out, out
    assert "suspects: helper.py:3 (1.00)" in out
