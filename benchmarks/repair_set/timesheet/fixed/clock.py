"""Wall-clock times as the time clock prints them ("HH:MM", 24-hour)."""


def minutes(hhmm: str) -> int:
    """Minutes after midnight."""
    hours, mins = hhmm.strip().split(":")
    if not (0 <= int(hours) < 24 and 0 <= int(mins) < 60):
        raise ValueError(f"not a time of day: {hhmm!r}")
    return int(hours) * 60 + int(mins)
