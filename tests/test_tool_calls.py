"""Tool calls through `ponder serve`: the official `openai` client (and langchain-openai) sends
`tools`, the search's candidates are the scripted model's replies over real HTTP, and only calls
whose arguments parse and validate against the tool's schema come back as `tool_calls`."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from ponder.backends.openai_compat import OpenAICompatBackend
from ponder.graph.types import Budget, SearchConfig
from ponder.plugin.serve.app import create_app
from ponder.plugin.settings import PonderSettings
from ponder.plugin.tool_calls import ToolInputError, tool_policy
from ponder.verifiers.tool_call import ToolCallVerifier, ToolChoice, ToolSpec, check_reply, parse_reply
from ponder.verifiers.types import Chain, VerifyTask
from tests._scripted_openai import MODEL, Reply, scripted_model

WEATHER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
    "required": ["city"],
    "additionalProperties": False,
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather in a city.",
        "parameters": WEATHER_SCHEMA,
    },
}
NAMED = {"type": "function", "function": {"name": "get_weather"}}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def call_text(arguments: Any, name: str = "get_weather") -> str:
    body = json.dumps({"name": name, "arguments": arguments})
    return f"<tool_call>\n{body}\n</tool_call>"


VALID = call_text({"city": "Paris", "unit": "c"})
INVALID = call_text({"unit": "kelvin"})  # no city, and a unit outside the enum


# -- the check on its own -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "calls", "error"),
    [
        (VALID, [("get_weather", {"city": "Paris", "unit": "c"})], None),
        ('{"tool": "get_weather", "arguments": {"city": "Rome"}}', [("get_weather", {"city": "Rome"})], None),
        ('```json\n{"name": "get_weather", "arguments": "{\\"city\\": \\"Oslo\\"}"}\n```', None, None),
        ("It is sunny.\nAnswer: sunny", [], None),
        ('{"temperature": 18}', [], None),  # a JSON answer, not a call
        ('<tool_call>{"name": "get_weather", "arguments": {"city": }</tool_call>', [], "not valid JSON"),
        ('{"name": "get_weather", "arguments": {"city"', [], "not valid JSON"),
        ('<tool_call>{"arguments": {}}</tool_call>', [], "names no tool"),
    ],
)
def test_replies_are_read_as_calls_or_prose(text: str, calls: Any, error: str | None) -> None:
    reply = parse_reply(text)
    if calls is None:  # arguments sent as a JSON string, the OpenAI wire shape
        assert [(c.name, c.arguments) for c in reply.calls] == [("get_weather", {"city": "Oslo"})]
    else:
        assert [(c.name, c.arguments) for c in reply.calls] == calls
    assert (reply.error is None) if error is None else (error in (reply.error or ""))


@pytest.mark.parametrize(
    ("choice", "text", "problem"),
    [
        (ToolChoice(mode="auto"), VALID, None),
        (ToolChoice(mode="auto"), "Answer: I cannot tell.", None),
        (ToolChoice(mode="auto"), INVALID, "fail its schema"),
        (ToolChoice(mode="auto"), call_text({"city": "Paris"}, name="get_time"), "not among the tools"),
        (ToolChoice(mode="none"), VALID, "tool_choice is 'none'"),
        (ToolChoice(mode="required"), "Answer: sunny", "requires a call"),
        (ToolChoice(mode="required", name="get_weather"), VALID, None),
        (ToolChoice(mode="auto", parallel=False), VALID + "\n" + VALID, "parallel_tool_calls is false"),
        (ToolChoice(mode="auto"), call_text([1, 2]), "not an object"),
    ],
)
def test_the_check_enforces_schema_and_tool_choice(
    choice: ToolChoice, text: str, problem: str | None
) -> None:
    verifier = ToolCallVerifier([ToolSpec(name="get_weather", parameters=WEATHER_SCHEMA)], choice)
    got = check_reply(parse_reply(text), verifier.validators, choice)
    assert got is None if problem is None else problem in (got or ""), got


async def test_the_verifier_prunes_bad_calls_and_passes_demanded_ones() -> None:
    spec = ToolSpec(name="get_weather", parameters=WEATHER_SCHEMA)
    task = VerifyTask(kind="text", question="weather?")
    chains = [Chain(steps=("", text), terminal=True, answer="x") for text in (VALID, INVALID)]
    required = ToolCallVerifier([spec], ToolChoice(mode="required", name="get_weather"))
    good, bad = await required.score(task, chains)
    assert (good.gate, good.score) == ("pass", 1.0)
    assert good.evidence["calls"] == [{"name": "get_weather", "arguments": {"city": "Paris", "unit": "c"}}]
    assert (bad.gate, bad.score) == ("fail", 0.0) and "'city' is a required property" in bad.evidence[
        "feedback"
    ]
    good, _ = await ToolCallVerifier([spec]).score(task, chains)
    assert good.gate == "unknown"  # under "auto" a valid call is allowed, not proven the right move


# -- through `ponder serve` -----------------------------------------------------------------------


Serve = Callable[..., AbstractContextManager[tuple[openai.OpenAI, list[list[dict[str, Any]]]]]]


@pytest.fixture
def serve(serve_app: Callable[[Any], str]) -> Serve:
    """`ponder serve`'s app on loopback over an OpenAI backend that is the scripted model."""

    @contextmanager
    def start(
        reply: Reply | str, **search: Any
    ) -> Iterator[tuple[openai.OpenAI, list[list[dict[str, Any]]]]]:
        config = SearchConfig(**{"strategy": "greedy", "budget": Budget(max_expansions=4), **search})
        with scripted_model(reply) as (model_url, calls):
            backend = OpenAICompatBackend(model_url, model=MODEL, max_retries=0)
            url = serve_app(create_app(PonderSettings(search=config), backend=backend))
            client = openai.OpenAI(
                base_url=f"{url}/v1",
                api_key="unused",
                http_client=httpx.Client(trust_env=False),
                max_retries=0,
            )
            yield client, calls

    return start


def _arguments(call: Any) -> dict[str, Any]:
    args = json.loads(call.function.arguments)
    jsonschema.validate(args, WEATHER_SCHEMA)
    return args


def test_named_tool_choice_gets_a_schema_valid_tool_call(serve: Serve) -> None:
    with serve(VALID) as (client, calls):
        reply = client.chat.completions.create(
            model="ponder", messages=ASK, tools=[WEATHER], tool_choice=NAMED
        )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content is None
    [call] = choice.message.tool_calls or []
    assert call.type == "function" and call.function.name == "get_weather" and call.id.startswith("call_")
    assert _arguments(call) == {"city": "Paris", "unit": "c"}
    ponder = (reply.model_extra or {})["ponder"]
    assert ponder["status"] == "verified" and ponder["tool_calls"] == {"calls": 1, "withheld": None}
    # the tools reached the model: signatures and the named rule in the system turn
    system = calls[0][0]
    assert system["role"] == "system" and '"name": "get_weather"' in system["content"]
    assert "Call the function get_weather now" in system["content"]


def test_streaming_sends_tool_call_deltas_in_the_openai_shape(serve: Serve) -> None:
    with serve(VALID) as (client, _):
        stream = client.chat.completions.create(
            model="ponder", messages=ASK, tools=[WEATHER], tool_choice=NAMED, stream=True
        )
        chunks = list(stream)
    calls: dict[int, dict[str, str]] = {}
    finish = []
    for chunk in chunks:
        for choice in chunk.choices:
            assert not choice.delta.content
            for delta in choice.delta.tool_calls or []:
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                if delta.function is not None:
                    call["name"] += delta.function.name or ""
                    call["arguments"] += delta.function.arguments or ""
            if choice.finish_reason:
                finish.append(choice.finish_reason)
    assert finish == ["tool_calls"] and list(calls) == [0]
    assert calls[0]["name"] == "get_weather" and calls[0]["id"].startswith("call_")
    args = json.loads(calls[0]["arguments"])
    jsonschema.validate(args, WEATHER_SCHEMA)
    deltas = [d for c in chunks for ch in c.choices for d in ch.delta.tool_calls or []]
    assert len(deltas) > 2  # the arguments arrived in pieces after the id and name


def test_a_schema_invalid_candidate_is_pruned_and_a_valid_one_returned(serve: Serve) -> None:
    replies = itertools.cycle([INVALID, VALID])
    with serve(lambda _messages: next(replies), strategy="best_of_n", n=2) as (client, _):
        reply = client.chat.completions.create(
            model="ponder", messages=ASK, tools=[WEATHER], tool_choice=NAMED
        )
    [call] = reply.choices[0].message.tool_calls or []
    assert _arguments(call) == {"city": "Paris", "unit": "c"}
    ponder = (reply.model_extra or {})["ponder"]
    assert ponder["candidates"] == 2 and ponder["status"] == "verified"


@pytest.mark.parametrize(
    ("bad", "why"),
    [
        (INVALID, "'city' is a required property"),
        ('<tool_call>{"name": "get_weather", "arg', "not valid JSON"),
    ],
)
def test_when_every_candidate_is_invalid_no_call_is_returned(serve: Serve, bad: str, why: str) -> None:
    with serve(bad, strategy="best_of_n", n=2) as (client, _):
        for stream in (False, True):
            got = client.chat.completions.create(
                model="ponder", messages=ASK, tools=[WEATHER], tool_choice=NAMED, stream=stream
            )
            chunks = list(got) if stream else []
            if stream:
                assert not any(ch.delta.tool_calls for c in chunks for ch in c.choices)
                assert not "".join(ch.delta.content or "" for c in chunks for ch in c.choices)
                last = chunks[-1]
                ponder, finish = (last.model_extra or {})["ponder"], last.choices[0].finish_reason
            else:
                assert not got.choices[0].message.tool_calls and got.choices[0].message.content == ""
                ponder, finish = (got.model_extra or {})["ponder"], got.choices[0].finish_reason
            assert finish == "stop" and ponder["status"] == "unverified"
            assert why in ponder["tool_calls"]["withheld"] and why in ponder["reason"]


def test_tool_choice_none_never_returns_a_call(serve: Serve) -> None:
    with serve(VALID) as (client, calls):  # the model imitates a call anyway
        reply = client.chat.completions.create(
            model="ponder", messages=ASK, tools=[WEATHER], tool_choice="none"
        )
    assert not reply.choices[0].message.tool_calls and reply.choices[0].finish_reason == "stop"
    assert "tool_choice is 'none'" in (reply.model_extra or {})["ponder"]["tool_calls"]["withheld"]
    assert "<tools>" not in calls[0][0]["content"]  # tools are not offered for this reply
    with serve("It is probably mild.\nAnswer: mild") as (client, _):
        reply = client.chat.completions.create(
            model="ponder", messages=ASK, tools=[WEATHER], tool_choice="none"
        )
    assert reply.choices[0].message.content == "mild" and not reply.choices[0].message.tool_calls


def test_an_agent_loop_calls_the_tool_and_answers_from_its_result(serve: Serve) -> None:
    """auto: the first reply calls, the history (assistant tool_calls + tool result) goes back."""

    def model(messages: list[dict[str, Any]]) -> str:
        results = [m["content"] for m in messages if "<tool_response>" in str(m.get("content"))]
        if not results:
            return VALID
        return f"The tool said: {results[-1].split(chr(10))[1]}\nAnswer: {results[-1].split(chr(10))[1]}"

    def get_weather(city: str, unit: str = "c") -> str:
        return f"18{unit.upper()} and sunny in {city}"

    with serve(model) as (client, seen):
        first = client.chat.completions.create(model="ponder", messages=ASK, tools=[WEATHER])
        message = first.choices[0].message
        [call] = message.tool_calls or []
        result = get_weather(**_arguments(call))
        history = [
            *ASK,
            message.model_dump(exclude_none=True, exclude={"reasoning_content"}),
            {"role": "tool", "tool_call_id": call.id, "content": result},
        ]
        second = client.chat.completions.create(model="ponder", messages=history, tools=[WEATHER])
    assert first.choices[0].finish_reason == "tool_calls"
    assert second.choices[0].finish_reason == "stop" and not second.choices[0].message.tool_calls
    assert second.choices[0].message.content == "18C and sunny in Paris"
    rendered = seen[-1]
    assert rendered[-2]["role"] == "assistant" and '"city": "Paris"' in rendered[-2]["content"]
    assert rendered[-1] == {"role": "user", "content": f"<tool_response>\n{result}\n</tool_response>"}
    assert "If no function is needed" in rendered[0]["content"]  # auto: prose allowed


def test_langchain_openai_bind_tools_through_the_server(serve: Serve) -> None:
    from langchain_openai import ChatOpenAI

    with serve(VALID) as (client, _):
        llm = ChatOpenAI(
            model="ponder",
            base_url=str(client.base_url),
            api_key="unused",  # type: ignore[arg-type]
            http_client=httpx.Client(trust_env=False),
            max_retries=0,
        ).bind_tools([WEATHER], tool_choice="get_weather")
        reply = llm.invoke("Weather in Paris?")
        streamed = list(llm.stream("Weather in Paris?"))
    [call] = reply.tool_calls  # type: ignore[attr-defined]
    assert call["name"] == "get_weather" and call["args"] == {"city": "Paris", "unit": "c"}
    merged = streamed[0]
    for chunk in streamed[1:]:
        merged += chunk
    assert [c["args"] for c in merged.tool_calls] == [{"city": "Paris", "unit": "c"}]  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("body", "problem"),
    [
        (
            {"tools": [WEATHER], "tool_choice": {"type": "function", "function": {"name": "get_time"}}},
            "tool_choice names 'get_time', which is not among the tools (get_weather)",
        ),
        ({"tools": [{"type": "function", "function": {"description": "x"}}]}, "tools[0].function.name"),
        (
            {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "objekt"}}}]},
            "tools[0].function.parameters is not a valid JSON schema",
        ),
        ({"tools": [WEATHER, WEATHER]}, "more than one tool named 'get_weather'"),
        ({"tool_choice": "required"}, "no tools are given"),
        ({"tools": [WEATHER], "tool_choice": "sometimes"}, "tool_choice 'sometimes' is not understood"),
        ({"tools": {"get_weather": WEATHER}}, "tools must be a list"),
        ({"functions": [WEATHER["function"]]}, "the legacy 'functions' and 'function_call' fields"),
    ],
)
def test_bad_tools_are_one_line_openai_errors(
    serve_app: Callable[[Any], str], body: dict[str, Any], problem: str
) -> None:
    url = serve_app(create_app(PonderSettings()))  # never reaches a backend
    raw = httpx.post(f"{url}/v1/chat/completions", json={"messages": ASK, **body}, trust_env=False)
    assert raw.status_code == 400
    error = raw.json()["error"]
    assert error["type"] == "invalid_request_error" and problem in error["message"]
    assert "\n" not in error["message"]


def test_history_without_function_names_is_rejected() -> None:
    from ponder.plugin.chat_task import ChatInputError, chat_messages

    history = [*ASK, {"role": "assistant", "tool_calls": [{"id": "c1", "function": {"arguments": "{}"}}]}]
    with pytest.raises(ChatInputError, match=r"messages\[1\].tool_calls\[0\] has no function name"):
        chat_messages(history)
    with pytest.raises(ToolInputError, match="not among the tools"):
        tool_policy([WEATHER], NAMED | {"function": {"name": "nope"}})


@pytest.mark.model
def test_embedded_model_tool_calls_are_schema_valid(
    serve_app: Callable[[Any], str], engine_backend: Any
) -> None:
    """Whatever the 135M model writes, a returned call is one the caller can execute."""
    config = SearchConfig(strategy="best_of_n", n=2, budget=Budget(max_expansions=2, max_tokens=400))
    url = serve_app(create_app(PonderSettings(search=config), backend=engine_backend))
    client = openai.OpenAI(
        base_url=f"{url}/v1", api_key="unused", http_client=httpx.Client(trust_env=False), max_retries=0
    )
    for tool_choice in (NAMED, "auto"):
        reply = client.chat.completions.create(
            model="ponder", messages=ASK, tools=[WEATHER], tool_choice=tool_choice
        )
        choice = reply.choices[0]
        for call in choice.message.tool_calls or []:
            assert call.function.name == "get_weather"
            _arguments(call)
        assert (choice.finish_reason == "tool_calls") == bool(choice.message.tool_calls)
        ponder = (reply.model_extra or {})["ponder"]
        assert ponder["tool_calls"]["calls"] == len(choice.message.tool_calls or [])
