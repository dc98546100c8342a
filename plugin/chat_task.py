"""A chat conversation as a search task, for the surfaces that take messages (server, LangChain).

The OpenAI-compatible server and `PonderChatModel` must answer the same conversation the same
way, so both build their task, verifier and summary here: the conversation is searched step by
step in the solve format ("Answer: ..." ends a chain). With a known `reference` the math
verifier gates the answer; without one nothing can check it, so the confidence PRM ranks
branches and the answer is honestly "unverified".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ponder.backends.base import BaseBackend, ChatMessage
from ponder.errors import PonderError
from ponder.graph.types import SearchEvent, SearchResult, SearchTask
from ponder.plugin.prompts import SOLVE_FEEDBACK, SOLVE_SYSTEM
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.types import VerifyTask


class ChatInputError(PonderError, ValueError):
    """Messages the search cannot take (no user message, unsupported role or content)."""


def _text(content: Any) -> str:
    """OpenAI content: a string or a list of parts; only text parts carry meaning for the search."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [p.get("text", "") for p in content if isinstance(p, Mapping) and p.get("type") == "text"]
        parts += [p for p in content if isinstance(p, str)]
        return "\n".join(parts)
    if content is None:
        return ""
    raise ChatInputError(f"message content of type {type(content).__name__} is not supported; send text")


def chat_messages(raw: Sequence[Mapping[str, Any]]) -> list[ChatMessage]:
    """OpenAI-style message dicts as ponder messages; tool/function turns become user turns."""
    out: list[ChatMessage] = []
    for message in raw:
        role = str(message.get("role", "user"))
        if role == "developer":
            role = "system"
        elif role in ("tool", "function"):
            role = "user"
        if role not in ("system", "user", "assistant"):
            raise ChatInputError(f"message role {role!r} is not supported; use system, user or assistant")
        out.append(ChatMessage(role=role, content=_text(message.get("content"))))  # type: ignore[arg-type]
    if not any(m.role == "user" for m in out):
        raise ChatInputError("the conversation has no user message; send at least one")
    return out


def build_chat_task(messages: Sequence[ChatMessage], *, reference: str | None = None) -> SearchTask:
    """The search task for a conversation; the solve system prompt is added when none is given."""
    msgs = list(messages)
    if not any(m.role == "system" for m in msgs):
        msgs.insert(0, ChatMessage(role="system", content=SOLVE_SYSTEM))
    question = next(m.content for m in reversed(msgs) if m.role == "user")
    return SearchTask(
        messages=msgs,
        verify=VerifyTask(
            kind="math" if reference is not None else "text",
            question=question,
            inputs={"reference": reference} if reference is not None else {},
        ),
        answer_format="text",
        feedback_template=SOLVE_FEEDBACK,
    )


def chat_verifier(reference: str | None = None) -> BaseVerifier:
    """Math verifier against a known reference, else the model's own confidence as a soft score."""
    if reference is not None:
        from ponder.verifiers.math import MathVerifier

        return MathVerifier()
    from ponder.verifiers.confidence import ConfidencePRM

    return ConfidencePRM()


def reasoning_steps(result: SearchResult) -> list[str]:
    """The chosen chain's steps, root excluded, in order."""
    nodes = {n["id"]: n for n in result.tree.get("nodes", [])}
    path = [nodes[i] for i in result.tree.get("chosen_path", []) if i in nodes]
    return [str(n.get("step") or "") for n in path if n.get("parent") is not None]


def count_tokens(backend: BaseBackend, text: str) -> int:
    """Tokens of `text` by the backend's tokenizer; a word count where it has none."""
    try:
        return len(backend.tokenize(text))
    except (NotImplementedError, PonderError):
        return len(text.split())


def search_summary(result: SearchResult) -> dict[str, Any]:
    """What a caller needs to trust (or not) the answer: status, why, strategy and spend."""
    return {
        "status": result.status,
        "verified": result.verified,
        "reason": result.reason,
        "score": result.score,
        "source": result.source,
        "strategy": result.strategy,
        "stop_reason": result.stop_reason,
        "spend": result.spend.model_dump(),
        "candidates": len(result.candidates),
    }


def describe_event(event: SearchEvent) -> str | None:
    """One line of visible reasoning per event (what the client shows as the model 'thinking')."""
    node = event.node_id or ""
    if event.kind == "search_started":
        return f"Searching with {event.data.get('strategy', 'the configured strategy')}.\n"
    if event.kind == "node_expanded":
        text = " ".join((event.text or "").split())
        return f"[{node} depth {event.depth}] {text[:300]}\n"
    if event.kind == "node_scored" and event.gate in ("pass", "fail"):
        score = f"{event.score:.2f}" if event.score is not None else "-"
        return f"  {node}: check {event.gate}, score {score}\n"
    if event.kind == "node_pruned":
        return f"  {node}: pruned\n"
    if event.kind == "answer_found":
        return f"  {node}: answer {event.text!r} passed the checks\n"
    if event.kind == "budget_hit":
        return f"Budget reached: {event.text or event.data}.\n"
    if event.kind == "search_finished":
        return f"Search finished: {event.text or 'done'}.\n"
    return None
