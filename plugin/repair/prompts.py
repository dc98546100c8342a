"""The repair prompt: the suspect code and the failing tests, fitted to the model's context.

The template states the answer format the search extracts (`SearchTask.answer_format` "code"):
SEARCH/REPLACE hunks in a fenced ```python block, read by `ponder.plugin.repair.edits`, which also
takes a rewritten function or a whole file. Changing the format here means changing it in the task
builder next to it, and nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

from ponder.backends.base import ChatMessage
from ponder.plugin.repair.excerpts import CodeExcerpt, FailedTest

REPAIR_SYSTEM = (
    "You are a careful Python developer. You fix bugs so that the project's tests pass. "
    "Never change, skip or delete tests; fix the code under test."
)

REPAIR_USER = """\
The tests of this project fail. Find the bug and fix it with the smallest edit.

Failing tests:
{failures}

The failing tests' code (do not change tests):
{tests}

The code these tests run, the most suspicious file first (the numbers on the left are line \
numbers, not part of the file):
{code}

Reply with SEARCH/REPLACE blocks, one per change, each under the path of its file. Copy the \
SEARCH lines exactly from the file, without the line numbers; REPLACE holds the corrected lines:
{path}
```python
<<<<<<< SEARCH
    (lines as they are now)
=======
    (the same lines, fixed)
>>>>>>> REPLACE
```
You may instead reply with the whole \
corrected function in one ```python code block."""
"""Tests and code are shown indented, not fenced: small models copy the first fenced block they
see, and the one fenced block here is the format of the answer."""

REPAIR_FEEDBACK = """\
That attempt was checked and still fails:
{feedback}
Reply with SEARCH/REPLACE blocks (or the whole corrected function) that fix it."""
"""Refinement: shown after the failed attempt; `{feedback}` is the verifier's first failure, or
why the edit could not be applied."""

DEFAULT_CONTEXT_TOKENS = 8192
"""Assumed when the backend does not say (an OpenAI-compatible server): the embedded engine's
default window, which served models match or exceed."""
CHARS_PER_TOKEN = 3
"""Conservative for code when the backend cannot tokenize (typical tokenizers: 3-4 per token)."""
FEEDBACK_TOKENS = 512
"""A refinement round adds the failure (at most `FEEDBACK_CHARS` = 1500 characters) to the prompt."""
ANSWER_OVERHEAD = 160
"""Around the edit itself: a sentence, the path line, the fence and the three markers."""
TEMPLATE_MARGIN = 48
"""The chat template's role headers and special tokens, which the prompt text does not contain."""


def answer_room(code_tokens: int) -> int:
    """Tokens a reply needs: a hunk repeats the lines it changes twice (SEARCH and REPLACE), so twice
    the code shown bounds it, and the rewritten-function fallback fits in the same room."""
    return 2 * code_tokens + ANSWER_OVERHEAD


@dataclass(frozen=True, slots=True)
class RepairPrompt:
    messages: list[ChatMessage]
    code_tokens: int
    """Tokens of the code shown: what the answer's room is computed from (`answer_room`)."""
    shown: tuple[int, int, int]
    """Excerpts, failures and test functions that fit, of those offered."""
    tokens: int
    """The prompt's tokens (system and user message)."""


def _indent(text: str) -> str:
    return "\n".join(f"    {line}" if line else "" for line in text.splitlines())


def _failure(test: FailedTest) -> str:
    head, _, rest = test.message.partition("\n")
    return f"- {test.name}: {head}" + (f"\n{_indent(rest)}" if rest.strip() else "")


def _code(excerpts: Sequence[CodeExcerpt]) -> str:
    """Excerpts grouped by file, in line order, with a gap marker between ones that do not touch."""
    parts: list[str] = []
    for path in dict.fromkeys(e.path for e in excerpts):
        own = sorted((e for e in excerpts if e.path == path), key=lambda e: e.start)
        body: list[str] = []
        last = 0
        for e in own:
            if e.end <= last:
                continue
            if last and e.start > last + 1:
                body.append("     ...")
            cut = max(0, last - e.start + 1)
            body.append(CodeExcerpt(e.path, e.start + cut, e.lines[cut:], e.hot, e.score).numbered())
            last = e.end
        parts.append(f"{path}:\n" + "\n".join(body))
    return "\n\n".join(parts)


def _render(path: str, excerpts: Sequence[CodeExcerpt], failures: Sequence[FailedTest]) -> str:
    tests = "\n\n".join(f.source for f in failures if f.source)
    return REPAIR_USER.format(
        path=path,
        failures="\n".join(_failure(f) for f in failures) or "- (see the test code)",
        tests=_indent(tests) if tests else "    (not found)",
        code=_indent(_code(excerpts)),
    )


def repair_messages(
    *,
    excerpts: Sequence[CodeExcerpt],
    failures: Sequence[FailedTest],
    count_tokens: Callable[[str], int],
    context_tokens: int = DEFAULT_CONTEXT_TOKENS,
) -> RepairPrompt:
    """The conversation that asks for SEARCH/REPLACE hunks, trimmed to the model's context.

    Pieces are taken in rounds (the next suspect function, the next failure, the next failing
    test's code) while the prompt, two answers' room (the failed attempt is shown again when
    refining) and the refinement feedback fit in `context_tokens`. The top suspect is always
    shown, cut to the lines around its suspect line if it is too long by itself.
    """
    if not excerpts:
        raise ValueError("repair_messages needs at least one code excerpt")
    path = excerpts[0].path

    def tests_of(failed: Sequence[int], with_code: Collection[int]) -> list[FailedTest]:
        return [
            FailedTest(failures[j].name, failures[j].message, failures[j].source if j in with_code else None)
            for j in failed
        ]

    def cost(shown: Sequence[CodeExcerpt], failed: Sequence[int], with_code: Collection[int]) -> int:
        code = count_tokens(_code(shown))
        prompt = count_tokens(REPAIR_SYSTEM) + count_tokens(_render(path, shown, tests_of(failed, with_code)))
        return prompt + 2 * answer_room(code) + FEEDBACK_TOKENS + TEMPLATE_MARGIN

    top = excerpts[0]
    radius = len(top.lines)
    while radius > 1 and cost([top], [], ()) > context_tokens:
        radius //= 2
        top = excerpts[0].around_hot(radius)
    shown, failed, with_code = [top], list[int](), set[int]()
    for i in range(max(len(excerpts), len(failures))):
        for kind in ("code", "failure", "test"):
            code, fail, tests = shown, failed, with_code
            if kind == "code" and 0 < i < len(excerpts):
                code = [*shown, excerpts[i]]
            elif kind == "failure" and i < len(failures):
                fail = [*failed, i]
            elif kind == "test" and i in failed and failures[i].source:
                tests = with_code | {i}
            else:
                continue
            if cost(code, fail, tests) <= context_tokens:
                shown, failed, with_code = code, fail, tests
    user = _render(path, shown, tests_of(failed, with_code))
    return RepairPrompt(
        messages=[ChatMessage(role="system", content=REPAIR_SYSTEM), ChatMessage(role="user", content=user)],
        code_tokens=count_tokens(_code(shown)),
        shown=(len(shown), len(failed), len(with_code)),
        tokens=count_tokens(REPAIR_SYSTEM) + count_tokens(user),
    )
