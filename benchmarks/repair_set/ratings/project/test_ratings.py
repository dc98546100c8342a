from pathlib import Path

from ratings import average, load_summaries


def test_average():
    assert average([5, 4, 3]) == 4.0


def test_summaries_from_file():
    rows = load_summaries(Path(__file__).parent / "reviews.json")
    assert [r["product"] for r in rows] == ["kettle", "toaster", "blender"]
    assert rows[0] == {"product": "kettle", "average": 4.33, "count": 3}
    assert rows[1] == {"product": "toaster", "average": 0.0, "count": 0}
