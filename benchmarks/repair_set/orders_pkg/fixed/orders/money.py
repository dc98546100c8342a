"""Money helpers: amounts are floats in the shop's currency, rounded half up to the cent."""


def round_cents(amount: float) -> float:
    """`amount` to the cent (the epsilon keeps 0.125 from rounding down on binary floats)."""
    return round(amount + 1e-9, 2)


def format_money(amount: float) -> str:
    return f"${round_cents(amount):,.2f}"
