"""Text histograms of sensor readings for the nightly report."""

from pathlib import Path


def read_values(path: Path) -> list[float]:
    """One reading per whitespace-separated token."""
    return [float(token) for token in path.read_text(encoding="utf-8").split()]


def bucket_counts(values: list[float], width: float, buckets: int) -> list[int]:
    """How many values fall in each bucket [i * width, (i + 1) * width); others are dropped."""
    counts = [0] * buckets
    for value in values:
        index = int(value // width)
        if 0 <= index < buckets:
            counts[index] += 1
    return counts


def render(counts: list[int], symbol: str = "#") -> list[str]:
    """One line per bucket: its index and a bar as long as its count."""
    lines = []
    for i in range(1, len(counts)):
        lines.append(f"{i}: {symbol * counts[i]}")
    return lines
