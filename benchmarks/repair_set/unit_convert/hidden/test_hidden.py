import pytest
from units import celsius_to_fahrenheit, fahrenheit_to_celsius


@pytest.mark.parametrize("celsius", [-273.15, -12.5, 0.0, 21.0, 451.0])
def test_round_trip(celsius):
    assert fahrenheit_to_celsius(celsius_to_fahrenheit(celsius)) == pytest.approx(celsius)


def test_room_temperature():
    assert celsius_to_fahrenheit(20) == pytest.approx(68.0)
