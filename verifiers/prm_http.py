"""Served reward models as PRMs: SGLang `/classify` sequence rewards and vLLM `/pooling` step rewards.

Two wire protocols, one verifier interface:

- `sglang_classify`: SGLang launched with `--is-embedding` on a reward model. `POST /classify`
  with `{"text": [...]}` returns one `{"embedding": [reward], "meta_info": {...}}` per text. A
  sequence reward model gives one number per text, so a step's score is the reward of the chain
  prefix ending at that step; all prefixes of a batch go in one request as a text list, and
  siblings share their prefix, which SGLang's radix cache computes once.
- `vllm_pooling`: a step-tag PRM such as Qwen2.5-Math-PRM served by vLLM. `POST /pooling` with
  `{"model", "input": [...]}` (or `"messages"`) returns `data[i].data` = one two-class row per
  step tag; a step's score is P(correct) = row[1] (softmax of the row first when the server
  returns raw logits).

Which mapping turns a raw number into [0, 1] is a setting, never a guess: reward models differ
(raw logits, bounded scores), and a silent wrong mapping only shows as a bad search.

The settings, the error and the HTTP client are `_reward_http`; this module holds the two
protocols' PRMs.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ponder.verifiers._reward_http import (
    RewardClient,
    RewardMapping,
    RewardProtocol,
    RewardServerError,
    RewardServerSettings,
    StepOutput,
)
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.types import Chain, Evidence, StepScore, VerifyTask

if TYPE_CHECKING:
    import httpx  # only typed here: see `_reward_http` for why it is imported late

__all__ = [
    "ClassifyRewardPRM",
    "PoolingStepPRM",
    "RewardEvidence",
    "RewardMapping",
    "RewardProtocol",
    "RewardServerError",
    "RewardServerSettings",
    "StepOutput",
    "make_reward_prm",
    "positive_class_probability",
    "sigmoid",
]
"""`prm`, the package root and the tests import the settings and the error from here."""


class RewardEvidence(Evidence, total=False):
    """Which reward server scored the chain, how, and what it returned."""

    server: str
    protocol: RewardProtocol
    step_format: str
    reward: float
    """The raw number the server returned for the whole chain (before mapping to [0, 1])."""
    cached_tokens: int | None
    """Prompt tokens the server reused from its cache, when it says."""
    step_scores: list[float]
    """Every step's score, first step first."""


def sigmoid(x: float) -> float:
    """Logistic function, stable for large |x|."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    z = math.exp(x)
    return z / (1.0 + z)


def positive_class_probability(row: Sequence[float], output: StepOutput) -> float:
    """P(step correct) from one two-class row `[negative, positive]`."""
    if output == "probs":
        return min(1.0, max(0.0, float(row[1])))
    top = max(row)
    exps = [math.exp(v - top) for v in row]
    return exps[1] / math.fsum(exps)


class ClassifyRewardPRM(BaseVerifier):
    """A sequence reward model served by SGLang (`/classify`) scoring each chain's latest prefix.

    Example:
        ```python
        prm = ClassifyRewardPRM(RewardServerSettings(url="http://127.0.0.1:30000", step_format="llama3"))
        [s] = await prm.score(task, [chain])  # s.evidence["reward"] is the raw number
        ```
    """

    name = "reward_model"
    step_level = True
    path = "/classify"

    def __init__(self, settings: RewardServerSettings, *, client: httpx.AsyncClient | None = None) -> None:
        if settings.protocol != "sglang_classify":
            raise ValueError(f"ClassifyRewardPRM speaks sglang_classify, not {settings.protocol!r}")
        self.settings = settings
        self.step_format = settings.resolved_step_format()
        self._http = RewardClient(settings, client)

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        """One request for the whole batch: every needed prefix once, as a text list."""
        if not chains:
            return []
        wanted = [self._prefixes(chain) for chain in chains]
        texts = list(dict.fromkeys(self.step_format.render(task.question, p) for ps in wanted for p in ps))
        rewards = await self._classify(texts)
        by_text = dict(zip(texts, rewards, strict=True))
        results = []
        for prefixes in wanted:
            raw = [by_text[self.step_format.render(task.question, p)] for p in prefixes]
            scores = [self._map(r) for r in raw]
            evidence: RewardEvidence = {
                "server": self.settings.url,
                "protocol": "sglang_classify",
                "step_format": self.step_format.name,
                "reward": raw[-1][0],
                "cached_tokens": raw[-1][1],
            }
            if self.settings.score_all_prefixes:
                evidence["step_scores"] = scores
            results.append(StepScore(score=scores[-1], evidence=evidence))
        return results

    def _prefixes(self, chain: Chain) -> list[tuple[str, ...]]:
        if not self.settings.score_all_prefixes or not chain.steps:
            return [chain.steps]
        return [chain.steps[: i + 1] for i in range(len(chain.steps))]

    async def _classify(self, texts: list[str]) -> list[tuple[float, int | None]]:
        payload: dict[str, Any] = {"text": texts}
        if self.settings.model:
            payload["model"] = self.settings.model
        body = await self._http.post(self.path, payload)
        items = [body] if isinstance(body, dict) else body
        if not isinstance(items, list) or len(items) != len(texts):
            got = len(items) if isinstance(items, list) else type(body).__name__
            raise self._http.shape_error(self.path, f"{got} results for {len(texts)} texts")
        out = []
        for item in items:
            embedding = item.get("embedding") if isinstance(item, dict) else None
            if not isinstance(embedding, list) or not embedding or not isinstance(embedding[0], int | float):
                raise self._http.shape_error(self.path, f"no numeric embedding[0] in {str(item)[:120]}")
            meta = item.get("meta_info") or {}
            cached = meta.get("cached_tokens") if isinstance(meta, dict) else None
            out.append((float(embedding[0]), cached if isinstance(cached, int) else None))
        return out

    def _map(self, raw: tuple[float, int | None]) -> float:
        reward = raw[0]
        s = self.settings
        if s.reward_mapping == "sigmoid":
            return sigmoid((reward - s.reward_offset) / s.reward_temperature)
        if not 0.0 <= reward <= 1.0:
            raise RewardServerError(
                f"reward server {s.url} returned reward {reward} outside [0, 1] with reward_mapping="
                "'identity'; use reward_mapping='sigmoid' for models that output logits",
                url=s.url,
            )
        return reward

    async def aclose(self) -> None:
        await self._http.aclose()


class PoolingStepPRM(BaseVerifier):
    """A step-tag PRM (Qwen2.5-Math-PRM style) served by vLLM's pooling API.

    Each chain is sent once with a tag after every step; the server returns one two-class row
    per tag. The score is the latest step's P(correct); all steps' are in `evidence["step_scores"]`.
    """

    name = "step_prm"
    step_level = True
    path = "/pooling"

    def __init__(self, settings: RewardServerSettings, *, client: httpx.AsyncClient | None = None) -> None:
        if settings.protocol != "vllm_pooling":
            raise ValueError(f"PoolingStepPRM speaks vllm_pooling, not {settings.protocol!r}")
        self.settings = settings
        self.step_format = settings.resolved_step_format()
        if not self.step_format.terminate_steps:
            raise ValueError(
                f"step format {self.step_format.name!r} puts no tag after the last step, so the latest "
                "step would get no score; use a format with terminate_steps=True (e.g. 'qwen-math-prm')"
            )
        self._http = RewardClient(settings, client)

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        """Text input: one request for the batch; chat input: one request per chain, concurrently."""
        if not chains:
            return []
        fmt = self.step_format
        scored = [c for c in chains if c.steps]
        if fmt.chat:
            rows = await asyncio.gather(
                *(self._pool({"messages": fmt.messages(task.question, c.steps)}, 1) for c in scored)
            )
            per_chain = [r[0] for r in rows]
        else:
            texts = [fmt.render(task.question, c.steps) for c in scored]
            per_chain = await self._pool({"input": texts}, len(texts)) if texts else []
        found = dict(zip((id(c) for c in scored), per_chain, strict=True))
        return [self._result(c, found.get(id(c))) for c in chains]

    async def _pool(self, payload: dict[str, Any], expected: int) -> list[list[list[float]]]:
        if self.settings.model:
            payload["model"] = self.settings.model
        if self.settings.pooling_task:
            payload["task"] = self.settings.pooling_task
        body = await self._http.post(self.path, payload)
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list) or len(data) != expected:
            got = len(data) if isinstance(data, list) else "no"
            raise self._http.shape_error(self.path, f"{got} data entries for {expected} inputs")
        out = []
        for entry in sorted(data, key=lambda e: e.get("index", 0) if isinstance(e, dict) else 0):
            rows = entry.get("data") if isinstance(entry, dict) else None
            if not isinstance(rows, list) or not all(
                isinstance(r, list) and len(r) == 2 and all(isinstance(v, int | float) for v in r)
                for r in rows
            ):
                raise self._http.shape_error(
                    self.path, f"data[i].data is not a list of two-class rows: {str(rows)[:120]}"
                )
            out.append(rows)
        return out

    def _result(self, chain: Chain, rows: list[list[float]] | None) -> StepScore:
        evidence: RewardEvidence = {
            "server": self.settings.url,
            "protocol": "vllm_pooling",
            "step_format": self.step_format.name,
        }
        if rows is None:
            return StepScore(score=0.5, evidence=RewardEvidence(**evidence, reason="no steps to score yet"))
        if len(rows) != len(chain.steps):
            raise self._http.shape_error(
                self.path,
                f"{len(rows)} step scores for {len(chain.steps)} steps; serve the PRM with step pooling "
                "on the separator token (step_tag_id 151651 for <extra_0>) and check that no step text "
                "contains the separator",
            )
        scores = [positive_class_probability(r, self.settings.step_output) for r in rows]
        return StepScore(score=scores[-1], evidence=RewardEvidence(**evidence, step_scores=scores))

    async def aclose(self) -> None:
        await self._http.aclose()


def make_reward_prm(settings: RewardServerSettings) -> ClassifyRewardPRM | PoolingStepPRM:
    """The PRM client for `settings.protocol`."""
    if settings.protocol == "vllm_pooling":
        return PoolingStepPRM(settings)
    return ClassifyRewardPRM(settings)
