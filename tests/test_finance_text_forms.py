"""A word problem's calculation (no table cell) is held to the form its asking sentence names:
a change is the later stated value less the earlier, a difference ("how much more") a
subtraction, a percentage change divides by the value it starts from (also as B / A - 1), an
average is a sum over its count, "the ratio of A to B" is A / B; a formula that only uses such a
word for an input is left to the other rules.

Calculations run in the subprocess sandbox through the real harness; the questions are written here.
"""

from __future__ import annotations

import pytest

from ponder.verifiers import FinanceVerifier
from tests.test_finance_rules import judge, rule, text_task

pytestmark = pytest.mark.filterwarnings("ignore:LocalSandbox runs code:RuntimeWarning")
ROSE = "Revenue rose from $12,000 in 2022 to $15,000 in 2023. What was the {} in revenue?"
FELL = "Revenue fell from $15,000 in 2022 to $12,000 in 2023. What was the change in revenue?"
AVERAGE = "A fund returned 4%, 6% and 8% in its first years. What was its average annual return?"
MORE = "Fund A returned $5,000 and fund B returned $3,000 last year. How much more did fund A return?"
RATIO = "A firm has debt of $400 and equity of $800. What is its ratio of debt to equity?"
GORDON = (
    "A share paid a dividend of $2.00 and its dividend growth rate is 4% a year. "
    "If the required return is 7%, what is the share's value?"
)


@pytest.mark.parametrize(
    ("question", "code", "passes"),
    [
        pytest.param(ROSE.format("change"), "c = 15000 - 12000", True, id="change"),
        pytest.param(ROSE.format("change"), "c = 15000 + 12000", False, id="change-as-a-sum"),
        pytest.param(ROSE.format("change"), "c = 27000", False, id="change-as-a-precomputed-sum"),
        pytest.param(ROSE.format("change"), "c = 12000 - 15000", False, id="change-reversed"),
        pytest.param(FELL, "c = 12000 - 15000", True, id="a-fall-is-negative"),
        pytest.param(FELL, "c = 15000 - 12000", False, id="a-fall-made-positive"),
        pytest.param(ROSE.format("percentage change"), "c = (15000 - 12000) / 12000 * 100", True, id="pct"),
        pytest.param(
            ROSE.format("percentage change"), "c = (15000 - 12000) / 15000 * 100", False, id="pct-base"
        ),
        pytest.param(ROSE.format("percentage change"), "c = 15000 / 12000 * 100", False, id="pct-as-ratio"),
        pytest.param(ROSE.format("percentage change"), "c = 15000 / 12000 * 100 - 100", True, id="pct-ratio"),
        pytest.param(
            ROSE.format("percentage change"), "c = (15000 / 12000 - 1) * 100", True, id="pct-ratio-1"
        ),
        pytest.param(
            ROSE.format("percentage change"), "c = 12000 / 15000 * 100 - 100", False, id="pct-ratio-inverted"
        ),
        pytest.param(
            ROSE.format("percentage change"),
            "c = (12000 / 15000 - 1) * 100",
            False,
            id="pct-ratio-1-inverted",
        ),
        pytest.param(
            ROSE.format("percentage change"), "c = (15000 + 12000) * 100 - 100", False, id="pct-fudge-100"
        ),
        pytest.param(
            ROSE.format("percentage change"), "c = (12000 - 15000) / 15000 * 100", False, id="pct-rev"
        ),
        pytest.param(MORE, "c = 5000 - 3000", True, id="difference"),
        pytest.param(MORE, "c = 5000 + 3000", False, id="difference-as-a-sum"),
        pytest.param(MORE, "c = 3000 - 5000", False, id="difference-reversed"),
        pytest.param(AVERAGE, "c = (4 + 6 + 8) / 3", True, id="average"),
        pytest.param(AVERAGE, "c = (4 + 6 + 8) / 2", False, id="average-wrong-count"),
        pytest.param(AVERAGE, "c = 4 * 6 / 8", False, id="average-not-a-sum"),
        pytest.param(RATIO, "c = 400 / 800", True, id="ratio"),
        pytest.param(RATIO, "c = 800 / 400", False, id="ratio-inverted"),
        pytest.param(RATIO, "c = 400 + 800", False, id="ratio-not-a-division"),
    ],
)
async def test_a_word_problem_is_held_to_the_form_it_asks_for(
    verifier: FinanceVerifier, question: str, code: str, passes: bool
) -> None:
    namespace: dict[str, float] = {}
    exec(code, namespace)  # the test's own fixed arithmetic, to state the value it computes
    percent = "percent" in question or "average" in question
    answer = f"{namespace['c']:.4f}{'%' if percent else ''}"
    ev = await judge(verifier, text_task(question), code, answer)
    assert (ev["gate"] == "pass") is passes, ev["rules"]
    operation = rule(ev, "operation")
    assert operation["status"] == ("pass" if passes else "fail"), operation
    assert "ordered" not in operation


async def test_a_formula_that_names_a_growth_rate_for_an_input_is_not_held_to_it(
    verifier: FinanceVerifier,
) -> None:
    """The Gordon model uses "growth rate" for an input; the asking sentence asks for a value."""
    value = 2.00 * 1.04 / (0.07 - 0.04)
    ev = await judge(verifier, text_task(GORDON), "v = 2.00 * (1 + 0.04) / (0.07 - 0.04)", f"{value:.4f}")
    assert rule(ev, "operation")["status"] == "n/a", ev["rules"]
