"""The four rules a verified finance answer must pass, each with its verdict and reason.

Given the answer's expression (what the calculation computes, from `_finance_calc`), this runs
in order: provenance (every operand traced), grounding (the cells are the line items and periods
the question names), operation (the formula has the question's form and direction) and scale.
Every rule reports `pass`, `fail` or `n/a` with a one-line reason; the verifier gates on the
first failure, and `ponder analyze --json` lists all four.
"""

from __future__ import annotations

import math
import re
from typing import Any

from ponder.verifiers._calc_expr import Expr, Op, Operand, evaluate, operands, unwrap
from ponder.verifiers._finance_constant_roles import misused_constants
from ponder.verifiers._finance_derived import expand_derived
from ponder.verifiers._finance_formulas import bind, formula_rules
from ponder.verifiers._finance_grounding import CellRef, cell_verdict, ground, grounding_rule, read_layout
from ponder.verifiers._finance_operation import Context, check_operation, check_sign
from ponder.verifiers._finance_precision import rounding_loss
from ponder.verifiers._finance_provenance import Sources, Trace, trace_all
from ponder.verifiers._finance_question import asks_for_percent, normalise, parse_question, question_form
from ponder.verifiers._finance_scale import check_scale, is_ratio
from ponder.verifiers._finance_text_forms import asked_form, check_text_form
from ponder.verifiers._numbers import Amount, parse_cell
from ponder.verifiers._table_checks import Cell

RULE_REASONS = {
    "provenance": "untraced operand",
    "grounding": "not the cells asked for",
    "operation": "wrong operation",
    "scale": "wrong scale",
}
"""The verifier's `reason` when a rule fails (the detail goes in `feedback`)."""


def check_rules(
    *,
    question: str,
    expr: Expr,
    answer: Amount,
    tables: list[dict[str, Any]],
    paragraphs: list[str],
    cells: list[Cell],
    hint: str | None,
    traced_value: float,
    conditions: list[Expr] | None = None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each rule's verdict, and each operand's source for the audit trail; `conditions` are the
    operands of the `if` tests the calculation's branches were read by (traced, not computed)."""
    q = parse_question(question)
    layouts = [read_layout(t) for t in tables]
    groundings = [ground(t, q, layouts[i]) for i, t in enumerate(tables)]
    percent_cols = _percent_columns(tables, cells)
    percent_cells = {
        (c.table, c.row, c.col)
        for c in cells
        if c.col in layouts[c.table].percent_cols
        or (c.table, c.col) in percent_cols
        or _percent_text(tables, c)
    }
    headers = [" | ".join(str(c) for c in t.get("columns") or []) for t in tables]

    sources = Sources(cells, paragraphs, question, hint or "", percent_cells, span=q.span, headers=headers)
    traced = trace_all(expr, sources)
    expr, derived = expand_derived(expr, traced, sources)
    if derived:
        traced = trace_all(expr, sources)

    chosen: dict[Operand, CellRef] = {}
    factors: dict[Operand, float] = {}
    for k, (operand, trace) in enumerate(traced):
        if trace.kind == "cell" and trace.cells:
            grounded = [
                ref for ref in trace.cells if cell_verdict(groundings[ref[0]], q, ref[1], ref[2]) is None
            ]
            if not grounded and trace.constant:
                # 2 is "2", not some other row's 2; the cells are kept: a table states the number
                traced[k] = (operand, Trace("constant", trace.constant, cells=trace.cells))
                continue
            chosen[operand] = (grounded or list(trace.cells))[0]
        factors[operand] = trace.factor

    # the question and the tables' own words justify a constant; a report's paragraphs mention
    # "two", "half" and "risk" somewhere, which would justify every doubling
    inputs_text = " ".join([question, *headers, *_labels(tables)])
    stated = {abs(n) for n, _ in sources.question_numbers} | {abs(n) for _, n, _ in sources.text_numbers}
    misused = misused_constants(
        expr,
        {id(o): t for o, t in traced},
        inputs_text,
        percent_cells,
        stated,
        question=question,
        stated_text=" ".join([question, *paragraphs]),
    )
    traced = [(o, misused.get(id(o), t)) for o, t in traced]
    tests = [pair for c in conditions or [] for pair in trace_all(c, sources)]
    audit = [_audit(o, t, chosen.get(o), layouts) for o, t in traced]
    audit += [{**_audit(o, t, None, layouts), "in": "a branch test"} for o, t in tests]
    rules = [_provenance(traced + tests, _mixed_normalisation(traced, chosen, layouts, percent_cells))]
    if derived and rules[0]["status"] == "pass":
        rules[0]["detail"] += "; precomputed literals read as their operation: " + "; ".join(derived.values())
    rules.append(grounding_rule(chosen, groundings, q, layouts))

    kinds = {id(o): t for o, t in traced}

    def is_constant(op: Operand) -> bool:
        trace = kinds.get(id(op)) or next((t for o, t in traced if o == op), None)
        return trace is not None and trace.kind in ("constant", "count")

    def is_constant_expr(e: Expr) -> bool:
        ops = list(operands(e))
        return bool(ops) and all(is_constant(o) for o in ops)

    ctx = Context(
        cell_of=chosen.get,
        factor_of=lambda o: factors.get(o, 1.0),
        years_of=lambda ref: layouts[ref[0]].years_of(ref[1], ref[2]),
        label_of=lambda item: layouts[item[0]].row_text.get(item[1], f"row {item[1]}"),
        label_words=lambda item: layouts[item[0]].row_words.get(item[1], []),
        cell_value=lambda ref: parse_cell(tables[ref[0]]["rows"][ref[1]][ref[2]]) or 0.0,
        is_constant=is_constant,
    )
    if chosen:
        used_labels = {layouts[t].row_text.get(r, "") for t, r, _ in chosen.values()}
        used_labels |= {layouts[t].col_text.get(c, "") for t, _, c in chosen.values()}
        ignore = {normalise(w) for label in used_labels for w in re.findall(r"[A-Za-z]+", label)}
        form = question_form(question, ignore)
    else:
        form = None
    negative_inputs = any(t.negative for _, t in traced)
    if chosen:
        rules.append(
            check_operation(
                form,
                expr,
                ctx,
                q,
                percent_answer=answer.scale == "percent",
                negative_inputs=negative_inputs,
                executed=traced_value,
            )
        )
    elif (
        text_form := _text_form(question, expr, ctx, q.span, percent_answer=answer.scale == "percent")
    ) is not None:
        ordered = text_form.pop("ordered", False)  # the stated ends confirmed the direction
        sign = None if ordered else check_sign(expr, ctx, q, negative_inputs, traced_value)
        rules.append(
            text_form if text_form["status"] == "fail" or not sign or sign["status"] == "n/a" else sign
        )
    elif question_form(question, set()) == "difference" and (evaluate(expr) or 0.0) < 0:
        rules.append(
            {
                "rule": "operation",
                "status": "fail",
                "detail": "the question asks how much more or less one value is; the calculation makes it "
                "negative",
            }
        )
    else:
        rules.append(check_sign(expr, ctx, q, negative_inputs, traced_value))

    conversion = _conversion(expr, is_constant_expr)
    binding = bind(question, tables) if rules[0]["status"] == "pass" else None
    if binding is not None:  # a named formula re-computed from its cells decides rules 2 and 3
        labels = {(t, r): text for t, layout in enumerate(layouts) for r, text in layout.row_text.items()}
        labels |= {(t, -1): str((table.get("columns") or [""])[0]) for t, table in enumerate(tables)}
        converted = traced_value * conversion
        used = _formula_cells(traced, chosen, set(binding.cells.values()))
        rules[1], rules[2] = formula_rules(binding, traced_value, used, labels, converted)

    # after the formula check too: a named formula's value rounded to tens is no more its value
    restated = _restated(expr, traced) if not chosen else None
    lossy = rounding_loss(expr)
    for failure in (restated, lossy):
        if failure and rules[2]["status"] != "fail":
            rules[2] = {"rule": "operation", "status": "fail", "detail": failure}

    ratio = is_ratio(expr, is_constant_expr)
    # "the ratio of A to B" stated 8.22 for 0.0822 x 100 reads as 8.22 to 1; elsewhere a bare
    # percentage number (a probability of 6.667) is how FinanceMath and analysts often write one
    percent_scaled = (
        ratio and _percent_scaled(expr, is_constant_expr) and bool(re.search(r"\bratio\b", question, re.I))
    )
    variable = [t for o, t in traced if t.kind not in ("constant", "count")]
    percent_operands = (
        not ratio
        and bool(variable)
        and all(t.how == "a percent as written" or _is_percent_cell(t, percent_cells) for t in variable)
    )
    texts = [*paragraphs, *(str(t.get("name", "")) for t in tables)]
    texts += [str(c) for t in tables for c in t.get("columns") or []]
    texts += [str(c) for t in tables for row in t["rows"][:4] if isinstance(row, list) for c in row]
    rules.append(
        check_scale(
            answer,
            asks_percent=asks_for_percent(question),
            percent_operands=percent_operands,
            ratio=ratio or _percent_scaled(expr, is_constant_expr),
            hint=hint,
            same_amount_as=traced_value * conversion,
            texts=texts,
            converted=conversion != 1.0,
            percent_scaled=percent_scaled,
        )
    )
    return rules, audit


def _restated(expr: Expr, traced: list[tuple[Operand, Trace]]) -> str | None:
    """A word problem answered with one of its own numbers, as given: nothing was calculated. (A
    table's cell may be the answer, and grounding judges which; a question's number is the input.)"""
    core = unwrap(expr)
    trace = next((t for o, t in traced if o is core), None)
    if isinstance(core, Operand) and trace is not None and trace.kind in ("question", "text"):
        return f"the answer is a number the inputs state ({core.text}), not a calculation from them"
    return None


def _labels(tables: list[dict[str, Any]]) -> list[str]:
    """The tables' words ("Monthly rent", "Interest paid | Semiannually"): where a time constant
    may be named."""
    return [str(c) for t in tables for row in t["rows"] if isinstance(row, list) for c in row]


def _text_form(
    question: str, expr: Expr, ctx: Context, span: int, *, percent_answer: bool
) -> dict[str, Any] | None:
    """For a calculation over no cell: the verdict under the form its question asks for, if any."""
    form = asked_form(question, lambda text: question_form(text, set()))
    return (
        None
        if form is None
        else check_text_form(form, expr, ctx, question, span, percent_answer=percent_answer)
    )


def _formula_cells(
    traced: list[tuple[Operand, Trace]], chosen: dict[Operand, CellRef], inputs: set[CellRef]
) -> set[CellRef]:
    """The cells the calculation used, as the formula check reads them: a literal equal to
    several cells (40,000 is both "Issuance of bonds" and "Cash received from sale of company
    building") is the formula's input where that is one of its candidates; the value, and so the
    formula's verdict, is the same whichever cell it was copied from."""
    used = set(chosen.values())
    for operand, trace in traced:
        ref = chosen.get(operand)
        if ref is None or ref in inputs:
            continue
        match = next((c for c in trace.cells if c in inputs), None)
        if match is not None and not any(chosen.get(o) == ref for o, _ in traced if o is not operand):
            used = (used - {ref}) | {match}
    return used


def _percent_columns(tables: list[dict[str, Any]], cells: list[Cell]) -> set[tuple[int, int]]:
    """Columns of rates: some cell says "%" and none is a currency amount (a tax-rate reconciliation)."""
    raw: dict[tuple[int, int], list[str]] = {}
    for c in cells:
        row = tables[c.table]["rows"][c.row]
        raw.setdefault((c.table, c.col), []).append(str(row[c.col]) if isinstance(row, list) else "")
    return {
        key
        for key, texts in raw.items()
        if "%" in texts[0] and "%" in texts[-1] and not any(re.search(r"[$€£¥]", t) for t in texts)
    }


def _percent_text(tables: list[dict[str, Any]], cell: Cell) -> bool:
    row = tables[cell.table]["rows"][cell.row]
    raw = row[cell.col] if isinstance(row, list) and cell.col < len(row) else ""
    return "%" in str(raw) or bool(re.search(r"(?<![\d.])%|\bpercent", cell.label, re.I))


def _is_percent_cell(trace: Trace, percent_cells: set[CellRef]) -> bool:
    """A percent cell used as the percentage it states (not divided down to a fraction)."""
    as_stated = trace.how in ("as written", "read from the table") and trace.kind == "cell"
    return as_stated and bool(trace.cells) and all(r in percent_cells for r in trace.cells)


def _conversion(expr: Expr, is_constant_expr: Any) -> float:
    """How much larger the result's unit is than the tables' (`x / 1000`: thousand -> million)."""
    core = unwrap(expr)
    if isinstance(core, Op) and core.op in ("/", "*") and len(core.args) == 2:
        factor = core.args[1]
        if is_constant_expr(factor) and isinstance(factor, Operand) and factor.value in (1e3, 1e6, 1e9):
            return factor.value if core.op == "/" else 1 / factor.value
    return 1.0


def _percent_scaled(expr: Expr, is_constant_expr: Any) -> bool:
    """`x * 100` at the top: a fraction turned into a percentage number (a ratio in disguise)."""
    core = unwrap(expr)
    return (
        isinstance(core, Op)
        and core.op == "*"
        and any(is_constant_expr(a) and _value_is(a, 100.0) for a in core.args)
    )


def _value_is(expr: Expr, value: float) -> bool:
    return isinstance(expr, Operand) and expr.value is not None and math.isclose(expr.value, value)


def _mixed_normalisation(
    traced: list[tuple[Operand, Trace]],
    chosen: dict[Operand, CellRef],
    layouts: list[Any],
    percent_cells: set[CellRef],
) -> str | None:
    """The percentages of one column are one kind of number, so one calculation reads them one
    way: 12% and 5% as growth factors 1.12 and 1.05 make a third "1.0" the cell 1% read as
    written, not its factor 1.01. The first column whose percent cells the calculation
    normalises differently, or None. (A key-value column mixing amounts and rates is not one
    kind of number: only percent cells are compared.)"""
    seen: dict[tuple[int, int], tuple[str, CellRef]] = {}
    for operand, trace in traced:
        ref = chosen.get(operand)
        if trace.kind != "cell" or ref is None or ref not in percent_cells:
            continue
        if trace.constant or trace.how in ("", "read from the table"):
            continue  # a documented constant (the 1 of `x - 1`) may equal a cell without being one
        key = (ref[0], ref[2])
        first = seen.setdefault(key, (trace.how, ref))
        if first[0] != trace.how and first[1] != ref:
            t = ref[0]
            return (
                f"{layouts[t].describe(ref[1], ref[2])} is used {trace.how}, but "
                f"{layouts[t].describe(first[1][1], first[1][2])} of the same column {first[0]}: "
                "one column's cells are read one way"
            )
    return None


def _provenance(traced: list[tuple[Operand, Trace]], mixed: str | None = None) -> dict[str, Any]:
    if mixed is not None:
        return {"rule": "provenance", "status": "fail", "detail": mixed}
    bad = [t for _, t in traced if t.kind in ("untraced", "opaque")]
    if bad:
        first = bad[0]
        detail = (
            first.where
            if first.kind == "untraced"
            else f"an operand the verifier cannot trace ({first.where})"
        )
        return {"rule": "provenance", "status": "fail", "detail": detail}
    if not traced:
        return {"rule": "provenance", "status": "fail", "detail": "the calculation uses no operand"}
    kinds = sorted({t.kind for _, t in traced})
    return {
        "rule": "provenance",
        "status": "pass",
        "detail": f"{len(traced)} operands traced ({', '.join(kinds)})",
    }


def _audit(operand: Operand, trace: Trace, cell: CellRef | None, layouts: list[Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"operand": operand.text, "value": operand.value, **trace.as_dict()}
    if cell is not None:
        t, r, c = cell
        out["cell"] = f"t{t}[{r}][{c}]"
        out["item"] = layouts[t].describe(r, c)
    return out
