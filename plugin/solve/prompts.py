"""The solve prompt: stepwise reasoning that ends in "Answer: <value>" (answer format "text").

Steps are short paragraphs separated by blank lines, which is how the search splits a chain into
steps. Changing the format here means changing it in the task builder next to it, and nowhere else.
"""

from __future__ import annotations

from ponder.backends.base import ChatMessage

SOLVE_SYSTEM = (
    "You solve problems step by step. Write each step as one short paragraph and leave a blank "
    "line between steps. Finish with a line of the form 'Answer: <final answer>'."
)

SOLVE_FEEDBACK = """\
That answer was checked and is wrong:
{feedback}
Solve it again, step by step, and finish with 'Answer: <final answer>'."""


def solve_messages(question: str) -> list[ChatMessage]:
    """The conversation that asks for a stepwise solution ending in "Answer: ..."."""
    return [ChatMessage(role="system", content=SOLVE_SYSTEM), ChatMessage(role="user", content=question)]
