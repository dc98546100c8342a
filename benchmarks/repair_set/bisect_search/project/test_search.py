from search import contains, find

PRICES = [3, 8, 13, 21, 34, 55]


def test_find_first():
    assert find(PRICES, 3) == 0


def test_find_last():
    assert find(PRICES, 55) == 5


def test_missing_small():
    assert find(PRICES, 1) == -1


def test_contains_middle():
    assert contains(PRICES, 21)
