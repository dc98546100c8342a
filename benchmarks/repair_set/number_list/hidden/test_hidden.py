import pytest
from numlist import parse_numbers


def test_only_comments():
    assert parse_numbers("# nothing\n\n   \n# here") == []


def test_negative_and_spaced():
    assert parse_numbers("  -5 \n7#x") == [-5, 7]


def test_garbage_still_fails():
    with pytest.raises(ValueError):
        parse_numbers("12\nabc")
