"""Hand-edited lists of ids: one integer per line, `#` starts a comment, blank lines allowed."""

from pathlib import Path


def parse_numbers(text: str) -> list[int]:
    values = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        values.append(int(line))
    return values


def read_numbers(path: Path) -> list[int]:
    return parse_numbers(path.read_text(encoding="utf-8"))
