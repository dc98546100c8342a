from pathlib import Path

from histogram import bucket_counts, read_values, render


def test_one_line_per_bucket():
    counts = bucket_counts(read_values(Path(__file__).parent / "readings.txt"), 2.0, 3)
    assert render(counts, "*") == ["0: ***", "1: *****", "2: *"]


def test_empty_histogram():
    assert render([]) == []
    assert render([0]) == ["0: "]
