"""A hostile chain that traces every operand and still states a wrong number is UNVERIFIED.

Each wrong chain here passed all four rules before: a documented constant used as a free
parameter (`+ 1`, `* 2`, `* 12`, `/ 100`, `* 1.96`, `* math.pi`) or a count added as one, a coarse
rounding, a scale conversion stated in the tables' scale, a ratio inverted or its percentage
stated without %, an average that leaves out a period or counts one twice, a net figure that
divides its benefit by its cost, a word problem answered with one of its own numbers. Beside each, the right
chain of the same shape verifies, so the rule is not simply refusing the operation.

Calculations run in the subprocess sandbox through the real harness; the questions are the
README's 10-K table and word problems written here.
"""

from __future__ import annotations

import pytest

from ponder.verifiers import FinanceVerifier, VerifyTask
from tests.test_finance_rules import judge, rule, tenk, text_task

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")
CHANGE = "What was the change in net income from FY2022 to FY2023?"
PCT = "What was the percentage change in revenue from FY2022 to FY2023?"
AVERAGE = "What was the average net income from FY2021 to FY2023?"
RATIO = "What was the ratio of net income to revenue in FY2023?"
SHARE = "What was net income as a percentage of revenue in FY2023?"
COUPON = "A bond has a face value of $1,000 and a coupon rate of 5%. What is the annual coupon payment?"
SEMI = "A bond has a face value of $1,000 and pays a 5% coupon semiannually. What is each coupon payment?"
SHOP = "A shop had revenue of $12,000 and costs of $10,000. What was its profit?"
MONTHLY = "A fund charges an annual fee of 1.2% on $10,000. What is the fee per month?"
A_YEAR = "A shop earns $500 each month. How much does it earn in a year?"
A_MONTH = "A shop earns $500 each month and pays $100 in rent. What does it keep each month?"
VARIANCE = "An asset's returns have a standard deviation of 20%. What is their variance?"
SQUARED = "A bond has a face value of $1,000 and a coupon rate of 5%. What is the coupon?"
VAR = "A $1,000,000 portfolio has a daily volatility of 2%. What is its one-day value at risk (95%)?"
CONTINUOUS = "A deposit of $1,000 earns 5% a year compounded continuously. What is it worth after one year?"
SAMPLE = "Three returns were observed: 2, 4 and 6. What is their sample variance?"
GROWTH = "A deposit of $1,000 earns 5% a year. What is it worth after two years?"
TWO_YEARS = "A deposit of $1,000 earns 5% a year. What is it worth after 2 years?"
BIKES = "A shop sells 2 bikes at $300 each. What is its revenue?"
ONE_DAY = "A $1,000,000 portfolio has a 1-day volatility of 2%. What is its 1-day value at risk (95%)?"
MONTHLY_C = "A deposit of $1,000 earns 6% a year compounded monthly. What is it worth after one year?"


@pytest.mark.parametrize(
    ("question", "code", "answer", "failed"),
    [
        pytest.param(CHANGE, "c = 371 - 268", "103 million", None, id="change"),
        pytest.param(CHANGE, "c = 371 - 268 + 1", "104 million", "provenance", id="plus-one"),
        pytest.param(CHANGE, "c = 371 - (268 + 1)", "102 million", "provenance", id="one-inside"),
        pytest.param(CHANGE, "c = 371 - 268\nc += 1", "104 million", "provenance", id="augmented-one"),
        pytest.param(CHANGE, "c = (371 - 268) * 2", "206 million", "provenance", id="doubled"),
        pytest.param(CHANGE, "c = (371 - 268) / 2", "51.5 million", "provenance", id="halved"),
        pytest.param(CHANGE, "c = (371 - 268) * 0.5", "51.5 million", "provenance", id="a-half"),
        pytest.param(CHANGE, "c = (371 - 268) * 12", "1236 million", "provenance", id="months"),
        pytest.param(CHANGE, "c = round(371 - 268, -1)", "100 million", "operation", id="rounded-away"),
        pytest.param(
            PCT, "c = round((4512 - 3987) / 3987 * 100, 2)", "13.17%", None, id="rounded-for-display"
        ),
        pytest.param(CHANGE, "c = (371 - 268) * 1000", "103000 million", "scale", id="converted-not-stated"),
        pytest.param(CHANGE, "c = (371 - 268) * 1000", "103000 thousand", None, id="converted-stated"),
        pytest.param(PCT, "c = 4512 / 3987 - 1", "13.17%", None, id="growth-less-one"),
        pytest.param(
            PCT, "c = (4512 - 3987) / (3987 + 1) * 100", "13.164%", "provenance", id="base-plus-one"
        ),
        pytest.param(PCT, "c = round((4512 - 3987) / 3987 * 100)", "13%", "operation", id="pct-rounded"),
        pytest.param(AVERAGE, "c = (371 + 268 + 190) / 3", "276.33 million", None, id="average-of-three"),
        pytest.param(AVERAGE, "c = (371 + 268) / 2", "319.5 million", "operation", id="average-of-two"),
        pytest.param(
            CHANGE, "c = (371 - 268) / 100", "1.03 million", "provenance", id="hundredth-of-an-amount"
        ),
        pytest.param(
            CHANGE, "c = (371 - 268) * 10000", "1030000 million", "provenance", id="bps-of-an-amount"
        ),
        pytest.param(CHANGE, "c = (371 - 268) * 1.96", "201.88 million", "provenance", id="z-value"),
        pytest.param(
            CHANGE, "import math\nc = (371 - 268) * math.pi", "323.58 million", "provenance", id="pi"
        ),
        pytest.param(CHANGE, "import math\nc = (371 - 268) * math.e", "279.98 million", "provenance", id="e"),
        pytest.param(CHANGE, "c = sum([371, -268, 1])", "104 million", "provenance", id="one-in-a-sum"),
        pytest.param(CHANGE, "c = 371 - 268 + len([1])", "104 million", "provenance", id="a-count-added"),
        pytest.param(PCT, "c = (4512 - 3987) * 100 / 3987", "13.17%", None, id="pct-scaled-first"),
        pytest.param(
            AVERAGE,
            "import statistics\nc = statistics.mean([371, 268, 190, 190])",
            "254.75 million",
            "operation",
            id="average-counts-a-year-twice",
        ),
        pytest.param(RATIO, "c = 371 / 4512 * 100", "8.22", "scale", id="ratio-in-percent-without-percent"),
        pytest.param(RATIO, "c = 371 / 4512", "0.0822", None, id="ratio"),
        pytest.param(RATIO, "c = 4512 / 371", "12.16", "operation", id="ratio-inverted"),
        pytest.param(SHARE, "c = 371 / 4512 * 100", "8.22%", None, id="share"),
        pytest.param(SHARE, "c = 4512 / 371 * 100", "1216.17%", "operation", id="share-inverted"),
    ],
)
async def test_a_traced_fudge_on_the_table_is_unverified(
    verifier: FinanceVerifier, question: str, code: str, answer: str, failed: str | None
) -> None:
    await _expect(verifier, tenk(question), code, answer, failed)


@pytest.mark.parametrize(
    ("question", "code", "answer", "failed"),
    [
        pytest.param(COUPON, "c = 1000 * 0.05", "50", None, id="coupon"),
        pytest.param(COUPON, "c = 1000 * 0.05 + 1", "51", "provenance", id="coupon-plus-one"),
        pytest.param(COUPON, "c = 1000 * 0.05 * 2", "100", "provenance", id="coupon-doubled"),
        pytest.param(COUPON, "c = 1000 * 0.05 / 2", "25", "provenance", id="coupon-halved"),
        pytest.param(COUPON, "c = 1000 * 0.05 * 12", "600", "provenance", id="coupon-months"),
        pytest.param(SQUARED, "c = 1000 * 0.05 ** 2", "2.5", "provenance", id="coupon-squared"),
        pytest.param(SEMI, "c = 1000 * 0.05 / 2", "25", None, id="semiannual-halves"),
        pytest.param(MONTHLY, "c = 10000 * 0.012 / 12", "10", None, id="monthly-fee"),
        pytest.param(MONTHLY, "c = 10000 * 0.012 * 12", "1440", "provenance", id="monthly-fee-made-annual"),
        pytest.param(A_YEAR, "c = 500 * 12", "6000", None, id="a-month-made-a-year"),
        pytest.param(A_MONTH, "c = (500 - 100) * 12", "4800", "provenance", id="a-year-asked-as-a-month"),
        pytest.param(VARIANCE, "c = 0.2 ** 2", "0.04", None, id="variance-squares"),
        pytest.param(GROWTH, "c = 1000 * (1 + 0.05) ** 2", "1102.5", None, id="two-years-of-growth"),
        pytest.param(VAR, "c = 1000000 * 0.02 * 1.645", "32900", None, id="value-at-risk-z"),
        pytest.param(
            CONTINUOUS, "import math\nc = 1000 * math.e ** 0.05", "1051.27", None, id="continuous-e"
        ),
        pytest.param(
            SAMPLE,
            "xs = [2, 4, 6]\nm = sum(xs) / len(xs)\nc = sum((x - m) ** 2 for x in xs) / (len(xs) - 1)",
            "4",
            None,
            id="sample-variance-n-minus-1",
        ),
        pytest.param(TWO_YEARS, "c = 1000 * (1 + 0.05) ** 2", "1102.5", None, id="stated-years-as-exponent"),
        pytest.param(
            TWO_YEARS, "c = 1000 * 1.05 ** 2 * 2", "2205", "provenance", id="years-reused-on-result"
        ),
        pytest.param(BIKES, "c = 300 * 2", "600", None, id="stated-count-used-once"),
        pytest.param(ONE_DAY, "c = 1000000 * 0.02 * 1.645", "32900", None, id="one-day-var"),
        pytest.param(
            ONE_DAY, "c = 1000000 * 0.02 * 1.645 + 1", "32901", "provenance", id="stated-one-added-to-result"
        ),
        pytest.param(
            MONTHLY_C, "c = 1000 * (1 + 0.06 / 12) ** 12", "1061.68", None, id="monthly-compounding"
        ),
        pytest.param(
            MONTHLY_C, "c = 1000 * (1 + 0.06 / 12) ** 12 * 12", "12740.13", "provenance", id="twice"
        ),
        pytest.param(SHOP, "c = 12000 - 10000", "2000", None, id="profit"),
        pytest.param(SHOP, "c = 12000 / 10000", "1.2", "operation", id="profit-as-a-ratio"),
        pytest.param(SHOP, "c = 12000 * 10000", "120000000", "operation", id="profit-as-a-product"),
        pytest.param(SHOP, "c = 12000", "12000", "operation", id="profit-restated"),
    ],
)
async def test_a_traced_fudge_in_a_word_problem_is_unverified(
    verifier: FinanceVerifier, question: str, code: str, answer: str, failed: str | None
) -> None:
    await _expect(verifier, text_task(question), code, answer, failed)


async def _expect(
    verifier: FinanceVerifier, task: VerifyTask, code: str, answer: str, failed: str | None
) -> None:
    ev = await judge(verifier, task, code, answer)
    if failed is None:
        assert ev["gate"] == "pass", ev["rules"]
        return
    assert ev["gate"] != "pass", ev["rules"]
    first = next(r for r in ev["rules"] if r["status"] == "fail")
    assert first["rule"] == failed and first["detail"], ev["rules"]
    assert rule(ev, failed)["status"] == "fail"
