import pytest
from paging import page, page_count


def test_first_page():
    assert page(list(range(10)), 1, 3) == [0, 1, 2]


def test_last_page_is_short():
    assert page(list(range(10)), 4, 3) == [9]


def test_page_count():
    assert page_count(10, 3) == 4
    assert page_count(9, 3) == 3


def test_bad_page_number():
    with pytest.raises(ValueError):
        page([1, 2], 0, 5)
