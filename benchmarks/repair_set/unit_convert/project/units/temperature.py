"""Temperature conversions: the feed reports Celsius, some displays want Fahrenheit."""


def celsius_to_fahrenheit(celsius: float) -> float:
    """Degrees Fahrenheit for `celsius` degrees Celsius."""
    return celsius * 9 / 5 - 32


def fahrenheit_to_celsius(fahrenheit: float) -> float:
    """Degrees Celsius for `fahrenheit` degrees Fahrenheit."""
    return (fahrenheit - 32) * 5 / 9
