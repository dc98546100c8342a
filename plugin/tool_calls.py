"""Tool calling for the chat surfaces (`ponder serve`, `PonderChatModel`): the request's `tools`
and `tool_choice` read and checked, the tools rendered into the prompt, past calls and results
rendered back into the conversation, and the chosen reply shaped as OpenAI `tool_calls`.

The backends take plain chat turns (role + text), so the tools travel as text in the system
turn, in the Hermes/Qwen format (a `<tools>` list of function signatures, calls written as
`<tool_call>` blocks and results sent back as `<tool_response>` blocks). Models trained on
that format read it as their own; others follow the written instruction, and whatever they
write is checked by `ToolCallVerifier` before it can be returned.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ponder.errors import PonderError
from ponder.graph.types import SearchConfig
from ponder.verifiers.tool_call import (
    EMPTY_PARAMETERS,
    ToolCall,
    ToolCallVerifier,
    ToolChoice,
    ToolSpec,
    check_reply,
    parse_reply,
    schema_problem,
)

TOOL_REPLY_TOKENS = 256
"""Least room for one whole reply when it may be a tool call (the search then samples whole replies)."""
_NAME = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
_CHOICE_EXAMPLE = "'auto', 'none', 'required' or {'type': 'function', 'function': {'name': ...}}"
_TOOL_EXAMPLE = "{'type': 'function', 'function': {'name': ..., 'description': ..., 'parameters': {...}}}"


class ToolInputError(PonderError, ValueError):
    """`tools` or `tool_choice` the search cannot use (malformed, or naming a tool not offered)."""


@dataclass(frozen=True, slots=True)
class ToolPolicy:
    """The tools a request offers and what it allows (`tool_choice`, `parallel_tool_calls`)."""

    tools: tuple[ToolSpec, ...]
    choice: ToolChoice

    @property
    def offered(self) -> bool:
        """The model may call a tool in this reply (tools given and tool_choice is not 'none')."""
        return bool(self.tools) and self.choice.mode != "none"

    def verifier(self) -> ToolCallVerifier:
        return ToolCallVerifier(self.tools, self.choice)


def _spec(index: int, raw: Any) -> ToolSpec:
    where = f"tools[{index}]"
    if not isinstance(raw, Mapping) or raw.get("type", "function") != "function":
        raise ToolInputError(f"{where} is not a function tool; send {_TOOL_EXAMPLE}")
    fn = raw.get("function")
    if not isinstance(fn, Mapping):
        raise ToolInputError(f"{where} has no 'function' object; send {_TOOL_EXAMPLE}")
    name = fn.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ToolInputError(
            f"{where}.function.name {name!r} is not a tool name; use 1-64 letters, digits, '_' or '-'"
        )
    parameters = fn.get("parameters", EMPTY_PARAMETERS)
    problem = schema_problem(parameters)
    if problem is not None:
        raise ToolInputError(
            f"{where}.function.parameters is not a valid JSON schema: {problem}; "
            "send a JSON Schema such as {'type': 'object', 'properties': {...}}"
        )
    description = fn.get("description") or ""
    return ToolSpec(name=name, description=str(description), parameters=dict(parameters))


def _choice(raw: Any, names: Sequence[str], parallel: bool) -> ToolChoice:
    if raw is None:
        return ToolChoice(mode="auto" if names else "none", parallel=parallel)
    if raw in ("none", "auto", "required"):
        mode = raw
        if mode == "required" and not names:
            raise ToolInputError("tool_choice is 'required' but no tools are given; send tools or drop it")
        return ToolChoice(mode=mode, parallel=parallel)
    fn = raw.get("function") if isinstance(raw, Mapping) and raw.get("type") == "function" else None
    name = fn.get("name") if isinstance(fn, Mapping) else None
    if not isinstance(name, str):
        raise ToolInputError(f"tool_choice {raw!r} is not understood; send {_CHOICE_EXAMPLE}")
    if name not in names:
        known = ", ".join(names) or "no tools were given"
        raise ToolInputError(
            f"tool_choice names {name!r}, which is not among the tools ({known}); "
            "name one of them or use 'auto'"
        )
    return ToolChoice(mode="required", name=name, parallel=parallel)


def tool_policy(tools: Any, tool_choice: Any = None, parallel_tool_calls: Any = None) -> ToolPolicy | None:
    """The request's tool rules, or None when it offers no tools (the chat behaves as without them).

    Raises:
        ToolInputError: malformed tools (naming the index and the field), duplicate names, or a
            tool_choice that is not understood or names a tool not given.
    """
    if tools is None:
        tools = []
    if not isinstance(tools, list):
        raise ToolInputError(f"tools must be a list of function tools, got {type(tools).__name__}")
    specs = tuple(_spec(i, raw) for i, raw in enumerate(tools))
    names = [s.name for s in specs]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ToolInputError(f"tools has more than one tool named {duplicates[0]!r}; give each its own name")
    if parallel_tool_calls is not None and not isinstance(parallel_tool_calls, bool):
        raise ToolInputError(f"parallel_tool_calls must be true or false, got {parallel_tool_calls!r}")
    choice = _choice(tool_choice, names, parallel_tool_calls is not False)
    return ToolPolicy(specs, choice) if specs else None


# -- the prompt -------------------------------------------------------------------------------


def _signature(spec: ToolSpec) -> str:
    fn = {"name": spec.name, "description": spec.description, "parameters": dict(spec.parameters)}
    return json.dumps({"type": "function", "function": fn}, ensure_ascii=False)


def tools_instruction(policy: ToolPolicy) -> str:
    """The system-turn section that offers the tools and says what this reply must be."""
    signatures = "\n".join(_signature(s) for s in policy.tools)
    if policy.choice.name is not None:
        rule = f"Call the function {policy.choice.name} now: reply with its <tool_call> block only."
    elif policy.choice.mode == "required":
        rule = "Call one of the functions now: reply with <tool_call> blocks only."
    else:
        rule = "If no function is needed, answer directly and finish with a line 'Answer: <final answer>'."
    if not policy.choice.parallel:
        rule += " Make at most one call."
    return (
        "# Tools\n\nYou may call one or more functions to assist with the user query.\n\n"
        "You are provided with function signatures within <tools></tools> XML tags:\n"
        f"<tools>\n{signatures}\n</tools>\n\n"
        "For each function call, return a json object with function name and arguments within "
        "<tool_call></tool_call> XML tags:\n<tool_call>\n"
        '{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>\n\n'
        f"{rule}"
    )


def render_call(name: str, arguments: Any) -> str:
    """A past call as the model writes one, so the conversation shows it its own format."""
    if isinstance(arguments, str):
        with contextlib.suppress(json.JSONDecodeError):  # else shown as the string it was
            arguments = json.loads(arguments) if arguments.strip() else {}
    body = json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)
    return f"<tool_call>\n{body}\n</tool_call>"


def render_result(content: str) -> str:
    """A tool's result as the model expects to read it back."""
    return f"<tool_response>\n{content}\n</tool_response>"


def reply_search_config(config: SearchConfig) -> SearchConfig:
    """The search for a reply that may call a tool: whole replies, one per expansion.

    A call is one atomic action and its JSON may hold blank lines, which the step delimiters
    would cut; the search then samples, verifies and picks among whole replies.
    """
    room = max(config.max_step_tokens, TOOL_REPLY_TOKENS)
    return config.model_copy(update={"single_step": True, "max_step_tokens": room})


# -- the reply --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ToolReply:
    """The chosen reply as the surfaces send it: prose and calls, or why a call was withheld."""

    content: str | None
    calls: tuple[ToolCall, ...] = ()
    ids: tuple[str, ...] = ()
    withheld: str | None = None
    """Why the chosen reply's call was not returned (it breaks the rules; the search had no better)."""

    @property
    def finish_reason(self) -> str | None:
        return "tool_calls" if self.calls else None

    def visible_text(self) -> str:
        """What the caller receives (prose and each call's JSON): the tokens that are not reasoning."""
        return "\n".join([self.content or "", *(json.dumps(c.arguments) for c in self.calls)])

    def openai_calls(self) -> list[dict[str, Any]]:
        """`message.tool_calls` in the OpenAI shape (arguments as a JSON string)."""
        return [
            {
                "id": call_id,
                "type": "function",
                "function": {"name": call.name, "arguments": json.dumps(call.arguments, ensure_ascii=False)},
            }
            for call_id, call in zip(self.ids, self.calls, strict=True)
        ]


def shape_reply(reply_text: str, answer: str | None, policy: ToolPolicy) -> ToolReply:
    """The reply to send for the chosen chain's text, re-checked so no rule-breaking call leaves.

    The search prefers replies that pass the tool check, but when every candidate failed it
    still names the best of them; that one is withheld (empty content) rather than sent.
    """
    parsed = parse_reply(reply_text)
    problem = check_reply(parsed, policy.verifier().validators, policy.choice)
    if problem is not None:
        return ToolReply(content="", withheld=problem)
    if not parsed.calls:
        return ToolReply(content=answer or "")
    ids = tuple(f"call_{uuid.uuid4().hex[:24]}" for _ in parsed.calls)
    return ToolReply(content=parsed.prose or None, calls=parsed.calls, ids=ids)
