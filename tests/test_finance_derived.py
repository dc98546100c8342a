"""Precomputed literals (`coupon = 60`) are read as the one operation over stated numbers that
gives them, so the rules judge what the literal hides; par added to a coupon is a bond's par.

Calculations run in the subprocess sandbox through the real harness; the questions are written
here, not taken from the dev data the coverage figures are measured on.
"""

from __future__ import annotations

import pytest

from ponder.verifiers import FinanceVerifier
from tests.test_finance_rules import judge, rule, text_task

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")
BOND = (
    "What is the price of a 2-year bond with a face value of $1,000 and a 6% annual coupon "
    "if the yield is 5%?"
)


async def test_a_precomputed_coupon_verifies_and_the_audit_names_its_operation(
    verifier: FinanceVerifier,
) -> None:
    """60 is 6% of 1,000 and nothing else here (with a 3-year bond, 3 / 5% would be 60 too)."""
    price = 60 / 1.05 + 1060 / 1.05**2
    code = "price = 60 / 1.05 + 1060 / 1.05 ** 2"
    ev = await judge(verifier, text_task(BOND), code, f"{price:.4f}")
    assert ev["gate"] == "pass", ev.get("feedback")
    detail = rule(ev, "provenance")["detail"]
    assert "60 = 0.06 × 1000" in detail and "1060 = 1.06 × 1000" in detail, detail


async def test_a_literal_from_nowhere_stays_untraced(verifier: FinanceVerifier) -> None:
    code = "price = 70 / 1.05 + 1070 / 1.05 ** 2"
    ev = await judge(verifier, text_task(BOND), code, f"{70 / 1.05 + 1070 / 1.05**2:.4f}")
    assert ev["gate"] != "pass"
    assert rule(ev, "provenance")["detail"].startswith("untraced operand"), ev["rules"]


async def test_a_precomputed_difference_keeps_its_direction(verifier: FinanceVerifier) -> None:
    task = text_task("A shop had revenue of $12,000 and costs of $10,000 last month. What was its profit?")
    right = await judge(verifier, task, "profit = 2000", "2000")
    assert right["gate"] == "pass", right.get("feedback")
    assert "2000 = 12000 − 10000" in rule(right, "provenance")["detail"]
    reversed_ = await judge(verifier, task, "profit = -2000", "-2000")
    assert reversed_["gate"] != "pass"
    assert rule(reversed_, "operation")["status"] == "fail", reversed_["rules"]
    negated = await judge(verifier, task, "profit = -(12000 - 10000)", "-2000")
    assert negated["gate"] != "pass", "a computed value negated is a direction too, written out or not"
    assert "negates 2000" in rule(negated, "operation")["detail"], negated["rules"]


@pytest.mark.parametrize(
    ("question", "code", "why"),
    [
        pytest.param(
            "A firm sold 30 units at $20 each and 50 units at $12 each. "
            "What was its revenue from the first sale?",
            "revenue = 600",
            "600 is 30 × 20 and 50 × 12: which operation it hides cannot be said",
            id="two-derivations",
        ),
        pytest.param(
            "On 31 December the fund held 5 bonds. What were its holdings worth in thousands?",
            "worth = 155",
            "155 = 5 × 31 would read a date as an amount",
            id="a-date-is-no-amount",
        ),
        pytest.param(
            "40% of firms fail and 60% of the rest are sold. What share is sold?",
            "share = 0.24",
            "a small fraction matches too many pairs to say anything",
            id="small-fraction",
        ),
    ],
)
async def test_literals_without_one_clear_derivation_stay_untraced(
    verifier: FinanceVerifier, question: str, code: str, why: str
) -> None:
    value = code.split("= ")[1]
    ev = await judge(verifier, text_task(question), code, value)
    assert ev["gate"] != "pass", why
    assert rule(ev, "provenance")["detail"].startswith("untraced operand"), (why, ev["rules"])


PAR = (
    "A bond with a 5% annual coupon matures in 2 years and the yield is 4%. "
    "What is its price per 100 of face value?"
)


async def test_par_added_to_the_coupon_is_the_bonds_par(verifier: FinanceVerifier) -> None:
    ev = await judge(
        verifier, text_task(PAR), "coupon = 5\nprice = coupon / 1.04 + (coupon + 100) / 1.04 ** 2", "101.886"
    )
    assert ev["gate"] == "pass", ev.get("feedback")
    assert any("a bond's par" in o["source"] for o in ev["operands"]), ev["operands"]


async def test_100_added_to_anything_but_a_stated_coupon_is_a_fudge(verifier: FinanceVerifier) -> None:
    ev = await judge(verifier, text_task(PAR), "years = 2\nprice = (years + 100) / 1.04 ** 2", "94.305")
    assert ev["gate"] != "pass"
    assert rule(ev, "provenance")["detail"] == "untraced operand 100 (a constant added)", ev["rules"]
