"""Gold and constructed-wrong calculation chains for the finance verifier, from the dev datasets.

Used by tests/test_finance_dataset_rules.py and benchmarks/bench_verifiers.py. Each record gives
its gold derivation as a program (TAT-QA's `derivation` as Python arithmetic; FinanceMath's own
`python_solution`) and up to four wrong chains, each stating the number its program computes so
that only the verifier's rules, not the answer trace, can reject it:

- `other_cell`: one operand replaced by another cell of the table (records with a table);
- `nowhere`: one operand replaced by a number that appears nowhere in the inputs;
- `wrong_scale`: the gold program with the right value stated in the wrong scale (million for
  thousand; a bare number, or the fraction, for a percentage);
- `reversed`: the first subtraction's operands swapped (a difference reversed);
- `fudged`: the gold result nudged by a documented constant, as a hostile chain would to state
  a number of its choosing with every operand still traced: `+ 1`, `* 2`, `/ 2`, `* 12`, and a
  rounding to tens (`round(x, -1)`), one chain each.

A constructed chain whose answer is still right by the source's rule (an operand replaced by an
equal value, a reversed zero difference) is dropped: it is not wrong.
"""

from __future__ import annotations

import ast
import math
import re
from dataclasses import dataclass
from typing import Any

from ponder.verifiers._finance_question import asks_for_percent
from ponder.verifiers._numbers import compare_answer, numbers_in, parse_cell
from ponder.verifiers.types import Chain, VerifyTask
from tests._datasets import financemath_task, tatqa_task

ISSUE_KINDS = ("other_cell", "nowhere", "wrong_scale", "reversed")
"""The four wrong kinds the verified-precision target is defined over (issue #12)."""
WRONG_KINDS = (*ISSUE_KINDS, "fudged")
FUDGES = ("({}) + 1", "({}) * 2", "({}) / 2", "({}) * 12", "round({}, -1)")
"""How `fudged` chains nudge a result: each with a constant the verifier documents."""
WRONG_SCALE = {"": "million", "thousand": "million", "million": "billion", "billion": "million"}


@dataclass(frozen=True, slots=True)
class Case:
    """One chain for one record, with what it is."""

    source: str
    record_id: str
    kind: str
    """"gold" or one of `WRONG_KINDS`."""
    task: VerifyTask
    chain: Chain
    right: bool
    """Whether the chain's answer is correct by the source's rule."""


def chain(code: str, answer: str) -> Chain:
    return Chain(steps=(f"```python\n{code}\n```", f"Answer: {answer}"), terminal=True)


def tatqa_program(derivation: str) -> str:
    """TAT-QA's derivation ("[(433+685)/2] - (2,088)", "1,027/11%") as one Python assignment."""
    expr = derivation.replace("[", "(").replace("]", ")").replace("$", "").replace("−", "-")
    expr = re.sub(r"(?<=\d),(?=\d{3})", "", expr)
    expr = re.sub(r"(\d+(?:\.\d+)?)\s*%", r"(\1 / 100)", expr)
    return f"answer = {expr.strip()}"


def _value(code: str) -> float | None:
    """What a constructed program computes (dataset arithmetic: trusted, evaluated here)."""
    namespace: dict[str, Any] = {}
    try:
        exec(compile(code, "<chain>", "exec"), namespace)
        value = namespace["solution"]() if "solution" in namespace else namespace.get("answer")
    except Exception:
        return None
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


def _literals(code: str) -> list[ast.Constant]:
    """Numeric literals that are operands (not the digits of round(), not subscripts)."""
    tree = ast.parse(code)
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("round", "range"):
            skip |= {id(n) for a in node.args[1:] for n in ast.walk(a)}
        if isinstance(node, ast.Subscript):
            skip |= {id(n) for n in ast.walk(node.slice)}
    return [
        n
        for n in ast.walk(tree)
        if isinstance(n, ast.Constant)
        and isinstance(n.value, int | float)
        and not isinstance(n.value, bool)
        and id(n) not in skip
        and n.value not in (0, 1, 2, 100)
    ]


def _replace(code: str, node: ast.AST, text: str) -> str:
    lines = code.splitlines(keepends=True)
    line = lines[node.lineno - 1]  # type: ignore[attr-defined]
    lines[node.lineno - 1] = line[: node.col_offset] + text + line[node.end_col_offset :]  # type: ignore[attr-defined]
    return "".join(lines)


def _reverse_first_subtraction(code: str) -> str | None:
    tree = ast.parse(code)
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub):
            node.left, node.right = node.right, node.left
            return ast.unparse(tree)
    return None


def _fudged(code: str) -> list[str]:
    """The program with its result nudged by each of FUDGES: TAT-QA's `answer = expr`, or the
    last `return` of FinanceMath's `solution()`."""
    out = []
    for fudge in FUDGES:
        tree = ast.parse(code)
        result = _result(tree)
        if result is None or result.value is None:
            return []
        result.value = ast.parse(fudge.format(ast.unparse(result.value)), mode="eval").body
        out.append(ast.unparse(tree))
    return out


def _result(tree: ast.Module) -> ast.Return | ast.Assign | None:
    """The statement that gives a program its result: its last `return` or assignment."""
    found = [n for n in ast.walk(tree) if isinstance(n, ast.Return | ast.Assign) and n.value is not None]
    return found[-1] if found else None


def _fmt(value: float) -> str:
    return f"{round(value, 4):.10g}"


def _nowhere(value: float, forbidden: list[float]) -> float:
    """A number near `value` that equals no input number (after the usual normalisations)."""
    candidate = round(abs(value) * 1.0731 + 0.37, 2) or 0.73
    while any(
        math.isclose(candidate, abs(f) * k, rel_tol=1e-6)
        for f in forbidden
        for k in (1, 0.01, 100, 1e3, 1e-3)
    ):
        candidate = round(candidate + 0.11, 2)
    return candidate


def tatqa_cases(records: list[dict[str, Any]]) -> list[Case]:
    out: list[Case] = []
    for record in records:
        out += _tatqa_record(record)
    return out


def _tatqa_record(record: dict[str, Any]) -> list[Case]:
    uid, gold, scale = record["uid"], float(record["answer"]), record["scale"]
    task = tatqa_task(record, reference=False)
    program = tatqa_program(record["derivation"])

    def stated(value: float, unit: str) -> str:
        return f"{_fmt(value)}%" if unit == "percent" else f"{_fmt(value)} {unit}".strip()

    def right(value: float, unit: str) -> bool:
        return unit == scale and compare_answer(value, gold, rel_tol=0.01, abs_tol=0.01)

    def computed(code: str) -> float | None:
        value = _value(code)
        if value is None:
            return None
        if scale == "percent" and abs(gold) > 0 and abs(value * 100 - gold) < abs(value - gold):
            return value * 100  # the derivation is the fraction; the answer is its percentage
        return value

    cases = [Case("tatqa", uid, "gold", task, chain(program, stated(gold, scale)), True)]
    literals = _literals(program)
    table_values = [v for row in record["table"] for v in (parse_cell(c) for c in row) if v is not None]
    text_values = [v for p in record["paragraphs"] for v in numbers_in(p)] + numbers_in(record["question"])
    variants: list[tuple[str, str]] = []
    if literals:
        target = literals[0]
        used = {abs(float(n.value)) for n in literals}
        other = next((v for v in _other_cells(record, float(target.value)) if abs(v) not in used), None)
        if other is not None:
            variants.append(("other_cell", _replace(program, target, repr(abs(other)))))
        far = _nowhere(float(target.value), table_values + text_values)
        variants.append(("nowhere", _replace(program, target, repr(far))))
    reversed_code = _reverse_first_subtraction(program)
    if reversed_code is not None:
        variants.append(("reversed", reversed_code))
    variants += [("fudged", code) for code in _fudged(program)]
    for kind, code in variants:
        value = computed(code)
        if value is not None and not right(value, scale):
            cases.append(Case("tatqa", uid, kind, task, chain(code, stated(value, scale)), False))
    if scale == "percent":
        wrong = chain(program, _fmt(gold))  # the percentage without its unit
    else:
        wrong = chain(program, f"{_fmt(gold)} {WRONG_SCALE[scale]}")
    cases.append(Case("tatqa", uid, "wrong_scale", task, wrong, False))
    return cases


def _other_cells(record: dict[str, Any], operand: float) -> list[float]:
    """Cells of the table a misread would give: same column first, then the same row."""
    rows = record["table"]
    where = [
        (r, c)
        for r, row in enumerate(rows)
        for c, v in enumerate(row)
        if (p := parse_cell(v)) is not None and abs(p) == abs(operand)
    ]
    values: list[float] = []
    if where:
        r0, c0 = where[0]
        values += [parse_cell(row[c0]) for r, row in enumerate(rows) if r != r0 and c0 < len(row)]  # type: ignore[misc]
        values += [parse_cell(v) for c, v in enumerate(rows[r0]) if c != c0]  # type: ignore[misc]
    values += [parse_cell(v) for row in rows for v in row]  # type: ignore[misc]
    years = re.compile(r"\s*(19|20)\d\d\s*$")
    return [
        v for v in values if v is not None and abs(v) != abs(operand) and v != 0 and not years.match(f"{v:g}")
    ]


def financemath_cases(records: list[dict[str, Any]]) -> list[Case]:
    out: list[Case] = []
    for record in records:
        out += _financemath_record(record)
    return out


def financemath_right(value: float, gold: float) -> bool:
    """FinanceMath's strict rule: same sign, 1% relative (or equal at the data's 3 decimals)."""
    if compare_answer(value, gold, rel_tol=0.01, abs_tol=0.0):
        return True
    return (gold == 0 or (value > 0) == (gold > 0)) and round(value, 3) == gold


def _financemath_record(record: dict[str, Any]) -> list[Case]:
    qid, gold = record["question_id"], float(record["ground_truth"])
    task = financemath_task(record, reference=False)
    program = record["python_solution"]
    percent = asks_for_percent(record["question"])

    def stated(value: float) -> str:
        return f"{_fmt(value)}%" if percent else _fmt(value)

    cases = [Case("financemath", qid, "gold", task, chain(program, stated(gold)), True)]
    literals = _literals(program)
    table_values = [
        v for t in record["tables"] for v in (parse_cell(c.strip()) for c in t.split("|")) if v is not None
    ]
    question_values = numbers_in(record["question"]) + table_values
    variants: list[tuple[str, str]] = []
    if literals:
        target = literals[0]
        used = {abs(float(n.value)) for n in literals}
        other = next((v for v in table_values if abs(v) not in used and abs(v) != abs(target.value)), None)
        if other is not None:
            variants.append(("other_cell", _replace(program, target, repr(abs(other)))))
        variants.append(
            ("nowhere", _replace(program, target, repr(_nowhere(float(target.value), question_values))))
        )
    reversed_code = _reverse_first_subtraction(program)
    if reversed_code is not None:
        variants.append(("reversed", reversed_code))
    variants += [("fudged", code) for code in _fudged(program)]
    for kind, code in variants:
        value = _value(code)
        if value is not None and not financemath_right(value, gold):
            cases.append(Case("financemath", qid, kind, task, chain(code, stated(value)), False))
    wrong = chain(program, _fmt(gold)) if percent else chain(program, f"{_fmt(gold)} thousand")
    cases.append(Case("financemath", qid, "wrong_scale", task, wrong, gold == 0))
    return cases
