from pathlib import Path

from histogram import bucket_counts, read_values, render

READINGS = Path(__file__).parent / "readings.txt"


def test_counts_from_file():
    assert bucket_counts(read_values(READINGS), 1.0, 5) == [1, 2, 2, 3, 1]


def test_render_every_bucket():
    assert render([2, 0, 1]) == ["0: ##", "1: ", "2: #"]
