"""The integrity layers' logic, one rule at a time, on constructed inputs (no Docker, no model).

`tests/test_reward_hacks.py` shows that the layers together stop real attacks; these tests pin
what each piece decides, so that a change which weakens one rule fails here, next to the rule,
instead of as an attack that slips through somewhere else. Everything runs on the host: the
integrity module is standard library only, and the host already uses it for the canary plan.
The one exception runs the real harness through `LocalSandbox` (a subprocess), because the rule it
pins lives inside `install()`, which must never run in this process (its audit hook stays).
"""

from __future__ import annotations

import ast
import builtins
import decimal
import fractions
import functools
import importlib.util
import os
import pathlib
import sys
import types
import uuid
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _pytest.assertion.util
import _pytest.python
import _pytest.reports
import pytest

from ponder.sandbox import LocalSandbox
from ponder.sandbox._integrity import (
    CANARY_WORDS,
    PLAIN_NAME,
    SUSPECT_DUNDERS,
    Canary,
    Channel,
    Guard,
    PlainCompare,
    Snapshot,
    canary_plan,
    junit_key,
    plain_problem,
)
from ponder.sandbox._integrity import (
    test_names as suite_test_names,
)
from ponder.sandbox.integrity import TestChecks, allowed_dunders, describe, verify
from ponder.sandbox.junit import build_report
from ponder.sandbox.types import ExecResult, TestOutcome, TestReport

SUITE = {
    "test_m.py": (
        "from m import add\n\n\n"
        "def test_add():\n    assert add(2, 2) == 4\n\n\n"
        "def test_zero():\n    assert add(0, 0) == 0\n\n\n"
        "class TestSigns:\n    def test_negative(self):\n        assert add(-1, 1) == 0\n"
    ),
    "tests/test_more.py": "def test_twice_large():\n    pass\n\n\ndef helper():\n    pass\n",
    "conftest.py": "import pytest\n",
    "data.txt": "def test_not_python(): pass\n",
}
SEED = bytes(range(32))


def seeds(n: int) -> list[bytes]:
    return [bytes([i]) * 32 for i in range(n)]


# -- canary_plan ---------------------------------------------------------------------------------


def test_canary_plan_is_deterministic_for_a_seed() -> None:
    assert canary_plan(SEED, SUITE) == canary_plan(SEED, dict(reversed(SUITE.items())))


def test_canary_plan_varies_names_and_placement_with_the_seed() -> None:
    plans = [canary_plan(seed, SUITE) for seed in seeds(40)]
    assert len({tuple(c.name for c in plan) for plan in plans}) > 10
    assert {c.path for plan in plans for c in plan} == {"test_m.py", "tests/test_more.py"}


@pytest.mark.parametrize("seed", seeds(25), ids=lambda s: f"seed{s[0]}")
def test_canaries_are_one_must_pass_one_must_fail_named_like_the_suite(seed: bytes) -> None:
    plan = canary_plan(seed, SUITE)
    assert [c.must_fail for c in plan] == [False, True]
    existing = {n for src in SUITE.values() for n in suite_test_names(src)}
    for canary in plan:
        prefix, stem, word = canary.name.split("_")
        own_words = {w for n in suite_test_names(SUITE[canary.path]) for w in n.split("_")[1:]}
        assert (prefix, stem in own_words, word in CANARY_WORDS) == ("test", True, True), canary
        assert canary.name not in existing
    assert plan[0].name != plan[1].name


@pytest.mark.parametrize("seed", seeds(10), ids=lambda s: f"seed{s[0]}")
def test_canary_names_never_collide_even_when_every_word_is_taken(seed: bytes) -> None:
    """A suite that already uses every stem+word pair forces the hex fallback, never a duplicate."""
    names = ["test_add"] + [f"test_add_{w}" for w in CANARY_WORDS]
    stems = {"add", *CANARY_WORDS}
    names += [f"test_{s}_{w}" for s in stems for w in CANARY_WORDS]
    suite = {"test_m.py": "".join(f"def {n}():\n    pass\n" for n in names)}
    plan = canary_plan(seed, suite)
    assert len(plan) == 2 and plan[0].name != plan[1].name
    assert not {c.name for c in plan} & set(names)


@pytest.mark.parametrize(
    "tests",
    [
        {},
        {"test_m.py": "def helper():\n    pass\n"},
        {"test_m.py": "def test_broken(:\n"},
        {"notes.txt": "def test_a():\n    pass\n"},
        {"test_m.py": "class Helper:\n    def test_a(self):\n        pass\n"},
    ],
    ids=["nothing", "no-test-function", "syntax-error", "not-python", "non-Test-class"],
)
def test_no_test_functions_means_no_canaries(tests: dict[str, str]) -> None:
    assert canary_plan(SEED, tests) == []


def test_the_host_plan_is_what_the_test_process_computes_from_the_seed() -> None:
    encoded = {p: s.encode() for p, s in SUITE.items()}
    checks = TestChecks.new(encoded)
    assert checks.canaries == tuple(canary_plan(checks.seed, SUITE))
    assert len(checks.canaries) == 2
    assert checks.spec() == {"canary_seed": checks.seed.hex(), "allowed": []}
    assert TestChecks.new(encoded).seed != checks.seed, "a fresh seed per run"


@pytest.mark.parametrize(
    ("canary", "key"),
    [
        (Canary("test_m.py", "test_add_zero", False), "test_m::test_add_zero"),
        (Canary("tests/sub/test_m.py", "test_x_y", True), "tests.sub.test_m::test_x_y"),
    ],
)
def test_canary_key_is_the_junit_name(canary: Canary, key: str) -> None:
    assert canary.key == key == junit_key(f"{canary.path}::{canary.name}")


def test_junit_key_of_a_method_names_its_class() -> None:
    assert junit_key("tests/test_m.py::TestSigns::test_negative") == "tests.test_m.TestSigns::test_negative"


# -- allowed_dunders -----------------------------------------------------------------------------

ORIGINAL = """
import dataclasses

class Money:
    def __eq__(self, other):
        return True

    def __repr__(self):
        return "Money"

    __hash__ = None
    __lt__: object = lambda self, other: False

    class Cents:
        __eq__ = object.__eq__

        async def __len__(self):
            return 0

@dataclasses.dataclass(order=True)
class Point:
    x: int

def __eq__(a, b):
    return True
"""


def test_allowed_dunders_lists_methods_defined_in_class_bodies() -> None:
    allowed = allowed_dunders({"pkg/m.py": ORIGINAL})
    own = {a for a in allowed if not a.startswith("pkg/m.py:Point.")}
    assert own == {
        "pkg/m.py:Money.__eq__",
        "pkg/m.py:Money.__hash__",
        "pkg/m.py:Money.__lt__",
        "pkg/m.py:Money.Cents.__eq__",
        "pkg/m.py:Money.Cents.__len__",
    }


def test_a_decorated_class_may_have_every_suspect_dunder() -> None:
    allowed = allowed_dunders({"m.py": ORIGINAL.encode()})
    assert {a for a in allowed if a.startswith("m.py:Point.")} == {f"m.py:Point.{d}" for d in SUSPECT_DUNDERS}


@pytest.mark.parametrize(
    "sources",
    [
        {"m.py": "class A:\n    def __repr__(self):\n        return ''\n\n    __init__ = None\n"},
        {"m.py": "class A(:\n    def __eq__(self, o):\n        return True\n"},
        {"m.txt": "class A:\n    def __eq__(self, o):\n        return True\n"},
        {"m.py": "def f():\n    class A:\n        def __eq__(self, o):\n            return True\n"},
    ],
    ids=["non-suspect-dunders", "syntax-error", "not-python", "class-inside-a-function"],
)
def test_allowed_dunders_lists_nothing_for(sources: dict[str, str]) -> None:
    assert allowed_dunders(sources) == frozenset()


# -- verify --------------------------------------------------------------------------------------

SUITE_KEYS = ("test_m::test_add", "test_m::test_zero", "test_m.TestSigns::test_negative")
CHECKS = TestChecks(seed=SEED, canaries=tuple(canary_plan(SEED, {"test_m.py": SUITE["test_m.py"]})))
PASS_CANARY, FAIL_CANARY = CHECKS.canaries


def records(
    failed: tuple[str, ...] = (), *, placed: bool = True, calls: bool = True, end: int = 1
) -> list[dict[str, Any]]:
    """What an honest test process writes for SUITE_KEYS (plus CHECKS' canaries), in its order."""
    out: list[dict[str, Any]] = [{"t": "item", "key": k, "kind": "function"} for k in SUITE_KEYS]
    out += [{"t": "canary", "key": c.key, "placed": placed} for c in CHECKS.canaries]
    keys = [*SUITE_KEYS, *(c.key for c in CHECKS.canaries)] if placed else list(SUITE_KEYS)
    for key in keys if calls else ():
        raised = key in failed or key == FAIL_CANARY.key
        out.append({"t": "call", "key": key, "result": "raised" if raised else "returned"})
    out += [{"t": "end", "exitstatus": 1 if failed else 0}] * end
    return out


def text(lines: list[dict[str, Any]]) -> str:
    """`lines` as the test process's own `Channel` puts them on the wire (read back from a pipe)."""
    read, write = os.pipe()  # records here are far below a pipe's buffer: no reader thread needed
    channel = Channel(write)
    for line in lines:
        channel.send(line)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        return fh.read().decode()


def report(failed: tuple[str, ...] = (), *, canaries: bool = True, **outcomes: str) -> TestReport:
    """The JUnit side: SUITE_KEYS passed unless `failed`, the canaries with their right outcomes.

    `outcomes` overrides by name (``PASS_CANARY="failed"``; ``FAIL_CANARY="missing"`` drops it).
    """
    names = {"PASS_CANARY": PASS_CANARY.key, "FAIL_CANARY": FAIL_CANARY.key}
    want = {k: "failed" if k in failed else "passed" for k in SUITE_KEYS}
    if canaries:
        want |= {PASS_CANARY.key: "passed", FAIL_CANARY.key: "failed"}
    want |= {names[k]: v for k, v in outcomes.items()}
    tests = [TestOutcome(name=k, outcome=v) for k, v in want.items() if v != "missing"]  # type: ignore[arg-type]
    raw = ExecResult(exit_code=1 if failed else 0, stdout="", stderr="", duration_s=0.1)
    return TestReport(tests=tests, raw=raw)


def test_a_consistent_record_passes_strips_the_canaries_and_fills_the_evidence() -> None:
    rep = report()
    verify(rep, text(records()), CHECKS)
    assert (rep.tampered, rep.reason) == (False, "")
    assert [t.name for t in rep.tests] == list(SUITE_KEYS)
    assert rep.all_passed
    assert rep.integrity["canaries_planned"] == rep.integrity["canaries_found"] == 2
    assert rep.integrity["calls_recorded"] == 5
    assert rep.integrity["violations"] == []
    assert describe(rep.integrity).startswith("2/2 hidden tests found; 5 test calls recorded independently")


def test_an_honest_failing_run_is_not_tampering() -> None:
    rep = report(failed=("test_m::test_zero",))
    verify(rep, text(records(failed=("test_m::test_zero",))), CHECKS)
    assert (rep.tampered, rep.reason, rep.failed) == (False, "", 1)


def test_a_passed_item_that_is_not_a_function_needs_no_call_record() -> None:
    """Doctests and other non-Function items are not called through pytest_pyfunc_call."""
    lines = [*records(), {"t": "item", "key": "m::m.add", "kind": "other"}]
    rep = report()
    rep.tests.append(TestOutcome(name="m::m.add", outcome="passed"))
    verify(rep, text(lines), CHECKS)
    assert not rep.tampered, rep.reason


def _replace_call(lines: list[dict[str, Any]], key: str, result: str | None) -> list[dict[str, Any]]:
    """`lines` with the call record of `key` given `result`, or dropped (None)."""
    out = [line for line in lines if not (line["t"] == "call" and line["key"] == key)]
    return out if result is None else [*out, {"t": "call", "key": key, "result": result}]


def _all_passed_with(lines: list[dict[str, Any]]) -> tuple[TestReport, str]:
    """A JUnit report in which the suite and the canaries came out right, beside `lines`."""
    return report(), text(lines)


TAMPERED: dict[str, tuple[Callable[[], tuple[TestReport, str | None]], str]] = {
    "no-record": (lambda: (report(), None), "no integrity record came back"),
    "malformed-line": (lambda: (report(), text(records()) + "{'t': 'end'\n"), "(malformed line)"),
    "json-not-literal": (
        lambda: (report(), text(records()) + '{"t": "x", "ok": true}\n'),
        "(malformed line)",
    ),
    "an-expression": (lambda: (report(), text(records()) + "__import__('os')\n"), "(malformed line)"),
    "not-an-object": (lambda: (report(), text(records()) + "[1, 2]\n"), "not what the test process writes"),
    "violation": (
        lambda: (
            report(),
            text([*records(), {"t": "violation", "what": "code under test used gc.get_objects"}]),
        ),
        "tampering: code under test used gc.get_objects",
    ),
    "no-end": (lambda: (report(), text(records(end=0))), "pytest did not finish normally"),
    "two-ends": (lambda: (report(), text(records(end=2))), "has more than one end"),
    "extra-call": (
        lambda: _all_passed_with([*records(), {"t": "call", "key": SUITE_KEYS[0], "result": "returned"}]),
        f"more call records than tests for {SUITE_KEYS[0]}",
    ),
    "call-for-an-unknown-key": (
        lambda: _all_passed_with(
            [*records(), {"t": "call", "key": "test_m::test_ghost", "result": "returned"}]
        ),
        "more call records than tests for test_m::test_ghost",
    ),
    "must-fail-canary-passed": (
        lambda: (report(FAIL_CANARY="passed"), text(records())),
        f"hidden test {FAIL_CANARY.name} (must fail) was reported passed",
    ),
    "must-pass-canary-failed": (
        lambda: (report(PASS_CANARY="failed"), text(records())),
        f"hidden test {PASS_CANARY.name} (must pass) was reported failed",
    ),
    "canary-missing-from-junit": (
        lambda: (report(FAIL_CANARY="missing"), text(records())),
        f"hidden test {FAIL_CANARY.name} (must fail) is missing from the report",
    ),
    "canary-call-not-as-planted": (
        lambda: _all_passed_with(_replace_call(records(), FAIL_CANARY.key, "returned")),
        f"hidden test {FAIL_CANARY.name} (must fail) did not run as planted",
    ),
    "passed-but-raised": (
        lambda: _all_passed_with(_replace_call(records(), SUITE_KEYS[1], "raised")),
        f"{SUITE_KEYS[1]} is reported passed, but its call raised",
    ),
    "passed-but-never-called": (
        lambda: _all_passed_with(_replace_call(records(), SUITE_KEYS[2], None)),
        f"{SUITE_KEYS[2]} is reported passed, but it was never called",
    ),
    "canaries-not-placed-all-passed": (
        lambda: (report(canaries=False), text(records(placed=False))),
        "the canary tests were not planted, yet every test passed",
    ),
    "no-canary-records-all-passed": (
        lambda: (report(canaries=False), text([r for r in records(placed=False) if r["t"] != "canary"])),
        "the canary tests were not planted, yet every test passed",
    ),
}


@pytest.mark.parametrize("case", TAMPERED, ids=list(TAMPERED))
def test_each_inconsistency_is_tampering_with_its_reason(case: str) -> None:
    make, reason = TAMPERED[case]
    rep, record = make()
    verify(rep, record, CHECKS)
    assert rep.tampered and not rep.all_passed
    assert rep.reason.startswith("tampering: ") and reason in rep.reason, rep.reason
    assert not {c.key for c in CHECKS.canaries} & {t.name for t in rep.tests}, "canaries stripped anyway"


def test_canaries_not_placed_in_a_run_that_failed_anyway_add_nothing() -> None:
    """A test module that does not collect cannot hold a canary; that run has failed already."""
    rep = report(failed=("test_m::test_add",), canaries=False)
    verify(rep, text(records(failed=("test_m::test_add",), placed=False)), CHECKS)
    assert (rep.tampered, rep.reason) == (False, "")


def test_an_earlier_tampering_reason_is_kept() -> None:
    rep = report()
    rep.tampered, rep.reason = True, "tampering: test file test_m.py was modified or removed during the run"
    verify(rep, None, CHECKS)
    assert rep.tampered
    assert rep.reason == "tampering: test file test_m.py was modified or removed during the run"


def test_a_harness_killed_before_reporting_says_so_and_is_not_called_tampering() -> None:
    """A run the host deadline killed leaves no report: it must not pass, and its reason must be the
    deadline (what to raise), not a tampering claim about test files nobody had hashed."""
    raw = ExecResult(exit_code=137, stdout="", stderr="killed", duration_s=10.0, timed_out=True)
    rep = build_report({}, raw, {"test_m.py": "ab" * 32}, CHECKS)
    assert not rep.all_passed and not rep.tests
    assert (rep.tampered, rep.reason) == (False, "timed out before the tests finished")
    # A report without the hashes is still refused as tampering: only no report at all is exempt.
    rep = build_report({"junit": "<testsuites/>"}, raw, {"test_m.py": "ab" * 32}, CHECKS)
    assert rep.tampered and "test_m.py was modified or removed" in rep.reason


def test_violations_are_listed_in_the_evidence_and_described() -> None:
    what = [f"code under test opened /proc/self/fd/{fd} (m.py:3)" for fd in range(3, 15)]
    rep = report()
    verify(rep, text([*records(), *({"t": "violation", "what": w} for w in what)]), CHECKS)
    assert rep.integrity["violations"] == what[:10]
    assert describe(rep.integrity).endswith(f"10 violation(s): {what[0]}")


# -- describe ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("summary", "line"),
    [
        ({}, "0 violation(s)"),
        (
            {
                "guard": "passed",
                "canaries_planned": 2,
                "canaries_found": 1,
                "calls_recorded": 5,
                "audit_hook": True,
                "comparison": "plain data",
                "violations": ["sys.settrace was called", "second"],
            },
            "patch guard passed; 1/2 hidden tests found; 5 test calls recorded independently; "
            "audit hook on; plain-data comparison; 2 violation(s): sys.settrace was called",
        ),
        ({"canaries_planned": 0, "calls_recorded": 0}, "0 test calls recorded independently; 0 violation(s)"),
    ],
    ids=["empty", "everything", "no-canaries"],
)
def test_describe_is_one_line(summary: dict[str, Any], line: str) -> None:
    assert describe(summary) == line
    assert "\n" not in line


# -- plain_problem and PlainCompare --------------------------------------------------------------

UNDER_TEST = """
import dataclasses


class AlwaysEqual:
    def __eq__(self, other):
        return True


class Sneaky(int):
    def __eq__(self, other):
        return True

    __hash__ = int.__hash__


@dataclasses.dataclass
class Box:
    value: object


class Honest:
    def __init__(self, value):
        self.value = value


class NoHash:
    __hash__ = None


class Child(AlwaysEqual):
    pass


Lambda = type("Lambda", (), {"__eq__": lambda self, other: True})
"""


@pytest.fixture
def guard(tmp_path: Path) -> Iterator[Guard]:
    with open(os.devnull, "wb") as sink:
        yield Guard(cwd=str(tmp_path), test_paths=["test_m.py"], channel=Channel(sink.fileno()))


@pytest.fixture
def m(tmp_path: Path) -> Iterator[types.ModuleType]:
    """UNDER_TEST imported from a real file under tmp_path (the work dir), as the sandbox would."""
    path = tmp_path / "m.py"
    path.write_text(UNDER_TEST)
    name = f"m_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[name]


@pytest.mark.parametrize(
    "value",
    [
        4,
        -1.5,
        "four",
        b"4",
        True,
        None,
        1j,
        [1, (2, {3}), {"a": frozenset({4})}],
        fractions.Fraction(1, 2),
        decimal.Decimal("0.1"),
        OrderedDict(a=1),
        Counter("aab"),
        pathlib.PurePosixPath("/x"),
        pytest.approx(0.3),
    ],
    ids=repr,
)
def test_plain_data_and_library_objects_pass(value: object, guard: Guard) -> None:
    assert plain_problem(value, guard, frozenset()) is None


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (lambda m: m.AlwaysEqual(), "AlwaysEqual.__eq__ (m.py)"),
        (lambda m: m.Sneaky(0), "Sneaky.__eq__ (m.py)"),
        (lambda m: m.Child(), "AlwaysEqual.__eq__ (m.py)"),
        (lambda m: m.Lambda(), "Lambda.__eq__ (m.py)"),
        (lambda m: m.Box(m.AlwaysEqual()), "AlwaysEqual.__eq__ (m.py)"),
        (lambda m: m.Honest(m.Honest(m.Sneaky(1))), "Sneaky.__eq__ (m.py)"),
        (lambda m: [1, {"k": (m.AlwaysEqual(),)}], "AlwaysEqual.__eq__ (m.py)"),
        (lambda m: {m.Sneaky(1): 1}, "Sneaky.__eq__ (m.py)"),
    ],
    ids=[
        "eq-always-true",
        "int-subclass",
        "inherited",
        "type-call",
        "dataclass-field",
        "nested-attr",
        "in-container",
        "dict-key",
    ],
)
def test_comparison_steering_classes_from_the_code_under_test_are_a_problem(
    make: Callable[[types.ModuleType], object], problem: str, guard: Guard, m: types.ModuleType
) -> None:
    assert plain_problem(make(m), guard, frozenset()) == problem


@pytest.mark.parametrize(
    "make",
    [lambda m: m.Box(3), lambda m: m.Honest([1, 2]), lambda m: m.NoHash()],
    ids=["dataclass-of-plain-data", "plain-attributes", "hash-none-alone"],
)
def test_classes_from_the_code_under_test_without_steering_pass(
    make: Callable[[types.ModuleType], object], guard: Guard, m: types.ModuleType
) -> None:
    assert plain_problem(make(m), guard, frozenset()) is None


def test_a_method_the_original_code_had_is_allowed(guard: Guard, m: types.ModuleType) -> None:
    allowed = frozenset({"m.py:AlwaysEqual.__eq__"})
    assert plain_problem(m.AlwaysEqual(), guard, allowed) is None
    assert plain_problem(m.Box(m.AlwaysEqual()), guard, allowed) is None
    assert plain_problem(m.AlwaysEqual(), guard, frozenset({"other.py:AlwaysEqual.__eq__"})) is not None


def test_the_allowed_list_from_the_original_source_lets_its_own_classes_pass(
    guard: Guard, m: types.ModuleType
) -> None:
    allowed = allowed_dunders({"m.py": UNDER_TEST})
    for value in (m.AlwaysEqual(), m.Child(), m.Box(m.AlwaysEqual())):
        assert plain_problem(value, guard, allowed) is None


def test_a_non_function_dunder_the_original_code_had_is_allowed(guard: Guard, m: types.ModuleType) -> None:
    allowed = allowed_dunders({"m.py": UNDER_TEST})
    assert "m.py:Sneaky.__hash__" in allowed
    assert plain_problem(m.Sneaky(1), guard, allowed) is None


def test_test_files_are_trusted_code(tmp_path: Path, guard: Guard) -> None:
    """A helper class with ``__eq__`` in the test file itself is the suite's, not the candidate's."""
    namespace: dict[str, Any] = {}
    source = "class Near:\n    def __eq__(self, other):\n        return True\n"
    exec(compile(source, str(tmp_path / "test_m.py"), "exec"), namespace)
    assert plain_problem(namespace["Near"](), guard, frozenset()) is None


def _compare_calls(source: str, **names: object) -> list[object]:
    """Run `source` after PlainCompare, with a recording `plain`: the operands it was handed."""
    seen: list[object] = []

    def plain(value: object) -> object:
        seen.append(value)
        return value

    tree = ast.fix_missing_locations(PlainCompare().visit(ast.parse(source)))
    exec(compile(tree, "<plain-compare>", "exec"), {PLAIN_NAME: plain, **names})
    return seen


@pytest.mark.parametrize(
    ("source", "operands"),
    [
        ("r = a == b", ["A", "B"]),
        ("r = a != b", ["A", "B"]),
        ("r = a < b", ["A", "B"]),
        ("r = a in b", ["A", "B"]),
        ("r = a not in b", ["A", "B"]),
        ("r = a <= b >= c", ["A", "B", "C"]),
        ("r = a is b", []),
        ("r = a is not b", []),
        ("assert (a == a) is True", ["A", "A"]),
    ],
)
def test_plain_compare_wraps_both_operands_of_comparisons_but_not_identity(
    source: str, operands: list[str]
) -> None:
    assert _compare_calls(source, a="A", b="B", c="C") == operands


def test_plain_compare_wraps_comparisons_nested_in_expressions() -> None:
    assert _compare_calls("r = [x == 1 for x in (1, 2)]") == [1, 1, 2, 1]


@pytest.mark.filterwarnings("ignore:LocalSandbox runs code as a plain subprocess")
async def test_a_test_module_with_a_docstring_collects_under_the_checks() -> None:
    test_m = '"""Tests of m."""\n\nfrom m import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n'
    tests = {"test_m.py": test_m}
    async with LocalSandbox() as sb:
        report = await sb.run_tests({"m.py": "def add(a, b):\n    return a + b\n"}, tests)
    if report.raw is not None and "AST node line range" in report.raw.stdout:
        raise ValueError(report.reason)  # the known bug; any other failure is a real one
    assert report.all_passed, report.reason


# -- Snapshot ------------------------------------------------------------------------------------


def test_a_fresh_snapshot_has_no_changes() -> None:
    assert Snapshot().changes() == []


def test_replacing_a_pytest_class_attribute_is_reported_and_restoring_clears_it() -> None:
    cls = _pytest.reports.TestReport
    original = cls.__dict__["from_item_and_call"]
    snapshot = Snapshot()
    try:
        cls.from_item_and_call = classmethod(lambda c, item, call: None)  # type: ignore[method-assign,assignment]
        assert snapshot.changes() == ["_pytest.reports.TestReport.from_item_and_call"]
    finally:
        cls.from_item_and_call = original  # type: ignore[method-assign]
    assert snapshot.changes() == []


def test_adding_and_removing_module_globals_is_reported() -> None:
    snapshot = Snapshot()
    original = _pytest.python.pytest_pyfunc_call
    try:
        _pytest.python.pytest_pyfunc_call = lambda pyfuncitem: True  # type: ignore[assignment]
        vars(_pytest.reports)["ponder_added"] = 1
        assert snapshot.changes() == ["_pytest.python.pytest_pyfunc_call", "_pytest.reports.ponder_added"]
    finally:
        _pytest.python.pytest_pyfunc_call = original
        vars(_pytest.reports).pop("ponder_added", None)
    assert snapshot.changes() == []


def test_replacing_a_builtin_is_reported() -> None:
    snapshot = Snapshot()
    saved = builtins.AssertionError
    try:
        builtins.AssertionError = type("AssertionError", (Exception,), {})  # type: ignore[misc,assignment]
        assert snapshot.changes() == ["builtins.AssertionError"]
    finally:
        builtins.AssertionError = saved  # type: ignore[misc]
    assert snapshot.changes() == []


def test_names_pytest_itself_sets_around_each_test_are_ignored() -> None:
    function = _pytest.python.Function
    flag = "_pytest_diamond_inheritance_warning_shown"
    missing = object()
    before = (_pytest.assertion.util._reprcompare, function.__dict__.get(flag, missing))
    snapshot = Snapshot()
    try:
        _pytest.assertion.util._reprcompare = lambda *args: None
        setattr(function, flag, True)
        assert snapshot.changes() == []
    finally:
        _pytest.assertion.util._reprcompare = before[0]
        if before[1] is missing:
            delattr(function, flag)
        else:
            setattr(function, flag, before[1])


def test_extra_objects_are_snapshotted_too() -> None:
    class Plugin:
        def hook(self) -> None: ...

    snapshot = Snapshot(extra=(Plugin,))
    Plugin.hook = lambda self: None  # type: ignore[method-assign]
    assert snapshot.changes() == [f"{__name__}.{Plugin.__qualname__}.hook"]


def test_an_extra_module_is_snapshotted_under_its_name() -> None:
    module = types.ModuleType("ponder_probe")
    module.value = 1  # type: ignore[attr-defined]
    snapshot = Snapshot(extra=(module,))
    module.value = 2  # type: ignore[attr-defined]
    assert snapshot.changes() == ["ponder_probe.value"]


# -- Guard.untrusted / culprit -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "untrusted"),
    [
        ("m.py", True),
        ("pkg/util.py", True),
        ("test_m.py", False),
        ("<frozen importlib._bootstrap>", False),
        ("<frozen os>", False),
        ("<string>", False),
        ("<ponder-integrity>", False),
        ("<hostile>", True),
        ("@stdlib/json/__init__.py", False),
        ("@outside/m.py", False),
    ],
)
def test_untrusted_is_the_work_dir_minus_the_tests(
    where: str, untrusted: bool, tmp_path: Path, guard: Guard
) -> None:
    filename = (
        where.replace("@stdlib", os.path.dirname(os.__file__)).replace("@outside", str(tmp_path.parent))
        if where.startswith("@")
        else where
        if where.startswith("<")
        else str(tmp_path / where)
    )
    assert guard.untrusted(filename) is untrusted


def _frames(*filenames: str) -> types.FrameType:
    """A live-looking stack: filenames[0] calls filenames[1]... and the last one's frame is returned.

    Each function is compiled under its filename with its body on line 2, so culprits read
    ``file:2``.
    """
    call: Callable[[], Any] = sys._getframe
    for filename in reversed(filenames):
        namespace: dict[str, Any] = {}
        exec(compile("def step(call):\n    return call()\n", filename, "exec"), namespace)
        call = functools.partial(namespace["step"], call)
    frame = call()
    assert isinstance(frame, types.FrameType)
    return frame


def test_culprit_is_the_code_under_test_behind_an_event(tmp_path: Path, guard: Guard) -> None:
    m, test = str(tmp_path / "m.py"), str(tmp_path / "test_m.py")
    stdlib_inspect = guard.pass_through[0]
    assert guard.culprit(_frames(test, m)) == "m.py:2", "the event's own frame"
    assert guard.culprit(_frames(m, stdlib_inspect)) == "m.py:2", "charged through a pass-through module"
    assert guard.culprit(_frames(m, "<frozen importlib._bootstrap>")) == "m.py:2"
    assert guard.culprit(_frames(m, test)) is None, "a test file's own event"
    assert guard.culprit(_frames(m, test), anywhere=True) == "m.py:2", "anywhere on the stack"
    assert guard.culprit(_frames(m, "/elsewhere/lib.py")) is None, "a library acting on its own"
    assert guard.culprit(None) is None
