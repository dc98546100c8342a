"""The distribution installs one namespace (`ponder.*`) and nothing generic at the top level.

Builds a real wheel and installs it into a fresh virtual environment, because an editable
install maps folders differently and can hide a packaging mistake.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests._repair import BUG, EXAMPLE, FIX, copy_example
from tests._scripted_openai import openai_env, scripted_model

ROOT = Path(__file__).resolve().parents[1]
SUBPACKAGES = ("plugin", "graph", "verifiers", "sandbox", "backends")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        timeout=300,
    )
    (path,) = out.glob("ponder-*.whl")
    return path


def test_wheel_has_only_the_ponder_namespace(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert top == {"ponder"}, f"unexpected top-level entries in the wheel: {sorted(top)}"
    for sub in SUBPACKAGES:
        assert f"ponder/{sub}/__init__.py" in names
    assert "ponder/graph/viewer.html" in names, "the tree viewer template must ship as package data"
    assert "ponder/verifiers/weights/learned_prm.json" in names, "the learned PRM ships its weights"
    assert "ponder/py.typed" in names, "the PEP 561 marker must ship: type checkers then read the hints"


@pytest.fixture(scope="module")
def wheel_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The interpreter of a fresh venv holding only the wheel's files (no editable finder)."""
    venv = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    target = next((venv / "lib").glob("python3*/site-packages"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    # Dependencies come from this interpreter's site-packages, appended after the fresh venv's own,
    # so `ponder` itself can only resolve to the wheel's copy (no editable finder is loaded).
    deps = next(p for p in sys.path if p.endswith("site-packages"))
    (target / "zz_deps.pth").write_text(deps + "\n")
    return venv / "bin" / "python"


def test_wheel_imports_in_a_fresh_venv(wheel_python: Path, tmp_path: Path) -> None:
    code = (
        "import importlib, importlib.util, ponder, sys\n"
        f"for sub in {SUBPACKAGES!r}: importlib.import_module('ponder.' + sub)\n"
        "assert ponder.__file__.startswith(sys.prefix), ponder.__file__\n"
        "for generic in ('graph', 'sandbox', 'verifiers', 'plugin', 'backends'):\n"
        "    spec = importlib.util.find_spec(generic)\n"
        "    assert spec is None or 'site-packages' not in (spec.origin or ''), generic\n"
        "print('ok')\n"
    )
    out = subprocess.run(
        [str(wheel_python), "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


@pytest.mark.docker
def test_wheel_runs_ponder_repair(wheel_python: Path, tmp_path: Path) -> None:
    """The installed wheel, not the checkout, repairs the example project end to end: the sandbox
    harness, the integrity module and the Dockerfile are package data that only a real run reads."""
    project = copy_example(tmp_path)
    fixed = (EXAMPLE / "stats.py").read_text().replace(BUG, FIX)
    reply = f"Here is the corrected file.\n```python\n{fixed}```\n"
    with scripted_model(reply) as (url, calls):
        env = {
            **os.environ,
            **openai_env(url),
            "PONDER_SANDBOX_KIND": "docker",
            "PONDER_SANDBOX_POOL_SIZE": "1",
        }
        code = "import sys; from ponder.plugin.cli import main; sys.argv[0] = 'ponder'; main()"
        args = ["repair", str(project), "--mutants", "0", "--strategy", "greedy", "--max-expansions", "2"]
        out = subprocess.run(
            [str(wheel_python), "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=300,
            cwd=tmp_path,
            env=env,
        )
    assert calls, "the scripted model was asked"
    assert out.returncode == 0, out.stdout + out.stderr
    assert "verified fix for stats.py" in out.stdout, out.stdout
