"""Named formulas of corporate finance and accounting: the multiples, ratios and statements
an annual report's tables feed (EV/EBITDA, GDP by expenditure, IFRS impairment, current ratio,
interest coverage)."""

from __future__ import annotations

from ponder.verifiers._finance_formulas_base import Formula, Values


def _impairment(v: Values) -> float:
    recoverable = max(v["fair value"] - v["costs to sell"], v["value in use"])
    return max(0.0, v["carrying amount"] - recoverable)


CORPORATE: tuple[Formula, ...] = (
    Formula(
        "EV/EBITDA",
        r"\bEV\s*/\s*EBITDA\b|enterprise[- ]value (?:to EBITDA |multiple)",
        {
            "market capitalisation": r"market capitali[sz]ation|market value of (?:common )?equity",
            "debt": r"^(?:market value of )?(?:total )?debt\b",
            "cash": r"^cash\b",
            "EBITDA": r"^EBITDA$",
        },
        lambda v: (v["market capitalisation"] + v["debt"] - v["cash"]) / v["EBITDA"],
        "(market capitalisation + debt − cash) / EBITDA",
    ),
    Formula(
        "GDP (expenditure approach)",
        r"gross domestic product|\bGDP\b",
        {
            "consumption": r"^(?:personal )?consumption(?: expenditures?)?$",
            "investment": r"^(?:gross )?(?:private )?(?:domestic )?investment$",
            "government spending": r"^government (?:spending|purchases|expenditures?)$",
            "exports": r"^exports$",
            "imports": r"^imports$",
        },
        lambda v: v["consumption"] + v["investment"] + v["government spending"] + v["exports"] - v["imports"],
        "consumption + investment + government spending + exports − imports",
    ),
    Formula(
        "impairment loss (IFRS)",
        r"impairment loss",
        {
            "carrying amount": r"^carrying (?:value|amount)",
            "fair value": r"^fair value$",
            "costs to sell": r"^costs? (?:to sell|of disposal)$",
            "value in use": r"^value in use$",
        },
        _impairment,
        "carrying amount − max(fair value − costs to sell, value in use), at least 0",
    ),
    Formula(
        "current ratio",
        r"current ratio",
        {
            "current assets": r"^(?:total )?current assets$",
            "current liabilities": r"^(?:total )?current liabilities$",
        },
        lambda v: v["current assets"] / v["current liabilities"],
        "current assets / current liabilities",
    ),
    Formula(
        "interest coverage",
        r"interest coverage|times interest earned",
        {
            "EBIT": r"^(?:EBIT|operating income|earnings before interest and taxes?)$",
            "interest": r"^interest expense$",
        },
        lambda v: v["EBIT"] / v["interest"],
        "EBIT / interest expense",
    ),
)
