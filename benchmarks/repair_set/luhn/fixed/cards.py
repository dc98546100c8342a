"""Card number checks done before a payment request leaves the browser."""


def luhn_valid(number: str) -> bool:
    """The Luhn checksum: spaces and dashes are ignored, fewer than two digits is invalid."""
    digits = [int(c) for c in number if c.isdigit()]
    if len(digits) < 2 or any(c not in "0123456789 -" for c in number):
        return False
    total = 0
    for i, digit in enumerate(reversed(digits)):
        if i % 2 == 1:
            digit *= 2
            if digit > 9:
                digit -= 9
        total += digit
    return total % 10 == 0


def mask(number: str) -> str:
    """All but the last four digits hidden."""
    digits = [c for c in number if c.isdigit()]
    return "*" * (len(digits) - 4) + "".join(digits[-4:])
