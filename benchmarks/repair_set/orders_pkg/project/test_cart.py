import pytest
from orders import Cart


def make_cart():
    cart = Cart()
    cart.add("pen", 1.25, 3)
    cart.add("pad", 2.99)
    return cart


def test_subtotal():
    assert make_cart().subtotal() == 6.74


def test_tax():
    assert make_cart().tax(0.08) == 0.54


def test_receipt():
    assert make_cart().receipt(0.08) == "2 lines, total $7.28"


def test_quantity_must_be_positive():
    with pytest.raises(ValueError):
        Cart().add("pen", 1.0, 0)
