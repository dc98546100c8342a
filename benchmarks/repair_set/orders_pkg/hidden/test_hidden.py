from orders import Cart, format_money, round_cents


def test_round_cents_half_up():
    assert round_cents(0.125) == 0.13
    assert round_cents(2.344) == 2.34


def test_format_money_thousands():
    assert format_money(1234.5) == "$1,234.50"


def test_big_cart():
    cart = Cart()
    cart.add("desk", 349.99, 2)
    assert cart.subtotal() == 699.98
    assert cart.tax(0.2) == 140.0
