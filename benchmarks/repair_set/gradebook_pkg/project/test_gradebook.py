from pathlib import Path

import pytest
from school import Gradebook

BOOK = Gradebook.from_csv(Path(__file__).parent / "scores.csv")


def test_average():
    assert BOOK.average("ana") == 85.0


def test_ranking():
    assert BOOK.ranking() == ["ana", "bo", "cy"]


def test_scores_are_checked():
    with pytest.raises(ValueError):
        Gradebook().add("dee", 101)
