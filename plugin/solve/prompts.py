"""The solve prompts: stepwise reasoning that ends in "Answer: <value>" (answer format "text"), and
for program mode a Python program whose `solution()` returns the answer (answer format "code").

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


# Program mode (PAL, Gao et al. 2023): the answer is a program, and the number is what it returns.
# One worked example, the first of PAL's own GSM8K prompt, shows the shape; the text prompt has none.

PROGRAM_SYSTEM = (
    "You solve word problems by writing a Python program. Reply with one ```python code block "
    "that defines a function solution() with no arguments: one named variable per quantity in "
    "the problem, the arithmetic between them, and `return` the final answer as a number. Do not "
    "call the function and do not print; the program is run and the value solution() returns is "
    "the answer."
)

PROGRAM_EXAMPLE_QUESTION = (
    "Olivia has $23. She bought five bagels for $3 each. How much money does she have left?"
)
PROGRAM_EXAMPLE_ANSWER = """\
```python
def solution():
    money_initial = 23
    bagels = 5
    bagel_cost = 3
    money_spent = bagels * bagel_cost
    money_left = money_initial - money_spent
    return money_left
```"""

PROGRAM_FEEDBACK = """\
That program was run and checked:
{feedback}
Write the program again: one ```python block defining solution() that returns the answer as a number."""


def program_messages(question: str) -> list[ChatMessage]:
    """The conversation that asks for a program whose `solution()` returns the answer."""
    return [
        ChatMessage(role="system", content=PROGRAM_SYSTEM),
        ChatMessage(role="user", content=PROGRAM_EXAMPLE_QUESTION),
        ChatMessage(role="assistant", content=PROGRAM_EXAMPLE_ANSWER),
        ChatMessage(role="user", content=question),
    ]
