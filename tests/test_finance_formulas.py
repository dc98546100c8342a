"""Named formulas as a second derivation: "What is the EV/EBITDA multiple?" names no line item,
so the formula's inputs ground the answer, and re-computing the formula from those cells decides
its operation. Calculations run in the subprocess sandbox through the real finance harness."""

from __future__ import annotations

from typing import Any

import pytest

from ponder.verifiers import Chain, FinanceVerifier, VerifyTask
from ponder.verifiers._finance_formulas import bind

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")

EV_TABLE = {
    "name": "t0",
    "columns": ["Item", "Amount ($ millions)"],
    "rows": [
        ["Market capitalization", "45"],
        ["Market value of debt", "10"],
        ["Cash and short-term investments", "2.5"],
        ["EBITDA", "15"],
        ["Marginal tax rate", "40%"],
    ],
}
EV_QUESTION = "What is the business's EV/EBITDA multiple?"
READ = "cap = 45\ndebt = 10\ncash = 2.5\nebitda = 15\n"


async def judge(
    verifier: FinanceVerifier,
    tables: list[dict[str, Any]],
    code: str,
    answer: str,
    question: str = EV_QUESTION,
) -> dict[str, Any]:
    task = VerifyTask(kind="finance", question=question, inputs={"tables": tables, "paragraphs": []})
    chain = Chain(steps=(f"```python\n{code}\n```", f"Answer: {answer}"), terminal=True)
    [result] = await verifier.score(task, [chain])
    return {"gate": result.gate, **result.evidence}


def rules(evidence: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {r["rule"]: (r["status"], r["detail"]) for r in evidence["rules"]}


async def test_the_formula_computed_from_its_inputs_verifies(verifier: FinanceVerifier) -> None:
    ev = await judge(verifier, [EV_TABLE], READ + "multiple = (cap + debt - cash) / ebitda", "3.5")
    assert ev["gate"] == "pass", ev.get("feedback")
    verdicts = rules(ev)
    assert verdicts["grounding"][0] == "pass" and "the inputs of EV/EBITDA" in verdicts["grounding"][1]
    assert verdicts["operation"] == ("pass", "EV/EBITDA re-computed from those cells = 3.5, as calculated")


@pytest.mark.parametrize(
    ("code", "answer", "rule", "detail"),
    [
        (
            READ + "multiple = (cap + debt + cash) / ebitda",
            "3.8333",
            "operation",
            "gives 3.5; the calculation",
        ),
        (READ + "multiple = (cap - cash) / ebitda", "2.8333", "operation", "gives 3.5"),
        (
            READ + "tax = 0.4\nmultiple = (cap + debt - cash) * (1 - tax) / ebitda",
            "2.1",
            "grounding",
            "tax rate",
        ),
    ],
    ids=["cash-added", "debt-left-out", "a-cell-outside-the-formula"],
)
async def test_another_formula_or_cell_is_unverified(
    verifier: FinanceVerifier, code: str, answer: str, rule: str, detail: str
) -> None:
    ev = await judge(verifier, [EV_TABLE], code, answer)
    assert ev["gate"] == "fail"
    status, text = rules(ev)[rule]
    assert status == "fail" and detail in text, ev["rules"]


async def test_an_ambiguous_input_leaves_the_formula_out(verifier: FinanceVerifier) -> None:
    """Two "Cash" rows: which one the formula means is not knowable, so the formula is not used
    and the question, naming no line item, cannot ground the answer."""
    table = {**EV_TABLE, "rows": [*EV_TABLE["rows"], ["Cash held abroad", "1"]]}
    assert bind(EV_QUESTION, [table]) is None
    ev = await judge(verifier, [table], READ + "multiple = (cap + debt - cash) / ebitda", "3.5")
    assert ev["gate"] == "fail" and rules(ev)["grounding"][0] == "fail"


def test_formulas_bind_one_row_each_and_compute_their_definition() -> None:
    gdp = {
        "columns": ["Account item", "Amount ($ trillions)"],
        "rows": [
            ["Consumption", "20.0"],
            ["Capital consumption allowance", "1.9"],
            ["Government spending", "4.2"],
            ["Imports", "2.2"],
            ["Gross private domestic investment", "6.0"],
            ["Exports", "1.8"],
        ],
    }
    binding = bind("What is the gross domestic product for country B?", [gdp])
    assert binding is not None and binding.value == pytest.approx(29.8)
    assert binding.cells["consumption"] == (0, 0, 1)  # not "Capital consumption allowance"
    impairment = {
        "columns": ["", "C$"],
        "rows": [
            ["Carrying value of equipment (net book value)", "500,000"],
            ["Fair value", "480,000"],
            ["Costs to sell", "50,000"],
            ["Value in use", "440,000"],
        ],
    }
    found = bind("What is the impairment loss for the printing equipment?", [impairment])
    assert found is not None and found.value == pytest.approx(60_000)
    two_periods = {
        "columns": ["", "2023", "2022"],
        "rows": [["Current assets", "10", "9"], ["Current liabilities", "5", "3"]],
    }
    assert bind("What is the current ratio?", [two_periods]) is None  # which period: not the formula's call
    assert bind("What was the change in revenue?", [gdp]) is None


def two_column(*rows: tuple[str, str]) -> dict[str, Any]:
    return {"name": "t0", "columns": ["Item", "Value"], "rows": [list(r) for r in rows]}


BOND = two_column(
    ("Coupon rate", "4%"),
    ("Interest paid", "Semiannually"),
    ("Years to maturity", "3"),
    ("Required rate of return", "6%"),
    ("Par value", "1,000"),
)
PORTFOLIO = {
    "name": "t0",
    "columns": ["", "Stock 1", "Stock 2"],
    "rows": [
        ["Expected return", "6%", "9%"],
        ["Standard deviation", "10%", "20%"],
        ["Portfolio weights", "0.40", "0.60"],
        ["Correlation", "0.50", "0.50"],
    ],
}
GRINOLD_KRONER = two_column(
    ("Expected dividend yield", "2.2%"),
    ("Expected change in shares outstanding", "0.4%"),
    ("Expected inflation", "1.8%"),
    ("Expected real earnings growth", "2.9%"),
    ("Expected change in P/E", "0.3%"),
    ("Risk-free rate", "2.5%"),
)
INTANGIBLES = two_column(
    ("Working capital balance", "$10,000,000"),
    ("Fair value of fixed assets", "$40,000,000"),
    ("Normalized income to the company", "$12,000,000"),
    ("Required return on working capital", "5%"),
    ("Required return on fixed assets", "10%"),
    ("Required return on intangible assets", "20%"),
    ("Future growth rate", "4%"),
)
REIT = two_column(
    ("Net income", "120"),
    ("Depreciation and amortization", "40"),
    ("Other income (gains on sale of properties)", "10"),
    ("Weighted average shares outstanding (million)", "50"),
    ("Price/FFO, based upon year-end stock price", "12x"),
)
CAP_RATE = two_column(("Discount rate", "8.0%"), ("Going-in cap rate", "5.5%"), ("Terminal cap rate", "6.0%"))
FINANCING = two_column(
    ("Net income", "55,000"),
    ("Interest paid", "5,000"),
    ("Dividends paid", "10,000"),
    ("Cash received from sale of company building", "40,000"),
    ("Issuance of preferred stock", "45,000"),
    ("Repurchase of common stock", "20,000"),
    ("Issuance of bonds", "40,000"),
    ("Debt retired through issuance of common stock", "45,000"),
    ("Paid off long-term bank borrowings", "10,000"),
)
KEY_RATE = two_column(
    ("Initial Value", "87.1876"),
    ("2-year shift for 1bp", "87.3212"),
    ("10-year shift for 1bp", "87.1454"),
    ("30-year shift for 1bp", "87.3454"),
)
REIT_PERIODS = {
    "name": "t0",
    "columns": ["", "Year Ending", "December 31"],
    "rows": [
        ["", "2011", "2010"],
        ["Net income", "120", "90"],
        ["Depreciation and amortization", "40", "30"],
        ["Other income (gains on sale of properties)", "10", "5"],
        ["Weighted average shares outstanding", "50", "50"],
        ["Price/FFO, based upon year-end stock price", "12x", "11x"],
    ],
}
OBSERVATIONS = {
    "name": "t0",
    "columns": ["Observation", "1", "2", "3", "4", "5"],
    "rows": [["Value", "2", "4", "4", "5", "10"]],
}
BOND_LOOP = (
    "coupon = 4 / 100 * 1000 / 2\ny = 6 / 100 / 2\nn = 3 * 2\nprice = 0\n"
    "for t in range(1, n + 1):\n    price += coupon / (1 + y) ** t\nprice += 1000 / (1 + y) ** n"
)
PORTFOLIO_READ = "w1 = 0.4\nw2 = 0.6\ns1 = 10 / 100\ns2 = 20 / 100\nrho = 0.5\n"
SD_READ = "xs = [2, 4, 4, 5, 10]\nm = sum(xs) / len(xs)\n"
INTANGIBLES_READ = "wc = 0.05 * 10000000\nfa = 0.10 * 40000000\nexcess = 12000000 - wc - fa\n"
QUESTIONS = {
    "bond": "The following information pertains to a bond; what will be the bond's price?",
    "portfolio": "A portfolio of two shares has the following properties. What is the standard deviation "
    "of the returns from this portfolio?",
    "erp": "What is the forward-looking ERP using the Grinold-Kroner model?",
    "gk return": "What is the expected return on equities using the Grinold-Kroner model?",
    "intangibles": "Applying the excess earnings method, what is the value of the intangibles in millions?",
    "reit": "What was the REIT's share price according to the Price / FFO multiple?",
    "cap rate": "What is the growth rate of the property, according to the exhibit?",
    "sd": "What is the sample standard deviation of the following measurements?",
    "cff": "What is the cash flow from financing activities according to U.S. GAAP?",
    "key rate": "What is the key rate '01 for a shift of 10 years?",
    "reit 2011": "According to Exhibit 1, what was the share price at the end of 2011?",
}
FORMULA_CASES: dict[str, tuple[dict[str, Any], str, str]] = {
    "bond": (BOND, BOND_LOOP, "945.83"),
    "portfolio": (
        PORTFOLIO,
        PORTFOLIO_READ + "sd = (w1**2 * s1**2 + w2**2 * s2**2 + 2 * w1 * w2 * rho * s1 * s2) ** 0.5",
        "0.144222",
    ),
    "erp": (GRINOLD_KRONER, "erp = 2.2 - 0.4 + 1.8 + 2.9 + 0.3 - 2.5", "4.3%"),
    "gk return": (GRINOLD_KRONER, "er = 2.2 - 0.4 + 1.8 + 2.9 + 0.3", "6.8%"),
    "intangibles": (INTANGIBLES, INTANGIBLES_READ + "value = excess / (0.20 - 0.04) / 1000000", "46.875"),
    "reit": (REIT, "ffo = 120 + 40 - 10\nprice = 12 * ffo / 50", "36"),
    "cap rate": (CAP_RATE, "g = 8.0 - 5.5", "2.5%"),
    "sd": (
        OBSERVATIONS,
        SD_READ + "sd = (sum((x - m) ** 2 for x in xs) / (len(xs) - 1)) ** 0.5",
        "3",
    ),
    # 40,000 is both the bonds issued and the building sold: the formula's cell is the bonds
    "cff": (FINANCING, "cff = 45000 + 40000 - 10000 - 20000 - 10000", "45000"),
    "key rate": (KEY_RATE, "kr01 = -(87.1454 - 87.1876)", "0.0422"),
    "reit 2011": (REIT_PERIODS, "ffo = 120 + 40 - 10\nprice = 12 * ffo / 50", "36"),
}


@pytest.mark.parametrize("case", list(FORMULA_CASES))
async def test_each_formula_verifies_its_own_computation(verifier: FinanceVerifier, case: str) -> None:
    table, code, answer = FORMULA_CASES[case]
    ev = await judge(verifier, [table], code, answer, QUESTIONS[case])
    assert ev["gate"] == "pass", ev["rules"]
    assert rules(ev)["operation"][1].endswith("as calculated")


WRONG_CASES = [
    # annual payments where the table says semiannual
    (
        "bond",
        "coupon = 4 / 100 * 1000\ny = 6 / 100\nprice = coupon / (1 + y) + coupon / (1 + y) ** 2"
        " + (coupon + 1000) / (1 + y) ** 3",
        "946.54",
        "operation",
        "bond price",
    ),
    (
        "portfolio",
        PORTFOLIO_READ + "sd = (w1**2 * s1**2 + w2**2 * s2**2) ** 0.5",
        "0.126491",
        "operation",
        "two-asset portfolio standard deviation",
    ),
    (
        "portfolio",
        "w1 = 0.4\nw2 = 0.6\nsd = w1 * 6 / 100 + w2 * 9 / 100",
        "0.078",
        "grounding",
        "Expected return",
    ),
    ("erp", "erp = 2.2 - 0.4 + 1.8 + 2.9 + 0.3", "6.8%", "operation", "Grinold–Kroner"),
    ("gk return", "er = 2.2 - 0.4 + 1.8 + 2.9 + 0.3 - 2.5", "4.3%", "grounding", "Risk-free rate"),
    (
        "intangibles",
        INTANGIBLES_READ + "value = excess / 0.20 / 1000000",
        "37.5",
        "operation",
        "excess earnings",
    ),
    ("reit", "ffo = 120 + 40 + 10\nprice = 12 * ffo / 50", "40.8", "operation", "P/FFO"),
    ("cap rate", "g = 8.0 - 6.0", "2%", "grounding", "Terminal cap rate"),
    (
        "sd",
        SD_READ + "sd = (sum((x - m) ** 2 for x in xs) / len(xs)) ** 0.5",
        "2.683282",
        "operation",
        "sample standard deviation",
    ),
    # interest paid is operating under US GAAP; the debt-for-stock exchange is non-cash
    ("cff", "cff = 45000 + 40000 - 10000 - 20000 - 10000 - 5000", "40000", "grounding", "Interest paid"),
    ("cff", "cff = 45000 + 40000 - 10000 - 20000", "55000", "operation", "US GAAP"),
    ("cff", "cff = 45000 + 40000 + 45000 - 10000 - 20000 - 10000", "90000", "operation", "US GAAP"),
    ("key rate", "kr01 = 87.1454 - 87.1876", "-0.0422", "operation", "key-rate '01"),
    ("key rate", "kr01 = 87.1876 - 87.3212", "-0.1336", "grounding", "2-year shift"),
    ("reit 2011", "ffo = 90 + 30 - 5\nprice = 11 * ffo / 50", "25.3", "grounding", "Net income"),
]


@pytest.mark.parametrize(("case", "code", "answer", "rule", "detail"), WRONG_CASES)
async def test_each_formula_rejects_another_operation_or_cell(
    verifier: FinanceVerifier, case: str, code: str, answer: str, rule: str, detail: str
) -> None:
    table = FORMULA_CASES[case][0]
    ev = await judge(verifier, [table], code, answer, QUESTIONS[case])
    assert ev["gate"] == "fail"
    status, text = rules(ev)[rule]
    assert status == "fail" and detail in text, ev["rules"]


def with_row(table: dict[str, Any], *row: str) -> dict[str, Any]:
    return {**table, "rows": [*table["rows"], list(row)]}


@pytest.mark.parametrize(
    ("case", "table"),
    [
        ("bond", with_row(BOND, "Coupon rate (prior issue)", "5%")),
        (
            "bond",
            {**BOND, "rows": [r for r in BOND["rows"] if r[0] != "Interest paid"]},
        ),  # how often: unknown
        ("portfolio", with_row(PORTFOLIO, "Standard deviation (prior year)", "11%", "19%")),
        ("portfolio", with_row(PORTFOLIO, "Portfolio weights", "0.5", "0.5")),
        ("erp", with_row(GRINOLD_KRONER, "Risk-free rate (long-term)", "3.1%")),
        ("intangibles", with_row(INTANGIBLES, "Working capital (peak)", "$12,000,000")),
        ("reit", with_row(REIT, "Net income (continuing operations)", "95")),
        ("reit", with_row(REIT, "Gains on sale of equipment", "3")),
        ("cap rate", with_row(CAP_RATE, "Cap rate (market)", "5.0%")),
        ("sd", with_row(OBSERVATIONS, "Returns", "1", "2", "3", "4", "5")),
        ("cff", with_row(FINANCING, "Dividends paid (preferred)", "2,000")),
        ("key rate", with_row(KEY_RATE, "10-year shift for 1bp (revised)", "87.1400")),
    ],
)
def test_an_ambiguous_or_missing_input_leaves_each_formula_out(case: str, table: dict[str, Any]) -> None:
    assert bind(QUESTIONS[case], [table]) is None


def test_the_new_formulas_compute_their_textbook_definitions() -> None:
    values = {
        "bond": 945.83,  # 20 a half-year for 6 halves at 3%, plus 1,000 discounted
        "portfolio": 0.0208**0.5,
        "erp": 0.043,  # rates as fractions: 2.2% − 0.4% + 1.8% + 2.9% + 0.3% − 2.5%
        "gk return": 0.068,
        "intangibles": 46_875_000,  # (12m − 0.5m − 4m) / (20% − 4%)
        "reit": 36.0,  # 12 × (120 + 40 − 10) / 50: gains on sale taken out, no losses to add back
        "cap rate": 0.025,
        "sd": 3.0,
    }
    for case, value in values.items():
        binding = bind(QUESTIONS[case], [FORMULA_CASES[case][0]])
        assert binding is not None and binding.value == pytest.approx(value, rel=1e-4), case
    variance = bind("What is the sample variance of these returns?", [OBSERVATIONS])
    assert variance is not None and variance.formula.name == "sample variance" and variance.value == 9.0
    erp, expected = (bind(QUESTIONS[q], [GRINOLD_KRONER]) for q in ("erp", "gk return"))
    assert erp is not None and erp.cells["risk-free rate"] == (0, 5, 1)  # a premium over the risk-free rate
    assert expected is not None and "risk-free rate" not in expected.cells  # a return is not a premium


def test_a_formula_reads_the_period_and_the_tenor_the_question_names() -> None:
    """In a statement of several periods, a formula reads the one column whose year the question
    names, and no column where it names none or several; a placeholder (the key rate's tenor)
    is filled from the question, and a tenor the table lacks binds nothing."""
    binding = bind(QUESTIONS["reit 2011"], [REIT_PERIODS])
    assert binding is not None and binding.value == pytest.approx(36.0)
    assert {ref[2] for ref in binding.cells.values()} == {1}  # the 2011 column
    assert bind(QUESTIONS["reit 2011"].replace("2011", "2010"), [REIT_PERIODS]).value == pytest.approx(25.3)  # type: ignore[union-attr]
    assert bind("What was the share price at the end of the year?", [REIT_PERIODS]) is None
    assert bind("What was the share price in 2010 and 2011?", [REIT_PERIODS]) is None
    key = bind(QUESTIONS["key rate"], [KEY_RATE])
    assert key is not None and key.cells["shifted value"] == (0, 2, 1) and key.value == pytest.approx(0.0422)
    assert bind("What is the key rate '01 for a shift of 5 years?", [KEY_RATE]) is None
    assert bind("What is the key rate '01?", [KEY_RATE]) is None
    cff = bind(QUESTIONS["cff"], [FINANCING])
    assert cff is not None and cff.value == 45000  # 45 + 40 − 10 − 20 − 10 thousand, interest left out
    assert bind("What is the cash flow from financing activities under IFRS?", [FINANCING]) is None
