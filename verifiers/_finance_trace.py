"""Where a finance answer's number came from: each step's run as evidence, the answer traced to an
executed value, a cell or the text, the expression behind it, and the answer-level invariants.

`finance` runs the steps and gives the verdict; this module only reads what the run recorded and
what the answer says, so tracing can be reasoned about (and changed) without the sandbox around it.
A number is traced only as the same quantity: rounded to the answer's precision, a fraction shown as
a percentage, or an amount in another scale word.
"""

from __future__ import annotations

import re
from typing import Any

from ponder.verifiers._finance_calc import Calculation, Expr, Opaque, Operand
from ponder.verifiers._numbers import SCALES, Amount, numbers_in
from ponder.verifiers._table_checks import Cell, period_change_check

AMOUNT_SCALES = ("thousand", "million", "billion")

_SHARE = re.compile(
    r"\b(proportion|percentage of|portion of|fraction of|what percent|as a percentage of)\b", re.I
)
_CHANGE_WORDS = re.compile(r"\b(change|growth|increase|decrease|grow|rise|decline)\b", re.I)


def evidence_of_steps(
    codes: list[str], records: list[dict[str, Any]], cells: list[Cell]
) -> list[dict[str, Any]]:
    """Each step's code with what its run recorded (`records`, empty when nothing ran) and the
    distinctive table cells it used, by a literal in its code or a value it produced."""
    out = []
    for i, code in enumerate(codes):
        record = records[i] if i < len(records) else {}
        values = dict(record.get("values", {}))  # runs are cached: evidence gets its own copy
        literals = {abs(v) for v in numbers_in(code)} if code else set()
        numeric = {
            abs(float(v)) for v in values.values() if isinstance(v, int | float) and not isinstance(v, bool)
        }
        used = [
            c.where for c in cells if c.distinctive and (abs(c.value) in literals or abs(c.value) in numeric)
        ]
        out.append(
            {
                "step": i,
                "code": code,
                "values": values,
                "stdout": record.get("stdout", ""),
                "error": record.get("error"),
                "cells_used": used,
            }
        )
    return out


def _matches(answer: Amount, value: float) -> bool:
    """The answer is `value` as written to the answer's precision: rounded, not approximated
    (2.62 is not "3": rounding must also stay within 1%, or 0.01 absolute)."""
    diff = abs(answer.value - value)
    rounding = 0.5 * 10 ** (-answer.decimals) + 1e-9 * max(1.0, abs(value))
    return diff <= rounding and diff <= max(0.01 * abs(value), 0.01)


def trace_answer(
    answer: Amount,
    executed: list[tuple[int, str, float]],
    cells: list[Cell],
    paragraphs: list[str],
    hint: str | None,
) -> dict[str, Any] | None:
    """The value the answer states, latest calculation first, then a cell, then the text.

    The number may be shown differently only in ways that keep it the same quantity: a fraction
    as a percentage when the answer says "%", or the same amount in another scale word.
    """
    factors = {1.0: ""}
    if answer.scale == "percent":
        factors[100.0] = " as a percent"
    if answer.scale in AMOUNT_SCALES and hint in AMOUNT_SCALES and answer.scale != hint:
        factors[SCALES[hint] / SCALES[answer.scale]] = f" converted from {hint}"
    sources: list[tuple[dict[str, Any], float]] = [
        ({"source": f"step {step + 1}: {name}", "step": step, "name": name}, v) for step, name, v in executed
    ]
    sources += [({"source": f"cell {c.where}", "cell": c.where}, c.value) for c in cells]
    sources += [
        ({"source": f"paragraph {i + 1}", "paragraph": i}, v)
        for i, p in enumerate(paragraphs)
        for v in numbers_in(p)
    ]
    for origin, value in sources:
        for factor, how in factors.items():
            if _matches(answer, value * factor):
                return {**origin, "source": origin["source"] + how, "value": value, "factor": factor}
    return None


def answer_expr(trace: dict[str, Any], calc: Calculation, cells: list[Cell]) -> Expr:
    """The expression behind the traced answer: the calculation's, or the cell or text number itself."""
    if "step" in trace:
        expr = calc.values.get((trace["step"], trace["name"]))
        return expr if expr is not None else Opaque(f"{trace['name']} (not read)", traceable=False)
    if "cell" in trace:
        cell = next(c for c in cells if c.where == trace["cell"])
        return Operand(cell.value, cell.where, "read", ((cell.table, cell.row, cell.col),))
    return Operand(trace["value"], trace["source"], "literal")


def answer_invariants(
    question: str, answer: Amount, cells: list[Cell], used: set[str]
) -> list[dict[str, Any]]:
    """Invariants of the answer itself: a share lies within 0-100%, and a change has the
    direction of the cells (`used`) it came from."""
    out: list[dict[str, Any]] = []
    if _SHARE.search(question) and not _CHANGE_WORDS.search(question):
        limit = 100.0 if answer.scale == "percent" else 1.0 if abs(answer.value) <= 1 else 100.0
        ok = 0.0 <= answer.value <= limit
        out.append(
            {
                "name": "share within 0-100%",
                "scope": "answer",
                "gating": True,
                "status": "pass" if ok else "fail",
                "detail": f"a share must lie within 0-100%, got {answer.text}",
            }
        )
    if re.search(r"\b(change|growth)\b", question, re.I):
        check = period_change_check(answer.value, [c for c in cells if c.where in used])
        if check is not None:
            out.append(check)
    return out
