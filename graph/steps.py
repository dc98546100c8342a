"""What a step is, when a chain is finished, and what its answer is.

A step is text ended by the first configured delimiter (a blank line, or the start of the next
"Step N:"). Delimiters are sent to the backend as stop strings; a delimiter that starts with a
word ("Step ") is sent as "\\nStep " so that a step may itself begin with "Step 1:".
"""

from __future__ import annotations

from collections.abc import Sequence

from ponder.graph.types import AnswerFormat, SearchConfig
from ponder.verifiers import answers

STEP_SEPARATOR = "\n\n"
"""How steps are joined when a chain is sent back to the model as text."""
FORCE_CUE = "Answer:"
"""Put in front of the last allowed step (max depth) so the model answers instead of rambling."""


def stop_strings(config: SearchConfig, answer_format: AnswerFormat) -> list[str]:
    """Stop strings that end one step.

    Code answers keep blank lines inside their code blocks, so blank-line delimiters are dropped
    for the code format (steps there end only at "Step N:").
    """
    if config.single_step:
        return []
    stops: list[str] = []
    for d in config.step_delimiters:
        if answer_format == "code" and not d.strip():
            continue
        stop = d if (not d or d[0].isspace()) else "\n" + d
        if stop not in stops:
            stops.append(stop)
    return stops


def force_cue(answer_format: AnswerFormat) -> str:
    return "" if answer_format == "code" else FORCE_CUE


def has_answer(step: str, answer_format: AnswerFormat) -> bool:
    """Does this step finish the chain (the format's answer marker appears, complete)?"""
    if answer_format == "code":
        return bool(answers.code_blocks(step))
    if answer_format == "boxed" and answers.extract_boxed(step) is not None:
        return True
    return answers.extract_after_answer(step) is not None


def extract_answer(steps: Sequence[str], answer_format: AnswerFormat) -> str | None:
    """The final answer of a finished chain, or None when the chain holds none in this format.

    Delegates to `ponder.verifiers.answers` so the search and the verifiers agree on what the
    answer of a chain is.
    """
    return answers.extract_answer(STEP_SEPARATOR.join(steps), answer_format)


def normalize_answer(answer: str, answer_format: AnswerFormat) -> str:
    """A key under which equivalent answers vote together (self-consistency, weighted best-of-N)."""
    if answer_format == "code":
        return "\n".join(line.rstrip() for line in answer.strip().splitlines())
    key = " ".join(answer.strip().lower().split()).rstrip(".")
    try:
        number = float(key.replace(",", "").replace("$", "").rstrip("%"))
    except ValueError:
        return key
    return repr(number)
