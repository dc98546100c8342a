"""Weekly hours per person from the time clock's CSV export."""

import csv
from collections import defaultdict
from pathlib import Path

from clock import minutes

DAY = 24 * 60


def worked_minutes(start: str, end: str) -> int:
    """Minutes between clocking in and out; a shift may run past midnight."""
    span = minutes(end) - minutes(start)
    return span + DAY if span < 0 else span


def weekly_hours(path: Path) -> dict[str, float]:
    """Hours per person (rows: name,start,end), rounded to the hundredth."""
    totals: dict[str, int] = defaultdict(int)
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            totals[row["name"]] += worked_minutes(row["start"], row["end"])
    return {name: round(total / 60, 2) for name, total in sorted(totals.items())}
