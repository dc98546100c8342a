"""Accuracy against compute: the picture of the inference-time scaling claim.

x = generated tokens per item (measured, not the budget asked for), y = accuracy with its 95%
Wilson interval; one line per strategy through its budgets. Greedy chain-of-thought is the System-1
reference: one point, extended as a dashed line so every search curve is read against it. A dotted
line per strategy shows its pass@N oracle (any candidate correct) where it differs: the distance
between the two is what answer selection loses.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ponder.errors import PonderError
from ponder.plugin.bench.runner import REFERENCE_STRATEGY


def plot_accuracy(rows: Sequence[dict[str, Any]], path: Path, *, title: str | None = None) -> Path:
    """Write the PNG for the summary `rows` (one suite) to `path`.

    Raises:
        PonderError: matplotlib is missing (extra `bench`), or there is nothing to plot.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: no display on servers and CI
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise PonderError("plotting needs matplotlib: pip install 'ponder[bench]'") from exc
    if not rows:
        raise PonderError(f"no results to plot into {path}; run some items first")
    lines: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        # The repair set's modes are separate lines: the same strategy with other proposers.
        lines[f"{row['strategy']} ({row['mode']})" if row.get("mode") else row["strategy"]].append(row)
    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    xs_all = [r["tokens_per_item"] for r in rows]
    for strategy, points in sorted(lines.items(), key=lambda kv: kv[0] != REFERENCE_STRATEGY):
        points = sorted(points, key=lambda r: r["tokens_per_item"])
        xs = [p["tokens_per_item"] for p in points]
        ys = [100 * p["accuracy"] for p in points]
        err = [
            [100 * (p["accuracy"] - p["ci_low"]) for p in points],
            [100 * (p["ci_high"] - p["accuracy"]) for p in points],
        ]
        if strategy == REFERENCE_STRATEGY:
            ax.errorbar(xs, ys, yerr=err, fmt="s", color="black", capsize=3, label="greedy CoT (System 1)")
            ax.axhline(ys[0], color="black", linestyle="--", linewidth=1, alpha=0.6)
            continue
        line = ax.errorbar(xs, ys, yerr=err, fmt="o-", capsize=3, label=strategy)
        oracle = [100 * p["pass_at_n"] for p in points]
        if oracle != ys:  # the gap is what a perfect selector among the same candidates would add
            color = line.lines[0].get_color()
            ax.plot(xs, oracle, "x:", color=color, alpha=0.8, label=f"{strategy}: pass@N oracle")
    wide = max(xs_all, default=1) > 8 * max(min(xs_all, default=1), 1)
    # Zero tokens (the repair set's mutations-only mode) has no place on a log axis.
    ax.set_xscale(("log" if min(xs_all, default=1) > 0 else "symlog") if wide else "linear")
    ax.set_xlabel("generated tokens per item (mean)")
    ax.set_ylabel("accuracy (%) with 95% Wilson CI")
    ax.set_ylim(-2, 102)
    ax.grid(True, alpha=0.3)
    suites = sorted({r["suite"] for r in rows})
    n = max(r["n"] for r in rows)
    ax.set_title(title or f"{', '.join(suites)}: accuracy vs compute (n={n})")
    ax.legend(loc="best", fontsize="small")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
