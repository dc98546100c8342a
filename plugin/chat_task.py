"""A chat conversation as a search task, for the surfaces that take messages (server, LangChain).

The OpenAI-compatible server and `PonderChatModel` must answer the same conversation the same
way, so both build their task, verifier and summary here: the conversation is searched step by
step in the solve format ("Answer: ..." ends a chain). With a known `reference` the math
verifier gates the answer; without one nothing can check it, so the confidence PRM ranks
branches and the answer is honestly "unverified". A conversation that offers tools (see
`ponder.plugin.tool_calls`) gets them in its system turn, is searched as whole replies, and
adds the tool-call check to the verifier, which prunes calls the caller could not execute.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ponder.backends.base import ChatMessage
from ponder.errors import PonderError
from ponder.graph.types import SearchConfig, SearchEvent, SearchResult, SearchTask
from ponder.plugin.solve.prompts import SOLVE_FEEDBACK, SOLVE_SYSTEM
from ponder.plugin.tool_calls import (
    ToolPolicy,
    ToolReply,
    render_call,
    render_result,
    reply_search_config,
    shape_reply,
    tools_instruction,
)
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


def _calls_text(index: int, calls: Any) -> str:
    """An assistant turn's `tool_calls` rendered as the model writes them."""
    if not isinstance(calls, list):
        raise ChatInputError(f"messages[{index}].tool_calls must be a list; send the calls the model made")
    out = []
    for k, call in enumerate(calls):
        fn = call.get("function") if isinstance(call, Mapping) else None
        name = fn.get("name") if isinstance(fn, Mapping) else None
        if not isinstance(fn, Mapping) or not isinstance(name, str) or not name:
            raise ChatInputError(
                f"messages[{index}].tool_calls[{k}] has no function name; send "
                "{'id': ..., 'type': 'function', 'function': {'name': ..., 'arguments': '{...}'}}"
            )
        out.append(render_call(name, fn.get("arguments", {})))
    return "\n".join(out)


def chat_messages(raw: Sequence[Mapping[str, Any]]) -> list[ChatMessage]:
    """OpenAI-style message dicts as ponder messages.

    Agent loops send their history back: an assistant turn's `tool_calls` are rendered as
    `<tool_call>` blocks after its text, and tool results (role `tool` or legacy `function`)
    as `<tool_response>` blocks in a user turn, consecutive results in one turn.
    """
    out: list[ChatMessage] = []
    last_was_result = False
    for index, message in enumerate(raw):
        role = str(message.get("role", "user"))
        content = _text(message.get("content"))
        if role == "developer":
            role = "system"
        elif role in ("tool", "function"):
            block = render_result(content)
            if last_was_result:
                out[-1] = ChatMessage(role="user", content=f"{out[-1].content}\n{block}")
            else:
                out.append(ChatMessage(role="user", content=block))
            last_was_result = True
            continue
        if role not in ("system", "user", "assistant"):
            raise ChatInputError(
                f"message role {role!r} is not supported; use system, user, assistant or tool"
            )
        if role == "assistant" and message.get("tool_calls"):
            calls = _calls_text(index, message["tool_calls"])
            content = f"{content}\n{calls}" if content.strip() else calls
        out.append(ChatMessage(role=role, content=content))  # type: ignore[arg-type]
        last_was_result = False
    if not any(m.role == "user" for m in out):
        raise ChatInputError("the conversation has no user message; send at least one")
    return out


def _with_tools(messages: list[ChatMessage], tools: ToolPolicy) -> list[ChatMessage]:
    """The tools section appended to the system turn, where tool-trained models expect it."""
    section = tools_instruction(tools)
    first = messages[0]
    return [ChatMessage(role="system", content=f"{first.content}\n\n{section}"), *messages[1:]]


def build_chat_task(
    messages: Sequence[ChatMessage], *, reference: str | None = None, tools: ToolPolicy | None = None
) -> SearchTask:
    """The search task for a conversation; the solve system prompt is added when none is given,
    and the tools section when `tools` may be called in this reply."""
    msgs = list(messages)
    if not any(m.role == "system" for m in msgs):
        msgs.insert(0, ChatMessage(role="system", content=SOLVE_SYSTEM))
    if tools is not None and tools.offered:
        msgs = _with_tools(msgs, tools)
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


def chat_search_config(config: SearchConfig, tools: ToolPolicy | None = None) -> SearchConfig:
    """The search for this reply: as configured, or over whole replies when the request declares
    tools (under tool_choice "none" too, so one agent loop is searched one way throughout)."""
    return config if tools is None else reply_search_config(config)


def chat_verifier(reference: str | None = None, tools: ToolPolicy | None = None) -> BaseVerifier:
    """Math verifier against a known reference, else the model's own confidence as a soft score;
    with tools, the tool-call check gates as well."""
    if reference is not None:
        from ponder.verifiers.math import MathVerifier

        return with_tool_check(MathVerifier(), tools)
    from ponder.verifiers.confidence import ConfidencePRM

    return with_tool_check(ConfidencePRM(), tools)


def with_tool_check(verifier: BaseVerifier, tools: ToolPolicy | None) -> BaseVerifier:
    """`verifier` with the tool-call check in front when the request declares tools.

    The check carries no weight: it prunes calls the caller could not execute and leaves the
    ranking of what survives to `verifier`.
    """
    if tools is None:
        return verifier
    from ponder.verifiers.composite import Composite

    return Composite({"tool_call": tools.verifier(), "answer": verifier}, weights={"tool_call": 0.0})


def reasoning_steps(result: SearchResult) -> list[str]:
    """The chosen chain's steps, root excluded, in order."""
    nodes = {n["id"]: n for n in result.tree.get("nodes", [])}
    path = [nodes[i] for i in result.tree.get("chosen_path", []) if i in nodes]
    return [str(n.get("step") or "") for n in path if n.get("parent") is not None]


def chosen_reply(result: SearchResult, tools: ToolPolicy | None) -> ToolReply | None:
    """The chosen chain as a reply that may call tools (None when the request declared none)."""
    if tools is None:
        return None
    return shape_reply("\n\n".join(reasoning_steps(result)), result.answer, tools)


def search_summary(result: SearchResult, reply: ToolReply | None = None) -> dict[str, Any]:
    """What a caller needs to trust (or not) the answer: status, why, strategy and spend, and
    with tools how many calls went out and why a chosen call was withheld."""
    summary = {
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
    if reply is not None:
        summary["tool_calls"] = {"calls": len(reply.calls), "withheld": reply.withheld}
    return summary


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
