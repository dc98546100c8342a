"""Named formulas of investment analysis: fixed income, portfolios, equity and real-estate
valuation (bond price, two-asset portfolio risk, Grinold–Kroner, the excess earnings method,
P/FFO, the growth rate a cap rate implies, the key-rate '01) and the sample statistics of a row of
observations.

Rates are read as fractions where the table marks them % (`Formula.rates`), so a formula mixing
rates and amounts (6% of $22 million) computes in one unit; a formula whose result is a rate
accepts it as a fraction or a percentage number, and the scale rule checks how it is stated.
"""

from __future__ import annotations

import math

from ponder.verifiers._finance_formulas_base import FREQUENCY_WORDS, Formula, Values, series


def _bond_price(v: Values) -> float:
    """Present value of the coupons and the par at the required yield, per payment period."""
    m = v["frequency"]
    periods = round(v["years"] * m, 9)
    if not periods.is_integer() or not 0 < periods <= 1200:
        raise ValueError("the maturity is not a whole number of payment periods")
    n, y = int(periods), v["yield"] / m
    coupon = v["coupon rate"] * v["par"] / m
    return sum(coupon / (1 + y) ** t for t in range(1, n + 1)) + v["par"] / (1 + y) ** n


def _two_asset_sd(v: Values) -> float:
    w1, w2, s1, s2 = v["weight 1"], v["weight 2"], v["standard deviation 1"], v["standard deviation 2"]
    return math.sqrt(w1**2 * s1**2 + w2**2 * s2**2 + 2 * w1 * w2 * v["correlation"] * s1 * s2)


def _grinold_kroner(v: Values) -> float:
    """Income (dividend yield − change in shares) + nominal earnings growth + repricing."""
    income = v["dividend yield"] - v["change in shares"]
    return income + v["inflation"] + v["real earnings growth"] + v["change in P/E"]


def _sample_variance(v: Values) -> float:
    xs = series(v, "observations")
    mean = sum(xs) / len(xs)
    return sum((x - mean) ** 2 for x in xs) / (len(xs) - 1)


_OBSERVATIONS = {"observations": r"^(?:values?|observations?|measurements?|returns?|data)$"}

_GK_INPUTS = {
    "dividend yield": r"^(?:expected )?(?:dividend yield|income component)$",
    "change in shares": r"^(?:expected )?(?:percentage )?change in (?:the number of )?shares"
    r"(?: outstanding)?$",
    "inflation": r"^(?:expected )?inflation(?: rate)?$",
    "real earnings growth": r"^(?:expected )?(?:growth in real (?:earnings|EPS)|real (?:earnings|EPS) "
    r"growth)",
    "change in P/E": r"^(?:expected )?(?:growth|change) in (?:the )?P/?E\b",
}
_GK_OPTIONAL = frozenset({"change in shares"})
_PREMIUM = r"\bERP\b|risk premium"

INVESTMENTS: tuple[Formula, ...] = (
    Formula(
        "bond price",
        r"\bbond'?s?\s+(?:price|value)\b|(?:price|value) of (?:the|this|a|each) bond\b",
        {
            "coupon rate": r"^(?:annual )?coupon(?: rate)?$",
            "frequency": r"^(?:interest|coupons?) (?:paid|payments?)$"
            r"|^(?:payment|coupon|interest) frequency$",
            "years": r"^(?:mature time|maturity|(?:time|years|term) to maturity|term)$",
            "yield": r"^(?:required (?:rate of )?(?:return|yield)|yield to maturity|YTM"
            r"|market (?:interest )?rate)$",
            "par": r"^(?:par|face)(?: value)?(?: of the bond)?$",
        },
        _bond_price,
        "Σ coupon/(1 + y/m)^t + par/(1 + y/m)^n, coupon = coupon rate × par / m, n = years × m",
        rates=frozenset({"coupon rate", "yield"}),
        words={"frequency": FREQUENCY_WORDS},
    ),
    Formula(
        "two-asset portfolio standard deviation",
        r"standard deviation of (?:the )?(?:returns? (?:of|from|on) )?(?:this |the |a )?portfolio"
        r"|portfolio(?:'s)? (?:standard deviation|volatility)",
        {
            "weight": r"weights?$",
            "standard deviation": r"^(?:expected )?(?:standard deviation|volatility)",
            "correlation": r"^correlation(?: coefficient)?$",
        },
        _two_asset_sd,
        "√(w1²σ1² + w2²σ2² + 2·w1·w2·ρ·σ1·σ2)",
        rates=frozenset({"standard deviation"}),
        assets=2,
        shared=frozenset({"correlation"}),
        rate_result=True,
    ),
    Formula(
        "equity risk premium (Grinold–Kroner)",
        rf"^(?=.*(?:{_PREMIUM})).*Grinold[- –—]Kroner",
        {**_GK_INPUTS, "risk-free rate": r"government bond yield|risk[- ]free rate|treasury bill|T-bill"},
        lambda v: _grinold_kroner(v) - v["risk-free rate"],
        "dividend yield − change in shares + inflation + real earnings growth + change in P/E"
        " − risk-free rate",
        rates=frozenset([*_GK_INPUTS, "risk-free rate"]),
        optional=_GK_OPTIONAL,
        rate_result=True,
    ),
    Formula(
        "expected equity return (Grinold–Kroner)",
        rf"^(?!.*(?:{_PREMIUM})).*Grinold[- –—]Kroner",
        _GK_INPUTS,
        _grinold_kroner,
        "dividend yield − change in shares + inflation + real earnings growth + change in P/E",
        rates=frozenset(_GK_INPUTS),
        optional=_GK_OPTIONAL,
        rate_result=True,
    ),
    Formula(
        "intangibles by the excess earnings method",
        r"excess earnings method",
        {
            "working capital": r"^working capital(?: balance)?$",
            "fixed assets": r"^(?:fair value of )?fixed assets$",
            "normalised income": r"^normali[sz]ed (?:income|earnings)",
            "return on working capital": r"^required (?:rate of )?return on working capital$",
            "return on fixed assets": r"^required (?:rate of )?return on fixed assets$",
            "return on intangibles": r"^required (?:rate of )?return on intangible",
            "growth rate": r"^(?:future |expected |long-term )?growth rate$",
        },
        lambda v: (
            (
                v["normalised income"]
                - v["return on working capital"] * v["working capital"]
                - v["return on fixed assets"] * v["fixed assets"]
            )
            / (v["return on intangibles"] - v["growth rate"])
        ),
        "(normalised income − r_wc × working capital − r_fa × fixed assets) / (r_intangibles − growth rate)",
        rates=frozenset(
            {"return on working capital", "return on fixed assets", "return on intangibles", "growth rate"}
        ),
    ),
    Formula(
        "share price by P/FFO",
        # A question for the share price of a REIT whose table states its P/FFO multiple asks for
        # the price that multiple implies; the binder still needs the P/FFO row itself.
        r"\bP(?:rice)?\s*/\s*FFO\b|\b(?:share|stock) price\b|\bprice per share\b",
        {
            "P/FFO": r"^P(?:rice)?\s*/\s*FFO\b",
            "net income": r"^net income$",
            "depreciation": r"^depreciation(?: and amortization)?$",
            "losses on sale": r"\bloss(?:es)? on (?:the )?(?:sale|disposal)",
            "gains on sale": r"\bgains? on (?:the )?(?:sale|disposal)",
            "shares": r"shares outstanding$",
        },
        lambda v: (
            v["P/FFO"]
            * (v["net income"] + v["depreciation"] + v["losses on sale"] - v["gains on sale"])
            / v["shares"]
        ),
        "P/FFO × (net income + depreciation + losses on sale − gains on sale) / shares outstanding",
        optional=frozenset({"losses on sale", "gains on sale"}),
    ),
    Formula(
        "growth rate implied by the cap rate",
        r"\bgrowth rate\b",
        {
            "discount rate": r"^discount rate$",
            "cap rate": r"^(?:going[- ]in )?cap(?:itali[sz]ation)? rate$",
        },
        lambda v: v["discount rate"] - v["cap rate"],
        "discount rate − cap rate (cap rate = discount rate − growth)",
        rates=frozenset({"discount rate", "cap rate"}),
        rate_result=True,
    ),
    # Tuckman & Serrat, Fixed Income Securities, ch. 5: the key-rate '01 of a key rate is the
    # fall in value when that rate alone rises one basis point, P0 − P(shifted).
    Formula(
        "key-rate '01",
        r"\bkey[- ]rate\s*['’‘]?\s*0?1\b",
        {
            "initial value": r"^(?:initial|base|current) (?:value|price)$",
            "shifted value": r"^{tenor}[- ]years? (?:key[- ]rate )?shift\b",
        },
        lambda v: v["initial value"] - v["shifted value"],
        "initial value − value after a 1bp shift of the key rate",
        fill={"tenor": r"(?<![\d.])(\d+(?:\.\d+)?)[- ]years?\b"},
    ),
    Formula(
        "sample standard deviation",
        r"\bsample standard deviation\b",
        _OBSERVATIONS,
        lambda v: math.sqrt(_sample_variance(v)),
        "√(Σ(x − mean)² / (n − 1)) over the row's observations",
        series=frozenset(_OBSERVATIONS),
    ),
    Formula(
        "sample variance",
        r"\bsample variance\b",
        _OBSERVATIONS,
        _sample_variance,
        "Σ(x − mean)² / (n − 1) over the row's observations",
        series=frozenset(_OBSERVATIONS),
    ),
)
