from pathlib import Path

from appconfig import Config

CONFIG = Config.from_file(Path(__file__).parent / "settings.json")


def test_get_nested():
    assert CONFIG.get("db.host") == "localhost"
    assert CONFIG.get("debug") is False


def test_missing_key_gives_default():
    assert CONFIG.get("db.user", "app") == "app"


def test_get_int_reads_quoted_numbers():
    assert CONFIG.get_int("db.pool.size") == 8
    assert CONFIG.get_int("db.pool.timeout") == 30


def test_get_int_default():
    assert CONFIG.get_int("db.pool.retries", 3) == 3
