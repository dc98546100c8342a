"""Binary search over the sorted price list."""

from collections.abc import Sequence


def find(items: Sequence[int], target: int) -> int:
    """Index of `target` in sorted `items`, or -1."""
    lo, hi = 0, len(items) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        if items[mid] == target:
            return mid
        if items[mid] < target:
            lo = mid - 1
        else:
            hi = mid - 1
    return -1


def contains(items: Sequence[int], target: int) -> bool:
    return find(items, target) >= 0
