"""The declaration a named financial formula is written in (see `_finance_formulas`).

A formula is data: the words that name it in a question, each input as a row-label pattern, how
each input is read (a rate, a word, one number per asset), and its definition; the binder in
`_finance_formulas` does the matching, so every family module reads the same way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

Values = Mapping[str, float]

FREQUENCY_WORDS: Mapping[str, float] = {
    r"annual(?:ly)?|yearly|once a year": 1.0,
    r"semi-?annual(?:ly)?|half-yearly|twice a year": 2.0,
    r"quarterly": 4.0,
    r"monthly": 12.0,
}
"""How often a bond pays, as a table writes it ("Interest paid | Semiannually"): payments a year."""


@dataclass(frozen=True, slots=True)
class Formula:
    name: str
    named_by: str
    """A regex (case-insensitive, dot matches newlines) that finds the formula's name in the question."""
    inputs: Mapping[str, str]
    """Input -> a regex a row label must match (case-insensitive, searched in the label without its
    parenthetical, else in the whole label: "Other expenses (losses on sale of properties)")."""
    compute: Callable[[Values], float]
    shown: str
    """The formula as the audit prints it."""
    rates: frozenset[str] = frozenset()
    """Inputs that are rates: a cell marked % (in the cell, its label or its column header) is read
    as a fraction, so 6% of $22m is 1.32m; unmarked cells ("0.30") are read as written."""
    optional: frozenset[str] = frozenset()
    """Inputs that are 0 when no row holds them (FFO adds back losses on sale only where there are
    some); two matching rows are still ambiguous."""
    words: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    """Inputs a table states in words: input -> {regex the cell must match: value}."""
    assets: int = 1
    """How many entities (columns) each input row holds: 2 for a two-asset portfolio, whose inputs
    are then named "weight 1", "weight 2"; 1 means one number per row (one period, one entity)."""
    shared: frozenset[str] = frozenset()
    """With several assets, inputs common to all (a correlation): one number, or the same in each column."""
    rate_result: bool = False
    """The result is a rate, which a calculation may give as a fraction or as a percentage number."""
    series: frozenset[str] = frozenset()
    """Inputs that are a row of observations: all its numbers (at least two), named "value 1" ..."""
    fill: Mapping[str, str] = field(default_factory=dict)
    """Placeholders in input patterns the question fills: name -> a regex whose first group,
    found in the question, replaces `{name}` (escaped) in the patterns, so "the key rate '01 for a
    shift of 10 years" binds the "10-year shift" row and no other tenor's. A formula whose
    placeholder the question does not fill does not bind."""


def series(v: Values, name: str) -> list[float]:
    """A series input's observations, in the row's order."""
    keys = [k for k in v if k.startswith(name + " ") and k[len(name) + 1 :].isdigit()]
    return [v[k] for k in sorted(keys, key=lambda k: int(k[len(name) + 1 :]))]
