from intervals import busy_minutes, merge


def test_disjoint_ranges_stay():
    assert merge([(5, 6), (1, 2)]) == [(1, 2), (5, 6)]


def test_overlapping_ranges_merge():
    assert merge([(1, 4), (3, 6)]) == [(1, 6)]


def test_touching_ranges_merge():
    assert merge([(1, 3), (3, 5)]) == [(1, 5)]


def test_nested_range_is_absorbed():
    assert merge([(1, 10), (2, 3)]) == [(1, 10)]


def test_busy_minutes():
    assert busy_minutes([(0, 30), (20, 45), (60, 90)]) == 75
