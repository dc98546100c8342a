"""Diffs, the cheat guard and the atomic apply: the parts of repair that touch (or refuse) files."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from ponder.plugin.repair.patching import (
    PatchError,
    apply_patch,
    apply_patches,
    check_patch,
    is_test_path,
    unified_diff,
)

ORIGINAL = "import os\n\n\ndef area(w, h):\n    return w + h\n\n\ndef clean(p):\n    os.remove(p)\n"
FIXED = ORIGINAL.replace("w + h", "w * h")


def test_unified_diff_applies_with_patch(tmp_path: Path) -> None:
    (tmp_path / "geo.py").write_text(ORIGINAL)
    diff = unified_diff(ORIGINAL, FIXED, "geo.py")
    assert diff.startswith("--- a/geo.py\n+++ b/geo.py\n")
    assert "-    return w + h\n+    return w * h\n" in diff
    subprocess.run(["patch", "-p1", "-s"], input=diff, text=True, cwd=tmp_path, check=True)
    assert (tmp_path / "geo.py").read_text() == FIXED


def test_unified_diff_marks_missing_final_newline() -> None:
    diff = unified_diff("x = 1\n", "x = 2", "m.py")
    assert diff.endswith("+x = 2\n\\ No newline at end of file\n")
    assert unified_diff("same\n", "same\n", "m.py") == ""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("test_geo.py", True),
        ("geo_test.py", True),
        ("conftest.py", True),
        ("tests/helpers.py", True),
        ("pkg/test/data.py", True),
        ("geo.py", False),
        ("pkg/testing_utils.py", False),
        ("contest.py", False),
    ],
)
def test_is_test_path(path: str, expected: bool) -> None:
    assert is_test_path(path) is expected


@pytest.mark.parametrize(
    ("candidate", "reason"),
    [
        pytest.param(
            FIXED.replace("import os", "import os\nimport pytest\npytest.skip('x', allow_module_level=True)"),
            "pytest",
            id="pytest-skip",
        ),
        pytest.param(FIXED.replace("def area", "@unittest.skip('no')\ndef area"), "skip", id="skip-marker"),
        pytest.param(FIXED.replace("def area", "@mark.xfail\ndef area"), "xfail", id="xfail-marker"),
        pytest.param(
            FIXED.replace("import os", "import os\nimport sys\nsys.exit(0)"), "sys.exit", id="sys-exit"
        ),
        pytest.param(FIXED.replace("import os", "import os\nos._exit(0)"), "os._exit", id="os-exit"),
        pytest.param(FIXED + "\nraise SystemExit(0)\n", "SystemExit", id="system-exit"),
        pytest.param(FIXED + "\nexit()\n", "exit", id="builtin-exit"),
        pytest.param(
            FIXED + "\ndef pytest_collection_modifyitems(items):\n    items.clear()\n",
            "pytest hook",
            id="pytest-hook",
        ),
        pytest.param(FIXED + "\nopen('test_geo.py', 'w').write('')\n", "test_geo.py", id="rewrite-test-file"),
        pytest.param(FIXED + "\nos.unlink('conftest.py')\n", "unlink", id="delete-conftest"),
        pytest.param(FIXED + "\nimport sys\nsys.modules['pytest'] = None\n", "sys.modules", id="sys-modules"),
        pytest.param(
            FIXED + "\nimport builtins\nbuiltins.AssertionError = Exception\n", "builtins", id="builtins"
        ),
        pytest.param(FIXED + "\ncollect_ignore = ['test_geo.py']\n", "collect_ignore", id="collect-ignore"),
    ],
)
def test_cheats_are_rejected_with_a_reason(candidate: str, reason: str) -> None:
    verdict = check_patch("geo.py", ORIGINAL, candidate, test_paths={"test_geo.py"})
    assert not verdict.ok
    assert reason in verdict.reason


def test_honest_fix_and_constructs_already_present_pass() -> None:
    # `os.remove` was in the original: keeping it is not a cheat, adding a second one would be.
    assert check_patch("geo.py", ORIGINAL, FIXED, test_paths={"test_geo.py"}).ok
    assert not check_patch("geo.py", ORIGINAL, FIXED + "\nos.remove('x')\n").ok
    # Ordinary methods that share a name with a suspect function are fine.
    assert check_patch("geo.py", ORIGINAL, FIXED + "\nL = [1]\nL.remove(1)\ns = 'a'.replace('a', 'b')\n").ok


def test_editing_or_emptying_files_is_rejected() -> None:
    assert "test file" in check_patch("test_geo.py", "x = 1\n", "x = 2\n").reason
    assert "test file" in check_patch("lib/x.py", "a\n", "b\n", test_paths={"lib/x.py"}).reason
    assert "deletes" in check_patch("geo.py", ORIGINAL, "  \n").reason
    # A broken candidate is not a cheat: the verifier reports its syntax error as feedback.
    assert check_patch("geo.py", ORIGINAL, "def area(:\n").ok


def test_apply_is_atomic_keeps_backup_and_mode(tmp_path: Path) -> None:
    target = tmp_path / "geo.py"
    target.write_text(ORIGINAL)
    target.chmod(0o750)
    backup = apply_patch(target, FIXED, expected_text=ORIGINAL)
    assert target.read_text() == FIXED
    assert backup == tmp_path / "geo.py.orig"
    assert backup.read_text() == ORIGINAL
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert sorted(p.name for p in tmp_path.iterdir()) == ["geo.py", "geo.py.orig"]  # no temp file left

    second = apply_patch(target, ORIGINAL)
    assert second == tmp_path / "geo.py.orig.1"
    assert second.read_text() == FIXED


def test_apply_refuses_a_file_changed_since_it_was_read(tmp_path: Path) -> None:
    target = tmp_path / "geo.py"
    target.write_text(ORIGINAL + "# edited meanwhile\n")
    with pytest.raises(PatchError, match="changed while ponder was searching"):
        apply_patch(target, FIXED, expected_text=ORIGINAL)
    assert target.read_text() == ORIGINAL + "# edited meanwhile\n"
    assert not (tmp_path / "geo.py.orig").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_apply_to_a_read_only_folder_is_a_one_line_error(tmp_path: Path) -> None:
    target = tmp_path / "geo.py"
    target.write_text(ORIGINAL)
    tmp_path.chmod(0o500)
    try:
        with pytest.raises(PatchError, match="cannot write"):
            apply_patch(target, FIXED)
    finally:
        tmp_path.chmod(0o700)
    assert target.read_text() == ORIGINAL


def test_apply_to_a_missing_file_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(PatchError, match=r"cannot read .*geo\.py"):
        apply_patch(tmp_path / "geo.py", FIXED)
    assert list(tmp_path.iterdir()) == []


def test_a_fix_of_two_files_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "geo.py").write_text(ORIGINAL)
    (tmp_path / "pkg" / "util.py").write_text("X = 1\n")
    originals = {"geo.py": ORIGINAL, "pkg/util.py": "X = 1\n"}
    patched = {"geo.py": FIXED, "pkg/util.py": "X = 2\n"}

    (tmp_path / "pkg" / "util.py").write_text("X = 3\n")  # edited meanwhile: nothing is written
    with pytest.raises(PatchError, match=r"util\.py changed while ponder was searching"):
        apply_patches(tmp_path, patched, originals)
    assert (tmp_path / "geo.py").read_text() == ORIGINAL and not (tmp_path / "geo.py.orig").exists()

    (tmp_path / "pkg" / "util.py").write_text("X = 1\n")
    backups = apply_patches(tmp_path, patched, originals)
    assert backups == [tmp_path / "geo.py.orig", tmp_path / "pkg" / "util.py.orig"]
    assert (tmp_path / "geo.py").read_text() == FIXED and (
        tmp_path / "pkg" / "util.py"
    ).read_text() == "X = 2\n"
