"""Scores per student and the class ranking printed on report cards."""

import csv
from collections import defaultdict
from pathlib import Path


class Gradebook:
    def __init__(self) -> None:
        self.scores: dict[str, list[float]] = defaultdict(list)

    @classmethod
    def from_csv(cls, path: Path) -> "Gradebook":
        book = cls()
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                book.add(row["student"], float(row["score"]))
        return book

    def add(self, student: str, score: float) -> None:
        if not 0 <= score <= 100:
            raise ValueError(f"scores are 0-100, got {score}")
        self.scores[student].append(score)

    def average(self, student: str) -> float:
        scores = self.scores[student]
        return round(sum(scores) / len(scores), 2)

    def ranking(self) -> list[str]:
        """Students by average, best first; ties by name."""
        return sorted(self.scores, key=lambda s: (-self.average(s), s))
