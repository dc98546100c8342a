"""Cart totals with a percentage promotion."""

from typing import Any


def apply_discount(price: float, percent: float) -> float:
    """`price` less `percent` per cent, to the cent."""
    if not 0 <= percent <= 100:
        raise ValueError(f"a discount is between 0 and 100 per cent, not {percent}")
    return round(price * (100 - percent) / 100, 2)


def subtotal(cart: list[dict[str, Any]]) -> float:
    return sum(line["price"] * line["qty"] for line in cart)


def checkout(cart: list[dict[str, Any]], percent: float = 0.0) -> float:
    """What the customer pays for `cart` with the promotion applied."""
    total = subtotal(cart)
    return apply_discount(percent, total)
