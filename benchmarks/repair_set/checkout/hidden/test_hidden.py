from checkout import checkout


def test_checkout_without_promotion():
    assert checkout([{"price": 120.0, "qty": 2}]) == 240.0


def test_checkout_large_cart():
    assert checkout([{"price": 999.98, "qty": 1}], 50) == 499.99


def test_empty_cart():
    assert checkout([], 20) == 0.0
