"""Rule 3 where the question has no checked form: which way each difference in the calculation goes.

A subtraction with its operands swapped computes a number of the same size and the opposite
sign, and every operand still traces. Where the question names periods or line items, the
operation rule orders a difference by them (`_finance_operation`); a word problem with no table
(FinanceMath, TheoremQA) names neither, so each difference `a - b` of the calculation is read:

1. **By the question's words for its two sides.** A net amount takes costs from benefits:
   profit is revenue − cost, net income is income − expenses, equity is assets − liabilities, a
   net benefit is advantages − disadvantages. Where each side is one number the question states,
   and the words just before the two numbers name a benefit and a cost, the difference must be
   benefit − cost, whatever its sign; and where the question asks for such a net figure, a sum
   of the two (revenue + cost for a profit) is the same mistake with the cost's sign lost.
2. **By its sign.** Of two non-negative values, the conventional difference is the larger minus
   the smaller (a spread, a gap, a premium, a shortfall). A difference that comes out negative
   is one whose direction the question would have to state, and it does not: the answer is not
   verified ("the question does not say which way the difference goes"). `0 - x` is a
   difference too: the calculation, not the data, gives the result its sign; so is `-(a - b)`,
   a computed value negated (a negative literal is data as stated, and is not read so).
3. **Through a function the verifier cannot follow.** A difference fed into a library call
   (`norm.cdf(z)`, a loop) has no result whose sign can be read: `norm.cdf(-z)` and
   `1 - norm.cdf(z)` agree, so a swapped `x - mean` passes every other check. Such a difference
   cannot be confirmed either way, and the answer is not verified.

Measured on FinanceMath dev, rules 2 and 3 reject every reversed chain and stop four gold
programs that pass the other rules (README, "Verified financial analysis", lists them).

A difference that is exactly zero, or with a negative side (a loss, a negative return: the
difference of signed amounts may go either way), is not read by its sign.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from typing import Any

from ponder.verifiers._calc_expr import Expr, Op, Opaque, Operand, evaluate, unwrap

_BENEFIT = re.compile(
    r"\b(revenues?|sales|incomes?|inflows?|benefits?|advantages?|gains?|proceeds|receipts?|assets?)\b", re.I
)
_COST = re.compile(
    r"\b(costs?|expenses?|outflows?|disadvantages?|loss(?:es)?|payments?|liabilit(?:y|ies)|obligations?|debts?)\b",
    re.I,
)
_NET_ASKED = re.compile(
    r"\b(?:what|how much|calculate|compute|find|determine)\b[^.?!]*\b(?:profits?|net (?:income|benefits?|"
    r"gains?|earnings|worth|assets|amount)|equity|surplus)\b",
    re.I,
)
"""The question asks for a net figure: benefits less costs."""
_NUMBER = re.compile(r"(?<![\w.])[-−]?[$€£¥]?\s*(\d[\d,]*(?:\.\d+)?|\.\d+)\s*(%|percent)?", re.I)
_SIGNED_THROUGH = frozenset({"+", "-", "*", "/", "neg", "round", "float", "sum", "mean"})
"""Operations whose result's sign a negation inside them carries through (or flips)."""
_CONTEXT_WORDS = 8
"""How many words before a number name it ("the current value of the disadvantages is $6")."""


def _verdict(detail: str) -> dict[str, Any]:
    return {"rule": "operation", "status": "fail", "detail": detail}


def _subtractions(expr: Expr, inside: str | None = None) -> Iterator[tuple[Op, str | None]]:
    """Every `a - b` in the expression, with the opaque construct it is inside (if any)."""
    if isinstance(expr, Op):
        if expr.op == "-" and len(expr.args) == 2:
            yield expr, inside
        for arg in expr.args:
            yield from _subtractions(arg, inside)
    elif isinstance(expr, Opaque):
        for part in expr.parts:
            yield from _subtractions(part, inside or expr.reason)


def _show(value: float) -> str:
    return f"{value:.6g}"


def _role(value: float, question: str) -> str | None:
    """ "benefit" or "cost" when the question states `value` right after words naming one, else
    None (also when the words name both, or the number is stated twice in different roles)."""
    roles = set()
    previous = 0
    for match in _NUMBER.finditer(question):
        number = float(match.group(1).replace(",", ""))
        stated = [number] + ([number / 100] if match.group(2) else [])
        before = question[previous : match.start()]
        previous = match.end()
        if not any(math.isclose(abs(value), n, rel_tol=1e-9) for n in stated):
            continue
        context = " ".join(re.split(r"[.;:?!]", before)[-1].split()[-_CONTEXT_WORDS:])
        benefit, cost = _BENEFIT.findall(context), _COST.findall(context)
        roles.add(("benefit" if benefit else "cost") if bool(benefit) != bool(cost) else "")
    return roles.pop() if len(roles) == 1 and "" not in roles else None


def _net_order(node: Op, question: str) -> dict[str, Any] | bool:
    """True when the two sides are a benefit and a cost taken in that order, the failure when in
    the other, False when the question's words do not name them so."""
    sides = [unwrap(a) for a in node.args]
    values = [s.value for s in sides if isinstance(s, Operand) and s.value is not None]
    if len(values) != 2:
        return False
    roles = [_role(v, question) for v in values]
    if roles == ["benefit", "cost"]:
        return True
    if roles == ["cost", "benefit"]:
        return _verdict(
            f"a net amount takes the cost from the benefit; the calculation takes the benefit "
            f"({_show(values[1])}) from the cost ({_show(values[0])})"
        )
    return False


def _negations(expr: Expr) -> Iterator[Op]:
    """Every `-(...)` of a computed value (not of a literal or a cell) that the result's sign
    follows: through arithmetic only, since inside `exp(-x)` or `(1 + r) ** -n` a negation is
    the formula, not a direction."""
    if isinstance(expr, Op) and expr.op in _SIGNED_THROUGH:
        if expr.op == "neg" and expr.args and isinstance(unwrap(expr.args[0]), Op):
            yield expr
        for arg in expr.args:
            yield from _negations(arg)


def _combinations(expr: Expr) -> Iterator[Op]:
    """Every `a + b`, `a * b` and `a / b` in the expression: the ways of combining two numbers
    that are not taking one from the other."""
    if isinstance(expr, Op):
        if expr.op in ("+", "*", "/") and len(expr.args) == 2:
            yield expr
        for arg in expr.args:
            yield from _combinations(arg)
    elif isinstance(expr, Opaque):
        for part in expr.parts:
            yield from _combinations(part)


def _net_sum(node: Op, question: str) -> dict[str, Any] | None:
    """A net figure the question asks for (profit, net income, equity) that adds a cost to a
    benefit (the sum a reversed sign hides), or multiplies or divides the two, where the
    question's words name the two numbers so."""
    if not _NET_ASKED.search(question):
        return None
    sides = [unwrap(a) for a in node.args]
    values = [s.value for s in sides if isinstance(s, Operand) and s.value is not None]
    if len(values) != 2 or any(v < 0 for v in values):
        return None
    if sorted(str(_role(v, question)) for v in values) != ["benefit", "cost"]:
        return None
    verb = {"+": "adds", "*": "multiplies", "/": "divides"}[node.op]
    return _verdict(
        f"a net amount takes the cost from the benefit; the calculation {verb} them ({_show(values[0])} "
        f"{node.op} {_show(values[1])})"
    )


def check_directions(expr: Expr, question: str = "") -> dict[str, Any] | None:
    """The first difference whose direction the question cannot confirm, as a failed verdict."""
    for added in _combinations(expr):
        net_sum = _net_sum(added, question)
        if net_sum is not None:
            return net_sum
    for node in _negations(expr):
        b = evaluate(node.args[0])
        if b is not None and b > 0:
            return _verdict(
                f"the calculation negates {_show(b)} (−({_show(b)})); the question does not say the "
                "result takes that sign"
            )
    for node, inside in _subtractions(expr):
        a, b = evaluate(node.args[0]), evaluate(node.args[1])
        if inside is not None:
            return _verdict(
                f"a difference enters {inside}, whose result the verifier cannot follow, so which way "
                "the difference goes cannot be checked"
            )
        net = _net_order(node, question)
        if isinstance(net, dict):
            return net
        if net:
            continue
        if a is None or b is None or a < 0 or b < 0 or a - b >= -1e-12 * max(1.0, abs(a), abs(b)):
            continue
        if a == 0 and isinstance(node.args[0], Operand):
            return _verdict(
                f"the calculation negates {_show(b)} (0 − {_show(b)}); the question does not say the "
                "result takes that sign"
            )
        return _verdict(
            f"the calculation subtracts the larger value from the smaller ({_show(a)} − {_show(b)} = "
            f"{_show(a - b)}); the question does not say which way the difference goes"
        )
    return None
