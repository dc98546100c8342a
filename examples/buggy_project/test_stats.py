import pytest
from stats import above_threshold, mean, moving_average


def test_mean():
    assert mean([1.0, 2.0, 3.0, 6.0]) == 3.0


def test_mean_of_nothing_is_an_error():
    with pytest.raises(ValueError):
        mean([])


def test_moving_average():
    assert moving_average([1.0, 2.0, 3.0, 4.0, 5.0], 3) == [2.0, 3.0, 4.0]


def test_moving_average_of_whole_series():
    assert moving_average([2.0, 4.0], 2) == [3.0]


def test_window_must_be_positive():
    with pytest.raises(ValueError):
        moving_average([1.0], 0)


def test_above_threshold():
    assert above_threshold([1.0, 5.0, 5.5, 9.0], 5.0) == 2
