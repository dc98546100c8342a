"""Numbers as financial documents write them: "$1,234.5", "(2,088)", "12.5%", "2.1bn", "€3 million".

Parsing keeps the written value and its scale apart ("2,140 million" is 2140 at scale million),
because checks compare in the gold answer's own units (1% relative, 0.01 absolute) and a wrong
scale must stay visible rather than be multiplied away.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

SCALES: dict[str, float] = {"": 1.0, "thousand": 1e3, "million": 1e6, "billion": 1e9, "percent": 0.01}
"""Multiplier of each scale to plain units; percent is a fraction (12.5 percent = 0.125)."""

_SCALE_WORDS: list[tuple[str, str]] = [
    (r"%|percent(?:age)?(?:\s+points?)?|pct", "percent"),
    (r"billions?|bn|b(?![a-z])", "billion"),
    (r"millions?|mn|mm|m(?![a-z])", "million"),
    (r"thousands?|k(?![a-z])", "thousand"),
]
# Symbols and ISO codes written before an amount, glued or spaced ("CHF600,000", "C$ 480", "US$1.5").
_CURRENCY = (
    r"(?:[a-z]{1,2}\$|[$€£¥₤₹₩]"
    r"|usd|eur|gbp|chf|cad|aud|hkd|sgd|nzd|sek|nok|dkk|rmb|cny|jpy|inr|krw|zar|brl|mxn|rs\.?)"
)
_NUM = (
    rf"\(?\s*[-−–+]?\s*{_CURRENCY}?\s*[-−–]?\s*(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?"
    r"|\(?\s*[-−–]?\.\d+"
)
# Not inside a word or a number: the "000" of "1,000" or of an unknown "XYZ1,000" is no number of its own.
_NUMBER = re.compile(rf"(?<![\w.])(?<!\d,)({_NUM})\s*\)?", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Amount:
    """A number as written: value in its own scale (`2140` of "2,140 million")."""

    value: float
    scale: str = ""
    text: str = ""
    decimals: int = 0
    """Digits after the decimal point as written; the precision a rounded answer claims."""

    @property
    def units(self) -> float:
        """The value in plain units (a percent as a fraction)."""
        return self.value * SCALES[self.scale]


def _number_value(token: str) -> tuple[float, int] | None:
    negative = bool(re.search(r"[-−–]", token)) or (
        token.strip().startswith("(") and token.strip().endswith(")")
    )
    digits = re.sub(r"[^\d.]", "", token)
    if not digits or digits == ".":
        return None
    value = float(digits)
    decimals = len(digits.split(".", 1)[1]) if "." in digits else 0
    return (-value if negative else value), decimals


def parse_scale(text: str) -> str:
    """The scale word at the start of `text` ("million", "%", "bn"...), as a `SCALES` key."""
    head = text.strip().lower()
    for pattern, scale in _SCALE_WORDS:
        if re.match(pattern, head):
            return scale
    return ""


def parse_amount(text: str, *, default_scale: str = "") -> Amount | None:
    """The first number of `text` with its sign and scale, or None.

    "(1,234)" and "-$1,234" are negative; "12.5%" has scale percent; "2.1bn" billion; a scale
    word only counts right after the number ("$5 million", not "5 of 10 million").
    """
    match = _NUMBER.search(text)
    if match is None:
        return None
    token = match.group(0)
    if "(" in token and ")" not in token and text[match.end() : match.end() + 1] != ")":
        token = token.replace("(", "")
    parsed = _number_value(token.strip())
    if parsed is None:
        return None
    value, decimals = parsed
    scale = parse_scale(text[match.end() :]) or default_scale
    return Amount(value=value, scale=scale, text=text.strip(), decimals=decimals)


def parse_cell(cell: object) -> float | None:
    """A table cell's number ("$ 1,169", "(2,088)", "12.5%" -> 12.5), or None for text and blanks."""
    if isinstance(cell, bool):
        return None
    if isinstance(cell, int | float):
        return float(cell) if math.isfinite(cell) else None
    if not isinstance(cell, str):
        return None
    text = re.sub(rf"^({_CURRENCY})\s*\(", "(", cell.strip(), flags=re.I)  # "$(17,334)" = (17,334)
    if not re.fullmatch(rf"(?:{_NUM})\s*\)?\s*(%|[a-zA-Z]{{0,8}})?", text, re.IGNORECASE):
        return None
    parsed = _number_value(text)
    return parsed[0] if parsed else None


def numbers_in(text: str) -> list[float]:
    """Every number written in free text (paragraphs), signs and parentheses kept."""
    out = []
    for match in _NUMBER.finditer(text):
        parsed = _number_value(match.group(0))
        if parsed is not None:
            out.append(parsed[0])
    return out


def compare_answer(
    pred: str | float,
    gold: str | float,
    *,
    rel_tol: float = 0.01,
    abs_tol: float = 0.01,
    scale: str | None = None,
    gold_scale: str | None = None,
) -> bool:
    """Whether a predicted amount equals the gold one, in the gold answer's units.

    The prediction is converted to the gold's scale (so "2.14 billion" equals "2,140 million",
    and 0.125 equals 12.5 percent), then must lie within `max(abs_tol, rel_tol * |gold|)` and
    have the same sign (a flipped sign is wrong however small the number).

    Args:
        pred: The predicted answer (text like "$2,140 million" or a number).
        gold: The reference answer.
        rel_tol: Relative tolerance (0.01 = 1%).
        abs_tol: Absolute tolerance in the gold's units; 0 for a strictly relative check.
        scale: The prediction's scale when it is not written in `pred` ("", "thousand",
            "million", "billion", "percent"); `None` = read it from `pred`, else "".
        gold_scale: The same for `gold`.

    Raises:
        ValueError: an unknown scale name.
    """
    for name in (scale, gold_scale):
        if name is not None and name not in SCALES:
            raise ValueError(f"unknown scale {name!r}; use one of {', '.join(repr(s) for s in SCALES)}")
    p = _as_amount(pred, scale)
    g = _as_amount(gold, gold_scale)
    if p is None or g is None:
        return False
    p_in_gold = p.units / SCALES[g.scale]
    if g.value != 0 and p_in_gold != 0 and (p_in_gold > 0) != (g.value > 0):
        return False
    return abs(p_in_gold - g.value) <= max(abs_tol, rel_tol * abs(g.value))


def _as_amount(value: str | float, scale: str | None) -> Amount | None:
    if isinstance(value, str):
        amount = parse_amount(value)
        if amount is None:
            return None
        return (
            amount if scale is None or (amount.scale and amount.scale == scale) else _rescaled(amount, scale)
        )
    if isinstance(value, bool) or not math.isfinite(value):
        return None
    return Amount(value=float(value), scale=scale or "")


def _rescaled(amount: Amount, scale: str) -> Amount:
    """An explicit `scale` argument applies to a number written without one."""
    if amount.scale:
        return amount
    return Amount(value=amount.value, scale=scale, text=amount.text, decimals=amount.decimals)
