"""The distribution installs one namespace (`ponder.*`) and nothing generic at the top level.

Builds a real wheel and installs it into a fresh virtual environment, because an editable
install maps folders differently and can hide a packaging mistake.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

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
    assert "ponder/py.typed" in names, "the PEP 561 marker must ship: type checkers then read the hints"


def test_wheel_imports_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    target = next((venv / "lib").glob("python3*/site-packages"))
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(target)
    # Dependencies come from this interpreter's site-packages, appended after the fresh venv's own,
    # so `ponder` itself can only resolve to the wheel's copy (no editable finder is loaded).
    deps = next(p for p in sys.path if p.endswith("site-packages"))
    (target / "zz_deps.pth").write_text(deps + "\n")
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
        [str(venv / "bin" / "python"), "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
