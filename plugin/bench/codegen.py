"""HumanEval as a search task: write the function, checked during search only by the prompt's examples.

The hidden `test` of a HumanEval record is the benchmark's judge, so the search must not see it
(a verifier that runs it would make "verified" and "correct" the same thing by construction). What
a programmer has is the docstring's ``>>>`` examples; they become the search's test, run in the
sandbox with doctest. Prompts without such examples get a test that only checks the function
exists, so the search can still reject code that does not import; that check vouches for no
behaviour, so an answer that passes only it is never reported verified (`has_examples`).
"""

from __future__ import annotations

import ast
import contextlib
import inspect

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
import ast
import contextlib
import doctest
import io
import traceback

import solution

EXAMPLES = {examples!r}


def _run(example, namespace):
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            try:
                code = compile(example.source, "<example>", "eval")
            except SyntaxError:
                exec(compile(example.source, "<example>", "exec"), namespace)
            else:
                value = eval(code, namespace)
                if value is not None:
                    print(repr(value))
    except Exception as exc:
        return out.getvalue(), traceback.format_exception_only(type(exc), exc)[-1]
    return out.getvalue(), None


def _same(want, got, checker, flags):
    if checker.check_output(want, got, flags):
        return True
    if not want.strip():  # `>>> f(x) == y` with nothing after it: the line is an assertion
        return got.strip() == "True"
    try:  # '21' for "21": the same literal in another spelling
        return ast.literal_eval(want.strip()) == ast.literal_eval(got.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        return False


def test_docstring_examples():
    # doctest's parser and output checker, not its runner: the runner swaps sys.settrace and
    # builtins._, which the sandbox's integrity checks rightly treat as tampering.
    namespace = dict(vars(solution))
    checker, flags = doctest.OutputChecker(), doctest.NORMALIZE_WHITESPACE
    failures = []
    for example in doctest.DocTestParser().get_examples(EXAMPLES):
        got, raised = _run(example, namespace)
        if example.exc_msg is not None:
            ok = raised is not None and checker.check_output(example.exc_msg, raised, flags)
        else:
            ok = raised is None and _same(example.want, got, checker, flags)
        if not ok:
            want, said = example.want.strip(), (raised or got).strip()
            failures.append(f"{{example.source.strip()}}: expected {{want!r}}, got {{said!r}}")
    assert not failures, "\\n".join(failures)[-1500:]
"""

_DEFINES_TEST = """\
import solution


def test_defines_{entry_point}():
    assert callable(getattr(solution, {entry_point!r}, None)), "define {entry_point}"
"""


def examples_text(item: BenchItem) -> str:
    """The entry point's docstring as written, where its examples are: the prompt's text after
    the last example is the closing quotes, which doctest would read as expected output, and the
    docstring's value would turn a written ``"a\\nb"`` into a line break."""
    prompt, entry = item.record["prompt"], item.record["entry_point"]
    with contextlib.suppress(SyntaxError):
        for node in ast.walk(ast.parse(prompt)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry:
                first = node.body[0] if node.body else None
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    written = (ast.get_source_segment(prompt, first.value) or "").lstrip("rRuU")
                    quote = written[:3] if written[:3] in ('"""', "'''") else written[:1]
                    return inspect.cleandoc(written[len(quote) : len(written) - len(quote)])
                return ""
    return prompt


def has_examples(item: BenchItem) -> bool:
    """Whether the search's visible test checks behaviour (the docstring has doctest examples):
    without them, passing it means only that the function exists, and "verified" would claim
    what nothing checked (HumanEval/41's `return 0` passed that way)."""
    return ">>>" in examples_text(item)


def example_tests(item: BenchItem) -> dict[str, str]:
    """The search's visible test: the docstring's doctest examples, else a does-it-define check."""
    if has_examples(item):
        return {"test_examples.py": _EXAMPLES_TEST.format(examples=examples_text(item))}
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
