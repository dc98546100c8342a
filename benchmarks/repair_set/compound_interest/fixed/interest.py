"""Savings projections shown on the account page."""


def future_value(principal: float, rate: float, years: int, periods: int = 1) -> float:
    """Balance after `years` at annual `rate`, compounded `periods` times a year, to the cent."""
    if periods < 1:
        raise ValueError("compounding happens at least once a year")
    return round(principal * (1 + rate / periods) ** (periods * years), 2)


def interest_earned(principal: float, rate: float, years: int, periods: int = 1) -> float:
    return round(future_value(principal, rate, years, periods) - principal, 2)
