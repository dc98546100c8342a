"""Literals a calculation precomputed from two inputs, read back as the operation they hide.

Analysts and models often write a number already worked out: `coupon = 50` for a 5% coupon on
$1,000, `final = 1100` for coupon plus par, `units = 2000` for 12,000 sold less 10,000 bought.
Such a literal equals no input, so provenance alone would call it untraced and a right answer
would fail. Accepting it as a number "from somewhere" would be unsound: the operation it hides
(a sum where a difference was asked, the wrong period's cell) would escape the operation,
direction and grounding rules.

So an untraced literal is replaced by the one operation over two inputs that gives exactly its
value (`1100` -> `1000 x 1.1`, where 1.1 is the question's 10% as a growth factor), and every
rule then judges the expanded expression as if the code had written it out: its cells are
grounded, its difference is ordered, its percent is read as one. Only one operation is looked
for, over numbers the question or text states and the tables' cells, and only an exact match
(to 1e-9) counts; a literal that two different derivations explain stays untraced, since the
reader cannot say which operation it hides.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator

from ponder.verifiers._calc_expr import Expr, Op, Opaque, Operand
from ponder.verifiers._finance_provenance import Sources, Trace, text_numbers

_OPS: tuple[tuple[str, Callable[[float, float], float]], ...] = (
    ("+", lambda a, b: a + b),
    ("-", lambda a, b: a - b),
    ("*", lambda a, b: a * b),
    ("/", lambda a, b: a / b if b else math.nan),
)
_COMMUTATIVE = frozenset({"+", "*"})
_MONTH = (
    r"(?:January|February|March|April|May|June|July|August|September|October|November|December"
    r"|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec)\b\.?"
)
_DATE = re.compile(
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+{_MONTH}|\b{_MONTH}\s+\d{{1,2}}(?:st|nd|rd|th)?\b|(?<![\d.,])(?:19|20)\d\d(?![\d.,])",
    re.I,
)
"""Days of the month and years, which a text states as dates, not as amounts."""
_MAX_ATOMS = 400
"""Beyond this many inputs (a very large table) the pair search is skipped, and with it the
chance of a coincidental match grows too: the literal stays untraced."""


def expand_derived(
    expr: Expr, traced: list[tuple[Operand, Trace]], sources: Sources
) -> tuple[Expr, dict[Operand, str]]:
    """`expr` with each untraced literal that one operation over two inputs explains replaced by
    that operation, and for the audit, each replaced literal with its derivation."""
    untraced = {o for o, t in traced if t.kind == "untraced" and o.kind == "literal" and _whole_amount(o)}
    if not untraced:
        return expr, {}
    atoms = _atoms(sources)
    if len(atoms) > _MAX_ATOMS:
        return expr, {}
    found: dict[Operand, Expr] = {}
    for literal in untraced:
        derived = _derive(literal, atoms)
        if derived is not None:
            found[literal] = derived
    if not found:
        return expr, {}
    return _replace(expr, found), {o: f"{o.text} = {_show(e)}" for o, e in found.items()}


def _atoms(sources: Sources) -> list[Operand]:
    """The inputs a derivation may combine, once per value: the numbers the question and the
    text state (a percent also as a fraction and as a growth factor), dates left out ("31
    December 2018" states no amount). Table cells are left out too: a literal standing for cells
    would hide from grounding which cells it stands for, and a table's many cells make
    coincidental matches common."""
    out: list[Operand] = []
    seen: set[float] = set()
    for text in sources.stated_texts:
        for number, _ in text_numbers(_DATE.sub(" ", text)):
            key = round(abs(number), 12)
            if key and key not in seen:
                seen.add(key)
                out.append(Operand(abs(number), f"{number:g}", "literal"))
    return out


def _whole_amount(literal: Operand) -> bool:
    """Whether a literal is a whole amount of 10 or more, the kind an annotator precomputes (a
    coupon of 50, 2,000 units, 1,100 at maturity). Small and fractional numbers (0.8, 0.39) are
    left untraced: so many pairs of inputs give them that a match says nothing."""
    value = abs(literal.value or 0.0)
    return value >= 10 and value == math.floor(value)


def _derive(literal: Operand, atoms: list[Operand]) -> Expr | None:
    """The one operation over two atoms equal to the literal's magnitude, or None (none, or two)."""
    target = abs(literal.value or 0.0)
    matches: dict[tuple[str, frozenset[float] | tuple[float, float]], tuple[str, Operand, Operand]] = {}
    for a, b in _pairs(atoms):
        x, y = a.value or 0.0, b.value or 0.0
        for name, fn in _OPS:
            if name in _COMMUTATIVE and x > y:
                continue  # a + b and b + a are one derivation
            if (name == "*" and 1.0 in (x, y)) or (name == "/" and y == 1.0):
                continue
            result = fn(x, y)
            if math.isfinite(result) and math.isclose(result, target, rel_tol=1e-9, abs_tol=0.0):
                key = (name, frozenset((x, y)) if name in _COMMUTATIVE else (x, y))
                matches[key] = (name, a, b)
    if len(matches) != 1:
        return None
    [(name, a, b)] = matches.values()
    a, b = (Operand(x.value, f"{x.text} (in {literal.text})", x.kind, x.cells) for x in (a, b))
    derived = Op(name, (a, b))
    return Op("neg", (derived,)) if (literal.value or 0.0) < 0 else derived


def _pairs(atoms: list[Operand]) -> Iterator[tuple[Operand, Operand]]:
    for i, a in enumerate(atoms):
        for j, b in enumerate(atoms):
            if i != j:
                yield a, b


def _replace(expr: Expr, found: dict[Operand, Expr]) -> Expr:
    if isinstance(expr, Operand):
        return found.get(expr, expr)
    if isinstance(expr, Op):
        return Op(expr.op, tuple(_replace(a, found) for a in expr.args))
    if isinstance(expr, Opaque):
        return Opaque(expr.reason, tuple(_replace(p, found) for p in expr.parts), expr.traceable)
    return expr


def _show(expr: Expr) -> str:
    if isinstance(expr, Operand):
        return expr.text.split(" (in ", 1)[0]
    if isinstance(expr, Op) and expr.op == "neg":
        return f"−({_show(expr.args[0])})"
    if isinstance(expr, Op) and len(expr.args) == 2:
        symbol = {"*": "×", "-": "−"}.get(expr.op, expr.op)
        return f"{_show(expr.args[0])} {symbol} {_show(expr.args[1])}"
    return "…"
