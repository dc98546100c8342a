"""The four rules of a verified finance answer, one behaviour at a time, on the README's 10-K table.

Provenance (every operand traced), grounding (the cells the question names), operation (the
question's formula and direction) and scale, plus the reader's own guards (table writes,
numbers built from text, code that does not compute what it reads as). Calculations run in the
subprocess sandbox through the real harness.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ponder.plugin.analyze.tables import finance_inputs, load_tables
from ponder.verifiers import Chain, FinanceVerifier, VerifyTask
from ponder.verifiers._finance_question import asks_for_percent, question_form, years_in

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")
TENK = Path(__file__).resolve().parent.parent / "examples" / "tenk_table.csv"
NET_INCOME = "What was the change in net income from FY2022 to FY2023?"
NI = "ni23 = t0.iloc[6, 1]\nni22 = t0.iloc[6, 2]\n"


def tenk(question: str) -> VerifyTask:
    return VerifyTask(kind="finance", question=question, inputs=finance_inputs(load_tables(TENK)))


def text_task(question: str) -> VerifyTask:
    return VerifyTask(kind="finance", question=question, inputs={"tables": [], "paragraphs": []})


async def judge(verifier: FinanceVerifier, task: VerifyTask, code: str, answer: str) -> dict[str, Any]:
    chain = Chain(steps=(f"```python\n{code}\n```", f"Answer: {answer}"), terminal=True)
    [result] = await verifier.score(task, [chain])
    return {"gate": result.gate, **result.evidence}


def rule(evidence: dict[str, Any], name: str) -> dict[str, Any]:
    return next(r for r in evidence["rules"] if r["rule"] == name)


async def test_the_right_calculation_passes_every_rule(verifier: FinanceVerifier) -> None:
    ev = await judge(verifier, tenk(NET_INCOME), NI + "change = ni23 - ni22", "103 million")
    assert ev["gate"] == "pass", ev.get("feedback")
    assert [r["status"] for r in ev["rules"]] == ["pass"] * 4
    assert {o["item"] for o in ev["operands"]} == {"Net income FY2023", "Net income FY2022"}


@pytest.mark.parametrize(
    ("code", "answer", "failed", "detail"),
    [
        pytest.param(
            "ni23 = t0.iloc[6, 1]\nchange = ni23 - 16.94",
            "354.06 million",
            "provenance",
            "untraced operand 16.94",
            id="number-from-nowhere",
        ),
        pytest.param(
            "op23 = t0.iloc[5, 1]\nni22 = t0.iloc[6, 2]\nchange = op23 - ni22",
            "225 million",
            "grounding",
            "used Operating income FY2023 (another line item); "
            "the question asks for Net income FY2022, FY2023",
            id="another-row",
        ),
        pytest.param(
            "ni23 = t0.iloc[6, 1]\nni21 = t0.iloc[6, 3]\nchange = ni23 - ni21",
            "181 million",
            "grounding",
            "used Net income FY2021 (another period)",
            id="another-period",
        ),
        pytest.param(
            NI + "change = ni22 - ni23",
            "-103 million",
            "operation",
            "(2023 − 2022); the calculation computes 2022 − 2023",
            id="reversed",
        ),
        pytest.param(
            NI + "change = ni23 - ni22",
            "103 thousand",
            "scale",
            "in thousand but the tables are in million",
            id="scale",
        ),
        pytest.param(
            NI + "change = ni23 + ni22", "639 million", "operation", "is not 2023 − 2022", id="sum-for-change"
        ),
    ],
)
async def test_each_wrong_chain_fails_its_rule(
    verifier: FinanceVerifier, code: str, answer: str, failed: str, detail: str
) -> None:
    ev = await judge(verifier, tenk(NET_INCOME), code, answer)
    assert ev["gate"] == "fail"
    first = next(r for r in ev["rules"] if r["status"] == "fail")
    assert first["rule"] == failed and detail in first["detail"], first


async def test_cells_read_by_label_and_literals_copied_from_cells_are_traced(
    verifier: FinanceVerifier,
) -> None:
    by_label = (
        'ni23 = t0.loc[t0["Line item (in millions)"] == "Net income", "FY2023"].values[0]\n'
        'ni22 = t0.set_index("Line item (in millions)").loc["Net income", "FY2022"]\n'
        "change = ni23 - ni22"
    )
    ev = await judge(verifier, tenk(NET_INCOME), by_label, "103 million")
    assert ev["gate"] == "pass", ev.get("feedback")
    literal = await judge(verifier, tenk(NET_INCOME), "change = 371 - 268", "103 million")
    assert literal["gate"] == "pass", literal.get("feedback")
    assert {o["cell"] for o in literal["operands"]} == {"t0[6][1]", "t0[6][2]"}


async def test_same_amount_in_another_scale_passes_and_the_readme_answer_is_untraced(
    verifier: FinanceVerifier,
) -> None:
    ev = await judge(verifier, tenk(NET_INCOME), NI + "change = (ni23 - ni22) / 1000", "0.103 billion")
    assert ev["gate"] == "pass", ev.get("feedback")
    # The README once printed "3 (million)" as VERIFIED: the 262 cell "as a fraction".
    chain = Chain(steps=("Net income changed.", "Answer: 3 (million)"), terminal=True)
    [old] = await verifier.score(tenk(NET_INCOME), [chain])
    assert old.gate == "fail" and old.evidence["reason"] == "untraced number"


async def test_percentage_questions_need_the_percentage_form_and_a_percent_sign(
    verifier: FinanceVerifier,
) -> None:
    question = "What was the percentage change in net income from FY2022 to FY2023?"
    right = await judge(verifier, tenk(question), NI + "pct = (ni23 - ni22) / ni22 * 100", "38.43%")
    assert right["gate"] == "pass", right.get("feedback")
    bare = await judge(verifier, tenk(question), NI + "pct = (ni23 - ni22) / ni22 * 100", "38.43")
    assert bare["reason"] == "wrong scale" and "a bare number for a percentage" in bare["feedback"]
    wrong_base = await judge(verifier, tenk(question), NI + "pct = (ni23 - ni22) / ni23 * 100", "27.76%")
    assert wrong_base["reason"] == "wrong operation"


async def test_averages_and_ratios_have_their_form(verifier: FinanceVerifier) -> None:
    avg = "What was the average net income for FY2022 and FY2023?"
    assert (await judge(verifier, tenk(avg), NI + "a = (ni23 + ni22) / 2", "319.5 million"))["gate"] == "pass"
    not_avg = await judge(verifier, tenk(avg), NI + "a = (ni23 + ni22) / 3", "213 million")
    assert not_avg["reason"] == "untraced operand"  # 3 is neither the count of values nor a stated number
    ratio = "What was the ratio of net income to revenue in FY2023?"
    code = "ni = t0.iloc[6, 1]\nrev = t0.iloc[0, 1]\nr = ni / rev"
    assert (await judge(verifier, tenk(ratio), code, "0.0822"))["gate"] == "pass"
    scaled = await judge(verifier, tenk(ratio), code, "0.0822 million")
    assert scaled["reason"] == "wrong scale"


async def test_the_code_cannot_look_traced(verifier: FinanceVerifier) -> None:
    task = tenk(NET_INCOME)
    write = await judge(
        verifier, task, "t0.iloc[6, 1] = 999\nchange = t0.iloc[6, 1] - t0.iloc[6, 2]", "731 million"
    )
    assert write["reason"] == "table modified"
    text = await judge(verifier, task, 'x = float("16.94")\nchange = t0.iloc[6, 1] - x', "354.06 million")
    assert text["reason"] == "untraced operand"
    shadow = "def float(v):\n    return v + 0.5\n" + NI.replace("t0.iloc[6, 1]", "float(t0.iloc[6, 1])")
    shadow += "change = ni23 - ni22"
    assert (await judge(verifier, task, shadow, "103.5 million"))["gate"] == "fail"


async def test_questions_without_tables_need_their_operands_in_the_text(verifier: FinanceVerifier) -> None:
    question = "A bond pays 6% a year on a face value of 1,000. What is the monthly coupon?"
    ok = await judge(verifier, text_task(question), "c = 1000 * 0.06 / 12", "5")
    assert ok["gate"] == "pass", ok.get("feedback")
    assert {o["kind"] for o in ok["operands"]} == {"question", "constant"}
    bad = await judge(verifier, text_task(question), "c = 1000 * 0.065 / 12", "5.4167")
    assert bad["reason"] == "untraced operand" and "0.065" in bad["feedback"]
    negative = await judge(
        verifier,
        text_task("The price is 30 and the cost 50. What is the price minus nothing?"),
        "p = 30 - 50",
        "-20",
    )
    assert negative["reason"] == "wrong operation"


def test_periods_in_their_spellings() -> None:
    assert years_in("FY2023 and fiscal 2022") == {2022, 2023}
    assert years_in("December 31, 2019") == {2019}
    assert years_in("F19 vs FY18") == {2018, 2019}
    assert years_in("from 2017 to 2019") == {2017, 2018, 2019}
    assert years_in("between 2018 and 2019") == {2018, 2019}


@pytest.mark.parametrize(
    ("question", "form"),
    [
        ("What was the change in net income from 2018 to 2019?", "change"),
        ("What was the percentage change in revenue?", "percentage change"),
        ("What was the absolute percentage change in the rate?", "change"),
        ("What is the difference between A and B?", "difference"),
        ("What is the difference in cash from 2018 to 2019?", "change"),
        ("What is the average revenue?", "average"),
        ("What proportion of revenue was service revenue?", "ratio"),
        ("What was the total revenue?", None),
    ],
)
def test_question_forms(question: str, form: str | None) -> None:
    assert question_form(question, set()) == form


def test_weighted_average_names_an_item_not_a_form() -> None:
    q = "What is the weighted average exchange rate?"
    assert question_form(q, {"weighted", "average", "exchange", "rate"}) is None
    assert asks_for_percent("What percentage of revenue was cost?") and not asks_for_percent(
        "A 5% bond costs 90."
    )


# Word problems (FinanceMath/TheoremQA style): no period or line item orders a difference --------

FORWARD = (
    "The spot price is $50, the risk-free rate 4% and the contract ends in 3 months. The current "
    "value of the advantages is $5, and the current value of the disadvantages is $6. What is the "
    "forward price?"
)


async def test_a_difference_the_question_does_not_order_must_not_come_out_negative(
    verifier: FinanceVerifier,
) -> None:
    question = "A share costs 40 and sells for 55. What is the gain per share?"
    ok = await judge(verifier, text_task(question), "g = 55 - 40", "15")
    assert ok["gate"] == "pass", ok.get("feedback")
    reversed_ = await judge(verifier, text_task(question), "g = abs(40 - 55)", "15")
    assert reversed_["reason"] == "wrong operation"
    assert "(40 − 55 = -15); the question does not say which way the difference goes" in reversed_["feedback"]
    negated = await judge(verifier, text_task(question), "g = (0 - 40) + 55", "15")
    assert "negates 40 (0 − 40)" in negated["feedback"]


async def test_benefit_and_cost_words_order_a_net_difference(verifier: FinanceVerifier) -> None:
    right = await judge(
        verifier, text_task(FORWARD), "f = 50 * 1.04 ** (3 / 12) - (5 - 6) * 1.04 ** (3 / 12)", "51.503"
    )
    assert right["gate"] == "pass", right.get("feedback")  # 5 - 6 < 0, but benefit - cost is the order
    wrong = await judge(
        verifier, text_task(FORWARD), "f = 50 * 1.04 ** (3 / 12) - (6 - 5) * 1.04 ** (3 / 12)", "49.4828"
    )
    assert wrong["reason"] == "wrong operation"
    assert "a net amount takes the cost from the benefit" in wrong["feedback"]


async def test_a_difference_inside_a_library_call_cannot_be_ordered(verifier: FinanceVerifier) -> None:
    question = (
        "Returns are normal with a mean of 160 and a standard deviation of 30. What share is below 115?"
    )
    code = "from scipy.stats import norm\np = norm.cdf((115 - 160) / 30) * 100"
    ev = await judge(verifier, text_task(question), code, "6.681%")
    assert ev["reason"] == "wrong operation"
    assert "a difference enters scipy.stats.norm.cdf()" in ev["feedback"]


async def test_a_branch_on_known_values_is_followed_and_its_test_traced(verifier: FinanceVerifier) -> None:
    question = (
        "A fund's NAV rose from 160 to 250 against committed capital of 100. Carry is 20%. What is the carry?"
    )
    body = "def solution():\n    if 250 > {t}:\n        return ({a} - {b}) * 0.2\n    return 0\n"
    ok = await judge(verifier, text_task(question), body.format(t=100, a=250, b=160), "18")
    assert ok["gate"] == "pass", ok.get("feedback")
    assert any(o.get("in") == "a branch test" for o in ok["operands"])
    reversed_ = await judge(verifier, text_task(question), body.format(t=100, a=160, b=250), "-18")
    assert "(160 − 250 = -90)" in reversed_["feedback"]
    threshold = await judge(verifier, text_task(question), body.format(t=117.3, a=250, b=160), "18")
    assert threshold["reason"] == "untraced operand" and "117.3" in threshold["feedback"]


RETURNS = {
    "name": "table0",
    "columns": ["Year", "Investment", "Return"],
    "rows": [["1", "$500", "12%"], ["2", "$600", "5%"], ["3", "$1000", "1%"]],
}


def returns_task() -> VerifyTask:
    question = "A fund's returns for three years are below. What is the holding period return?"
    return VerifyTask(kind="finance", question=question, inputs={"tables": [RETURNS], "paragraphs": []})


async def test_one_column_is_read_one_way_and_a_stated_1_is_a_cell(verifier: FinanceVerifier) -> None:
    ok = await judge(verifier, returns_task(), "hpr = (1.12 * 1.05 * 1.01 - 1) * 100", "18.776")
    assert ok["gate"] == "pass", ok.get("feedback")
    mixed = await judge(verifier, returns_task(), "hpr = (1.12 * 1.05 * 1.0 - 1) * 100", "17.6")
    assert mixed["reason"] == "untraced operand"
    assert "one column's cells are read one way" in mixed["feedback"]
    # with no table, a factor of 1 that no input states is the identity constant
    unit = await judge(
        verifier, text_task("A bond pays 6% on 1,000. What is the coupon?"), "c = 1 * 1000 * 0.06", "60"
    )
    assert unit["gate"] == "pass", unit.get("feedback")


def test_formatting_stripped_before_astype_reads_the_cells() -> None:
    from ponder.verifiers._finance_calc import Op, Opaque, analyse

    table = {"name": "t0", "columns": ["", "2019"], "rows": [["A", "1,200"], ["B", "400"]]}
    executed = [{"values": {"total": 1600.0}}]
    plain = analyse(['total = t0.iloc[0:2, 1].str.replace(",", "").astype(float).sum()'], [table], executed)
    assert isinstance(plain.values[(0, "total")], Op)
    changed = analyse(
        ['total = t0.iloc[0:2, 1].str.replace("1", "7").astype(float).sum()'], [table], executed
    )
    assert isinstance(changed.values[(0, "total")], Opaque)


async def test_a_factor_of_1_a_table_states_is_that_cell(verifier: FinanceVerifier) -> None:
    table = {
        "name": "table0",
        "columns": ["Security", "Weight(%)", "Standard Deviation(%)"],
        "rows": [["1", "30", "20"], ["2", "70", "12"]],
    }
    question = (
        "Given the weights and standard deviations, what is the portfolio standard deviation at a "
        "correlation of 0.40?"
    )
    task = VerifyTask(kind="finance", question=question, inputs={"tables": [table], "paragraphs": []})
    formula = "s = ((w1**2 * 0.2**2) + (0.7**2 * 0.12**2) + 2 * w1 * 0.7 * 0.4 * 0.2 * 0.12) ** 0.5 * 100"
    ok = await judge(verifier, task, "w1 = 0.3\n" + formula, "12.1194")
    assert ok["gate"] == "pass", ok.get("feedback")
    # a weight of 1.0 multiplies as the Security "1" label, not as the constant 1 of `1 + r`
    one = await judge(verifier, task, "w1 = 1.0\n" + formula, "24.5959")
    assert one["reason"] == "not the cells asked for" and "another column" in one["feedback"]


async def test_an_added_amount_equal_to_a_scale_constant_is_the_stated_input(
    verifier: FinanceVerifier,
) -> None:
    """1,000 or 10,000 added to an amount is a fudge unless an input states it: then it is that
    input, and an amount no input states stays "a constant added"."""
    question = "Dividends were $8,000 and bank borrowings of $10,000 were paid off. What was the total paid?"
    ok = await judge(verifier, text_task(question), "paid = 8000 + 10000", "18000")
    assert ok["gate"] == "pass", ok.get("feedback")
    assert {o["kind"] for o in ok["operands"]} == {"question"}
    fudge = await judge(
        verifier, text_task("Dividends were $8,000. What was paid?"), "p = 8000 + 1000", "9000"
    )
    assert fudge["reason"] == "untraced operand" and "a constant added" in fudge["feedback"]


PVBP = (
    "What is the price value of a basis point for a bond with a 3% annual coupon, four years to "
    "maturity and a yield-to-maturity of 5%?"
)
PVBP_SIDES = (
    "minus = sum([3 / (1 + (5 - 0.01) / 100) ** t for t in range(1, 5)])\n"
    "minus += 100 / (1 + (5 - 0.01) / 100) ** 4\n"
    "plus = sum([3 / (1 + (5 + 0.01) / 100) ** t for t in range(1, 5)])\n"
    "plus += 100 / (1 + (5 + 0.01) / 100) ** 4\n"
)


async def test_a_phrase_states_its_number_and_no_other(verifier: FinanceVerifier) -> None:
    """ "A basis point" is 0.01 (percent) or 0.0001; "quarterly" is 90 days of 360; a "2 and 20"
    fee scheme is 2% and 20%. Each is traced only where its phrase is in the question."""
    ok = await judge(verifier, text_task(PVBP), PVBP_SIDES + "pvbp = (minus - plus) / 2", "0.033812")
    assert ok["gate"] == "pass", ok.get("feedback")
    assert any(o["source"] == "question" and o.get("normalised", "").startswith('"a basis point"')
               for o in ok["operands"])  # fmt: skip
    unnamed = PVBP.replace("price value of a basis point", "price sensitivity")
    bare = await judge(verifier, text_task(unnamed), PVBP_SIDES + "pvbp = (minus - plus) / 2", "0.033812")
    assert bare["reason"] == "untraced operand" and "0.01" in bare["feedback"]

    fees = "A fund of 160 follows a 2 and 20 fee scheme. What is the management fee on 200?"
    assert (await judge(verifier, text_task(fees), "f = 200 * 0.02", "4"))["gate"] == "pass"
    no_scheme = await judge(verifier, text_task(fees.replace(" fee scheme", " plan")), "f = 200 * 0.02", "4")
    assert no_scheme["reason"] == "untraced operand"  # "2 and 20" alone is not a percentage

    swap = "A swap on a notional of 100 resets quarterly at a 3% fixed rate. What is one fixed payment?"
    assert (await judge(verifier, text_task(swap), "p = 100 * 0.03 * 90 / 360", "0.75"))["gate"] == "pass"
    monthly = await judge(
        verifier, text_task(swap.replace("quarterly", "monthly")), "p = 100 * 0.03 * 90 / 360", "0.75"
    )
    assert monthly["reason"] == "untraced operand" and "90" in monthly["feedback"]


async def test_a_reversed_difference_of_sums_is_caught_by_the_run(verifier: FinanceVerifier) -> None:
    """Sums over a sequence are opaque to the expression, so a difference of two of them has no
    sign to read; the run's result has one, and a reversed PVBP comes out negative."""
    reversed_ = await judge(verifier, text_task(PVBP), PVBP_SIDES + "pvbp = (plus - minus) / 2", "-0.033812")
    assert reversed_["reason"] == "wrong operation"
    assert "negative number from non-negative inputs" in reversed_["feedback"]


async def test_a_column_swapped_for_another_the_question_names_is_not_verified(
    verifier: FinanceVerifier,
) -> None:
    """The question names both columns, so each cell the swapped chain reads is one it names; only
    the column it leaves out shows that the land's cost stands in for the truck's."""
    table = {
        "name": "t0",
        "columns": ["", "Truck", "Land"],
        "rows": [["Original cost", "57,000", "18,000"], ["Current fair value", "27,000", "21,000"]],
    }
    question = "A company swaps its truck for a parcel of land. What gain does it report on the exchange?"
    task = VerifyTask(kind="finance", question=question, inputs={"tables": [table], "paragraphs": []})
    ok = await judge(verifier, task, "gain = 27000 - 18000", "9000")
    assert rule(ok, "grounding")["status"] == "pass", ok.get("feedback")
    swapped = await judge(verifier, task, "gain = 21000 - 18000", "3000")
    assert swapped["reason"] == "not the cells asked for"
    assert "names Truck of table t0, and the calculation uses none of its cells" in swapped["feedback"]
