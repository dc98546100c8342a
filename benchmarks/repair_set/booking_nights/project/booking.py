"""Hotel stays: nights and price from the booking export (ISO dates)."""

import json
from datetime import date
from pathlib import Path
from typing import Any

Stay = dict[str, Any]


def days_between(start: str, end: str) -> int:
    """Whole days from `start` to `end`; negative when `end` comes first."""
    return (date.fromisoformat(end) - date.fromisoformat(start)).days


def nights(stay: Stay) -> int:
    count = days_between(stay["check_out"], stay["check_in"])
    if count < 1:
        raise ValueError(f"a stay lasts at least one night: {stay}")
    return count


def price(stay: Stay, rate: float) -> float:
    return round(nights(stay) * rate, 2)


def load_stays(path: Path) -> list[Stay]:
    return json.loads(path.read_text(encoding="utf-8"))
