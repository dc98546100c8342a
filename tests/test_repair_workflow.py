"""The repair workflow with a scripted model and the subprocess sandbox (fast, no Docker, no model).

The scripted backend plays the model so each test states what the "model" proposes; the tests
still run for real (pytest in `LocalSandbox`), so "verified" always means the suite passed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from ponder.graph.testing import Context, ScriptedBackend
from ponder.graph.types import Budget, SearchConfig
from ponder.plugin.repair.localize import choose_target, traceback_lines
from ponder.plugin.repair.outcome import RepairOutcome
from ponder.plugin.repair.project import Project, RepairInputError, load_project
from ponder.plugin.repair.workflow import repair_project
from ponder.plugin.runtime import Runtime, open_runtime
from ponder.plugin.settings import PonderSettings
from ponder.sandbox import LocalSandbox
from ponder.sandbox.types import ExecResult, TestOutcome, TestReport
from tests._repair import BUG, FIX, copy_example

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    return copy_example(tmp_path)


@pytest.fixture
async def sandbox() -> AsyncIterator[LocalSandbox]:
    async with LocalSandbox() as box:
        yield box


def _config(**budget: float) -> SearchConfig:
    return SearchConfig(strategy="refine", budget=Budget(**budget), refine_rounds=2)


async def _repair(
    project_dir: Path,
    sandbox: LocalSandbox,
    policy: Callable[[Context], str],
    *,
    mutants: int = 0,
    config: SearchConfig | None = None,
) -> tuple[RepairOutcome, ScriptedBackend]:
    backend = ScriptedBackend(policy)
    async with open_runtime(PonderSettings(), backend=backend, sandbox=sandbox) as rt:
        assert isinstance(rt, Runtime)
        outcome = await repair_project(
            load_project(project_dir), rt, config or _config(max_expansions=4), max_mutants=mutants
        )
    return outcome, backend


def _block(source: str) -> str:
    return f"Here is the fix.\n```python\n{source}```\n"


def _hunk(search: str, replace: str, path: str = "stats.py") -> str:
    return f"{path}\n```python\n<<<<<<< SEARCH\n{search}\n=======\n{replace}\n>>>>>>> REPLACE\n```\n"


HUNK_FIX = _hunk(f"    for start in {BUG}:", f"    for start in {FIX}:")


async def test_model_fix_is_verified_and_nothing_is_written(project_dir: Path, sandbox: LocalSandbox) -> None:
    original = (project_dir / "stats.py").read_text()
    outcome, backend = await _repair(project_dir, sandbox, lambda ctx: HUNK_FIX)
    assert outcome.status == "fixed"
    assert outcome.source == "model" and outcome.edit == "hunks"
    assert outcome.description == "model-written fix: 1 hunk in stats.py"
    assert str(outcome.before) == "4/6 passed"
    assert str(outcome.after) == "6/6 passed"
    assert f"-    for start in {BUG}:\n+    for start in {FIX}:\n" in outcome.diff
    assert outcome.patched == {"stats.py": original.replace(BUG, FIX)}
    assert backend.log.generate_calls == 1
    assert (project_dir / "stats.py").read_text() == original
    # The prompt shows what failed, the failing tests' code and the suspect function, numbered;
    # not the rest of the file.
    prompt = backend.log.requests[0].messages[-1].content  # type: ignore[index]
    assert "test_moving_average" in prompt and "assert [] == [3.0]" in prompt
    assert f"  16 |     for start in {BUG}:" in prompt
    assert "def above_threshold" not in prompt and "<<<<<<< SEARCH" in prompt


async def test_a_whole_file_or_a_rewritten_function_is_accepted_too(
    project_dir: Path, sandbox: LocalSandbox
) -> None:
    original = (project_dir / "stats.py").read_text()
    fixed = original.replace(BUG, FIX)
    outcome, _ = await _repair(project_dir, sandbox, lambda ctx: _block(fixed))
    assert outcome.status == "fixed" and outcome.edit == "file"
    function = fixed[fixed.index("def moving_average") : fixed.index("def above_threshold")].rstrip() + "\n"
    outcome, _ = await _repair(project_dir, sandbox, lambda ctx: _block(function))
    assert outcome.status == "fixed" and outcome.edit == "functions"
    assert outcome.patched == {"stats.py": fixed}, "the rest of the file stays as it was"


async def test_a_hunk_that_matches_nothing_is_not_run_and_the_model_is_told_why(
    project_dir: Path, sandbox: LocalSandbox
) -> None:
    before = (project_dir / "stats.py").read_text()
    wrong = _hunk("    for start in range(len(values)):", f"    for start in {FIX}:")
    outcome, backend = await _repair(
        project_dir, sandbox, lambda ctx: wrong, config=_config(max_expansions=2)
    )
    assert outcome.status == "no_fix" and outcome.diff == "" and outcome.patched == {}
    assert "the SEARCH lines match nothing in stats.py" in outcome.reason
    assert f"the nearest is line 16: `for start in {BUG}:`" in outcome.reason
    feedback = backend.log.requests[-1].messages[-1].content  # type: ignore[index]
    assert "match nothing in stats.py" in feedback, "the refinement round shows the reason"
    assert outcome.best == "", "no candidate ran its tests"
    assert (project_dir / "stats.py").read_text() == before


async def test_one_reply_can_fix_two_files(tmp_path: Path, sandbox: LocalSandbox) -> None:
    (tmp_path / "helper.py").write_text("def rate(kind):\n    return 0.02 if kind == 'gold' else 0.1\n")
    (tmp_path / "main.py").write_text(
        "from helper import rate\n\n\ndef price(amount, kind):\n    return amount * (1 + rate(kind))\n"
    )
    (tmp_path / "test_price.py").write_text(
        "import pytest\n\nfrom main import price\n\n\n"
        "def test_gold():\n    assert price(100, 'gold') == pytest.approx(80)\n\n\n"
        "def test_plain():\n    assert price(100, 'plain') == pytest.approx(90)\n"
    )
    reply = (
        "Two bugs.\n"
        + _hunk(
            "    return 0.02 if kind == 'gold' else 0.1",
            "    return 0.2 if kind == 'gold' else 0.1",
            "helper.py",
        )
        + _hunk("    return amount * (1 + rate(kind))", "    return amount * (1 - rate(kind))", "main.py")
    )
    outcome, _ = await _repair(tmp_path, sandbox, lambda ctx: reply)
    assert outcome.status == "fixed", outcome.reason
    assert sorted(outcome.patched) == ["helper.py", "main.py"] and outcome.description.endswith(
        "2 hunks in helper.py, main.py"
    )
    assert outcome.diff.index("--- a/helper.py") < outcome.diff.index("--- a/main.py")
    assert (
        "+    return 0.2 if kind" in outcome.diff and "+    return amount * (1 - rate(kind))" in outcome.diff
    )


@pytest.mark.parametrize("strategy", ["greedy", "best_of_n", "beam", "dvts", "mcts", "self_consistency"])
async def test_every_strategy_can_drive_a_repair(
    project_dir: Path, sandbox: LocalSandbox, strategy: str
) -> None:
    config = SearchConfig(strategy=strategy, n=2, budget=Budget(max_expansions=4))  # type: ignore[arg-type]
    outcome, backend = await _repair(project_dir, sandbox, lambda ctx: HUNK_FIX, config=config)
    assert outcome.status == "fixed" and outcome.source == "model"
    assert outcome.result is not None and outcome.result.strategy == strategy
    assert backend.log.generate_calls >= 1


async def test_refinement_feeds_the_failing_test_back(project_dir: Path, sandbox: LocalSandbox) -> None:
    wrong = _hunk(f"    for start in {BUG}:", "    for start in range(len(values)):")
    seen: list[str] = []

    def policy(ctx: Context) -> str:
        text = "\n".join(m.content for m in ctx.messages)
        seen.append(text)
        return HUNK_FIX if "still fails" in text else wrong

    outcome, _ = await _repair(project_dir, sandbox, policy)
    assert outcome.status == "fixed"
    assert len(seen) == 2
    assert "still fails" not in seen[0]
    assert "test_moving_average" in seen[1].split("still fails", 1)[1]


async def test_mutation_operator_fixes_what_the_model_cannot(
    project_dir: Path, sandbox: LocalSandbox
) -> None:
    outcome, backend = await _repair(project_dir, sandbox, lambda ctx: "I am not sure.", mutants=24)
    assert outcome.status == "fixed"
    assert outcome.source == "mutation"
    assert "shift-bound at stats.py:16" in outcome.description
    changed = [line for line in outcome.diff.splitlines()[2:] if line[:1] in "+-"]
    assert changed == [f"-    for start in {BUG}:", f"+    for start in {FIX}:"]
    # Refinement grows the edit tree one child a round, every fourth child the model's; the
    # fix is the first, a mutant of the lines only the failing tests run (Ochiai 1.0), which the
    # tiers put before the lines a passing test runs too, so the model is never asked.
    assert backend.log.generate_calls == 0
    assert outcome.mutants == 1 and outcome.result is not None
    assert outcome.result.spend.expansions == 0  # operators' children cost no expansion
    # The failing tests assert on return values, so the suspects are the function they call.
    assert 16 in outcome.suspect_lines and 8 not in outcome.suspect_lines
    assert [f.split(": ")[0].split("::")[-1] for f in outcome.failures] == [
        "test_moving_average",
        "test_moving_average_of_whole_series",
    ]


async def test_cheating_patch_is_rejected_not_verified(project_dir: Path, sandbox: LocalSandbox) -> None:
    original = (project_dir / "stats.py").read_text()
    cheat = "import pytest\n\npytest.skip('fixed', allow_module_level=True)\n" + original
    config = _config(max_expansions=2)
    outcome, backend = await _repair(project_dir, sandbox, lambda ctx: _block(cheat), config=config)
    assert outcome.status == "no_fix"
    assert outcome.rejected and "pytest" in outcome.rejected[0]
    assert outcome.diff == ""
    # The refinement round told the model why it was rejected.
    feedback = backend.log.requests[-1].messages[-1].content  # type: ignore[index]
    assert "tests must run unchanged" in feedback


async def test_budget_exhausted_is_no_fix(project_dir: Path, sandbox: LocalSandbox) -> None:
    original = (project_dir / "stats.py").read_text()
    config = _config(max_expansions=1)
    outcome, backend = await _repair(project_dir, sandbox, lambda ctx: _block(original), config=config)
    assert outcome.status == "no_fix"
    assert backend.log.generate_calls == 1
    assert outcome.result is not None and outcome.result.stop_reason == "budget"


async def test_passing_project_has_nothing_to_fix(project_dir: Path, sandbox: LocalSandbox) -> None:
    stats = project_dir / "stats.py"
    stats.write_text(stats.read_text().replace(BUG, FIX))
    outcome, backend = await _repair(project_dir, sandbox, lambda ctx: "unused")
    assert outcome.status == "nothing_to_fix"
    assert backend.log.generate_calls == 0


@pytest.mark.parametrize(
    ("layout", "message"),
    [
        pytest.param({"m.py": "x = 1\n"}, "no tests found in", id="no-tests"),
        pytest.param({"test_m.py": "def test_x():\n    pass\n"}, "no source files found", id="no-sources"),
    ],
)
def test_bad_projects_are_one_line_errors(tmp_path: Path, layout: dict[str, str], message: str) -> None:
    for name, text in layout.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(RepairInputError, match=message):
        load_project(tmp_path)


def test_file_mode_and_skipped_folders(tmp_path: Path) -> None:
    (tmp_path / "lib.py").write_text("x = 1\n")
    (tmp_path / "check_lib.py").write_text("from lib import x\n\ndef test_x():\n    assert x == 1\n")
    project = load_project(file=tmp_path / "lib.py", tests=[tmp_path / "check_lib.py"])
    assert project.sources == {"lib.py": "x = 1\n"} and list(project.tests) == ["check_lib.py"]
    with pytest.raises(RepairInputError, match="--tests"):
        load_project(file=tmp_path / "lib.py")
    (tmp_path / ".venv").mkdir()
    (tmp_path / ".venv" / "junk.py").write_text("y = 2\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_lib.py").write_text("def test_y():\n    pass\n")
    folder = load_project(tmp_path)
    assert sorted(folder.sources) == ["check_lib.py", "lib.py"]
    assert list(folder.tests) == ["tests/test_lib.py"]


def _failed(name: str, message: str, stdout: str) -> TestReport:
    """One failed test with pytest's output: what traceback localisation reads."""
    return TestReport(
        tests=[TestOutcome(name=name, outcome="failed", message=message)],
        raw=ExecResult(exit_code=1, stdout=stdout, stderr="", duration_s=0.1),
    )


def test_a_library_frame_is_not_read_as_a_project_file_of_the_same_name() -> None:
    """pytest's own `_pytest/config/__init__.py:1540` once made a 2-line `inventory/__init__.py`
    the top suspect, at line 1540."""
    stdout = (
        "/usr/lib/python3/dist-packages/_pytest/config/__init__.py:1540: in getoption\n"
        "    val = getattr(self.option, name)\n/work/inventory/store.py:11: in remove\n"
    )
    report = _failed("tests.test_s::test_remove", "ValueError", stdout)
    sources = {"inventory/__init__.py": "X = 1\n", "inventory/store.py": "Y = 2\n"}
    assert traceback_lines(report, sources) == {"inventory/store.py": {11}}


def test_target_and_lines_come_from_the_traceback() -> None:
    project = Project(
        root=Path("."),
        sources={"pkg/a.py": "def f():\n    return 1\n", "pkg/b.py": "def g(x):\n    return 1 / x\n"},
        tests={"tests/test_b.py": "from pkg.b import g\n\ndef test_g():\n    assert g(0)\n"},
    )
    stdout = (
        "tests/test_b.py:4: in test_g\n    assert g(0)\npkg/b.py:2: in g\n    return 1 / x\n"
        "E   ZeroDivisionError: division by zero\n"
    )
    report = _failed("tests.test_b.test_g", "ZeroDivisionError", stdout)
    assert traceback_lines(report, project.sources) == {"pkg/b.py": {2}}
    target, lines = choose_target(project, report)
    assert target == "pkg/b.py" and 2 in lines
