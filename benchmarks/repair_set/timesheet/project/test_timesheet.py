from pathlib import Path

from timesheet import weekly_hours, worked_minutes


def test_day_shift():
    assert worked_minutes("09:00", "17:00") == 480


def test_night_shift():
    assert worked_minutes("22:00", "06:00") == 480


def test_weekly_hours_from_csv():
    assert weekly_hours(Path(__file__).parent / "shifts.csv") == {"ana": 11.75, "bo": 12.25}
