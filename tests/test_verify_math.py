"""MathVerifier and the answer extractors: same value in any spelling passes, a different value fails."""

from __future__ import annotations

import pytest

from ponder.verifiers import Chain, MathVerifier, VerifyTask, extract_answer, math_equal
from ponder.verifiers.answers import extract_boxed, extract_code, python_blocks
from ponder.verifiers.math import parse_math
from tests._datasets import load


@pytest.mark.parametrize(
    ("pred", "reference"),
    [
        pytest.param("\\frac{3}{4}", "0.75", id="latex-frac-vs-decimal"),
        pytest.param("\\boxed{\\dfrac12}", "1/2", id="boxed-dfrac-shorthand"),
        pytest.param("$1,234", "1234", id="dollar-and-comma"),
        pytest.param("1/3", "0.3333333333", id="fraction-vs-long-decimal"),
        pytest.param("2\\sqrt{2}", "sqrt(8)", id="surd"),
        pytest.param("\\sqrt[3]{8}", "2", id="cube-root"),
        pytest.param("x = 5", "5", id="equation-rhs"),
        pytest.param("18 dollars", "18", id="unit-word"),
        pytest.param("\\frac{\\pi}{2}", "pi/2", id="pi"),
        pytest.param("2x+2", "2(x+1)", id="symbolic"),
        pytest.param("-\\left(\\frac{1}{2}\\right)", "-0.5", id="left-right"),
        pytest.param("3.0", "3", id="trailing-zero"),
        pytest.param("50\\%", "50", id="percent-sign"),
        pytest.param("1e3", "1000", id="scientific"),
    ],
)
def test_equal_values_match(pred: str, reference: str) -> None:
    assert math_equal(pred, reference)


@pytest.mark.parametrize(
    ("pred", "reference"),
    [
        pytest.param("35", "34", id="off-by-one"),
        pytest.param("1/3", "0.333", id="rounded-decimal-is-not-exact"),
        pytest.param("-5", "5", id="sign"),
        pytest.param("2x+1", "2(x+1)", id="symbolic"),
        pytest.param("no idea", "5", id="no-number"),
        pytest.param("9^9^9^9", "1", id="huge-power-is-refused"),
    ],
)
def test_different_values_do_not_match(pred: str, reference: str) -> None:
    assert not math_equal(pred, reference)


def test_parse_never_evaluates_code() -> None:
    assert parse_math("__import__('os').system('true')") is None


async def test_verifier_gates_on_the_reference() -> None:
    task = VerifyTask(kind="math", question="6 * 7?", inputs={"reference": "42"})
    done = [
        Chain(steps=("6 * 7 = 42", "Answer: 42"), terminal=True, answer="42"),
        Chain(steps=("So the answer is \\boxed{\\frac{84}{2}}",), terminal=True),
        Chain(steps=("Answer: 43",), terminal=True),
        Chain(steps=("I am not sure",), terminal=True),
        Chain(steps=("6 * 7 means",)),
    ]
    results = await MathVerifier().score(task, done)
    assert [(r.score, r.gate) for r in results] == [
        (1.0, "pass"),
        (1.0, "pass"),
        (0.0, "fail"),
        (0.0, "fail"),
        (0.5, "unknown"),
    ]
    assert "43" in results[2].evidence["feedback"]
    assert "42" not in results[2].evidence["feedback"]  # feedback must not leak the reference


async def test_without_a_reference_the_gate_is_unknown() -> None:
    task = VerifyTask(kind="math", question="6 * 7?")
    [result] = await MathVerifier().score(task, [Chain(steps=("Answer: 42",), terminal=True)])
    assert (result.score, result.gate) == (0.5, "unknown")
    assert result.evidence["parsed"] == "42"


def test_gsm8k_gold_answers_match_and_off_by_one_does_not() -> None:
    records = load("gsm8k_dev.jsonl")
    assert len(records) == 200
    for record in records:
        gold = record["answer"].split("####")[-1].strip().replace(",", "")
        solution = record["answer"].replace("####", "Answer:")
        answer = extract_answer(solution, "number")
        assert answer is not None and math_equal(answer, gold), record["id"]
        assert not math_equal(str(int(gold) + 1), gold), record["id"]
        assert not math_equal(str(int(gold) - 1), gold), record["id"]


async def test_gsm8k_through_the_verifier() -> None:
    records = load("gsm8k_dev.jsonl")[:50]
    verifier = MathVerifier()
    for record in records:
        gold = record["answer"].split("####")[-1].strip()
        task = VerifyTask(kind="math", question=record["question"], inputs={"reference": gold})
        gold_chain = Chain(steps=(record["answer"].replace("####", "Answer:"),), terminal=True)
        off = Chain(steps=(f"Answer: {int(gold.replace(',', '')) + 1}",), terminal=True)
        assert [r.gate for r in await verifier.score(task, [gold_chain, off])] == ["pass", "fail"]


# answer extraction -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "fmt", "expected"),
    [
        ("Step 1: 6 * 7 = 42\nAnswer: 42 apples.", "number", "42"),
        ("The final answer is: 18 dollars (9 * 2)", "number", "18"),
        ("we get 1,234 and then -5.5", "number", "-5.5"),
        ("so \\boxed{\\frac{1}{2}} done", "boxed", "\\frac{1}{2}"),
        ("nothing boxed, 7 left", "boxed", "7"),
        ("Answer: **$1,234.5 million.**", "finance", "$1,234.5 million"),
        ("reasoning\nParis", "text", "Paris"),
        ("no number here", "number", None),
    ],
)
def test_extract_answer(text: str, fmt: str, expected: str | None) -> None:
    assert extract_answer(text, fmt) == expected


def test_extract_code_takes_the_last_block_and_an_unclosed_tail() -> None:
    text = "first\n```python\nx = 1\n```\nfixed:\n```python\ndef f():\n    return 2\n```\n"
    assert extract_code(text) == "def f():\n    return 2\n"
    assert extract_code("```py\ndef g():\n    return 3") == "def g():\n    return 3\n"
    assert extract_code("no code") is None
    assert python_blocks(text) == ["x = 1\n", "def f():\n    return 2\n"]
    assert python_blocks("```sql\nselect 1\n```") == []


def test_extract_boxed_balances_braces() -> None:
    assert extract_boxed("\\boxed{\\frac{a}{b}} and \\boxed{x^{2}}") == "x^{2}"
    assert extract_boxed("\\boxed{unclosed") is None


def test_unknown_answer_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown answer format 'xml'"):
        extract_answer("x", "xml")
