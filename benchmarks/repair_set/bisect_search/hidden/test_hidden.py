from search import find


def test_every_position():
    items = list(range(0, 40, 3))
    assert [find(items, x) for x in items] == list(range(len(items)))


def test_missing_values():
    items = [2, 4, 6, 8]
    assert [find(items, x) for x in [1, 3, 5, 7, 9]] == [-1] * 5


def test_empty():
    assert find([], 1) == -1
