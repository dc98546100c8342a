"""Pull the final answer out of model text: a fenced code block, the text after "Answer:", a
\\boxed{...} expression or the last number.

Shared by the search (which stores `Chain.answer` for terminal chains) and the verifiers (which
re-read steps), so both sides agree on what "the answer" of a chain is. Pure string functions:
no sympy, no sandbox.

Example:
    ```python
    extract_answer("Step 2: so x = 3.\\nAnswer: 3 apples", "number")  # -> "3"
    extract_answer("Fixed:\\n```python\\nX = 1\\n```", "code")  # -> "X = 1\\n"
    ```
"""

from __future__ import annotations

import re
from typing import Literal, get_args

AnswerFormat = Literal["text", "number", "boxed", "code", "finance"]
"""How the final answer is pulled out of a terminal chain:
text = the text after "Answer:" (or the last line); number = the last number;
boxed = LaTeX \\boxed{...} else last number; code = the last fenced code block (whole source);
finance = the text after "Answer:" with its unit/scale kept."""

ANSWER_FORMATS: tuple[AnswerFormat, ...] = get_args(AnswerFormat)
"""The formats `extract_answer` understands, in order (for messages and CLI choices)."""

_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+.-]*)[^\n]*\n(.*?)^[ \t]*```[ \t]*$", re.DOTALL | re.MULTILINE)
_OPEN_FENCE = re.compile(r"^[ \t]*```[ \t]*([\w+.-]*)[^\n]*\n", re.MULTILINE)
_HUNK = re.compile(r"^[ \t]*<{3,}[ \t]*(?:SEARCH|ORIGINAL|FIND)\b", re.IGNORECASE | re.MULTILINE)
_ANSWER = re.compile(r"\b(?:final\s+answer|answer)\s*(?:is)?\s*[:：]\s*", re.IGNORECASE)
_NUMBER = re.compile(
    r"(?<![\w.])[-−]?\$?\s?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|(?<![\w.])[-−]?\.\d+"
)
_PYTHON_LANGS = {"python", "py", "python3", ""}


def code_blocks(text: str, *, languages: set[str] | None = None) -> list[str]:
    """Every closed fenced block's body, in order; `languages` filters by the fence's tag
    (lower-cased, "" = untagged)."""
    out = []
    for match in _FENCE.finditer(text):
        lang = match.group(1).lower()
        if languages is None or lang in languages:
            out.append(match.group(2))
    return out


def python_blocks(text: str) -> list[str]:
    """Bodies of ```python / ```py / untagged fences: the calculations a program-of-thought step runs."""
    return code_blocks(text, languages=_PYTHON_LANGS)


def extract_code(text: str) -> str | None:
    """The last fenced code block, as the whole new source of a file.

    A model that stops before closing its last fence (token budget) still meant the code it
    wrote, so an unclosed final fence counts when no closed block follows it. Edit hunks
    (``<<<<<<< SEARCH`` ... ``>>>>>>> REPLACE``, which the repair prompt asks for) count without
    a fence: from the first marker on.
    """
    blocks = list(_FENCE.finditer(text))
    tail_start = blocks[-1].end() if blocks else 0
    unclosed = _OPEN_FENCE.search(text, tail_start)
    if unclosed is not None:
        body = text[unclosed.end() :]
        if body.strip():
            return body if body.endswith("\n") else body + "\n"
    if not blocks and (hunk := _HUNK.search(text)) is not None:
        body = text[hunk.start() :]
        return body if body.endswith("\n") else body + "\n"
    return blocks[-1].group(2) if blocks else None


def extract_after_answer(text: str) -> str | None:
    """The rest of the line after the last "Answer:" (or "Final answer:"), stripped of markup."""
    matches = list(_ANSWER.finditer(text))
    if not matches:
        return None
    rest = text[matches[-1].end() :].split("\n", 1)[0]
    rest = rest.strip().strip("*").strip().rstrip(".").strip()
    return rest or None


def extract_boxed(text: str) -> str | None:
    """The content of the last \\boxed{...} (or \\fbox{...}), braces balanced."""
    start = max(text.rfind("\\boxed"), text.rfind("\\fbox"))
    if start < 0:
        return None
    brace = text.find("{", start)
    if brace < 0:
        return None
    depth = 0
    for i in range(brace, len(text)):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[brace + 1 : i].strip()
    return None


def last_number(text: str) -> str | None:
    """The last number written in `text`, normalised: commas, "$" and spaces removed, a unicode
    minus made ASCII, trailing ".0"s kept (callers compare numerically)."""
    matches: list[str] = _NUMBER.findall(text)
    if not matches:
        return None
    return matches[-1].replace(",", "").replace("$", "").replace(" ", "").replace("−", "-")


def number_text(value: float) -> str:
    """A number as a model would write it (no float noise): 2140.0 -> "2140", 0.1 -> "0.1".

    Executed answers (a program's return value) become answer text through this, so the same
    checkers read them as read written answers.
    """
    return f"{value:.10g}" if value != int(value) or abs(value) >= 1e15 else str(int(value))


def extract_answer(text: str, answer_format: str) -> str | None:
    """The final answer of a finished chain's text in the given format (see `ANSWER_FORMATS`).

    text = after "Answer:" else the last non-empty line; number = the last number of the
    "Answer:" line, else of the whole text; boxed = \\boxed{...} else as number; code = the last
    fenced block; finance = after "Answer:" with unit and scale kept, else the last number.

    Raises:
        ValueError: `answer_format` is not one of `ANSWER_FORMATS`.
    """
    if answer_format == "code":
        return extract_code(text)
    if answer_format == "text":
        after = extract_after_answer(text)
        if after is not None:
            return after
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        return lines[-1] if lines else None
    if answer_format == "finance":
        return extract_after_answer(text) or last_number(text)
    if answer_format == "boxed":
        boxed = extract_boxed(text)
        if boxed is not None:
            return boxed
        return _number_answer(text)
    if answer_format == "number":
        return _number_answer(text)
    raise ValueError(f"unknown answer format {answer_format!r}; use one of {', '.join(ANSWER_FORMATS)}")


def _number_answer(text: str) -> str | None:
    after = extract_after_answer(text)
    if after is not None:
        number = last_number(_first_number_region(after))
        if number is not None:
            return number
    return last_number(text)


def _first_number_region(after: str) -> str:
    """ "Answer: 18 dollars (9 * 2)" means 18: keep the answer's first number, not a trailing aside."""
    match = _NUMBER.search(after)
    return match.group(0) if match else after
