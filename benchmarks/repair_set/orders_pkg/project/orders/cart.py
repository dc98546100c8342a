"""A cart of priced lines, with tax computed on the rounded subtotal."""

from dataclasses import dataclass, field

from orders.money import format_money, round_cents


@dataclass
class Cart:
    lines: list[tuple[str, float, int]] = field(default_factory=list)

    def add(self, name: str, price: float, qty: int = 1) -> None:
        if qty < 1:
            raise ValueError("quantity must be at least 1")
        self.lines.append((name, price, qty))

    def subtotal(self) -> float:
        return round_cents(sum(price * qty for _, price, qty in self.lines))

    def tax(self, rate: float) -> float:
        return round_cents(self.subtotal() * rate)

    def receipt(self, rate: float) -> str:
        total = self.subtotal() + self.tax(rate)
        return f"{len(self.lines)} lines, total {format_money(total)}"
