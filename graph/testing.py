"""Deterministic stand-ins for a model and a verifier, shipped for tests and benchmarks.

`ScriptedBackend` answers every request by calling a policy with the steps so far, so a test
states exactly which steps the "model" proposes and can assert the tree the search builds. It
speaks both request forms the graph uses (token ids, and messages + assistant prefix) through a
character-level tokenizer (token id = code point, one character = one token), and emulates a
prefix cache, so cache accounting and exact token continuation are checked without a model.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from ponder.backends.base import (
    BaseBackend,
    Capabilities,
    ChatMessage,
    Completion,
    GenerationRequest,
    Usage,
)
from ponder.graph.steps import STEP_SEPARATOR
from ponder.graph.types import SearchTask
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.types import Chain, StepScore, VerifyTask

ASSISTANT = "<|assistant|>\n"
EOS_ID = 0
"""The scripted tokenizer's end-of-sequence id (detokenizes to nothing)."""
EOS_MARK = "<eos>"
"""A policy's step text ending in this makes the scripted model stop with EOS after the step."""


@dataclass(frozen=True, slots=True)
class Context:
    """What the scripted model sees for one sample."""

    messages: tuple[ChatMessage, ...]
    steps: tuple[str, ...]
    """Steps generated so far in this chain (parsed back from the prompt)."""
    sample: int
    """Index of this sample among the request's n."""
    seed: int | None
    request: GenerationRequest


Policy = Callable[[Context], str]
"""Returns the next step's text (without the delimiter)."""


@dataclass(slots=True)
class BackendLog:
    generate_calls: int = 0
    warm_calls: int = 0
    requests: list[GenerationRequest] = field(default_factory=list)


class ScriptedBackend(BaseBackend):
    """A zero-latency (or `delay`-latency) backend whose steps come from `policy`."""

    name = "scripted"

    def __init__(
        self,
        policy: Policy,
        *,
        token_ids: bool = True,
        prefix_cache: bool = True,
        delay: float = 0.0,
        on_generate: Callable[[BackendLog], None] | None = None,
    ) -> None:
        self.policy = policy
        self.delay = delay
        self.log = BackendLog()
        self.on_generate = on_generate
        self._caps = Capabilities(
            logprobs=False,
            top_logprobs=False,
            n=True,
            token_ids=token_ids,
            prefix_cache=prefix_cache,
            seed=True,
        )
        self._cache: dict[int, Any] = {}

    @property
    def capabilities(self) -> Capabilities:
        return self._caps

    def tokenize(self, text: str) -> list[int]:
        if not self._caps.token_ids:
            return super().tokenize(text)
        return [ord(c) for c in text]

    def detokenize(self, token_ids: Sequence[int]) -> str:
        return "".join(chr(i) for i in token_ids if i != EOS_ID)

    def render_chat(self, messages: Sequence[ChatMessage], assistant_prefix: str | None = None) -> str:
        body = "".join(f"<|{m.role}|>\n{m.content}\n" for m in messages)
        return body + ASSISTANT + (assistant_prefix or "")

    async def warm(self, requests: Sequence[GenerationRequest]) -> Usage:
        self.log.warm_calls += 1
        usage = Usage()
        for req in requests:
            ids = self._prompt_ids(req)
            usage = usage + Usage(prompt_tokens=len(ids), cached_tokens=self._hit(ids))
        return usage

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        self.log.generate_calls += 1
        self.log.requests.extend(requests)
        if self.on_generate is not None:
            self.on_generate(self.log)
        if self.delay:
            await asyncio.sleep(self.delay)
        out: list[list[Completion]] = []
        for req in requests:
            ids = self._prompt_ids(req)
            cached = self._hit(ids)
            messages, steps = self._parse(self.detokenize(ids))
            samples = []
            for i in range(req.n):
                seed = None if req.seed is None else req.seed + i
                samples.append(
                    self._sample(
                        req,
                        ids,
                        cached if i == 0 else 0,
                        i == 0,
                        self.policy(Context(tuple(messages), tuple(steps), i, seed, req)),
                    )
                )
            out.append(samples)
        return out

    def _sample(
        self, req: GenerationRequest, ids: list[int], cached: int, first: bool, text: str
    ) -> Completion:
        """Like a real engine: the matched stop string (or EOS) stays in `token_ids`, not in `text`.

        A policy ends the chain itself by returning text ending in `EOS_MARK`; with no stop
        strings in the request every step ends with EOS.
        """
        eos = text.endswith(EOS_MARK) or not req.stop
        text = text.removesuffix(EOS_MARK)
        emitted = [ord(c) for c in text] + ([EOS_ID] if eos else [ord(c) for c in req.stop[0]])
        finish: Literal["stop", "length"] = "stop"
        if len(emitted) > req.max_tokens:
            emitted, finish = emitted[: req.max_tokens], "length"
            text = self.detokenize(emitted)
        usage = Usage(
            prompt_tokens=len(ids) if first else 0, completion_tokens=len(emitted), cached_tokens=cached
        )
        return Completion(
            text=text,
            token_ids=emitted if self._caps.token_ids else [],
            finish_reason=finish,
            prompt_token_ids=ids if self._caps.token_ids else [],
            usage=usage,
        )

    def _prompt_ids(self, req: GenerationRequest) -> list[int]:
        if req.token_ids is not None:
            return list(req.token_ids)
        if req.messages is not None:
            return [ord(c) for c in self.render_chat(req.messages, req.assistant_prefix)]
        return [ord(c) for c in req.prompt or ""]

    def _hit(self, ids: list[int]) -> int:
        """Longest prefix of `ids` already computed (an ideal prefix cache), then remember `ids`.

        A token trie keeps this linear in the prompt length however many prompts came before.
        """
        node = self._cache
        hit = 0
        matching = True
        for tok in ids:
            nxt = node.get(tok)
            if nxt is None:
                matching = False
                nxt = node[tok] = {}
            elif matching:
                hit += 1
            node = nxt
        return hit

    @staticmethod
    def _parse(prompt: str) -> tuple[list[ChatMessage], list[str]]:
        head, _, partial = prompt.rpartition(ASSISTANT)
        messages: list[ChatMessage] = []
        for chunk in head.split("<|")[1:]:
            role, _, content = chunk.partition("|>\n")
            messages.append(ChatMessage(role=role, content=content.removesuffix("\n")))  # type: ignore[arg-type]
        steps = [s for s in partial.split(STEP_SEPARATOR) if s.strip()]
        return messages, steps


Judge = Callable[[Chain], StepScore]


class ScriptedVerifier(BaseVerifier):
    """Scores each chain with `judge`; counts calls and chains so tests can assert batching."""

    name = "scripted"

    def __init__(self, judge: Judge, *, step_level: bool = True, delay: float = 0.0) -> None:
        self.judge = judge
        self.step_level = step_level
        self.delay = delay
        self.calls = 0
        self.chains: list[Chain] = []

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        self.calls += 1
        self.chains.extend(chains)
        if self.delay:
            await asyncio.sleep(self.delay)
        return [self.judge(c) for c in chains]


def text_task(question: str = "q", **fields: object) -> SearchTask:
    """A text-answer task for scripted searches (the scripted verifier ignores `verify.inputs`)."""
    return SearchTask(
        messages=[ChatMessage(role="user", content=question)],
        verify=VerifyTask(kind="text", question=question),
        **fields,  # type: ignore[arg-type]
    )


def path_policy(answer_depth: int) -> Policy:
    """Steps named after their position ("1.0/2.1" = first step sample 0, second step sample 1);
    at `answer_depth` the step is "Answer: <path>"; an "Answer:" cue prefix gets just the path.
    """

    def policy(ctx: Context) -> str:
        steps = [s for s in ctx.steps if s != "Answer:"]
        prev = steps[-1].split(" ")[-1] + "/" if steps else ""
        label = f"{prev}{len(steps) + 1}.{ctx.sample}"
        forced = bool(ctx.request.assistant_prefix and ctx.request.assistant_prefix.endswith("Answer:")) or (
            ctx.request.token_ids is not None and _ends_with(ctx.request.token_ids, "Answer:")
        )
        if forced:
            return f" {label}"
        if len(steps) + 1 >= answer_depth:
            return f"Answer: {label}"
        return f"step {label}"

    return policy


def _ends_with(ids: Sequence[int], text: str) -> bool:
    return "".join(chr(i) for i in ids[-len(text) :]) == text
