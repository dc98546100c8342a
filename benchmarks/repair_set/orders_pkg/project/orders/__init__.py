"""Shopping carts and the money arithmetic they share."""

from orders.cart import Cart
from orders.money import format_money, round_cents

__all__ = ["Cart", "format_money", "round_cents"]
