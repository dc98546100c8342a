"""Booked time ranges, merged so the calendar shows each busy stretch once."""


def merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching (start, end) ranges merged, sorted by start."""
    merged: list[list[int]] = []
    for start, end in sorted(intervals):
        if merged and start < merged[-1][1]:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def busy_minutes(intervals: list[tuple[int, int]]) -> int:
    return sum(end - start for start, end in merge(intervals))
