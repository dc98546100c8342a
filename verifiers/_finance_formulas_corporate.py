"""Named formulas of corporate finance and accounting: the multiples, ratios and statements
an annual report's tables feed (EV/EBITDA, GDP by expenditure, IFRS impairment, current ratio,
interest coverage, cash flow from financing under US GAAP)."""

from __future__ import annotations

from ponder.verifiers._finance_formulas_base import Formula, Values


def _impairment(v: Values) -> float:
    recoverable = max(v["fair value"] - v["costs to sell"], v["value in use"])
    return max(0.0, v["carrying amount"] - recoverable)


def _financing(v: Values) -> float:
    raised = v["preferred stock issued"] + v["common stock issued"] + v["debt issued"]
    return raised - v["stock repurchased"] - v["debt repaid"] - v["dividends paid"]


_FINANCING_OPTIONAL = frozenset(
    {"preferred stock issued", "common stock issued", "debt issued", "stock repurchased", "debt repaid"}
)

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
    # CFA Program, Financial Reporting and Analysis, "Understanding Cash Flow Statements": under
    # US GAAP, dividends paid are financing and interest paid operating; an exchange of debt for
    # stock ("debt retired through issuance of common stock") is non-cash and not in the statement,
    # so every pattern is anchored at the start of its label.
    Formula(
        "cash flow from financing activities (US GAAP)",
        r"(?=.*\bU\.?S\.? GAAP\b).*\bcash flows? (?:from|provided by|used in) financing\b",
        {
            "preferred stock issued": r"^(?:issuance|issue|sale) of preferred (?:stock|shares)$",
            "common stock issued": r"^(?:issuance|issue|sale) of common (?:stock|shares)$",
            "debt issued": r"^(?:issuance|issue) of (?:bonds|debt|notes)(?: payable)?$"
            r"|^(?:proceeds from |new )(?:long-term )?(?:bank )?borrowings$",
            "stock repurchased": r"^(?:repurchase|buyback|purchase) of (?:common |treasury )?"
            r"(?:stock|shares)$",
            "debt repaid": r"^(?:paid off|repayments? of|principal payments on|retirement of) "
            r"(?:long-term )?(?:bank )?(?:borrowings|debt|bonds|loans)$",
            "dividends paid": r"^dividends paid$",
        },
        _financing,
        "stock issued + debt issued − stock repurchased − debt repaid − dividends paid",
        optional=_FINANCING_OPTIONAL,
    ),
)
