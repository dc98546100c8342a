from ratings import average, summary


def test_unrated_average_is_zero():
    assert average([]) == 0.0


def test_unrated_summary():
    assert summary("lamp", []) == {"product": "lamp", "average": 0.0, "count": 0}


def test_single_rating():
    assert summary("lamp", [2]) == {"product": "lamp", "average": 2.0, "count": 1}
