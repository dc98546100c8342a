from pathlib import Path

import pytest
from booking import days_between, load_stays, nights, price

STAYS = load_stays(Path(__file__).parent / "stays.json")


def test_days_between():
    assert days_between("2024-01-30", "2024-02-02") == 3


def test_nights_from_file():
    assert [nights(s) for s in STAYS] == [3, 2]


def test_price():
    assert price(STAYS[0], 89.5) == 268.5


def test_zero_night_stay_rejected():
    with pytest.raises(ValueError):
        nights({"check_in": "2024-01-01", "check_out": "2024-01-01"})
