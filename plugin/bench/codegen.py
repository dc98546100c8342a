"""HumanEval as a search task: write the function, checked during search only by the prompt's examples.

The hidden `test` of a HumanEval record is the benchmark's judge, so the search must not see it
(a verifier that runs it would make "verified" and "correct" the same thing by construction). What
a programmer has is the docstring's ``>>>`` examples; they become the search's test, run in the
sandbox with doctest. Prompts without such examples get a test that only checks the function
exists, so the search can still reject code that does not import.
"""

from __future__ import annotations

from ponder.backends.base import ChatMessage
from ponder.graph.types import SearchTask
from ponder.plugin.bench.datasets import BenchItem
from ponder.verifiers.types import VerifyTask

SOURCE_PATH = "solution.py"

CODEGEN_SYSTEM = "You are a careful Python developer. You write correct, complete, self-contained code."

CODEGEN_USER = """\
Complete the function `{entry_point}` below so that it does what its docstring says.

```python
{prompt}
```

Reply with the complete module (imports and the finished function) in one ```python code block."""

CODEGEN_FEEDBACK = """\
That version was run against the docstring's examples and fails:
{feedback}
Reply with the complete corrected module in one ```python code block."""

_EXAMPLES_TEST = """\
import doctest

import solution

EXAMPLES = {examples!r}


def test_docstring_examples():
    parser = doctest.DocTestParser()
    case = parser.get_doctest(EXAMPLES, dict(vars(solution)), "examples", None, 0)
    report = []
    runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
    runner.run(case, out=report.append)
    assert runner.failures == 0, "".join(report)[-1500:]
"""

_DEFINES_TEST = """\
import solution


def test_defines_{entry_point}():
    assert callable(getattr(solution, {entry_point!r}, None)), "define {entry_point}"
"""


def example_tests(item: BenchItem) -> dict[str, str]:
    """The search's visible test: the prompt's doctest examples, else a does-it-define check."""
    prompt = item.record["prompt"]
    if ">>>" in prompt:
        return {"test_examples.py": _EXAMPLES_TEST.format(examples=prompt)}
    return {"test_examples.py": _DEFINES_TEST.format(entry_point=item.record["entry_point"])}


def build_codegen_task(item: BenchItem) -> SearchTask:
    """The search task for one HumanEval record (answer format "code": the whole module)."""
    user = CODEGEN_USER.format(entry_point=item.record["entry_point"], prompt=item.record["prompt"].rstrip())
    return SearchTask(
        messages=[ChatMessage(role="system", content=CODEGEN_SYSTEM), ChatMessage(role="user", content=user)],
        verify=VerifyTask(
            kind="code",
            question=f"implement {item.record['entry_point']}",
            inputs={"source_path": SOURCE_PATH, "files": {}, "tests": example_tests(item)},
        ),
        answer_format="code",
        feedback_template=CODEGEN_FEEDBACK,
    )
