from intervals import busy_minutes, merge


def test_chain_of_ranges():
    assert merge([(7, 8), (1, 3), (2, 4), (4, 5), (0, 1)]) == [(0, 5), (7, 8)]


def test_nested_then_overlapping():
    assert merge([(0, 100), (10, 20), (90, 120)]) == [(0, 120)]


def test_empty():
    assert merge([]) == []
    assert busy_minutes([(3, 3)]) == 0
