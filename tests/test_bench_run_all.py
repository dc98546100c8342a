"""benchmarks/run_all.py: every script runs, one failing or hanging script is reported, not fatal.

Stand-in scripts in a temporary folder play the benchmarks (the real ones need the model and
Docker and take minutes); the runner only sees processes, output lines and exit codes.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

RUN_ALL = Path(__file__).resolve().parents[1] / "benchmarks" / "run_all.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_all", RUN_ALL)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["run_all"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    folder = tmp_path / "benchmarks"
    folder.mkdir()
    (folder / "bench_alpha.py").write_text(
        "import sys\nprint('decode: 120.0 tokens/s (target >= 100)')\nprint('detail line')\n"
        "print('warm p50 0.3 s   target <= 0.15   MISSED')\n"
        "print('args:', sys.argv[1:])\n"
    )
    (folder / "bench_broken.py").write_text("print('starting')\nraise SystemExit(3)\n")
    (folder / "bench_hangs.py").write_text("import time\nprint('waiting', flush=True)\ntime.sleep(60)\n")
    (folder / "_helper.py").write_text("raise RuntimeError('not a benchmark')\n")
    return folder


def test_every_script_runs_and_failures_are_reported(
    scripts: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run_all = _load()
    assert [p.name for p in run_all.discover(scripts)] == [
        "bench_alpha.py",
        "bench_broken.py",
        "bench_hangs.py",
    ]
    code = run_all.main(["--folder", str(scripts), "--timeout", "3", "--args", "alpha=--fast --n 2"])
    out = capsys.readouterr().out
    assert code == 1
    summary = out[out.index("benchmark summary") :]
    assert "[ok] alpha" in summary and "decode: 120.0 tokens/s (target >= 100)" in summary
    assert "detail line" not in summary  # only figures with targets are repeated
    assert "[FAIL] broken failed (exit 3)" in summary and "| starting" in summary
    assert "[FAIL] hangs timed out after 3s" in summary
    assert "1/3 scripts completed; failed: broken, hangs; 1 figure(s) below target" in summary
    assert "args: ['--fast', '--n', '2']" in out


def test_only_and_skip_select_scripts(scripts: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run_all = _load()
    assert run_all.main(["--folder", str(scripts), "--only", "alpha"]) == 0
    assert "1/1 scripts completed; 1 figure(s) below target" in capsys.readouterr().out
    assert run_all.main(["--folder", str(scripts), "--skip", "alpha,broken,hangs"]) == 1


def test_the_real_folder_holds_the_performance_benchmarks() -> None:
    names = {p.stem for p in _load().discover()}
    assert {"bench_engine", "bench_sandbox", "bench_verifiers", "bench_graph", "bench_side_by_side"} <= names
