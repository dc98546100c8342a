"""Tool calls as a check: a reply that calls a tool must call one that exists, the way the
caller allowed, with arguments its JSON schema accepts.

An agent loop executes whatever call it receives, so a call with unparsable or schema-invalid
arguments is as wrong as a failing test: it is pruned (gate "fail", score 0) before it can be
chosen. The rules come from the caller's `tool_choice`: "none" forbids calls, "required" (or a
named tool) demands one, "auto" allows either. A reply that satisfies a demand passes; under
"auto" nothing here can say whether a call or prose was the better move, so valid replies get
"unknown" and the other verifiers rank them.

Replies are read as the Hermes/Qwen format (`<tool_call>{"name": ..., "arguments": {...}}
</tool_call>`, one block per call) or, for models that skip the tags, a reply that is one JSON
object with a "name" (or "tool") and "arguments".

Example:
    ```python
    spec = ToolSpec(name="get_weather", parameters={"type": "object", "required": ["city"],
                                                    "properties": {"city": {"type": "string"}}})
    verifier = ToolCallVerifier([spec], ToolChoice(mode="required", name="get_weather"))
    reply = parse_reply('<tool_call>{"name": "get_weather", "arguments": {}}</tool_call>')
    check_reply(reply, verifier.validators, verifier.choice)  # "... 'city' is a required property ..."
    ```
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from jsonschema import exceptions as schema_errors
from jsonschema import validators
from jsonschema.protocols import Validator

from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.types import Chain, Evidence, StepScore, VerifyTask

ChoiceMode = Literal["none", "auto", "required"]

EMPTY_PARAMETERS: Mapping[str, Any] = {"type": "object", "properties": {}}
"""The schema of a tool that takes no arguments (OpenAI's default when `parameters` is absent)."""

_BLOCK = re.compile(r"<tool_call>(.*?)(?:</tool_call>|\Z)", re.DOTALL)
_FENCED = re.compile(r"\A```[ \t]*(?:json)?[ \t]*\n(.*?)\n?```\Z", re.DOTALL | re.IGNORECASE)
_CALL_START = re.compile(r'\A\{\s*"(?:name|tool)"\s*:')
_NAME_KEYS = ("name", "tool")
_ARG_KEYS = ("arguments", "parameters")


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolSpec:
    """A tool the caller offers: its name, what it does, and the JSON schema of its arguments."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: dict(EMPTY_PARAMETERS))


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolChoice:
    """What the caller allows: OpenAI's `tool_choice` and `parallel_tool_calls`."""

    mode: ChoiceMode = "auto"
    name: str | None = None
    """A named choice: the reply must call this tool (and only it); implies mode "required"."""
    parallel: bool = True
    """More than one call in a reply is allowed."""

    def __post_init__(self) -> None:
        if self.name is not None and self.mode != "required":
            raise ValueError(f"a named tool_choice ({self.name!r}) requires a call; use mode 'required'")


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One call the model wrote: a tool name and its decoded arguments."""

    name: str
    arguments: Any


@dataclass(frozen=True, slots=True)
class ParsedReply:
    """A reply split into its tool calls and the prose around them.

    `error` says why a call the model attempted (a `<tool_call>` block, or a reply that is a
    JSON object naming a tool) could not be read; such a reply never counts as prose.
    """

    calls: tuple[ToolCall, ...] = ()
    prose: str = ""
    error: str | None = None


def schema_problem(schema: Any) -> str | None:
    """Why `schema` is not a usable JSON schema for a tool's arguments, or None when it is."""
    if not isinstance(schema, Mapping):
        return f"it is a {type(schema).__name__}, not a JSON object"
    try:
        validators.validator_for(schema).check_schema(schema)
    except schema_errors.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return f"{exc.message}" + (f" (at {where})" if where else "")
    return None


def compile_validators(tools: Sequence[ToolSpec]) -> dict[str, Validator]:
    """One validator per tool name, each for the draft its schema declares (2020-12 by default).

    Raises:
        ValueError: a schema is invalid, or two tools share a name.
    """
    out: dict[str, Validator] = {}
    for spec in tools:
        if spec.name in out:
            raise ValueError(f"two tools are named {spec.name!r}; give each tool its own name")
        problem = schema_problem(spec.parameters)
        if problem is not None:
            raise ValueError(f"the parameters of tool {spec.name!r} are not a valid JSON schema: {problem}")
        out[spec.name] = validators.validator_for(spec.parameters)(spec.parameters)
    return out


def _decode_call(body: str) -> ToolCall | str:
    """One call object's text as a `ToolCall`, or why it is not one."""
    try:
        obj = json.loads(body)
    except json.JSONDecodeError as exc:
        return f"the tool call is not valid JSON ({exc.msg} at character {exc.pos})"
    if not isinstance(obj, dict):
        return f"the tool call is a JSON {type(obj).__name__}, not an object with a name and arguments"
    name = next((obj[k] for k in _NAME_KEYS if k in obj), None)
    if not isinstance(name, str) or not name:
        return 'the tool call names no tool; write {"name": "<tool>", "arguments": {...}}'
    arguments: Any = next((obj[k] for k in _ARG_KEYS if k in obj), {})
    if isinstance(arguments, str):  # the OpenAI wire shape: arguments as a JSON string
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except json.JSONDecodeError as exc:
            return f"the arguments of {name} are not valid JSON ({exc.msg})"
    return ToolCall(name=name, arguments=arguments)


def parse_reply(text: str) -> ParsedReply:
    """The tool calls in a reply (tagged blocks, else a reply that is one call object) and its prose."""
    blocks = list(_BLOCK.finditer(text))
    if blocks:
        prose = _BLOCK.sub("", text).strip()
        calls: list[ToolCall] = []
        for block in blocks:
            got = _decode_call(block.group(1).strip())
            if isinstance(got, str):
                return ParsedReply(prose=prose, error=got)
            calls.append(got)
        return ParsedReply(calls=tuple(calls), prose=prose)
    stripped = text.strip()
    fenced = _FENCED.match(stripped)
    body = fenced.group(1).strip() if fenced else stripped
    if not body.startswith("{"):
        return ParsedReply(prose=stripped)
    got = _decode_call(body)
    if isinstance(got, ToolCall):
        return ParsedReply(calls=(got,))
    if _CALL_START.match(body):  # it set out to name a tool and broke on the way
        return ParsedReply(error=got)
    return ParsedReply(prose=stripped)  # a JSON answer that is not a call


def _schema_error(validator: Validator, arguments: Any) -> str | None:
    error = schema_errors.best_match(validator.iter_errors(arguments))
    if error is None:
        return None
    where = "/".join(str(p) for p in error.absolute_path)
    return str(error.message) + (f" (at {where})" if where else "")


def check_reply(reply: ParsedReply, tools: Mapping[str, Validator], choice: ToolChoice) -> str | None:
    """Why the reply breaks the caller's rules or a tool's schema, or None when it keeps them."""
    if reply.error is not None:
        return (
            f'{reply.error}; write each call as <tool_call>{{"name": ..., "arguments": {{...}}}}</tool_call>'
        )
    names = [call.name for call in reply.calls]
    if choice.mode == "none" and names:
        return f"tool_choice is 'none' but the reply calls {', '.join(names)}; answer in prose"
    if choice.mode == "required" and not names:
        wanted = choice.name or "one of the tools"
        return f"tool_choice requires a call to {wanted} but the reply calls no tool"
    if len(names) > 1 and not choice.parallel:
        return f"parallel_tool_calls is false but the reply makes {len(names)} calls; make one"
    for call in reply.calls:
        if choice.name is not None and call.name != choice.name:
            return f"tool_choice names {choice.name!r} but the reply calls {call.name!r}"
        validator = tools.get(call.name)
        if validator is None:
            known = ", ".join(tools) or "none"
            return f"the reply calls {call.name!r}, which is not among the tools ({known})"
        if not isinstance(call.arguments, dict):
            return f"the arguments of {call.name} are a JSON {type(call.arguments).__name__}, not an object"
        problem = _schema_error(validator, call.arguments)
        if problem is not None:
            return f"the arguments of {call.name} fail its schema: {problem}"
    return None


def chain_text(chain: Chain) -> str:
    """The whole reply a chain stands for: its non-empty steps, in order."""
    return "\n\n".join(step for step in chain.steps if step)


class ToolCallEvidence(Evidence, total=False):
    """The calls a finished reply makes, as parsed."""

    calls: list[dict[str, Any]]
    """Each call: {name, arguments}."""


class ToolCallVerifier(BaseVerifier):
    """Prunes finished replies whose tool calls do not parse, break `tool_choice`, or fail a schema.

    An outcome check (`step_level=False`): a reply is judged once it is finished. Evidence holds
    the calls read (`{"calls": [{"name", "arguments"}]}`) and, on failure, `feedback` saying what
    to fix, which refinement shows the model.
    """

    name = "tool_call"
    step_level = False

    def __init__(self, tools: Sequence[ToolSpec], choice: ToolChoice | None = None) -> None:
        """Compile each tool's schema once.

        Raises:
            ValueError: a schema is invalid, two tools share a name, or a named choice names no tool.
        """
        self.choice = choice or ToolChoice()
        self.validators = compile_validators(tools)
        if self.choice.name is not None and self.choice.name not in self.validators:
            known = ", ".join(self.validators) or "none"
            raise ValueError(
                f"tool_choice names {self.choice.name!r}, which is not among the tools ({known})"
            )

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        """Pure parsing and schema checks; no I/O."""
        return [self._one(chain) for chain in chains]

    def _one(self, chain: Chain) -> StepScore:
        if not chain.terminal:
            return StepScore(score=0.5, gate="unknown", evidence={"reason": "the reply is not finished"})
        reply = parse_reply(chain_text(chain))
        calls = [{"name": c.name, "arguments": c.arguments} for c in reply.calls]
        evidence: ToolCallEvidence = {"calls": calls}
        problem = check_reply(reply, self.validators, self.choice)
        if problem is not None:
            return StepScore(score=0.0, gate="fail", evidence=ToolCallEvidence(**evidence, feedback=problem))
        if self.choice.mode == "required":
            return StepScore(score=1.0, gate="pass", evidence=evidence)
        return StepScore(score=0.5, gate="unknown", evidence=evidence)
