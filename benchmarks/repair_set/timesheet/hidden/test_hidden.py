import pytest
from clock import minutes
from timesheet import worked_minutes


def test_minutes_after_midnight():
    assert minutes("00:00") == 0
    assert minutes("13:07") == 787
    assert minutes("23:59") == 1439


def test_short_shift():
    assert worked_minutes("10:50", "11:05") == 15


def test_bad_time():
    with pytest.raises(ValueError):
        minutes("24:00")
