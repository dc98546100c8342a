from rules import best_rule, price_after_promotion

RULES = [
    {"name": "a", "kind": "amount", "value": 50, "min_total": 10},
    {"name": "p", "kind": "percent", "value": 30, "min_total": 100},
]


def test_amount_capped_by_total():
    assert price_after_promotion(RULES, 20.0) == 0.0


def test_percent_wins_when_larger():
    assert best_rule(RULES, 400.0)["name"] == "p"


def test_nothing_eligible():
    assert best_rule(RULES, 5.0) is None
    assert price_after_promotion(RULES, 5.0) == 5.0
