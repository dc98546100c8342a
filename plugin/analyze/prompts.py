"""Prompt templates for the analyze workflow (program-of-thought over tables).

The answer format is `finance` (`SearchTask.answer_format`): steps separated by blank lines,
calculations in ```python blocks that the finance verifier re-executes in the sandbox with the
tables bound as DataFrames ``t0, t1, ...``, and a last line ``Answer: <value> <unit>``. A blank
line ends a step, so the prompt asks for code without blank lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ponder.backends.base import ChatMessage

ANALYZE_SYSTEM = (
    "You are a careful financial analyst. You answer questions about tables by calculating in Python. "
    "Each table is a pandas DataFrame named t0, t1, ... whose number cells are already numbers. "
    "Work in short steps separated by a blank line. Put every calculation in a ```python block "
    "(no blank lines inside the block) that assigns the result to a variable, using the table values. "
    "Finish with a line 'Answer: <value> <unit>', e.g. 'Answer: 12.5 million' or 'Answer: 3.2%'."
)

ANALYZE_USER = """\
{tables}
{text}
Question: {question}
{scale}"""

ANALYZE_EXAMPLE = """\
Example of the expected form:
```python
a = t0.iloc[3, 1]
b = t0.iloc[3, 2]
change = a - b
```

Answer: <change> million"""

ANALYZE_FEEDBACK = """\
That calculation was checked and rejected:
{feedback}
Calculate again in ```python blocks from the table values and finish with 'Answer: <value> <unit>'."""
"""Refinement: `{feedback}` is the finance verifier's reason (error, untraced number, invariant)."""

MAX_ROWS = 40
MAX_PARAGRAPH_CHARS = 1500
"""Text shown to the model; a 135M model loses the question after a few hundred tokens."""


def render_table(index: int, table: dict[str, Any], max_rows: int = MAX_ROWS) -> str:
    """A table as the model sees it: its DataFrame name, columns, and rows with their positions."""
    rows = table["rows"]
    lines = [f"Table t{index} ({table['name']}), columns: {list(table['columns'])}"]
    for r, row in enumerate(rows[:max_rows]):
        lines.append(f"{r} | " + " | ".join(str(c) for c in row))
    if len(rows) > max_rows:
        lines.append(f"... {len(rows) - max_rows} more rows")
    return "\n".join(lines)


def analyze_messages(
    question: str, tables: Sequence[dict[str, Any]], paragraphs: Sequence[str], scale: str | None = None
) -> list[ChatMessage]:
    """The conversation that asks for a stepwise, executed calculation answering `question`."""
    text = "\n".join(paragraphs)
    if len(text) > MAX_PARAGRAPH_CHARS:
        text = text[: MAX_PARAGRAPH_CHARS - 15].rstrip() + " ... (truncated)"
    user = ANALYZE_USER.format(
        tables="\n\n".join(render_table(i, t) for i, t in enumerate(tables)),
        text=f"\nText:\n{text}\n" if text else "",
        question=question,
        scale=f"Amounts are in {scale}s.\n" if scale and scale != "percent" else "",
    )
    return [
        ChatMessage(role="system", content=f"{ANALYZE_SYSTEM}\n\n{ANALYZE_EXAMPLE}"),
        ChatMessage(role="user", content=user),
    ]
