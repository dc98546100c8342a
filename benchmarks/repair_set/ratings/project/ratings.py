"""Product rating summaries for the catalogue page."""

import json
from pathlib import Path
from typing import Any


def average(ratings: list[int]) -> float:
    """Mean star rating; a product nobody has rated shows 0.0."""
    return sum(ratings) / len(ratings)


def summary(product: str, ratings: list[int]) -> dict[str, Any]:
    return {"product": product, "average": round(average(ratings), 2), "count": len(ratings)}


def load_summaries(path: Path) -> list[dict[str, Any]]:
    """One summary per product in a {product: [ratings]} JSON file, in file order."""
    reviews = json.loads(path.read_text(encoding="utf-8"))
    return [summary(product, ratings) for product, ratings in reviews.items()]
