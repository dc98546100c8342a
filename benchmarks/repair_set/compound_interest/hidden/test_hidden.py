from interest import future_value, interest_earned


def test_monthly_compounding():
    assert future_value(2500.0, 0.06, 3, periods=12) == 2991.7


def test_zero_years():
    assert future_value(800.0, 0.04, 0) == 800.0
    assert interest_earned(800.0, 0.04, 0) == 0.0
