"""Small statistics helpers for a sensor dashboard."""


def mean(values: list[float]) -> float:
    """Arithmetic mean; an empty list has no mean."""
    if not values:
        raise ValueError("mean of an empty list")
    return sum(values) / len(values)


def moving_average(values: list[float], window: int) -> list[float]:
    """Mean of every run of `window` consecutive values, in order."""
    if window <= 0:
        raise ValueError("window must be positive")
    averages = []
    for start in range(len(values) - window):
        averages.append(mean(values[start : start + window]))
    return averages


def above_threshold(values: list[float], threshold: float) -> int:
    """How many readings are strictly above `threshold`."""
    return sum(1 for v in values if v > threshold)
