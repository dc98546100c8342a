"""Named formulas as a second derivation: "What is the EV/EBITDA multiple?" names no line item,
so the formula's inputs ground the answer, and re-computing the formula from those cells decides
its operation. Calculations run in the subprocess sandbox through the real finance harness."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from ponder.sandbox import LocalSandbox
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


@pytest.fixture
async def verifier() -> AsyncIterator[FinanceVerifier]:
    async with LocalSandbox() as sandbox:
        yield FinanceVerifier(sandbox)


async def judge(
    verifier: FinanceVerifier, tables: list[dict[str, Any]], code: str, answer: str
) -> dict[str, Any]:
    task = VerifyTask(kind="finance", question=EV_QUESTION, inputs={"tables": tables, "paragraphs": []})
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
