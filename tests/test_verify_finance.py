"""FinanceVerifier and compare_answer: executed calculations, traced numbers, invariants, scale and sign.

Calculations run in the subprocess sandbox (the harness is the same in Docker; one Docker test
proves the image runs it). The dataset tests cover every FinanceMath and TAT-QA dev record.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from ponder.sandbox import LocalSandbox, open_sandbox
from ponder.sandbox.settings import SandboxSettings
from ponder.sandbox.types import Limits
from ponder.verifiers import Chain, FinanceVerifier, VerifierError, VerifyTask, compare_answer
from ponder.verifiers._finance_rules import RULE_REASONS
from ponder.verifiers._numbers import numbers_in, parse_amount
from tests._datasets import financemath_task, load, tatqa_code, tatqa_task, tatqa_unit
from tests._finance_chains import tatqa_program

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")

INCOME = {
    "name": "income",
    "columns": ["", "2019", "2018"],
    "rows": [
        ["Product revenue", "1,250.5", "1,010.0"],
        ["Service revenue", "349.5", "290.0"],
        ["Total revenue", "1,600.0", "1,300.0"],
        ["Operating costs", "(420)", "(380)"],
    ],
}


def task(question: str, tables: list[dict[str, Any]] | None = None, **inputs: Any) -> VerifyTask:
    return VerifyTask(
        kind="finance",
        question=question,
        inputs={"tables": [INCOME] if tables is None else tables, "paragraphs": [], **inputs},
    )


def chain(*steps: str) -> Chain:
    return Chain(steps=steps, terminal=True)


def py(code: str) -> str:
    return f"Let me compute it.\n```python\n{code}\n```"


@pytest.fixture
async def verifier() -> AsyncIterator[FinanceVerifier]:
    async with LocalSandbox() as sandbox:
        yield FinanceVerifier(sandbox)


# compare_answer ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pred", "gold", "kwargs", "expected"),
    [
        pytest.param("$2,140 million", 2140, {"gold_scale": "million"}, True, id="same-scale"),
        pytest.param("2.14 billion", 2140, {"gold_scale": "million"}, True, id="billion-vs-million"),
        pytest.param("2,140 thousand", 2140, {"gold_scale": "million"}, False, id="wrong-scale"),
        pytest.param("2140", 2140, {"gold_scale": "million"}, False, id="missing-scale"),
        pytest.param(2140, 2140, {"scale": "million", "gold_scale": "million"}, True, id="explicit-scale"),
        pytest.param(
            "(2,140)", 2140, {"scale": "million", "gold_scale": "million"}, False, id="flipped-sign"
        ),
        pytest.param("(2,140)", -2140, {"scale": "million", "gold_scale": "million"}, True, id="parentheses"),
        pytest.param(0.125, 12.5, {"gold_scale": "percent"}, True, id="fraction-vs-percent"),
        pytest.param("12.5%", 12.5, {"gold_scale": "percent"}, True, id="percent-sign"),
        pytest.param("12.5", 12.5, {"gold_scale": "percent"}, False, id="percent-as-units"),
        pytest.param(2140 * 1.05, 2140, {}, False, id="five-percent-off"),
        pytest.param(2140 * 1.009, 2140, {}, True, id="within-one-percent"),
        pytest.param(0.105, 0.1, {}, True, id="absolute-tolerance"),
        pytest.param(0.105, 0.1, {"abs_tol": 0.0}, False, id="strict-relative"),
        pytest.param(-0.004, 0.004, {}, False, id="tiny-flipped-sign"),
        pytest.param("n/a", 1, {}, False, id="no-number"),
    ],
)
def test_compare_answer(pred: str | float, gold: float, kwargs: dict[str, Any], expected: bool) -> None:
    assert compare_answer(pred, gold, **kwargs) is expected


def test_compare_answer_rejects_an_unknown_scale() -> None:
    with pytest.raises(ValueError, match="unknown scale 'lakh'"):
        compare_answer(1, 1, gold_scale="lakh")


@pytest.mark.parametrize(
    ("text", "value", "scale"),
    [
        ("$1,234.5 million", 1234.5, "million"),
        ("(2,088)", -2088.0, ""),
        ("-$5", -5.0, ""),
        ("12.5%", 12.5, "percent"),
        ("2.1bn", 2.1, "billion"),
        ("USD 7.5 thousand", 7.5, "thousand"),
        ("about 5 months", 5.0, ""),
        ("CHF600,000 from 250 units", 600000.0, ""),
        ("C$480,000", 480000.0, ""),
        ("US$1.5 million", 1.5, "million"),
    ],
)
def test_parse_amount(text: str, value: float, scale: str) -> None:
    amount = parse_amount(text)
    assert amount is not None
    assert (amount.value, amount.scale) == (value, scale)


def test_numbers_in_text_keep_glued_currency_codes_and_never_split_a_thousands_group() -> None:
    # "CHF600,000" once read as 0 (the "000" after the comma), so a right operand was untraced.
    assert numbers_in("CHF500,000 from 200 units and CHF600,000 from 250") == [
        500000.0,
        200.0,
        600000.0,
        250.0,
    ]
    assert numbers_in("XYZ1,000 units") == []


# FinanceVerifier ----------------------------------------------------------------------------


async def test_an_executed_table_calculation_verifies_with_an_audit_trail(verifier: FinanceVerifier) -> None:
    steps = (
        py('rev19 = float(t0.iloc[2, 1].replace(",", ""))\nrev18 = float(t0.iloc[2, 2].replace(",", ""))'),
        py("growth = (rev19 - rev18) / rev18 * 100"),
        "Answer: 23.08%",
    )
    [result] = await verifier.score(task("What was the percentage change in total revenue?"), [chain(*steps)])
    assert result.gate == "pass", result.evidence.get("feedback")
    first, second, _ = result.evidence["steps"]
    assert first["values"] == {"rev19": 1600.0, "rev18": 1300.0}
    assert second["values"] == {"growth": pytest.approx(23.0769, rel=1e-4)}
    assert sorted(first["cells_used"]) == ["t0[2][1]", "t0[2][2]"]
    assert result.evidence["trace"]["source"] == "step 2: growth"


async def test_a_number_no_calculation_produced_is_untraced(verifier: FinanceVerifier) -> None:
    steps = (py("change = 1600 - 1300"), "Answer: 310 million")
    [result] = await verifier.score(task("What was the change in total revenue?"), [chain(*steps)])
    assert result.gate == "fail"
    assert result.evidence["reason"] == "untraced number"
    assert "310" in result.evidence["feedback"]


async def test_an_answer_read_from_a_cell_traces_to_that_cell(verifier: FinanceVerifier) -> None:
    [result] = await verifier.score(
        task("What were the operating costs in 2019?", scale_hint="million"),
        [chain("The table gives it.", "Answer: (420) million")],
    )
    assert result.gate == "pass", result.evidence.get("feedback")
    assert result.evidence["trace"]["source"] == "cell t0[3][1]"
    assert verifier.runs == 0


async def test_a_failing_calculation_fails_with_its_error(verifier: FinanceVerifier) -> None:
    steps = (py("ratio = 1600 / undefined_name"), "Answer: 3")
    [result] = await verifier.score(task("ratio?"), [chain(*steps)])
    assert result.gate == "fail"
    assert "NameError" in result.evidence["feedback"]


async def test_a_change_with_the_wrong_direction_fails_the_operation_rule(
    verifier: FinanceVerifier,
) -> None:
    steps = (py("change = 1300 - 1600"), "Answer: -300 million")
    question = "What was the change in total revenue from 2018 to 2019?"
    [result] = await verifier.score(task(question, scale_hint="million"), [chain(*steps)])
    assert result.gate == "fail"
    assert result.evidence["reason"] == "wrong operation"
    assert "(2019 − 2018); the calculation computes 2018 − 2019" in result.evidence["feedback"]
    right = (py("change = 1600 - 1300"), "Answer: 300 million")
    [ok] = await verifier.score(task(question, scale_hint="million"), [chain(*right)])
    assert ok.gate == "pass", ok.evidence.get("feedback")
    assert {"name": "period-over-period change", "status": "pass"}.items() <= ok.evidence["invariants"][
        -1
    ].items()


async def test_a_share_that_divides_the_total_fails_the_operation_rule(verifier: FinanceVerifier) -> None:
    steps = (py("share = 1600 / 349.5 * 100"), "Answer: 457.8%")
    [result] = await verifier.score(
        task("What proportion of total revenue was service revenue?"), [chain(*steps)]
    )
    assert result.gate == "fail"
    assert result.evidence["reason"] == "wrong operation"
    assert "divides by the total" in result.evidence["feedback"]
    right = (py("share = 349.5 / 1600 * 100"), "Answer: 21.84%")
    [ok] = await verifier.score(
        task("What proportion of total revenue was service revenue?"), [chain(*right)]
    )
    assert ok.gate == "pass", ok.evidence.get("feedback")


BALANCE = {
    "name": "balance sheet",
    "columns": ["", "2019"],
    "rows": [
        ["Total assets", "5,000"],
        ["Total liabilities", "3,000"],
        ["Total equity", "1,500"],
    ],
}


async def test_an_answer_from_a_table_that_does_not_balance_is_not_verified(
    verifier: FinanceVerifier,
) -> None:
    steps = (py("ratio = 3000 / 5000"), "Answer: 0.6")
    question = "What is the ratio of total liabilities to total assets?"
    [result] = await verifier.score(task(question, [BALANCE]), [chain(*steps)])
    assert result.gate == "fail"
    assert "liabilities + equity 4500" in result.evidence["feedback"]
    balanced = {**BALANCE, "rows": [*BALANCE["rows"][:2], ["Total equity", "2,000"]]}
    [ok] = await verifier.score(task(question, [balanced]), [chain(*steps)])
    assert ok.gate == "pass", ok.evidence.get("feedback")


async def test_stated_totals_are_checked_and_reported(verifier: FinanceVerifier) -> None:
    broken = {**INCOME, "rows": [*INCOME["rows"][:2], ["Total revenue", "1,700.0", "1,300.0"]]}
    steps = (py("total = 1250.5 + 349.5"), "Answer: 1600 million")
    question = "What was the sum of product revenue and service revenue in 2019?"
    [result] = await verifier.score(task(question, [broken], scale_hint="million"), [chain(*steps)])
    totals = {inv["cells"][-1]: inv["status"] for inv in result.evidence["invariants"]}
    assert totals == {"t0[2][1]": "fail", "t0[2][2]": "pass"}
    # Statements nest subtotals and list partial components, so this check informs, never gates.
    assert result.gate == "pass"


async def test_steps_run_cumulatively_and_report_only_their_new_values(verifier: FinanceVerifier) -> None:
    steps = (
        py("a = 1250.5\nb = 349.5"),
        "Then add them.",
        py("total = a + b\nprint(total)"),
        "Answer: 1,600",
    )
    [result] = await verifier.score(
        task("What was the sum of product revenue and service revenue in 2019?"), [chain(*steps)]
    )
    assert result.gate == "pass", result.evidence.get("feedback")
    values = [s["values"] for s in result.evidence["steps"]]
    assert values == [{"a": 1250.5, "b": 349.5}, {}, {"total": 1600.0}, {}]
    assert result.evidence["steps"][2]["stdout"] == "1600.0\n"


async def test_the_reference_decides_with_scale_and_sign(verifier: FinanceVerifier) -> None:
    checked = task(
        "What was the sum of product revenue and service revenue in 2019?",
        reference=1.6,
        reference_scale="billion",
        scale_hint="million",
    )
    code = py("total = 1250.5 + 349.5")
    results = await verifier.score(
        checked,
        [
            chain(code, "Answer: $1,600 million"),
            chain(code, "Answer: 1,600 thousand"),
            chain(code, "Answer: -1,600"),
        ],
    )
    assert [r.gate for r in results] == ["pass", "fail", "fail"]
    assert results[1].evidence["reason"] == "wrong scale"  # caught before the reference is consulted
    assert results[2].evidence["reason"] == "untraced number"
    assert verifier.runs == 1  # same code, one run


async def test_partial_chain_and_missing_answer(verifier: FinanceVerifier) -> None:
    partial, no_answer = await verifier.score(
        task("q"), [Chain(steps=(py("x = 1"),)), chain(py("x = 1600"), "I think that is it.")]
    )
    assert (partial.score, partial.gate) == (0.5, "unknown")
    assert no_answer.gate == "fail"
    assert "Answer:" in no_answer.evidence["feedback"]


async def test_a_hanging_calculation_fails_on_the_time_limit() -> None:
    async with LocalSandbox() as sandbox:
        verifier = FinanceVerifier(sandbox, limits=Limits(timeout_s=2.0))
        [result] = await verifier.score(task("q"), [chain(py("while True:\n    pass"), "Answer: 1")])
    assert result.gate == "fail"
    assert "timed out" in result.evidence["feedback"]


async def test_malformed_tables_are_a_verifier_error(verifier: FinanceVerifier) -> None:
    with pytest.raises(VerifierError, match="tables"):
        await verifier.score(task("q", tables=[{"name": "no rows"}]), [chain("Answer: 1")])


@pytest.mark.docker
async def test_pandas_calculation_runs_in_the_docker_image() -> None:
    async with open_sandbox(SandboxSettings(kind="docker")) as sandbox:
        verifier = FinanceVerifier(sandbox)
        steps = (
            # The Total row, read through pandas' string methods (the summed parts would be other
            # line items than the question names: grounding refuses them).
            py('total = t0.iloc[2:3, 1].str.replace(",", "").astype(float).sum()'),
            "Answer: 1,600 million",
        )
        [result] = await verifier.score(
            task("What was total revenue in 2019?", scale_hint="million"), [chain(*steps)]
        )
    assert result.gate == "pass", result.evidence.get("feedback")
    assert result.evidence["steps"][0]["values"] == {"total": 1600.0}


# Datasets -----------------------------------------------------------------------------------

WRONG_SCALE = {
    "": "million",
    "thousand": "million",
    "million": "billion",
    "billion": "million",
    "percent": "",
}


RULE_FAILURES = set(RULE_REASONS.values())
"""What may stop a gold program here: one of the four rules (their coverage is measured in
tests/test_finance_dataset_rules.py), never a crash, an untraced answer or a wrong number."""


@pytest.mark.slow  # a whole dev split through the harness: make unit leaves it out
async def test_every_financemath_solution_executes_traces_and_matches(verifier: FinanceVerifier) -> None:
    records = load("financemath_dev.jsonl")
    assert len(records) == 100
    strict = FinanceVerifier(verifier.sandbox, abs_tol=0.0)  # the source's rule: 1% relative, same sign

    async def one(record: dict[str, Any]) -> tuple[str, str, str]:
        steps = (py(record["python_solution"]), f"Answer: {record['ground_truth']}")
        [result] = await strict.score(financemath_task(record), [chain(*steps)])
        return record["question_id"], result.gate, result.evidence.get("reason", "")

    results = await asyncio.gather(*(one(r) for r in records))
    for qid, gate, reason in results:
        assert gate == "pass" or reason in RULE_FAILURES, f"{qid}: {reason}"
    assert (
        sum(gate == "pass" for _, gate, _ in results) >= 45
    )  # bare answers to percentage questions fail the scale rule


async def test_financemath_flipped_and_five_percent_off_answers_are_rejected(
    verifier: FinanceVerifier,
) -> None:
    records = [r for r in load("financemath_dev.jsonl") if r["ground_truth"] != 0]
    for record in records:  # every record, through the comparison the verifier applies
        gold = record["ground_truth"]
        assert compare_answer(gold, gold, abs_tol=0.0)
        assert not compare_answer(-gold, gold, abs_tol=0.0), record["question_id"]
        assert not compare_answer(gold * 1.05, gold, abs_tol=0.0), record["question_id"]
    strict = FinanceVerifier(verifier.sandbox, abs_tol=0.0)
    sample = records[::10]

    async def gates(record: dict[str, Any]) -> list[str]:
        code = py(record["python_solution"] + "\n\nvalue = solution()\nflipped = -value\nerr = value * 1.05")
        gold = record["ground_truth"]
        wrong = [chain(code, f"Answer: {-gold}"), chain(code, f"Answer: {gold * 1.05}")]
        return [r.gate for r in await strict.score(financemath_task(record), wrong)]

    assert all(g == ["fail", "fail"] for g in await asyncio.gather(*(gates(r) for r in sample)))


@pytest.mark.slow  # a whole dev split through the harness: make unit leaves it out
async def test_every_tatqa_derivation_executes_traces_and_matches(verifier: FinanceVerifier) -> None:
    records = load("tatqa_arith_dev.jsonl")
    assert len(records) == 150

    async def one(record: dict[str, Any]) -> tuple[str, str, str]:
        steps = (
            py(tatqa_program(record["derivation"])),
            f"Answer: {record['answer']} {tatqa_unit(record['scale'])}",
        )
        [result] = await verifier.score(tatqa_task(record), [chain(*steps)])
        return record["uid"], result.gate, result.evidence.get("reason", "")

    results = await asyncio.gather(*(one(r) for r in records))
    for uid, gate, reason in results:
        assert gate == "pass" or reason in RULE_FAILURES, f"{uid}: {reason}"
    assert sum(gate == "pass" for _, gate, _ in results) >= 125


@pytest.mark.slow  # a whole dev split through the harness: make unit leaves it out
async def test_tatqa_wrong_scale_flipped_sign_and_five_percent_off_are_rejected(
    verifier: FinanceVerifier,
) -> None:
    records = load("tatqa_arith_dev.jsonl")
    # The source's rule allows 0.01 absolute: a 5% error of a gold within ±0.2 (and any change
    # to 0) is inside it, so those few records cannot show a rejection.
    nonzero = [r for r in records if r["answer"] != 0]
    visible = [r for r in nonzero if abs(r["answer"]) * 0.05 > 0.01]
    assert len(records) - len(visible) <= 3
    for r in nonzero:
        gold, scale = r["answer"], r["scale"]
        assert compare_answer(gold, gold, scale=scale, gold_scale=scale)
        assert not compare_answer(gold, gold, scale=WRONG_SCALE[scale], gold_scale=scale), r["uid"]
        assert not compare_answer(-gold, gold, scale=scale, gold_scale=scale), r["uid"]
    for r in visible:
        assert not compare_answer(r["answer"] * 1.05, r["answer"], scale=r["scale"], gold_scale=r["scale"]), (
            r["uid"]
        )

    async def gates(record: dict[str, Any]) -> list[str]:
        expr, gold, scale = tatqa_code(record["derivation"]), record["answer"], record["scale"]
        code = py(f"answer = {expr}\nflipped = -answer\nerr = answer * 1.05")
        wrong = [
            chain(code, f"Answer: {gold} {tatqa_unit(WRONG_SCALE[scale])}"),
            chain(code, f"Answer: {-gold} {tatqa_unit(scale)}"),
            chain(code, f"Answer: {gold * 1.05} {tatqa_unit(scale)}"),
        ]
        return [r.gate for r in await verifier.score(tatqa_task(record), wrong)]

    assert all(g == ["fail"] * 3 for g in await asyncio.gather(*(gates(r) for r in visible[::5])))
