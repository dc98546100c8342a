import json
from pathlib import Path

import pytest
from cards import luhn_valid, mask

CARDS = json.loads((Path(__file__).parent / "cards.json").read_text())


@pytest.mark.parametrize("number", CARDS["valid"])
def test_valid_numbers(number):
    assert luhn_valid(number)


@pytest.mark.parametrize("number", CARDS["invalid"])
def test_invalid_numbers(number):
    assert not luhn_valid(number)


def test_mask():
    assert mask("4111 1111 1111 1111") == "************1111"
