from pathlib import Path

from numlist import parse_numbers, read_numbers


def test_plain_lines():
    assert parse_numbers("1\n2\n3") == [1, 2, 3]


def test_file_with_comments_and_blanks():
    assert read_numbers(Path(__file__).parent / "ids.txt") == [1042, 1043, 2001]
