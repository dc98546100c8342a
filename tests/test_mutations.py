"""Mutation operators: each rewrites exactly one span, the rest of the file stays byte-identical."""

from __future__ import annotations

import ast
import difflib
from pathlib import Path

import pytest

from ponder.plugin.repair.mutations import OPERATORS, Mutant, generate_mutants


def _changed_lines(old: str, new: str) -> list[str]:
    return [
        line
        for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def _find(mutants: list[Mutant], operator: str, original: str, replacement: str) -> Mutant:
    for m in mutants:
        if (m.operator, m.original, m.replacement) == (operator, original, replacement):
            return m
    raise AssertionError(
        f"no {operator} {original!r} → {replacement!r} among: " + "; ".join(m.description for m in mutants)
    )


@pytest.mark.parametrize(
    ("source", "operator", "original", "replacement", "mutated_line"),
    [
        pytest.param("ok = a < b\n", "flip-comparison", "<", "<=", "ok = a <= b", id="lt-to-le"),
        pytest.param("ok = a >= b\n", "flip-comparison", ">=", ">", "ok = a > b", id="ge-to-gt"),
        pytest.param(
            "ok = x is not None\n", "flip-comparison", "is not", "is", "ok = x is None", id="is-not"
        ),
        pytest.param("ok = k not in d\n", "flip-comparison", "not in", "in", "ok = k in d", id="not-in"),
        pytest.param("n = 10\n", "shift-constant", "10", "11", "n = 11", id="const-plus"),
        pytest.param("n = 10\n", "shift-constant", "10", "9", "n = 9", id="const-minus"),
        pytest.param(
            "for i in range(len(xs) - k):\n    pass\n",
            "shift-bound",
            "len(xs) - k",
            "len(xs) - k + 1",
            "for i in range(len(xs) - k + 1):",
            id="range-bound",
        ),
        pytest.param("y = xs[i]\n", "shift-bound", "i", "i - 1", "y = xs[i - 1]", id="index"),
        pytest.param("y = xs[:n]\n", "shift-bound", "n", "n + 1", "y = xs[:n + 1]", id="slice"),
        pytest.param("y = a + b\n", "swap-arithmetic", "+", "-", "y = a - b", id="add-sub"),
        pytest.param("y = a / b\n", "swap-arithmetic", "/", "//", "y = a // b", id="div-floordiv"),
        pytest.param("total += x\n", "swap-arithmetic", "+=", "-=", "total -= x", id="augassign"),
        pytest.param(
            "ok = a and b and c\n",
            "swap-boolean",
            "a and b and c",
            "a or b or c",
            "ok = a or b or c",
            id="and-or",
        ),
        pytest.param(
            "if ready:\n    go()\n", "negate-condition", "ready", "not ready", "if not ready:", id="negate"
        ),
        pytest.param(
            "if not ready:\n    go()\n", "negate-condition", "not ready", "ready", "if ready:", id="unnegate"
        ),
        pytest.param("flag = True\n", "negate-condition", "True", "False", "flag = False", id="bool-const"),
        pytest.param("y = a - b\n", "swap-operands", "a - b", "b - a", "y = b - a", id="sub-operands"),
        pytest.param(
            "y = (a + b) / c\n",
            "swap-operands",
            "(a + b) / c",
            "c / (a + b)",
            "y = c / (a + b)",
            id="operands-keep-precedence",
        ),
        pytest.param("y = pow(b, e)\n", "swap-operands", "b, e", "e, b", "y = pow(e, b)", id="call-args"),
        pytest.param("y = a * b\n", "swap-arithmetic", "*", "**", "y = a ** b", id="mult-pow"),
        pytest.param("y = a ** b\n", "swap-arithmetic", "**", "*", "y = a * b", id="pow-mult"),
        pytest.param("y *= b\n", "swap-arithmetic", "*=", "**=", "y **= b", id="augassign-pow"),
        pytest.param(
            "best = min(xs, key=f)\n", "swap-call", "min", "max", "best = max(xs, key=f)", id="min-max"
        ),
        pytest.param("ok = any(flags)\n", "swap-call", "any", "all", "ok = all(flags)", id="any-all"),
        pytest.param(
            "n = math.floor(x / 2)\n", "swap-call", "floor", "ceil", "n = math.ceil(x / 2)", id="math-floor"
        ),
        pytest.param("n = ceil(x)\n", "swap-call", "ceil", "floor", "n = floor(x)", id="bare-ceil"),
        pytest.param(
            "def f(x):\n    int(x)\n",
            "insert-return",
            "int(x)",
            "return int(x)",
            "    return int(x)",
            id="return",
        ),
        pytest.param(
            "class C:\n    def f(self, xs):\n        return len(self.xs)\n",
            "replace-variable",
            "self.xs",
            "xs",
            "        return len(xs)",
            id="self-attribute-to-local",
        ),
    ],
)
def test_operator_rewrites_only_its_span(
    source: str, operator: str, original: str, replacement: str, mutated_line: str
) -> None:
    mutants = generate_mutants(source, path="m.py", max_mutants=100)
    mutant = _find(mutants, operator, original, replacement)
    assert mutated_line in mutant.source.splitlines()
    ast.parse(mutant.source)
    assert len(_changed_lines(source, mutant.source)) == 2  # one line out, one line in


def test_diff_keeps_comments_formatting_and_unicode_elsewhere() -> None:
    source = (
        '"""Prix en € — accents must survive byte-offset arithmetic."""\n'
        "\n"
        "def price(n):  # keep   this   comment\n"
        '    label = "né"  ;  limit = 3\n'
        "    return n  <  limit\n"
    )
    mutants = generate_mutants(source, path="m.py", max_mutants=100)
    flip = _find(mutants, "flip-comparison", "<", "<=")
    assert flip.source == source.replace("n  <  limit", "n  <=  limit")
    const = _find(mutants, "shift-constant", "3", "4")
    assert const.source == source.replace("limit = 3", "limit = 4")


def test_ranked_by_distance_to_failing_lines_and_capped() -> None:
    source = "\n".join(f"v{i} = {i} < x" for i in range(1, 41)) + "\n"
    mutants = generate_mutants(source, path="m.py", focus_lines=[30], max_mutants=10)
    assert len(mutants) == 10
    distances = [m.distance for m in mutants]
    assert distances == sorted(distances)
    assert mutants[0].line == 30 and mutants[0].distance == 0
    assert all(abs(m.line - 30) <= 1 for m in mutants)


def test_max_distance_drops_far_mutants() -> None:
    source = "a = 1\n" + "\n" * 20 + "b = 2\n"
    mutants = generate_mutants(source, focus_lines=[1], max_mutants=50, max_distance=5)
    assert mutants and all(m.line == 1 for m in mutants)


def test_mutants_are_distinct_parseable_and_differ_from_original() -> None:
    source = (
        "def f(xs, k=2):\n"
        "    out = []\n"
        "    for i in range(0, len(xs) - k):\n"
        "        if xs[i] <= xs[i + 1] and i % 2 == 0:\n"
        "            out.append(xs[i] * k - 1)\n"
        "    return out if out else None\n"
        "\n"
        "\n"
        "def g(values, n):\n"
        "    print(max(values) / n)\n"
    )
    mutants = generate_mutants(source, max_mutants=1000)
    texts = [m.source for m in mutants]
    assert len(texts) == len(set(texts))
    assert source not in texts
    for text in texts:
        ast.parse(text)
    assert {m.operator for m in mutants} == set(OPERATORS)


def test_annotations_are_not_mutated() -> None:
    source = "def f(xs: list[int], n: int = 3) -> dict[str, int]:\n    y: list[int] = xs\n    return {}\n"
    mutants = generate_mutants(source, max_mutants=100)
    # The default and the annotated assignment's value are code; the annotations never are.
    assert [m.description for m in mutants if m.operator == "shift-constant"] == [
        _find(mutants, "shift-constant", "3", "4").description,
        _find(mutants, "shift-constant", "3", "2").description,
    ]
    assert {(m.operator, m.original) for m in mutants if m.operator != "shift-constant"} == {
        ("replace-variable", "xs"),
        ("delete-statement", "y: list[int] = xs"),
    }


def test_syntax_error_and_zero_cap_give_nothing() -> None:
    assert generate_mutants("def f(:\n", max_mutants=10) == []
    assert generate_mutants("x = 1 < 2\n", max_mutants=0) == []


def test_off_by_one_fix_of_the_example_is_among_the_first_mutants() -> None:
    source = (
        "def moving_average(values, window):\n"
        "    if window <= 0:\n"
        '        raise ValueError("window must be positive")\n'
        "    averages = []\n"
        "    for start in range(len(values) - window):\n"
        "        averages.append(sum(values[start : start + window]) / window)\n"
        "    return averages\n"
    )
    mutants = generate_mutants(source, path="stats.py", focus_lines=range(1, 8), max_mutants=12)
    fix = _find(mutants, "shift-bound", "len(values) - window", "len(values) - window + 1")
    namespace: dict[str, object] = {}
    exec(compile(fix.source, "stats.py", "exec"), namespace)
    assert namespace["moving_average"]([1.0, 2.0, 3.0], 2) == [1.5, 2.5]  # type: ignore[operator]
    assert fix.description == (
        "shift-bound at stats.py:5: `len(values) - window` → `len(values) - window + 1`"
    )


@pytest.mark.parametrize(
    ("buggy", "fixed", "operator"),
    [
        (  # the wrong variable returned
            "def larger(a, b):\n    best = a\n    if b > a:\n        best = b\n    return a\n",
            "def larger(a, b):\n    best = a\n    if b > a:\n        best = b\n    return best\n",
            "replace-variable",
        ),
        (  # a statement that should not be there
            "def count(xs):\n    n = 0\n    for _ in xs:\n        n += 1\n        n += 1\n    return n\n",
            "def count(xs):\n    n = 0\n    for _ in xs:\n        n += 1\n        pass\n    return n\n",
            "delete-statement",
        ),
    ],
)
def test_variable_and_statement_operators_reach_their_fix(buggy: str, fixed: str, operator: str) -> None:
    mutants = generate_mutants(buggy, path="m.py", focus_lines=[5], max_mutants=64)
    hits = [m for m in mutants if m.source == fixed]
    assert hits and hits[0].operator == operator, [m.description for m in mutants]
    assert all(m.operator in OPERATORS for m in mutants)


@pytest.mark.parametrize(
    ("source", "kept"),
    [
        pytest.param("mid = (lo + hi) // 2\n", {"3"}, id="floordiv"),
        pytest.param("y = 2 * x\n", {"3"}, id="mult-left"),
        pytest.param("y **= 2\n", {"3"}, id="augassign-pow"),
        pytest.param("end = n - 1\n", {"0", "2"}, id="additive-stays"),
    ],
)
def test_a_scaling_constant_is_never_shifted_to_one(source: str, kept: set[str]) -> None:
    # `(lo + hi) // 1` passed a binary search's weak tests on the repair set and was wrong; an
    # off-by-one's `n - 0` is the fix `n` written awkwardly, so additive constants keep both shifts.
    shifted = {m.replacement for m in generate_mutants(source) if m.operator == "shift-constant"}
    assert shifted == kept


def _insert(source: str, line: int, text: str) -> str:
    """`source` with `text` inserted before its 1-based `line`."""
    lines = source.splitlines(keepends=True)
    return "".join([*lines[: line - 1], text, *lines[line - 1 :]])


def _guards(source: str) -> list[Mutant]:
    return [
        m for m in generate_mutants(source, path="m.py", max_mutants=1000) if m.operator == "insert-guard"
    ]


def test_loop_guard_goes_before_the_first_use_with_the_body_indentation() -> None:
    source = (
        "def firsts(rows):\n"
        "    out = []\n"
        "    for row in rows:\n"
        "        seen = 1  # does not use row\n"
        "        out.append(row[0])\n"
        "    return out\n"
    )
    (guard,) = _guards(source)
    assert guard.source == _insert(source, 5, "        if not row:\n            continue\n")
    assert (guard.line, guard.original) == (5, "")  # a zero-width span: nothing of the file replaced
    assert guard.description == "insert-guard at m.py:5: insert `if not row: continue`"


def test_loop_guard_on_a_name_the_body_assigns_goes_after_the_assignment() -> None:
    source = "for raw in lines:\n    item = raw.strip()\n    use(item)\n"
    by_text = {m.description.split(": ", 1)[1]: m.source for m in _guards(source)}
    assert by_text == {
        "insert `if not raw: continue`": _insert(source, 2, "    if not raw:\n        continue\n"),
        "insert `if not item: continue`": _insert(source, 3, "    if not item:\n        continue\n"),
    }


@pytest.mark.parametrize(
    ("source", "line", "guard"),
    [
        pytest.param(
            "def mean(xs):\n    total = sum(xs)\n    return total / len(xs)\n",
            3,
            "    if not xs:\n        return 0.0\n",
            id="true-division-returns-a-float",
        ),
        pytest.param(
            "def per(total, n):\n    if total:\n        return total // n\n    return 0\n",
            3,
            "        if not n:\n            return 0\n",
            id="floordiv-in-a-nested-block",
        ),
        pytest.param(
            "def wrap(i, size):\n\treturn i % size\n",
            2,
            "\tif not size:\n\t\treturn 0\n",
            id="tabs-as-written",
        ),
    ],
)
def test_division_guard_goes_before_the_dividing_statement(source: str, line: int, guard: str) -> None:
    (mutant,) = _guards(source)
    assert mutant.source == _insert(source, line, guard)
    assert mutant.line == line


@pytest.mark.parametrize(
    "source",
    [
        pytest.param("def f(x):\n    return 1 / y\n", id="not-a-parameter"),
        pytest.param("def f(name):\n    return '%s!' % name\n", id="string-formatting"),
        pytest.param("def f(x): return 1 / x\n", id="not-on-its-own-line"),
        pytest.param("def f(x, y):\n    if y: z = 1 / x\n", id="after-a-colon"),
        pytest.param("class C:\n    def __init__(self, n):\n        self.k = 1 / n\n", id="init"),
    ],
)
def test_no_division_guard(source: str) -> None:
    assert _guards(source) == []


@pytest.mark.parametrize(
    "source",
    [
        pytest.param('def f():\n    """Docs."""\n', id="docstring"),
        pytest.param("def f(x):\n    g(x)\n    return x\n", id="not-last"),
        pytest.param("def f(xs):\n    yield xs\n    print(xs)\n", id="generator"),
        pytest.param("def f(xs) -> None:\n    xs.sort()\n", id="annotated-none"),
        pytest.param("class C:\n    def __init__(self):\n        self.setup()\n", id="init"),
    ],
)
def test_no_inserted_return(source: str) -> None:
    assert [m for m in generate_mutants(source, max_mutants=1000) if m.operator == "insert-return"] == []


def test_self_attribute_becomes_the_local_only_once_the_local_is_bound() -> None:
    source = (
        "class Book:\n"
        "    def average(self, student):\n"
        "        scores = self.scores[student]\n"
        "        self.scores = scores\n"
        "        return sum(scores) / len(self.scores) + self.other\n"
    )
    mutants = generate_mutants(source, max_mutants=1000)
    to_local = [
        (m.line, m.original) for m in mutants if m.operator == "replace-variable" and "." in m.original
    ]
    assert to_local == [(5, "self.scores")]  # not line 3 (unbound yet), not a store, not `self.other`
    assert _find(mutants, "replace-variable", "self.scores", "scores").source == source.replace(
        "len(self.scores)", "len(scores)"
    )


def test_insertions_rank_after_the_token_operators_on_the_same_line() -> None:
    source = "def mean(xs, n):\n    return sum(xs) / n\n"
    operators = [m.operator for m in generate_mutants(source, focus_lines=[2], max_mutants=1000)]
    assert operators[-1] == "insert-guard"
    assert operators.index("swap-arithmetic") < operators.index("insert-guard")


REPAIR_SET = Path(__file__).resolve().parent.parent / "benchmarks" / "repair_set"


@pytest.mark.parametrize(
    ("case", "path", "operator"),
    [
        ("app_config", "appconfig/config.py", "insert-return"),
        ("compound_interest", "interest.py", "swap-arithmetic"),
        ("discount_rules", "rules.py", "swap-call"),
        ("gradebook_pkg", "school/gradebook.py", "replace-variable"),
        ("number_list", "numlist.py", "insert-guard"),
        ("ratings", "ratings.py", "insert-guard"),
    ],
)
def test_repair_set_fix_is_among_the_mutants(case: str, path: str, operator: str) -> None:
    # The reference fixes are single edits written as the operators write them, the two guards
    # included, so the fixed file itself (byte for byte) must be one of the mutants.
    buggy = (REPAIR_SET / case / "project" / path).read_text(encoding="utf-8")
    fixed = (REPAIR_SET / case / "fixed" / path).read_text(encoding="utf-8")
    hits = [m for m in generate_mutants(buggy, path=path, max_mutants=1000) if m.source == fixed]
    assert [m.operator for m in hits] == [operator]
