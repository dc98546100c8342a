"""Check a final math answer against a reference by value, not by spelling.

"1/2", "0.5", "\\frac{1}{2}", "\\boxed{\\dfrac12}" and "$0.50" are one answer. Both sides are
parsed into sympy expressions by a small parser written here (model text is never passed to
`eval`, which sympy's own `parse_expr` would do), then compared exactly, or numerically with a
tight tolerance when a side is a rounded decimal.

Example:
    ```python
    math_equal("\\\\frac{3}{4}", "0.75")  # True
    verifier = MathVerifier()
    task = VerifyTask(kind="math", question="...", inputs={"reference": "34"})
    [result] = await verifier.score(task, [Chain(steps=(...,), terminal=True, answer="$34")])
    ```
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import sympy

from ponder.verifiers.answers import extract_after_answer, extract_boxed, last_number
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.types import Chain, Evidence, StepScore, VerifyTask

MAX_ANSWER_CHARS = 300
"""Longer "answers" are prose, not expressions; they are read by their last number instead."""
MAX_EXPONENT = 1000
"""Refuse powers like 9^9^9 that would make sympy compute for minutes."""

_FUNCTIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "sqrt": sympy.sqrt,
    "exp": sympy.exp,
    "log": sympy.log,
    "ln": sympy.log,
    "sin": sympy.sin,
    "cos": sympy.cos,
    "tan": sympy.tan,
}
_CONSTANTS: dict[str, sympy.Expr] = {"pi": sympy.pi, "e": sympy.E, "i": sympy.I}
_TOKEN = re.compile(r"\s*(?:((?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|([A-Za-z]+)|(\*\*|[-+*/^()]))")


class MathEvidence(Evidence, total=False):
    """The answer as read and parsed, and the reference it was compared with."""

    answer: str | None
    parsed: str
    """The answer as the checker understood it (a sympy expression, printed)."""
    reference: str


class _ParseError(ValueError):
    pass


def _frac(text: str) -> str:
    """\\frac{a}{b} (and \\dfrac, \\tfrac, \\frac12) -> ((a)/(b)), innermost first."""
    out = text
    for _ in range(20):
        match = re.search(r"\\[dt]?frac\s*", out)
        if match is None:
            return out
        i = match.end()
        args = []
        for _arg in range(2):
            if i < len(out) and out[i] == "{":
                end = _closing(out, i)
                args.append(out[i + 1 : end])
                i = end + 1
            elif i < len(out):
                args.append(out[i])
                i += 1
            else:
                raise _ParseError("\\frac needs two arguments")
        out = f"{out[: match.start()]}(({args[0]})/({args[1]})){out[i:]}"
    raise _ParseError("too many nested fractions")


def _closing(text: str, open_at: int) -> int:
    depth = 0
    for i in range(open_at, len(text)):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        if depth == 0:
            return i
    raise _ParseError("unbalanced braces")


def _latex_to_plain(text: str) -> str:
    """Rewrite the LaTeX a model puts in an answer into plain arithmetic."""
    s = text.strip()
    boxed = extract_boxed(s)
    if boxed is not None:
        s = boxed
    s = re.sub(r"\\(?:text|mathrm|textbf|mbox)\s*\{[^{}]*\}", " ", s)
    s = re.sub(r"\^\s*\{?\\circ\}?", "", s)
    for token in (
        "\\left",
        "\\right",
        "\\displaystyle",
        "\\!",
        "\\,",
        "\\;",
        "\\:",
        "\\ ",
        "\\$",
        "$",
        "\\%",
        "%",
    ):
        s = s.replace(token, " " if token.startswith("\\") and token[1:2].isalpha() else "")
    s = s.replace("{,}", "")
    s = _frac(s)
    s = re.sub(r"\\sqrt\s*\[([^\]]*)\]\s*\{", r"root[\1]{", s)
    s = re.sub(r"root\[([^\]]*)\]\{([^{}]*)\}", r"((\2)^(1/(\1)))", s)
    s = re.sub(r"\\sqrt\s*(\d)", r"sqrt(\1)", s)
    s = s.replace("\\sqrt", "sqrt")
    s = s.replace("\\cdot", "*").replace("\\times", "*").replace("\\div", "/").replace("\\pi", "pi")
    s = s.replace("{", "(").replace("}", ")")
    if "\\" in s:
        raise _ParseError(f"unsupported LaTeX in {text!r}")
    s = re.sub(r"(?<=\d),(?=\d{3}(?!\d))", "", s)
    if "=" in s:
        s = s.rsplit("=", 1)[1]
    return s.strip().rstrip(".")


class _Parser:
    """Recursive descent over + - * / ^ ( ), numbers, a few functions and one-letter symbols."""

    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            match = _TOKEN.match(text, pos)
            if match is None:
                raise _ParseError(f"unexpected {text[pos:]!r}")
            number, name, op = match.groups()
            self.tokens.append(("num", number) if number else ("name", name) if name else ("op", op))
            pos = match.end()
        self.i = 0

    def parse(self) -> sympy.Expr:
        expr = self.expr()
        if self.i != len(self.tokens):
            raise _ParseError(f"trailing {self.tokens[self.i][1]!r}")
        return expr

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self, value: str) -> bool:
        if self.peek() == ("op", value):
            self.i += 1
            return True
        return False

    def expr(self) -> sympy.Expr:
        value = self.term()
        while True:
            if self.take("+"):
                value = value + self.term()
            elif self.take("-"):
                value = value - self.term()
            else:
                return value

    def term(self) -> sympy.Expr:
        value = self.unary()
        while True:
            if self.take("*"):
                value = value * self.unary()
            elif self.take("/"):
                value = value / self.unary()
            elif (tok := self.peek()) is not None and (tok[0] != "op" or tok[1] == "("):
                value = value * self.power()  # implicit product: 2pi, 3(x+1), 2sqrt(2)
            else:
                return value

    def unary(self) -> sympy.Expr:
        if self.take("-"):
            return -self.unary()
        if self.take("+"):
            return self.unary()
        return self.power()

    def power(self) -> sympy.Expr:
        base = self.atom()
        if self.take("^") or self.take("**"):
            exponent = self.unary()
            if exponent.is_number and abs(sympy.N(exponent)) > MAX_EXPONENT:
                raise _ParseError("exponent too large")
            return sympy.Pow(base, exponent)
        return base

    def atom(self) -> sympy.Expr:
        tok = self.peek()
        if tok is None:
            raise _ParseError("unexpected end")
        self.i += 1
        kind, value = tok
        if kind == "num":
            return sympy.Rational(value)
        if kind == "op" and value == "(":
            inner = self.expr()
            if not self.take(")"):
                raise _ParseError("missing )")
            return inner
        if kind == "name":
            if value in _FUNCTIONS:
                if self.take("("):
                    arg = self.expr()
                    if not self.take(")"):
                        raise _ParseError("missing )")
                else:
                    arg = self.power()
                return _FUNCTIONS[value](arg)
            if value in _CONSTANTS:
                return _CONSTANTS[value]
            if len(value) == 1:
                return sympy.Symbol(value)
        raise _ParseError(f"unexpected {value!r}")


def parse_math(text: str) -> sympy.Expr | None:
    """A sympy expression for a final answer, or None when it is not one.

    Accepts plain arithmetic, LaTeX (\\frac, \\dfrac, \\sqrt, \\cdot, \\boxed, \\text units),
    thousands separators, "$" and "%" (dropped: "50%" reads as 50), and "x = 5" (the right side).
    Anything else (prose, units in words) falls back to the last number in the text.
    """
    if not text or not text.strip():
        return None
    if len(text) <= MAX_ANSWER_CHARS:
        try:
            return _Parser(_latex_to_plain(text)).parse()
        except (_ParseError, ZeroDivisionError, ValueError, TypeError):
            pass
    number = last_number(text)
    return sympy.Rational(number) if number is not None else None


def math_equal(pred: str, reference: str, *, rel_tol: float = 1e-6) -> bool:
    """Whether two answers denote the same value.

    Exact when both sides are exact (1/3 is not 0.333); a decimal side is compared within
    `rel_tol` (relative, with the same value as absolute floor) so "0.3333333" equals 1/3.
    """
    a, b = parse_math(pred), parse_math(reference)
    if a is None or b is None:
        return False
    try:
        if a.free_symbols or b.free_symbols:
            return bool(sympy.simplify(a - b) == 0)
        if a == b:
            return True
        if a.is_rational and b.is_rational and _is_exact(pred) and _is_exact(reference):
            return False
        x, y = complex(sympy.N(a, 30)), complex(sympy.N(b, 30))
    except (TypeError, ValueError, ZeroDivisionError):
        return False
    return abs(x - y) <= rel_tol * max(1.0, abs(y))


def _is_exact(text: str) -> bool:
    """No decimal point: an integer or a fraction, which a rounded value must not match."""
    return not re.search(r"\d\.\d", text)


class MathVerifier(BaseVerifier):
    """Outcome verifier: the final answer equals `task.inputs["reference"]` (pass) or not (fail).

    Without a reference it cannot judge: gate "unknown", score 0.5, the parsed answer in the
    evidence. The answer is `Chain.answer` when the search extracted one, else the last
    \\boxed{}, "Answer:" line or number of the last step.
    """

    name = "math"
    step_level = False

    def __init__(self, *, rel_tol: float = 1e-6) -> None:
        self.rel_tol = rel_tol

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        reference = task.inputs.get("reference")
        return [self._one(chain, None if reference is None else str(reference)) for chain in chains]

    def _one(self, chain: Chain, reference: str | None) -> StepScore:
        if not chain.terminal:
            return StepScore(score=0.5, evidence={"reason": "partial chain: only final answers are checked"})
        answer = chain.answer if chain.answer is not None else _answer_of(chain)
        parsed = parse_math(answer) if answer else None
        if answer is None or parsed is None:
            return StepScore(
                score=0.0,
                gate="fail",
                evidence=MathEvidence(
                    answer=answer,
                    feedback="no final answer found: end with 'Answer: <value>' or \\boxed{<value>}",
                ),
            )
        evidence = MathEvidence(answer=answer, parsed=str(parsed))
        if reference is None:
            return StepScore(
                score=0.5, evidence=MathEvidence(**evidence, reason="no reference answer to check against")
            )
        if math_equal(answer, reference, rel_tol=self.rel_tol):
            return StepScore(score=1.0, gate="pass", evidence=MathEvidence(**evidence, reference=reference))
        return StepScore(
            score=0.0,
            gate="fail",
            evidence=MathEvidence(
                **evidence,
                reference=reference,
                feedback=f"the final answer {answer} is not correct; recheck each calculation",
            ),
        )


def _answer_of(chain: Chain) -> str | None:
    text = chain.steps[-1] if chain.steps else ""
    return extract_boxed(text) or extract_after_answer(text) or last_number(text)
