"""Sandbox pieces that need neither Docker nor a subprocess: paths, JUnit trust rules, recipes, owners."""

from __future__ import annotations

import faulthandler
import hashlib
import os
import socket
import tarfile
from io import BytesIO
from pathlib import Path

import pytest

from ponder.sandbox.attach import SealedReport, block, new_key
from ponder.sandbox.errors import SandboxConfigError
from ponder.sandbox.files import normalize_files, split_tests, tar_bytes
from ponder.sandbox.harness import SealKey
from ponder.sandbox.image import apt_mirror, hashed_tag, recipe_hash
from ponder.sandbox.junit import build_report, parse_junit
from ponder.sandbox.reaper import owner_alive, owner_id
from ponder.sandbox.types import ExecResult

XML_ONE_FAIL = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="0"
failures="1" skipped="0" tests="2"><testcase classname="test_m" name="test_ok" time="0.001" />
<testcase classname="test_m" name="test_add" time="0.001"><failure message="assert 0 == 4">def test_add():
&gt;   assert add(2, 2) == 4
E   assert 0 == 4</failure></testcase></testsuite></testsuites>"""
XML_ALL_PASS = (
    XML_ONE_FAIL[: XML_ONE_FAIL.index("<failure")] + XML_ONE_FAIL[XML_ONE_FAIL.index("</testcase>") :]
)
TEST_HASHES = {"test_m.py": hashlib.sha256(b"tests").hexdigest()}


def raw(exit_code: int, **kw: object) -> ExecResult:
    return ExecResult(exit_code=exit_code, stdout="", stderr="", duration_s=0.1, **kw)  # type: ignore[arg-type]


def harness(
    xml: str | None, hashes: dict[str, str | None] | None = None, config: list[str] | None = None
) -> dict:
    return {"junit": xml, "hashes": TEST_HASHES if hashes is None else hashes, "config_files": config or []}


@pytest.mark.parametrize(
    "path",
    [
        pytest.param("/etc/passwd", id="absolute"),
        pytest.param("../x.py", id="parent"),
        pytest.param("a/../../x.py", id="parent-after-normalizing"),
        pytest.param("", id="empty"),
        pytest.param("a\x00b", id="nul"),
    ],
)
def test_paths_escaping_the_work_dir_are_refused(path: str) -> None:
    with pytest.raises(SandboxConfigError, match="escapes the work dir"):
        normalize_files({path: "x"})


def test_files_are_normalized_and_encoded() -> None:
    assert normalize_files({"./pkg//m.py": "é", "b.bin": b"\x00"}) == {
        "pkg/m.py": "é".encode(),
        "b.bin": b"\x00",
    }


def test_conftest_among_sources_is_refused_because_it_could_rewrite_outcomes() -> None:
    with pytest.raises(SandboxConfigError, match=r"pass conftest\.py files in `tests`"):
        split_tests({"conftest.py": "", "m.py": ""}, {"test_m.py": ""})
    src, tst = split_tests({"m.py": ""}, {"conftest.py": "", "test_m.py": ""})
    assert set(src) == {"m.py"} and set(tst) == {"conftest.py", "test_m.py"}


def test_tests_tar_carries_read_only_files_in_sticky_dirs() -> None:
    data = tar_bytes({"tests/unit/test_a.py": b"x"}, file_mode=0o444, dir_mode=0o1777)
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        members = {m.name: m for m in tar}
    assert members["tests/unit/test_a.py"].mode == 0o444
    assert members["tests"].isdir() and members["tests"].mode == 0o1777
    assert members["tests/unit"].mode == 0o1777


def test_parse_junit_reads_outcomes_and_the_assertion_message() -> None:
    outcomes = parse_junit(XML_ONE_FAIL)
    assert [(t.name, t.outcome) for t in outcomes] == [
        ("test_m::test_ok", "passed"),
        ("test_m::test_add", "failed"),
    ]
    assert outcomes[1].message == "assert 0 == 4"


def test_parse_junit_refuses_entities() -> None:
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><testsuites>&a;</testsuites>'
    report = build_report(harness(bomb), raw(0), TEST_HASHES, None)
    assert report.tampered and not report.all_passed and "DTD" in report.reason


def test_consistent_passing_report_is_trusted() -> None:
    report = build_report(harness(XML_ALL_PASS), raw(0), TEST_HASHES, None)
    assert report.all_passed and report.passed == 2 and not report.reason


def test_failures_are_reported_with_the_first_failure_first() -> None:
    report = build_report(harness(XML_ONE_FAIL), raw(1), TEST_HASHES, None)
    assert not report.all_passed and not report.tampered
    assert report.first_failure() is not None and report.first_failure().name == "test_m::test_add"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("xml", "exit_code", "fragment"),
    [
        pytest.param(XML_ONE_FAIL, 0, "exited 0 but the report lists failures", id="exit0-with-failures"),
        pytest.param(XML_ALL_PASS, 1, "exited 1 but the report lists no failures", id="exit1-all-passed"),
        pytest.param("<testsuites><testsuite/></testsuites>", 0, "no tests", id="exit0-empty"),
        pytest.param("PASSED PASSED", 0, "not valid XML", id="garbage"),
    ],
)
def test_report_contradicting_the_exit_code_is_not_trusted(xml: str, exit_code: int, fragment: str) -> None:
    report = build_report(harness(xml), raw(exit_code), TEST_HASHES, None)
    assert report.tampered and not report.all_passed
    assert fragment in report.reason


def test_changed_test_hash_or_new_conftest_means_tampering() -> None:
    changed = build_report(harness(XML_ALL_PASS, hashes={"test_m.py": "0" * 64}), raw(0), TEST_HASHES, None)
    assert changed.tampered and not changed.all_passed and "test_m.py was modified" in changed.reason
    removed = build_report(harness(XML_ALL_PASS, hashes={"test_m.py": None}), raw(0), TEST_HASHES, None)
    assert removed.tampered
    injected = build_report(harness(XML_ALL_PASS, config=["sub/conftest.py"]), raw(0), TEST_HASHES, None)
    assert injected.tampered and "sub/conftest.py appeared" in injected.reason


def test_missing_report_is_a_failure_with_a_reason() -> None:
    report = build_report(harness(None), raw(0), TEST_HASHES, None)
    assert not report.all_passed and report.reason == "no test report (pytest exit code 0)"
    timed = build_report(harness(None), raw(137, timed_out=True), TEST_HASHES, None)
    assert timed.reason == "timed out before the tests finished"


def test_recipe_hash_is_stable_and_tags_differ_per_source() -> None:
    assert recipe_hash("debootstrap") == recipe_hash("debootstrap")
    assert len(recipe_hash("dockerfile")) == 12
    assert hashed_tag("ponder-sandbox:latest", "debootstrap").startswith("ponder-sandbox:deb-")
    assert hashed_tag("registry:5000/ponder", "dockerfile").startswith("registry:5000/ponder:df-")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        pytest.param(
            "sources.list.d/debian.sources",
            "Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm bookworm-updates\n\n"
            "Types: deb\nURIs: http://mirror.test/security\nSuites: bookworm-security\n",
            id="deb822",
        ),
        pytest.param(
            "sources.list", "deb [arch=amd64] http://mirror.test/debian bookworm main\n", id="one-line"
        ),
    ],
)
def test_apt_mirror_is_read_from_apt_sources(tmp_path: Path, name: str, text: str) -> None:
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / name).write_text(text)
    assert apt_mirror(tmp_path) == "http://mirror.test/debian"


def test_owner_is_alive_for_us_and_dead_for_a_reused_or_gone_pid() -> None:
    me = owner_id()
    assert owner_alive(me)
    host, pid, ticks = me.split(":")
    assert not owner_alive(f"{host}:{pid}:{int(ticks) + 1}"), "a reused pid must not count as the owner"
    assert not owner_alive(f"{socket.gethostname()}:{2**22 + 7}:1")
    assert owner_alive(f"another-host:{os.getpid()}:1"), "other machines' containers are not ours to sweep"


def _sealer(key: bytes) -> SealKey:
    read, write = os.pipe()
    os.write(write, block(key))
    os.close(write)
    try:
        return SealKey(read)
    finally:
        os.close(read)


def test_only_the_frame_sealed_with_the_runs_key_is_accepted() -> None:
    key = new_key()
    honest = _sealer(key).seal(b'{"exit_code": 1}')
    forged = _sealer(new_key()).seal(b'{"exit_code": 0}')
    scanner = SealedReport(key, cap=1 << 20)
    # Forgeries first, then the real report split across chunks, as a hostile stream would arrive.
    assert not scanner.feed(b"junk" + forged + b"\x00" * 5)
    assert not scanner.feed(honest[:7])
    assert scanner.feed(honest[7:]) and scanner.found == b'{"exit_code": 1}'


def test_a_report_pushed_past_the_cap_is_lost_not_forged() -> None:
    key = new_key()
    scanner = SealedReport(key, cap=64)
    assert not scanner.feed(b"x" * 60 + _sealer(key).seal(b"{}"))
    assert scanner.found is None


def test_a_forked_child_does_not_inherit_the_report_key() -> None:
    sealer = _sealer(new_key())
    pid = os.fork()
    if pid == 0:  # the child touches the key's mapping, which MADV_DONTFORK left out of its memory
        faulthandler.disable()  # the crash is the expected outcome: no traceback in the test log
        try:
            sealer.seal(b"{}")
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == 11, "the key was readable in the child"
    assert sealer.seal(b"{}").startswith(b"PONDER1")


def test_a_skip_passes_only_where_the_baseline_skipped_that_test_for_that_reason() -> None:
    from ponder.sandbox.types import TestOutcome, TestReport

    def report(*outcomes: tuple[str, str, str]) -> TestReport:
        tests = [TestOutcome(name=n, outcome=o, message=m) for n, o, m in outcomes]  # type: ignore[arg-type]
        return TestReport(tests=tests, raw=ExecResult(exit_code=0, stdout="", stderr="", duration_s=0.1))

    baseline_skips = {"t::win": "windows only"}
    kept = report(("t::a", "passed", ""), ("t::win", "skipped", "windows only"))
    assert kept.passes_except(baseline_skips) and not kept.all_passed
    assert kept.skips() == baseline_skips
    new_skip = report(("t::a", "skipped", "windows only"), ("t::win", "skipped", "windows only"))
    assert not new_skip.passes_except(baseline_skips)  # t::a ran before; nothing passed now either
    other_reason = report(("t::a", "passed", ""), ("t::win", "skipped", "skipped by the fix"))
    assert not other_reason.passes_except(baseline_skips)
    assert report(("t::a", "passed", "")).passes_except({}) and report(("t::a", "passed", "")).all_passed
