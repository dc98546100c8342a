"""Greedy word wrap for the terminal UI's help text."""


def wrap(text: str, width: int) -> list[str]:
    """Lines of at most `width` characters, breaking only between words (long words stay whole)."""
    if width < 1:
        raise ValueError("width must be positive")
    lines: list[str] = []
    current = ""
    for word in text.split():
        if current and len(current) + 1 + len(word) > width:
            lines.append(current)
            current = word
        else:
            current = f"{current} {word}" if current else word
    if current:
        lines.append(current)
    return lines


def fill(text: str, width: int) -> str:
    return "\n".join(wrap(text, width))
