import pytest
from booking import nights, price


def test_over_new_year():
    assert nights({"check_in": "2023-12-30", "check_out": "2024-01-02"}) == 3


def test_backwards_stay_rejected():
    with pytest.raises(ValueError):
        nights({"check_in": "2024-01-05", "check_out": "2024-01-01"})


def test_one_night_price():
    assert price({"check_in": "2024-05-01", "check_out": "2024-05-02"}, 120.0) == 120.0
