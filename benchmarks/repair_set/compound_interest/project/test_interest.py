import pytest
from interest import future_value, interest_earned


def test_one_year():
    assert future_value(1000.0, 0.05, 1) == 1050.0


def test_ten_years():
    assert future_value(1000.0, 0.05, 10) == 1628.89


def test_monthly_compounding_earns_more():
    assert interest_earned(1000.0, 0.05, 10, periods=12) > interest_earned(1000.0, 0.05, 10)


def test_bad_periods():
    with pytest.raises(ValueError):
        future_value(1.0, 0.1, 1, periods=0)
