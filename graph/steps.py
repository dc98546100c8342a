"""What a step is, when a chain is finished, and what its answer is.

A step is text ended by the first configured delimiter (a blank line, or the start of the next
"Step N:"). Delimiters are sent to the backend as stop strings; a delimiter that starts with a
word ("Step ") is sent as "\\nStep " so that a step may itself begin with "Step 1:".
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from ponder.graph.types import AnswerFormat, SearchConfig

STEP_SEPARATOR = "\n\n"
"""How steps are joined when a chain is sent back to the model as text."""
ANSWER_MARKER = "Answer:"
FORCE_CUE = "Answer:"
"""Put in front of the last allowed step (max depth) so the model answers instead of rambling."""

_FENCE = re.compile(r"```[^\n`]*\n(.*?)```", re.DOTALL)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?|-?\.\d+")


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
    """Does this step finish the chain (the format's answer marker appears)?"""
    if answer_format == "code":
        return _FENCE.search(step) is not None
    if answer_format == "boxed":
        return "\\boxed{" in step or ANSWER_MARKER in step
    return ANSWER_MARKER in step


def extract_answer(steps: Sequence[str], answer_format: AnswerFormat) -> str | None:
    """The final answer of a finished chain, or None when the chain holds none in this format."""
    text = STEP_SEPARATOR.join(steps)
    if answer_format == "code":
        blocks = _FENCE.findall(text)
        return blocks[-1] if blocks else None
    if answer_format == "boxed":
        boxed = _last_boxed(text)
        if boxed is not None:
            return boxed
        return _last_number(_after_marker(text) or text)
    if answer_format == "number":
        return _last_number(_after_marker(text) or text)
    after = _after_marker(text)
    if after is not None:
        return after or None
    if answer_format == "finance":
        return None
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else None


def _after_marker(text: str) -> str | None:
    idx = text.rfind(ANSWER_MARKER)
    if idx < 0:
        return None
    rest = text[idx + len(ANSWER_MARKER) :].strip()
    return rest.splitlines()[0].strip() if rest else ""


def _last_number(text: str) -> str | None:
    found = _NUMBER.findall(text)
    return found[-1].replace(",", "") if found else None


def _last_boxed(text: str) -> str | None:
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i = start + len("\\boxed{")
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j].strip()
    return None


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
