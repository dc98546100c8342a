"""Learned PRM: a logistic head trained on candidates that ponder's own execution checks labelled.

The judge and confidence PRMs ask the 135M model what it thinks and measure at chance. This one
learns, from the model's own samples marked right or wrong by executing a check (GSM8K dev
answers, computed word problems), which observable traits go with a right answer: whether its
written arithmetic holds, whether it answers at all or copies a number of the question, how sure
the model was, how many siblings agree, and where its embedding lies. It ranks candidates where
no execution check exists; like every PRM it never gates.

The weights ship in the package (`verifiers/weights/learned_prm.json`) with the sha256 of the
data they were trained on, the date, the feature names and the AUROC on items set aside before
training; `ponder train-verifier` reproduces them from the data file.

Example:
    ```python
    prm = LearnedPRM()  # the shipped weights; loads an embedding context on first use
    scores = await prm.score(task, chains)
    ```
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from ponder.verifiers._learned_features import (
    FEATURE_SETS,
    Candidate,
    Embedder,
    dense_features,
    embed_text,
    feature_names,
)
from ponder.verifiers.base import BaseVerifier
from ponder.verifiers.errors import VerifierError
from ponder.verifiers.types import Chain, Evidence, StepScore, VerifyTask

WEIGHTS_FORMAT = "ponder-learned-prm/1"
SHIPPED_WEIGHTS = "learned_prm.json"
"""File name of the shipped weights in the package folder `ponder/verifiers/weights/`."""


class LearnedEvidence(Evidence, total=False):
    """What the head said and which weights said it."""

    p_right: float
    """The head's probability that the chain is right (the score)."""
    auroc_holdout: float | None
    """The weights' AUROC on the items set aside before training: how far to trust `p_right`."""
    weights: str | None
    """sha256 of the data the weights were trained on."""


class LearnedWeightsError(VerifierError, ValueError):
    """A weights file that cannot be used: missing, malformed, or for another embedding model."""


@dataclass(frozen=True, slots=True)
class EmbeddingProjection:
    """How 576 embedding numbers become a few columns: centre, then project on the training set's
    principal directions (a head on the raw embedding would overfit a few hundred candidates)."""

    model: str
    model_sha256: str
    center: list[float]
    components: list[list[float]]
    """k rows of `len(center)` numbers each."""

    def project(self, embeddings: np.ndarray) -> np.ndarray:
        return np.asarray((embeddings - np.asarray(self.center)) @ np.asarray(self.components).T)


@dataclass(frozen=True, slots=True)
class LearnedWeights:
    """A trained head and everything needed to check where it came from."""

    feature_sets: list[str]
    features: list[str]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    embedding: EmbeddingProjection | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    """data (files), data_sha256, trained_at, seed, l2, split sizes, auroc_holdout, report."""

    def logits(self, columns: np.ndarray) -> np.ndarray:
        z = (columns - np.asarray(self.mean)) / np.asarray(self.scale)
        return np.asarray(z @ np.asarray(self.coef) + self.intercept)

    def to_json(self) -> str:
        body = {"format": WEIGHTS_FORMAT, **asdict(self)}
        return json.dumps(body, indent=1, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str, *, source: str) -> LearnedWeights:
        try:
            body = json.loads(text)
            if body.pop("format", None) != WEIGHTS_FORMAT:
                raise ValueError(f"format is not {WEIGHTS_FORMAT!r}")
            emb = body.pop("embedding", None)
            weights = cls(embedding=EmbeddingProjection(**emb) if emb else None, **body)
        except (ValueError, TypeError) as exc:
            raise LearnedWeightsError(
                f"{source} is not a learned-PRM weights file ({exc}); write one with ponder train-verifier"
            ) from None
        weights.check()
        return weights

    def check(self) -> None:
        """Shapes agree and feature sets are known; raises LearnedWeightsError naming the mismatch."""
        unknown = set(self.feature_sets) - set(FEATURE_SETS)
        dims = len(self.embedding.components) if self.embedding else 0
        expected = feature_names(self.feature_sets, dims)
        problems = [
            f"unknown feature sets {sorted(unknown)}" if unknown else "",
            "" if self.features == expected else "feature names do not match the feature sets",
            "" if len(self.mean) == len(self.scale) == len(self.coef) == len(expected) else "length mismatch",
            "" if ("embedding" in self.feature_sets) == (self.embedding is not None) else "embedding block",
        ]
        problems = [p for p in problems if p]
        if problems:
            raise LearnedWeightsError(
                f"learned-PRM weights are inconsistent ({'; '.join(problems)}); "
                "retrain with ponder train-verifier"
            )


def shipped_weights_path() -> Path:
    return Path(str(resources.files("ponder.verifiers").joinpath("weights", SHIPPED_WEIGHTS)))


def load_weights(path: Path | None = None) -> LearnedWeights:
    """The weights at `path`, or the shipped ones."""
    path = path or shipped_weights_path()
    if not path.is_file():
        raise LearnedWeightsError(
            f"learned-PRM weights {path} do not exist; write them with ponder train-verifier --out {path}"
        )
    return LearnedWeights.from_json(path.read_text(encoding="utf-8"), source=str(path))


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(x, -40, 40))))


def score_columns(
    weights: LearnedWeights, candidates: Sequence[Candidate], embeddings: np.ndarray | None
) -> np.ndarray:
    """P(right) for candidates scored together (their agreement feature counts each other)."""
    columns = dense_features(candidates, weights.feature_sets)
    if weights.embedding is not None:
        assert embeddings is not None, "these weights need embeddings"
        columns = np.hstack([columns, weights.embedding.project(embeddings)])
    return sigmoid(weights.logits(columns))


class LearnedPRM(BaseVerifier):
    """Scores each chain with the trained head; chains scored in one call are siblings (agreement).

    The latest step's logprobs feed the confidence features (`Chain.step_logprobs`); chains without
    them get neutral values. Embeddings run on a second llama.cpp context of the same GGUF the
    weights were trained with (checked by sha256), on this PRM's own worker thread.
    """

    name = "learned"
    step_level = True

    def __init__(
        self,
        weights: LearnedWeights | None = None,
        *,
        weights_path: Path | None = None,
        model_path: Path | None = None,
    ) -> None:
        """Args:
        weights: A trained head; default the file at `weights_path`, else the shipped weights.
        model_path: GGUF for the embedding features; default the bundled SmolLM2.
        """
        self.weights = weights or load_weights(weights_path)
        self._model_path = model_path
        self._embedder: Embedder | None = None
        self._worker: ThreadPoolExecutor | None = None

    def _embed(self, texts: list[str]) -> np.ndarray:
        if self._embedder is None:
            from ponder.backends.llama.model import resolve_model_path

            path = resolve_model_path(self._model_path)
            projection = self.weights.embedding
            assert projection is not None
            if file_sha256(path) != projection.model_sha256:
                raise LearnedWeightsError(
                    f"the learned-PRM weights were trained on embeddings of {projection.model} "
                    f"(sha256 {projection.model_sha256[:12]}…), not {path}; use that model or retrain "
                    "with ponder train-verifier"
                )
            self._embedder = Embedder(path)
        return self._embedder.embed(texts)

    async def score(self, task: VerifyTask, chains: Sequence[Chain]) -> list[StepScore]:
        if not chains:
            return []
        candidates = [
            Candidate(
                question=task.question,
                text="\n\n".join(chain.steps),
                logprobs=chain.step_logprobs,
                answer=chain.answer if chain.terminal and task.kind != "code" else None,
            )
            for chain in chains
        ]
        embeddings = None
        if self.weights.embedding is not None:
            self._worker = self._worker or ThreadPoolExecutor(1, thread_name_prefix="ponder-embed")
            texts = [embed_text(c) for c in candidates]
            embeddings = await asyncio.get_running_loop().run_in_executor(self._worker, self._embed, texts)
        probs = score_columns(self.weights, candidates, embeddings)
        auroc = self.weights.meta.get("auroc_holdout")
        return [
            StepScore(
                score=float(min(1.0, max(0.0, p))),
                evidence=LearnedEvidence(
                    p_right=float(p),
                    auroc_holdout=auroc,
                    weights=self.weights.meta.get("data_sha256"),
                ),
            )
            for p in np.nan_to_num(probs, nan=0.5)
        ]

    async def aclose(self) -> None:
        if self._worker is not None:
            embedder, self._embedder = self._embedder, None
            if embedder is not None:
                await asyncio.get_running_loop().run_in_executor(self._worker, embedder.close)
            self._worker.shutdown(wait=True)
            self._worker = None
