"""Statistics of the bench report against values computed by hand (or by the textbook formulas)."""

from __future__ import annotations

import math

import pytest

from ponder.plugin.bench.stats import mcnemar, pass_at_k, pass_at_n, wilson


@pytest.mark.parametrize(
    ("k", "n", "low", "high"),
    [
        pytest.param(5, 10, 0.2366, 0.7634, id="half"),
        pytest.param(0, 10, 0.0, 0.2775, id="none-right"),
        pytest.param(10, 10, 0.7225, 1.0, id="all-right"),
        pytest.param(81, 100, 0.7222, 0.8749, id="large-n"),
    ],
)
def test_wilson_matches_the_closed_form(k: int, n: int, low: float, high: float) -> None:
    ci = wilson(k, n)
    assert ci.rate == k / n
    assert ci.low == pytest.approx(low, abs=1e-4)
    assert ci.high == pytest.approx(high, abs=1e-4)


def test_wilson_without_trials_is_uninformative_and_bad_counts_raise() -> None:
    ci = wilson(0, 0)
    assert (ci.low, ci.high, ci.rate) == (0.0, 1.0, 0.0)
    with pytest.raises(ValueError, match="0 <= k <= n"):
        wilson(3, 2)


def test_mcnemar_counts_only_discordant_pairs() -> None:
    a = [True] * 6 + [True, False, False, True]
    b = [False] * 6 + [True, False, False, True]
    test = mcnemar(a, b)
    assert (test.a_only, test.b_only) == (6, 0)
    assert test.p_value == pytest.approx(2 / 2**6)  # exact two-sided binomial, 6 of 6 one way
    swapped = mcnemar(b, a)
    assert (swapped.a_only, swapped.b_only, swapped.p_value) == (0, 6, test.p_value)


def test_mcnemar_balanced_disagreement_is_not_significant() -> None:
    a = [True, False, True, False]
    b = [False, True, False, True]
    assert mcnemar(a, b).p_value == 1.0
    assert mcnemar([True, True], [True, True]).p_value == 1.0
    with pytest.raises(ValueError, match="differ in length"):
        mcnemar([True], [True, False])


def test_mcnemar_p_value_for_a_mixed_split() -> None:
    # 8 discordant pairs, 7 vs 1: P(X<=1) = (1 + 8) / 256, doubled.
    a = [True] * 7 + [False]
    b = [False] * 7 + [True]
    assert mcnemar(a, b).p_value == pytest.approx(2 * 9 / 256)


def test_pass_at_n_is_any_candidate_right() -> None:
    oracle = pass_at_n([[False, True], [False, False], [True], []])
    assert (oracle.k, oracle.n) == (2, 4)


def test_pass_at_k_unbiased_estimator() -> None:
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 5) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(4, 1, 2) == pytest.approx(1 - math.comb(3, 2) / math.comb(4, 2))
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)
