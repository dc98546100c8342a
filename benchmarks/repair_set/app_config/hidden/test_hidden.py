import pytest
from appconfig import Config


def test_get_int_of_plain_int():
    assert Config({"a": {"b": 5}}).get_int("a.b") == 5


def test_get_int_rejects_text():
    with pytest.raises(ValueError):
        Config({"a": "many"}).get_int("a")


def test_path_through_a_scalar_is_missing():
    assert Config({"a": 1}).get("a.b", "none") == "none"
