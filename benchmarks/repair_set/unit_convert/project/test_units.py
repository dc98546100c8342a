import json
from pathlib import Path

import pytest
from units import celsius_to_fahrenheit, fahrenheit_to_celsius

CASES = json.loads((Path(__file__).parent / "cases.json").read_text())


@pytest.mark.parametrize("case", CASES)
def test_fahrenheit_to_celsius(case):
    assert fahrenheit_to_celsius(case["fahrenheit"]) == pytest.approx(case["celsius"])


@pytest.mark.parametrize("case", CASES)
def test_celsius_to_fahrenheit(case):
    assert celsius_to_fahrenheit(case["celsius"]) == pytest.approx(case["fahrenheit"])
