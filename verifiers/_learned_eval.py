"""Measuring a ranking of candidates: AUROC with an item-resampled interval, and how often
majority, PRM-weighted and best-of-N selection pick a right answer per item.

Apart from training (`_learned_train`) because the benchmarks measure other PRMs with it too
(`benchmarks/bench_learned_prm.py`: judge, confidence), on candidates the head never saw.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ponder.verifiers._learned_features import Candidate, answer_key

if TYPE_CHECKING:
    from ponder.verifiers._learned_train import Row


def auroc(scores: Sequence[float], labels: Sequence[int]) -> float | None:
    """P(a right candidate outscores a wrong one), ties half; None without both classes."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def auroc_ci(
    scores: Sequence[float], labels: Sequence[int], items: Sequence[str], *, resamples: int = 1000
) -> list[float] | None:
    """95% interval of the AUROC by resampling items (a candidate's siblings move with it)."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, item in enumerate(items):
        groups[item].append(i)
    keys = sorted(groups)
    rng = random.Random(0)
    values = []
    for _ in range(resamples):
        idx = [i for k in rng.choices(keys, k=len(keys)) for i in groups[k]]
        value = auroc([scores[i] for i in idx], [labels[i] for i in idx])
        if value is not None:
            values.append(value)
    if len(values) < resamples // 2:
        return None
    values.sort()
    return [round(values[int(0.025 * len(values))], 3), round(values[int(0.975 * len(values)) - 1], 3)]


def selection(rows: Sequence[Row], scores: Sequence[float]) -> dict[str, Any]:
    """Per-item accuracy of majority voting, PRM-weighted voting and best-of-N with these scores."""
    picks = item_picks(rows, scores)
    n = len(picks["oracle"])
    return {
        "items": n,
        **{
            k: {"right": sum(v), "accuracy": sum(v) / n if n else None, "ci95": wilson(sum(v), n)}
            for k, v in picks.items()
        },
    }


def item_picks(rows: Sequence[Row], scores: Sequence[float]) -> dict[str, list[bool]]:
    """Whether each rule picks a right answer, item by item (sorted by item id), so that two rules
    on the same samples can be compared paired (McNemar) rather than by their totals alone."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[r.item].append(i)
    hits: dict[str, list[bool]] = {"majority": [], "weighted": [], "best_of_n": [], "oracle": []}
    for item in sorted(groups):
        idx = groups[item]
        answers = [_key(rows[i].candidate) for i in idx]
        right = {answers[k] for k, i in enumerate(idx) if rows[i].label and answers[k] is not None}
        votes: dict[str, list[float]] = defaultdict(list)
        for answer, i in zip(answers, idx, strict=True):
            if answer is not None:
                votes[answer].append(scores[i])
        order = list(votes)  # first-seen order breaks ties the same way for every rule
        hits["majority"].append(bool(order) and max(order, key=lambda a: len(votes[a])) in right)
        hits["weighted"].append(bool(order) and max(order, key=lambda a: sum(votes[a])) in right)
        best = max(range(len(idx)), key=lambda k: scores[idx[k]])
        hits["best_of_n"].append(bool(rows[idx[best]].label))
        hits["oracle"].append(bool(right))
    return hits


def _key(candidate: Candidate) -> str | None:
    return answer_key(candidate.final_answer())


def wilson(k: int, n: int, z: float = 1.96) -> list[float] | None:
    """95% Wilson interval of k successes in n."""
    if n == 0:
        return None
    p = k / n
    mid = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return [round(mid - half, 3), round(mid + half, 3)]


__all__ = ["auroc", "auroc_ci", "item_picks", "selection", "wilson"]
