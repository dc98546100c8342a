"""The analyze workflow: a question over tables, answered by executed calculations, with an audit trail.

A number is only as good as the calculation behind it. The search asks the model for steps
whose ```python blocks the finance verifier re-runs in the sandbox over the loaded tables; the
answer must trace to an executed value (or a given cell), respect the invariants, and match the
reference when one is known. Only then is it "verified". Anything else is reported as
"unverified" with the verifier's reason, however good the number looks: there is no path by
which an unchecked number reaches the user labelled as checked.

    async with open_runtime(settings) as rt:
        outcome = await analyze(AnalyzeRequest(question, tables, paragraphs), rt, config)
        print(outcome.status, outcome.answer, outcome.audit)
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ponder.graph.types import ResultStatus, SearchConfig, SearchEvent, SearchResult, SearchTask
from ponder.plugin.analyze.prompts import ANALYZE_FEEDBACK, analyze_messages
from ponder.plugin.analyze.tables import Table, finance_inputs
from ponder.plugin.runtime import Runtime
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.types import VerifyTask

_CELL = re.compile(r"^t(\d+)\[(\d+)\]\[(\d+)\]$")
_POSITIONAL = re.compile(r"\bt(\d+)\.i(?:loc|at)\[\s*(\d+)\s*,\s*(\d+)\s*\]")
"""`t0.iloc[3, 1]` / `t0.iat[3, 1]`: a cell read by position, which value matching cannot see when
the cell only feeds an intermediate result (an average, a sum)."""


@dataclass(slots=True)
class AnalyzeRequest:
    """A question over tables (and optional text); `reference` when the right answer is known."""

    question: str
    tables: list[Table]
    paragraphs: list[str] = field(default_factory=list)
    scale: str | None = None
    """The tables' scale ("thousand", "million", ...); guessed from headers and text when None."""
    reference: Any = None
    reference_scale: str | None = None
    require_agreement: bool = False
    """Verified also needs two different programs that reached the same value (`--require-agreement`)."""


def build_analyze_task(request: AnalyzeRequest) -> SearchTask:
    """The search task: finance answer format, finance verifier inputs, analyze prompts."""
    inputs = finance_inputs(
        request.tables,
        request.paragraphs,
        scale=request.scale,
        reference=request.reference,
        reference_scale=request.reference_scale,
    )
    return SearchTask(
        messages=analyze_messages(
            request.question, request.tables, request.paragraphs, inputs.get("scale_hint")
        ),
        verify=VerifyTask(kind="finance", question=request.question, inputs=inputs),
        answer_format="finance",
        feedback_template=ANALYZE_FEEDBACK,
    )


def finance_evidence(evidence: dict[str, Any]) -> dict[str, Any]:
    """The finance verifier's own evidence, whether it ran alone or inside a `Composite`."""
    nested = evidence.get("verifiers", {}).get("finance", {}).get("evidence")
    return nested if isinstance(nested, dict) else evidence


@dataclass(slots=True)
class AnalyzeOutcome:
    """The answer, its verification status and the audit trail behind it."""

    request: AnalyzeRequest
    result: SearchResult

    @property
    def status(self) -> ResultStatus:
        """`verified` needs the search's hard gate, a traced answer, every rule holding (provenance,
        grounding, operation, scale) and, when required, two agreeing derivations."""
        if self.result.answer is None:
            return "no_answer"
        ev = finance_evidence(self.result.evidence)
        traced = bool(ev.get("trace")) and bool(ev.get("answer"))
        rules = ev.get("rules") or []
        ruled = bool(rules) and not any(r.get("status") == "fail" for r in rules)
        agreed = not self.request.require_agreement or self.agreement()["agree"]
        return "verified" if self.result.verified and traced and ruled and agreed else "unverified"

    @property
    def verified(self) -> bool:
        return self.status == "verified"

    @property
    def answer(self) -> str | None:
        return self.result.answer

    def agreement(self) -> dict[str, Any]:
        """Rule 5: how many different programs the search verified with the chosen answer's value.

        Two independent derivations of one number are stronger evidence than one; the audit says
        how many there were, and `require_agreement` makes two a condition of "verified".
        """
        chosen = finance_evidence(self.result.evidence).get("derivation") or {}
        value = chosen.get("value")
        programs: set[str] = set()
        for node in self.result.tree.get("nodes", []):
            if node.get("gate") != "pass":
                continue
            derivation = finance_evidence(node.get("evidence") or {}).get("derivation") or {}
            other = derivation.get("value")
            if value is not None and isinstance(other, int | float) and _same(other, value):
                programs.add(str(derivation.get("program")))
        count = len(programs)
        detail = (
            f"{count} different programs computed this value"
            if count >= 2
            else "one program computed this value (no independent second derivation)"
            if count == 1
            else "no verified derivation"
        )
        return {"rule": "agreement", "programs": count, "agree": count >= 2, "detail": detail}

    @property
    def reason(self) -> str:
        """Why the status is what it is, in one line."""
        ev = finance_evidence(self.result.evidence)
        if self.status == "verified":
            trace = ev["trace"]
            checked = "matches the reference; " if (ev.get("reference") or {}).get("match") else ""
            agreement = self.agreement()
            agreed = f"; {agreement['detail']}" if agreement["programs"] >= 2 else ""
            return (
                f"{checked}the answer is {trace['source']} (= {trace['value']:g}); operands traced, "
                f"cells as asked, operation and scale checked, invariants hold{agreed}"
            )
        if self.status == "no_answer":
            return self.result.reason or "the search produced no answer"
        if self.result.verified and self.request.require_agreement and not self.agreement()["agree"]:
            return f"no agreement: {self.agreement()['detail']} (--require-agreement)"
        if ev.get("feedback"):
            return f"{ev.get('reason', 'rejected')}: {ev['feedback']}"
        return self.result.reason or "no hard check passed"

    def audit(self) -> list[dict[str, Any]]:
        """Each step of the chosen chain: text, code, values produced, table cells used, scores."""
        tree = self.result.tree
        nodes = {n["id"]: n for n in tree.get("nodes", [])}
        path = [
            nodes[i] for i in tree.get("chosen_path", []) if i in nodes and nodes[i]["parent"] is not None
        ]
        records = finance_evidence(self.result.evidence).get("steps") or []
        trail = []
        for i, node in enumerate(path):
            record = records[i] if i < len(records) else {}
            trail.append(
                {
                    "step": i + 1,
                    "text": node.get("step") or "",
                    "code": record.get("code", ""),
                    "values": record.get("values", {}),
                    "stdout": record.get("stdout", ""),
                    "error": record.get("error"),
                    "cells_used": [self._cell(w) for w in _cells_read(record)],
                    "score": node.get("score"),
                    "gate": node.get("gate"),
                }
            )
        return trail

    def _cell(self, where: str) -> dict[str, Any]:
        match = _CELL.match(where)
        t, r, c = (int(g) for g in match.groups()) if match else (-1, -1, -1)
        if not (0 <= t < len(self.request.tables) and 0 <= r < len(self.request.tables[t]["rows"])):
            return {"cell": where}
        table = self.request.tables[t]
        row = table["rows"][r]
        if c >= len(row):
            return {"cell": where}
        label = next((str(x) for x in row if isinstance(x, str) and x.strip()), "")
        column = table["columns"][c] if c < len(table["columns"]) else f"c{c}"
        return {"cell": where, "table": table["name"], "row": label, "column": column, "value": row[c]}

    def summary(self) -> dict[str, Any]:
        """Everything `--json` prints: answer, status, reason, checks, audit trail and spend."""
        ev = finance_evidence(self.result.evidence)
        spend = self.result.spend
        return {
            "question": self.request.question,
            "answer": self.answer,
            "value": (ev.get("answer") or {}).get("value"),
            "scale": (ev.get("answer") or {}).get("scale"),
            "status": self.status,
            "verified": self.verified,
            "reason": self.reason,
            "trace": ev.get("trace"),
            "rules": [*(ev.get("rules") or []), self.agreement()],
            "operands": ev.get("operands", []),
            "invariants": ev.get("invariants", []),
            "reference": ev.get("reference"),
            "score": self.result.score,
            "audit": self.audit(),
            "strategy": self.result.strategy,
            "tokens": spend.tokens_generated,
            "expansions": spend.expansions,
            "seconds": round(spend.seconds, 2),
        }


async def analyze(
    request: AnalyzeRequest,
    rt: Runtime,
    config: SearchConfig,
    *,
    verifier: BaseVerifier | None = None,
    on_event: Callable[[SearchEvent], None] | None = None,
) -> AnalyzeOutcome:
    """Search for an executed, traceable answer to `request.question` (finance verifier by default)."""
    task = build_analyze_task(request)
    result = await rt.search(task, config, verifier=verifier or rt.finance_verifier(), on_event=on_event)
    return AnalyzeOutcome(request=request, result=result)


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def _cells_read(record: dict[str, Any]) -> list[str]:
    """Cells the verifier matched by value, plus cells the code reads by position, in order."""
    found = list(record.get("cells_used", []))
    found += [f"t{t}[{r}][{c}]" for t, r, c in _POSITIONAL.findall(record.get("code", ""))]
    return list(dict.fromkeys(found))


def format_audit(outcome: AnalyzeOutcome) -> Sequence[str]:
    """The human-readable report: answer and status first, then each step with its evidence."""
    s = outcome.summary()
    mark = {"verified": "VERIFIED", "unverified": "UNVERIFIED", "no_answer": "NO ANSWER"}[outcome.status]
    lines = [f"answer: {s['answer'] if s['answer'] is not None else '(none)'}"]
    if s["value"] is not None:
        lines[0] += f"   (value {s['value']:g}, scale {s['scale'] or 'units'})"
    lines.append(f"status: {mark} — {s['reason']}")
    for step in s["audit"]:
        gate = f", gate {step['gate']}" if step["gate"] not in (None, "unknown") else ""
        score = f"{step['score']:.2f}" if isinstance(step["score"], int | float) else "-"
        lines.append(f"step {step['step']} (score {score}{gate}):")
        lines += [f"    {ln}" for ln in step["text"].strip().splitlines()]
        if step["values"]:
            lines.append("    values: " + ", ".join(f"{k} = {v}" for k, v in step["values"].items()))
        for cell in step["cells_used"]:
            where = f"{cell.get('row', '')} / {cell.get('column', '')}"
            lines.append(f"    used {cell['cell']}: {where} = {cell.get('value')}")
        if step["error"]:
            lines.append(f"    error: {step['error'].strip().splitlines()[-1]}")
    for rule in s["rules"]:
        status = rule.get("status") or ("pass" if rule.get("agree") else "n/a")
        lines.append(f"rule {rule['rule']}: {status} — {rule.get('detail', '')}")
    for inv in s["invariants"]:
        lines.append(f"check {inv['status']}: {inv.get('name', '')} — {inv.get('detail', '')}")
    lines.append(
        f"strategy: {s['strategy']}   tokens: {s['tokens']}   expansions: {s['expansions']}   "
        f"time: {s['seconds']:.1f}s"
    )
    return lines
