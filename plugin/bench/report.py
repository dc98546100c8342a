"""The summary of a bench run: one row per (strategy, budget), with intervals and paired tests.

Columns that keep the claim honest:
- accuracy with its 95% Wilson interval (small dev splits: the interval is the message);
- verified rate and verified precision (of the answers the search called verified, how many the
  source's checker accepts), so a verifier that lies shows up;
- pass@N oracle: any candidate correct; the gap to accuracy is what selection loses;
- tokens per item (generated, and prompt tokens served from the prefix cache), seconds per item;
- McNemar's exact p against the greedy reference on the items both answered, and for a strategy
  with a chain-of-thought twin (`pal_sc` and `self_consistency`, same budget and N) against the twin;
- for the repair set, one row per mode (model, mutations, both) and the test runs per item.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ponder.plugin.bench.pal import TEXT_TWIN
from ponder.plugin.bench.runner import REFERENCE_STRATEGY
from ponder.plugin.bench.stats import mcnemar, pass_at_n, wilson
from ponder.plugin.bench.store import ItemResult


def summarize(results: Sequence[ItemResult]) -> list[dict[str, Any]]:
    """One row per (suite, mode, strategy, budget), greedy first, then by strategy and budget.

    The mode is the repair set's (who proposed candidates); other suites have none.
    """
    groups: dict[tuple[str, str, str, int], list[ItemResult]] = defaultdict(list)
    for r in results:
        groups[(r.suite, r.mode or "", r.strategy, r.budget)].append(r)
    reference = {
        (r.suite, r.item): r.correct
        for r in results
        if r.strategy == REFERENCE_STRATEGY and r.seed == _seed0(results)
    }
    rows = []
    for (suite, mode, strategy, budget), group in sorted(
        groups.items(),
        key=lambda kv: (kv[0][0], _mode_order(kv[0][1]), kv[0][2] != REFERENCE_STRATEGY, kv[0][2], kv[0][3]),
    ):
        n = len(group)
        acc = wilson(sum(r.correct for r in group), n)
        verified = [r for r in group if r.verified]
        oracle = pass_at_n([[r.correct, *r.candidates] for r in group])
        row: dict[str, Any] = {
            "suite": suite,
            "mode": mode or None,
            "strategy": strategy,
            "budget": budget,
            "n": n,
            "seeds": len({r.seed for r in group}),
            "accuracy": acc.rate,
            "ci_low": acc.low,
            "ci_high": acc.high,
            "verified_rate": len(verified) / n,
            "verified_precision": (sum(r.correct for r in verified) / len(verified)) if verified else None,
            "pass_at_n": oracle.rate,
            "candidates_per_item": sum(len(r.candidates) for r in group) / n,
            "tokens_per_item": sum(r.tokens_generated for r in group) / n,
            "reused_per_item": sum(r.tokens_reused for r in group) / n,
            "expansions_per_item": sum(r.expansions for r in group) / n,
            "seconds_per_item": sum(r.seconds for r in group) / n,
            "test_runs_per_item": _mean_known([r.test_runs for r in group]),
            "errors": sum(r.error is not None for r in group),
            "mcnemar_p": None,
            "vs_greedy": None,
            "twin": TEXT_TWIN.get(strategy),
            "twin_mcnemar_p": None,
            "vs_twin": None,
        }
        if strategy != REFERENCE_STRATEGY and reference:
            row["vs_greedy"], row["mcnemar_p"] = _paired(group, reference)
        if row["twin"] is not None:  # same suite, mode and budget; its first seed, as for greedy
            twin_runs = groups.get((suite, mode, row["twin"], budget), [])
            twin_seed = min((r.seed for r in twin_runs), default=0)
            twin = {(r.suite, r.item): r.correct for r in twin_runs if r.seed == twin_seed}
            row["vs_twin"], row["twin_mcnemar_p"] = _paired(group, twin)
        rows.append(row)
    return rows


def _paired(
    group: Sequence[ItemResult], baseline: dict[tuple[str, str], bool]
) -> tuple[str | None, float | None]:
    """("+a/-b", McNemar p) of `group`'s first seed against `baseline` on the items both answered."""
    first_seed = min(r.seed for r in group)
    paired = [
        (r.correct, baseline[(r.suite, r.item)])
        for r in group
        if r.seed == first_seed and (r.suite, r.item) in baseline
    ]
    if not paired:
        return None, None
    test = mcnemar([a for a, _ in paired], [b for _, b in paired])
    return f"+{test.a_only}/-{test.b_only}", test.p_value


_MODES = ("model", "mutations", "both")


def _mode_order(mode: str) -> tuple[int, str]:
    return (_MODES.index(mode), mode) if mode in _MODES else (len(_MODES), mode)


def _mean_known(values: Sequence[int | None]) -> float | None:
    known = [v for v in values if v is not None]
    return sum(known) / len(known) if known else None


def _seed0(results: Sequence[ItemResult]) -> int:
    seeds = [r.seed for r in results if r.strategy == REFERENCE_STRATEGY]
    return min(seeds) if seeds else 0


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def format_table(rows: Sequence[dict[str, Any]]) -> str:
    """The summary as a Markdown table (printed by `ponder bench`, pasted into RESULTS.md).

    Rows with a mode (the repair set) add a mode column and test runs per item; accuracy there is
    the share of cases fixed correctly (hidden tests included).
    """
    modes = any(r.get("mode") for r in rows)
    twins = any(r.get("twin") for r in rows)
    head = (
        "| suite |"
        + (" mode |" if modes else "")
        + " strategy | budget | n | accuracy (95% CI) | pass@N oracle | verified | verified precision "
        "| tokens/item | reused/item | s/item |"
        + (" test runs/item |" if modes else "")
        + " vs greedy (McNemar p) |"
        + (" vs CoT twin (McNemar p) |" if twins else "")
        + " errors |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in rows:
        mc = "-" if r["mcnemar_p"] is None else f"{r['vs_greedy']} (p={r['mcnemar_p']:.3g})"
        twin = (
            "-"
            if r.get("twin_mcnemar_p") is None
            else f"{r['vs_twin']} vs {r['twin']} (p={r['twin_mcnemar_p']:.3g})"
        )
        runs = r.get("test_runs_per_item")
        lines.append(
            f"| {r['suite']} |"
            + (f" {r.get('mode') or '-'} |" if modes else "")
            + f" {r['strategy']} | {r['budget']} | {r['n']} | "
            f"{_pct(r['accuracy'])} [{_pct(r['ci_low'])}, {_pct(r['ci_high'])}] | {_pct(r['pass_at_n'])} | "
            f"{_pct(r['verified_rate'])} | {_pct(r['verified_precision'])} | {r['tokens_per_item']:.0f} | "
            f"{r['reused_per_item']:.0f} | {r['seconds_per_item']:.1f} |"
            + ((" -" if runs is None else f" {runs:.1f}") + " |" if modes else "")
            + f" {mc} |"
            + (f" {twin} |" if twins else "")
            + f" {r['errors']} |"
        )
    return "\n".join(lines)


def write_summary(rows: Sequence[dict[str, Any]], out: Path) -> dict[str, Path]:
    """summary.json (the rows) and summary.md (the table) in `out`."""
    out.mkdir(parents=True, exist_ok=True)
    paths = {"summary_json": out / "summary.json", "summary_md": out / "summary.md"}
    paths["summary_json"].write_text(json.dumps(list(rows), indent=2) + "\n", encoding="utf-8")
    paths["summary_md"].write_text(format_table(rows) + "\n", encoding="utf-8")
    return paths
