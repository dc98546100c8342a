"""Program mode of the solve workflow (PAL): the model writes a program, the sandbox runs it, and
the answer is the number the program returned, never one the model wrote.

How one search becomes an answer:
- every expansion is a whole program (`SearchConfig.whole_replies`, answer format "code"), with
  the room the text mode gives a whole chain;
- `ProgramVerifier` runs each finished program in the sandbox and hands its value to the math
  verifier (which checks it against the reference, when there is one); a program that raises,
  times out or returns no number fails its gate and gives no answer;
- the answer is elected by `vote.tally` over the executed values: for greedy, the one program's
  value; for self-consistency, the value most of the N sibling programs computed. The strategy's
  own vote is not used, since it would count program texts, not what they compute.

The result says how the vote went (`evidence["votes"]`), and each candidate carries its program,
its executed value as the answer, and its error, so a pass@N oracle reads executed values too.
"""

from __future__ import annotations

from typing import Any

from ponder.graph.export import path_to
from ponder.graph.types import SearchConfig, SearchResult, SearchTask
from ponder.plugin.runtime import EventHandler, Runtime
from ponder.plugin.solve.prompts import PROGRAM_FEEDBACK, program_messages
from ponder.plugin.solve.vote import Ballot, VoteGroup, tally
from ponder.plugin.solve.workflow import math_check
from ponder.verifiers.answers import number_text
from ponder.verifiers.program import program_evidence


def build_program_task(question: str, reference: str | None = None) -> SearchTask:
    """The search task asking for a program; `reference` (when known) is what its value is checked on."""
    return SearchTask(
        messages=program_messages(question),
        verify=math_check(question, reference),
        answer_format="code",
        feedback_template=PROGRAM_FEEDBACK,
    )


async def search_program(
    question: str,
    rt: Runtime,
    config: SearchConfig,
    *,
    reference: str | None = None,
    on_event: EventHandler | None = None,
) -> SearchResult:
    """Search for programs answering `question`, run them, and elect the answer by their values."""
    task = build_program_task(question, reference)
    result = await rt.search(task, config.whole_replies(), verifier=rt.program_verifier(), on_event=on_event)
    return elect(result)


def elect(result: SearchResult) -> SearchResult:
    """`result` with the answer chosen by majority over executed values (see `vote`).

    The chosen node, the tree's chosen path, the candidates (answer = executed value) and the
    evidence (with ``votes``) are rewritten to match; spend and stop reason are the search's.
    """
    nodes = {n["id"]: n for n in result.tree.get("nodes", [])}
    candidates: list[dict[str, Any]] = []
    ballots: list[Ballot] = []
    for cand in result.candidates:
        evidence = program_evidence(nodes.get(cand["node_id"], {}).get("evidence") or {})
        value = evidence.get("executed")
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else None
        candidates.append(
            {
                **cand,
                "program": cand.get("answer"),
                "answer": None if number is None else number_text(number),
                "error": evidence.get("error"),
            }
        )
        if number is not None:
            ballots.append(Ballot(cand["node_id"], float(number), verified=cand.get("gate") == "pass"))
    groups = tally(ballots)
    votes = [g.to_dict() for g in groups]
    replies = sum(1 for n in nodes.values() if n.get("terminal") and n.get("parent") is not None)
    if not groups:
        update: dict[str, Any] = {"answer": None, "verified": False, "status": "no_answer", "score": None}
        reason = _no_number(replies, candidates) or result.reason
        return result.model_copy(
            update={
                **update,
                "reason": reason,
                "node_id": None,
                "evidence": {"votes": votes},
                "candidates": candidates,
            }
        )
    best = groups[0]
    chosen = _representative(best, candidates)
    node = nodes[chosen]
    return result.model_copy(
        update={
            "answer": best.answer,
            "verified": best.verified,
            "status": "verified" if best.verified else "unverified",
            "reason": _reason(best, groups, replies),
            "node_id": chosen,
            "score": node.get("value"),
            "source": node.get("source") or result.source,
            "evidence": {**(node.get("evidence") or {}), "votes": votes},
            "candidates": candidates,
            "tree": {**result.tree, "chosen": chosen, "chosen_path": path_to(nodes, chosen)},
        }
    )


def _representative(group: VoteGroup, candidates: list[dict[str, Any]]) -> str:
    """The group's first verified member when it has one, else its first member."""
    passed = {c["node_id"] for c in candidates if c.get("gate") == "pass"}
    return next((nid for nid in group.nodes if nid in passed), group.nodes[0])


def _no_number(replies: int, candidates: list[dict[str, Any]]) -> str | None:
    """Why no reply gave a number, with the first program's failure; None when there was no reply."""
    if not replies:
        return None
    empty = replies - len(candidates)
    if replies == 1:
        why = "the reply returned no number" + (" (it held no program)" if empty else "")
    else:
        why = f"none of {replies} replies returned a number ({empty} held no program)"
    failure = next((c["error"] for c in candidates if c["error"]), None)
    return why + (f"; the first failure: {failure}" if failure else "")


def _reason(best: VoteGroup, groups: list[VoteGroup], replies: int) -> str:
    executed = sum(g.votes for g in groups)
    others = len(groups) - 1
    why = (
        f"{best.votes} of {replies} programs returned {best.answer} "
        f"({others} other value{'s' if others != 1 else ''}, {replies - executed} gave no number)"
    )
    return f"passed every hard gate; {why}" if best.verified else f"majority of executed values: {why}"
