from pathlib import Path

from rules import best_rule, load_rules, price_after_promotion, saving

RULES = load_rules(Path(__file__).parent / "promotions.json")


def test_saving_kinds():
    assert saving(RULES[0], 30.0) == 5
    assert saving(RULES[1], 30.0) == 3.0


def test_small_basket_gets_ten_percent():
    assert best_rule(RULES, 15.0)["name"] == "ten-percent"


def test_medium_basket_gets_five_off():
    assert best_rule(RULES, 30.0)["name"] == "five-off"


def test_big_basket():
    assert price_after_promotion(RULES, 250.0) == 200.0
