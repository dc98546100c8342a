"""Pages of a result list, numbered from 1 as the API's clients number them."""

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def page(items: Sequence[T], number: int, size: int) -> list[T]:
    """The items on page `number` when each page holds `size` items."""
    if number < 1 or size < 1:
        raise ValueError("pages and page sizes start at 1")
    start = (number - 1) * size
    return list(items[start : start + size])


def page_count(total: int, size: int) -> int:
    """How many pages `total` items fill."""
    if size < 1:
        raise ValueError("page sizes start at 1")
    return (total + size - 1) // size
