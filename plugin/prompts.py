"""Prompt templates for the repair and solve workflows, in one place.

Each template states the answer format the search extracts (`SearchTask.answer_format`):
repair answers end with one fenced ```python block holding the whole corrected file
(format "code"); solve answers reason in short steps separated by blank lines and end with
"Answer: <value>" (format "text"). Changing a format here means changing it in the task builder
next to it, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.backends.base import ChatMessage

REPAIR_SYSTEM = (
    "You are a careful Python developer. You fix bugs so that the project's tests pass. "
    "Never change, skip or delete tests; fix the code under test."
)

REPAIR_USER = """\
The tests of this project fail. Fix the bug in `{path}`.

Failing tests:
{failures}

The failing test code (do not repeat it):
{tests}

Current `{path}`:
```python
{source}
```

Reply with the complete corrected `{path}` in one ```python code block."""
"""Tests are shown indented rather than fenced: small models copy the first fenced block they see."""

REPAIR_FEEDBACK = """\
That version was tested and still fails:
{feedback}
Reply with the complete corrected file in one ```python code block."""
"""Refinement: shown after the failed attempt; `{feedback}` is the verifier's first failure."""

SOLVE_SYSTEM = (
    "You solve problems step by step. Write each step as one short paragraph and leave a blank "
    "line between steps. Finish with a line of the form 'Answer: <final answer>'."
)

SOLVE_FEEDBACK = """\
That answer was checked and is wrong:
{feedback}
Solve it again, step by step, and finish with 'Answer: <final answer>'."""

MAX_TEST_CHARS = 3000
"""Test code shown to the model; small models lose the thread in long prompts."""
MAX_FAILURES = 5


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 20].rstrip() + "\n# ... (truncated)"


def repair_messages(
    *, path: str, source: str, failures: Sequence[str], tests: dict[str, str]
) -> list[ChatMessage]:
    """The conversation that asks for a fixed `path`, given what failed and the tests that failed."""
    shown_failures = "\n".join(f"- {f}" for f in failures[:MAX_FAILURES]) or "- (see test code)"
    if len(failures) > MAX_FAILURES:
        shown_failures += f"\n- ... and {len(failures) - MAX_FAILURES} more"
    test_text = "\n\n".join(f"# {name}\n{text.rstrip()}" for name, text in tests.items())
    test_text = "\n".join(f"    {line}" if line else "" for line in test_text.splitlines())
    user = REPAIR_USER.format(
        path=path,
        failures=shown_failures,
        tests=_clip(test_text, MAX_TEST_CHARS),
        source=source.rstrip("\n"),
    )
    return [ChatMessage(role="system", content=REPAIR_SYSTEM), ChatMessage(role="user", content=user)]


def solve_messages(question: str) -> list[ChatMessage]:
    """The conversation that asks for a stepwise solution ending in "Answer: ..."."""
    return [ChatMessage(role="system", content=SOLVE_SYSTEM), ChatMessage(role="user", content=question)]
