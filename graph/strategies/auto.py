"""`strategy = "auto"`: pick a concrete strategy and its N for the budget from a documented table.

Why a table and not a model of the curves: ponder has measured only a few points on its default
model (SmolLM2-135M), and those points are what the table is allowed to claim. Each row says
which tasks it is for, a range of `Budget.max_tokens`, the strategy and the most chains; where a
row goes beyond what was measured it follows the compute-optimal rule of Snell et al. 2024
("Scaling LLM Test-Time Compute Optimally can be More Effective than Scaling Model Parameters"):
at small budgets one sequential chain (greedy) is the best use of the tokens; as the budget grows,
parallel sampling pays when a verifier can pick the right sample; without a verifier, sampling
pays only through majority voting and only once the budget lets enough chains finish.

Where each row comes from (README "Results on the embedded default"):

- checked, < 1024 tokens, greedy: one chain is all that reliably fits. HumanEvalFix dev
  (benchmarks/results/humanevalfix): refine (4 attempts with test feedback) solved 0/10, the same
  as greedy, for 4x the tokens (666 against 156 per item).
- checked, 1024-8191 tokens, best-of-N up to 4: HumanEval, first 60 tasks at 2048 tokens
  (benchmarks/results/humaneval_20261203): N=4 samples selected by execution solved 13/60, greedy
  11/60 (McNemar p = 0.69: not significant). Fewer samples do worse: N=2 solved 8/60 against
  greedy's 13/60 on another machine (benchmarks/results/humaneval_20261203/n2, p = 0.125), so the
  row asks for 4, and the budget fit below gives fewer only when 4 do not fit.
- checked, >= 8192 tokens, best-of-N up to 8: Snell et al.'s rule with a verifier. Measured only
  on 10 HumanEval tasks at N=8: pass@8 10% against pass@4 5% (more correct programs among the
  samples), but 0/10 selected; not shown to help on the 135M model.
- unchecked, < 4096 tokens, greedy: GSM8K dev, first 20 items (benchmarks/results/gsm8k):
  self-consistency with 4 chains scored 0% at 512 tokens (15 of 20 items ran out of budget)
  against greedy's 5%, and 5% at 2048, no better than greedy. On the first 200 items at 1024
  tokens (benchmarks/results/gsm8k_200_20261207) it scored 1.5% against greedy's 2.5%.
- unchecked, >= 4096 tokens, self-consistency up to 8: Snell et al. and Wang et al. 2023
  (majority voting needs enough finished chains). At 2048 GSM8K's pass@4 was 20% while voting
  picked 5%; this row is not measured on the 135M model.

N is fitted to the budget: `n = min(row.n, max_tokens // chain_tokens(config),
max_expansions // chain_expansions(config))`, so N chains that each write as much as they may
still fit (the estimate is the worst case, not the measured mean of 120-290 tokens per chain: a
search that overruns cuts its last chains short, and a cut chain has no answer). When fewer than
two chains fit, sampling cannot vote or select, and the choice falls back to greedy.

This is a documented default, not a claim that the chosen strategy beats the others: rerun the
benchmarks on the model you use and name a strategy when they disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from ponder.graph.names import AUTO, StrategyName
from ponder.graph.types import SearchConfig, SearchTask

CHECKED_KINDS = frozenset({"code", "finance"})
"""Task kinds whose verifier always has a hard check: tests run in the sandbox (code), executed
and traced calculations (finance). Math has one only with a reference answer."""


@dataclass(frozen=True, slots=True, kw_only=True)
class AutoRow:
    """One row of the table: for these tasks and this budget, this strategy with at most `n` chains."""

    checked: bool
    """For tasks with a hard execution check (`has_hard_check`), or for tasks without one."""
    min_tokens: int
    """Lowest `Budget.max_tokens` the row covers (inclusive)."""
    max_tokens: int | None
    """Highest `Budget.max_tokens` it covers (exclusive); None = no upper end (also no token limit)."""
    strategy: StrategyName
    n: int
    """The most chains; fewer when the budget fits fewer (see the module docstring)."""
    source: str
    """Where the row comes from, in a few words (repeated in the config's `auto_reason`)."""

    def covers(self, checked: bool, max_tokens: int | None) -> bool:
        if checked != self.checked:
            return False
        if max_tokens is None:
            return self.max_tokens is None
        return self.min_tokens <= max_tokens and (self.max_tokens is None or max_tokens < self.max_tokens)


TABLE: tuple[AutoRow, ...] = (
    AutoRow(
        checked=True,
        min_tokens=1,
        max_tokens=1024,
        strategy="greedy",
        n=1,
        source="HumanEvalFix: refine no better than greedy at 1024 tokens",
    ),
    AutoRow(
        checked=True,
        min_tokens=1024,
        max_tokens=8192,
        strategy="best_of_n",
        n=4,
        source="HumanEval: N=4 with execution selection 13/60 vs greedy 11/60 at 2048 tokens",
    ),
    AutoRow(
        checked=True,
        min_tokens=8192,
        max_tokens=None,
        strategy="best_of_n",
        n=8,
        source="Snell et al. 2024: more samples with a verifier as the budget grows (unmeasured here)",
    ),
    AutoRow(
        checked=False,
        min_tokens=1,
        max_tokens=4096,
        strategy="greedy",
        n=1,
        source="GSM8K: self-consistency no better than greedy at 512-2048 tokens",
    ),
    AutoRow(
        checked=False,
        min_tokens=4096,
        max_tokens=None,
        strategy="self_consistency",
        n=8,
        source="Snell et al. 2024: no verifier: majority voting once enough chains fit (unmeasured here)",
    ),
)
"""The documented table, checked rows first; every (checked, budget) pair falls in exactly one row."""


def has_hard_check(task: SearchTask) -> bool:
    """Whether the task's verifier can gate an answer pass/fail by running or comparing it.

    Read from the task because the verifier is chosen by `verify.kind`: code runs its tests,
    finance executes and traces its calculations, math compares with a reference when it has one.
    """
    verify = task.verify
    if verify.kind in CHECKED_KINDS:
        return True
    return verify.kind == "math" and verify.inputs.get("reference") is not None


def chain_tokens(config: SearchConfig) -> int:
    """Per-chain token estimate: the most one chain may generate before it must answer."""
    return config.max_step_tokens if config.single_step else config.max_step_tokens * config.max_depth


def chain_expansions(config: SearchConfig) -> int:
    """Expansions one chain takes at most: one whole reply, or one per step."""
    return 1 if config.single_step else config.max_depth


def pick_row(checked: bool, max_tokens: int | None) -> AutoRow:
    """The table's row for this kind of task and token budget."""
    return next(row for row in TABLE if row.covers(checked, max_tokens))


def resolve_auto(config: SearchConfig, task: SearchTask) -> SearchConfig:
    """`config` with "auto" replaced by the table's strategy and a budget-fitted `n`; any other
    strategy is returned unchanged. The choice and its source are written to `auto_reason`."""
    if config.strategy != AUTO:
        return config
    checked = has_hard_check(task)
    budget = config.budget
    row = pick_row(checked, budget.max_tokens)
    fits = [row.n]
    if budget.max_tokens is not None:
        fits.append(budget.max_tokens // chain_tokens(config))
    if budget.max_expansions is not None:
        fits.append(budget.max_expansions // chain_expansions(config))
    n = min(fits)
    strategy: StrategyName = row.strategy
    note = row.source
    if n < 2 and strategy != "greedy":
        strategy, n = "greedy", 1
        note += f"; fewer than 2 chains of {chain_tokens(config)} tokens fit, so greedy"
    n = max(n, 1)
    tasks = "with" if checked else "without"
    reason = (
        f"auto: {strategy} n={n} for a task {tasks} a hard check at max_tokens={budget.max_tokens} ({note})"
    )
    return config.model_copy(update={"strategy": strategy, "n": n, "auto_reason": reason})
