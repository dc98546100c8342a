import json
from pathlib import Path

import pytest
from checkout import apply_discount, checkout, subtotal

CART = json.loads((Path(__file__).parent / "cart.json").read_text())


def test_apply_discount():
    assert apply_discount(80.0, 25) == 60.0


def test_subtotal():
    assert subtotal(CART) == 50.0


def test_checkout_with_promotion():
    assert checkout(CART, 10) == 45.0


def test_bad_discount():
    with pytest.raises(ValueError):
        apply_discount(10.0, 150)
