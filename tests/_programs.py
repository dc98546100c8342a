"""Replies for program-mode tests: a ```python block defining solution(), in a scripted model's words."""

from __future__ import annotations


def program(body: str, prose: str = "", claim: str | None = None) -> str:
    """A reply: `prose`, a block defining solution() with `body`, and an "Answer:" line claiming `claim`."""
    code = "def solution():\n" + "".join(f"    {line}\n" for line in body.splitlines())
    tail = f"\nAnswer: {claim}" if claim is not None else ""
    return f"{prose}\n```python\n{code}```{tail}"
