"""The statistics a benchmark table needs, with no dependency beyond the standard library.

Dev splits are small (40-200 items), so a raw accuracy hides how uncertain it is: the Wilson
interval stays honest near 0% and 100% where the normal approximation breaks. Two strategies run on
the same items are paired, so the right test is McNemar's on the items where they disagree, exact
(binomial) because those counts are small.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Z_95 = 1.959963984540054


@dataclass(frozen=True, slots=True)
class Interval:
    """A proportion with its confidence interval, all as fractions of 1."""

    k: int
    n: int
    low: float
    high: float

    @property
    def rate(self) -> float:
        return self.k / self.n if self.n else 0.0


def wilson(k: int, n: int, z: float = Z_95) -> Interval:
    """Wilson score interval for `k` successes in `n` trials (95% by default); n=0 gives [0, 1]."""
    if not 0 <= k <= n:
        raise ValueError(f"wilson: need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return Interval(0, 0, 0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # Clamp float noise: at k=0 or k=n the exact bound is 0 or 1.
    low = 0.0 if k == 0 else max(0.0, centre - half)
    high = 1.0 if k == n else min(1.0, centre + half)
    return Interval(k, n, low, high)


@dataclass(frozen=True, slots=True)
class McNemar:
    """Paired comparison of A and B on the same items."""

    a_only: int
    """Items A got right and B got wrong."""
    b_only: int
    p_value: float
    """Two-sided exact binomial p-value of "A and B are equally accurate"."""


def mcnemar(a: Sequence[bool], b: Sequence[bool]) -> McNemar:
    """Exact McNemar test on paired outcomes (same items, same order).

    Only discordant pairs carry information; under the null each is A-only with probability 1/2.
    """
    if len(a) != len(b):
        raise ValueError(f"mcnemar: paired outcomes differ in length ({len(a)} vs {len(b)})")
    a_only = sum(1 for x, y in zip(a, b, strict=True) if x and not y)
    b_only = sum(1 for x, y in zip(a, b, strict=True) if y and not x)
    n = a_only + b_only
    if n == 0:
        return McNemar(0, 0, 1.0)
    tail = sum(math.comb(n, i) for i in range(min(a_only, b_only) + 1)) / 2**n
    return McNemar(a_only, b_only, min(1.0, 2 * tail))


def pass_at_n(candidates: Sequence[Sequence[bool]]) -> Interval:
    """Oracle accuracy: an item counts when any of its candidates is correct (selection is perfect).

    Beside the selected accuracy it shows how much a better selector could gain.
    """
    return wilson(sum(1 for c in candidates if any(c)), len(candidates))


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from `n` samples of which `c` are correct (Chen et al., 2021)."""
    if not 0 <= c <= n or k < 1:
        raise ValueError(f"pass_at_k: need 0 <= c <= n and k >= 1, got n={n}, c={c}, k={k}")
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)
