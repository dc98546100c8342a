"""Promotion rules: the checkout applies the one rule that saves the customer most."""

import json
from pathlib import Path
from typing import Any

Rule = dict[str, Any]


def load_rules(path: Path) -> list[Rule]:
    return json.loads(path.read_text(encoding="utf-8"))


def saving(rule: Rule, total: float) -> float:
    """What `rule` takes off `total`: a percentage, or a fixed amount (never more than the total)."""
    if rule["kind"] == "percent":
        return round(total * rule["value"] / 100, 2)
    return min(total, rule["value"])


def best_rule(rules: list[Rule], total: float) -> Rule | None:
    """The eligible rule (total at least `min_total`) with the largest saving, None if none applies."""
    eligible = [r for r in rules if total >= r["min_total"]]
    if not eligible:
        return None
    return min(eligible, key=lambda r: saving(r, total))


def price_after_promotion(rules: list[Rule], total: float) -> float:
    rule = best_rule(rules, total)
    return total if rule is None else round(total - saving(rule, total), 2)
