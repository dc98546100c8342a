"""What the learned PRM looks at: cheap structural features of a chain, the generating model's
confidence, the share of sibling chains that reached the same answer, and a sentence embedding
from the embedded model.

The same functions build the training matrix (`ponder train-verifier`) and the features of the
chains scored during a search, so the two cannot drift apart. Everything but the embedding is
pure string arithmetic; the embedding needs llama-cpp-python and the GGUF model, loaded in a
second, embedding-only llama.cpp context (the generation engine's context computes logits, not
pooled hidden states).
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ponder.verifiers._numbers import numbers_in
from ponder.verifiers.answers import extract_after_answer, extract_answer
from ponder.verifiers.confidence import LOGPROB_FLOOR, lowest_window_confidence, mean_confidence

FEATURE_SETS = ("structural", "confidence", "agreement", "embedding")
"""Feature groups a weights file may use, in the order their columns are laid out."""

STRUCTURAL = (
    "log_chars",
    "log_paragraphs",
    "has_answer_line",
    "has_number_answer",
    "answer_copies_question",
    "question_numbers_used",
    "repeated_lines",
    "has_code",
    "log_equations",
    "equations_correct",
)
CONFIDENCE = ("has_logprobs", "mean_confidence", "lowest_window_confidence")
AGREEMENT = ("sibling_agreement",)

CONFIDENCE_WINDOW = 8
"""Tokens per window for the lowest-window confidence feature."""
EMBED_QUESTION_CHARS = 200
EMBED_CHAIN_CHARS = 400
"""The embedded text: the question's start and the chain's end (where its answer is), so one
short forward pass (~150 tokens) covers both."""

# "12 + 5 = 17", "3 x 4 = 12", "$20 / 4 = $5": a calculation the chain wrote out and claims.
_EQUATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*([-+*x×/÷])\s*\$?(\d+(?:\.\d+)?)\s*=\s*\$?(-?\d+(?:\.\d+)?)(?![\d.]*\s*[-+*x×/÷]\s*\d)"
)


@dataclass(frozen=True, slots=True)
class Candidate:
    """One chain as the features see it: the question, the chain's text and its latest step's logprobs."""

    question: str
    text: str
    logprobs: tuple[float, ...] | None = None
    answer: str | None = None
    """The extracted final answer when known; else the last number of the text is used."""

    def final_answer(self) -> str | None:
        return self.answer if self.answer is not None else extract_answer(self.text, "number")


def _equations(text: str) -> tuple[int, int]:
    """(calculations written as `a op b = c`, how many of them are right)."""
    total = right = 0
    for a_s, op, b_s, c_s in _EQUATION.findall(text.replace(",", "")):
        a, b, c = float(a_s), float(b_s), float(c_s)
        if op in "/÷" and b == 0:
            continue
        value = a + b if op == "+" else a - b if op == "-" else a / b if op in "/÷" else a * b
        total += 1
        right += math.isclose(value, c, rel_tol=1e-6, abs_tol=1e-6)
    return total, right


def structural_features(candidate: Candidate) -> list[float]:
    """The `STRUCTURAL` columns: length, shape, whether it answers, and whether its arithmetic holds."""
    text = candidate.text
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    paragraphs = [p for p in re.split(r"\n\s*\n", text) if p.strip()]
    answer = candidate.final_answer()
    question_numbers = set(numbers_in(candidate.question))
    text_numbers = set(numbers_in(text))
    answer_values = numbers_in(answer) if answer else []
    total, right = _equations(text)
    return [
        math.log1p(len(text)),
        math.log1p(len(paragraphs)),
        float(extract_after_answer(text) is not None),
        float(answer is not None),
        float(bool(answer_values) and answer_values[-1] in question_numbers),
        len(question_numbers & text_numbers) / len(question_numbers) if question_numbers else 1.0,
        1.0 - len(set(lines)) / len(lines) if lines else 0.0,
        float("```" in text),
        math.log1p(total),
        right / total if total else 0.5,
    ]


def confidence_features(logprobs: Sequence[float] | None) -> list[float]:
    """The `CONFIDENCE` columns; a chain without logprobs gets the flag 0 and neutral values."""
    if not logprobs:
        return [0.0, 0.5, 0.5]
    floored = [max(lp, LOGPROB_FLOOR) for lp in logprobs]
    return [1.0, mean_confidence(floored), lowest_window_confidence(floored, CONFIDENCE_WINDOW)]


def agreement_features(candidates: Sequence[Candidate]) -> list[list[float]]:
    """Per candidate, the share of the *other* candidates with the same answer (0 when alone or
    without an answer): self-consistency as a feature, so the head can weigh it against the rest."""
    answers = [answer_key(c.final_answer()) for c in candidates]
    counts = Counter(a for a in answers if a is not None)
    others = len(candidates) - 1
    return [[(counts[a] - 1) / others if a is not None and others > 0 else 0.0] for a in answers]


def answer_key(answer: str | None) -> str | None:
    """The answer as a vote: its last number normalised ("1,000.0" and "1000" agree), else its text."""
    if answer is None:
        return None
    values = numbers_in(answer)
    return f"{values[-1]:.6g}" if values else answer.strip().lower()


def embed_text(candidate: Candidate) -> str:
    return f"{candidate.question[:EMBED_QUESTION_CHARS]}\n\n{candidate.text[-EMBED_CHAIN_CHARS:]}"


class Embedder:
    """Mean-pooled, L2-normalised hidden states of the embedded GGUF model (576 numbers for SmolLM2).

    Not thread-safe (one llama.cpp context); callers serialise, as `LearnedPRM` does with its own
    worker thread.
    """

    def __init__(self, model_path: Path, *, n_threads: int | None = None) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise ImportError(
                "the learned PRM's embedding features need llama-cpp-python; install 'ponder[local]' "
                "or train weights without them (ponder train-verifier --features structural,confidence)"
            ) from None
        threads = n_threads or max(1, (len(os.sched_getaffinity(0)) or 1) // 2)
        self.model_path = model_path
        self._llama = llama_cpp.Llama(
            str(model_path),
            embedding=True,
            pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
            n_ctx=512,
            n_batch=512,
            n_ubatch=512,
            n_threads=threads,
            n_threads_batch=threads,
            verbose=False,
        )

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """One row per text; rounded to 1e-5 so training reproduces bit for bit across runs."""
        rows = [np.asarray(self._llama.embed(t, normalize=False), dtype=np.float64) for t in texts]
        out = np.zeros((len(rows), 0)) if not rows else np.vstack(rows)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        return np.round(out / np.where(norms > 0, norms, 1.0), 5)

    def close(self) -> None:
        self._llama.close()


def feature_names(sets: Sequence[str], embedding_dims: int = 0) -> list[str]:
    """Column names for the chosen feature sets (embedding columns as `emb_0`...)."""
    names: list[str] = []
    for name in FEATURE_SETS:
        if name not in sets:
            continue
        names += {
            "structural": list(STRUCTURAL),
            "confidence": list(CONFIDENCE),
            "agreement": list(AGREEMENT),
            "embedding": [f"emb_{i}" for i in range(embedding_dims)],
        }[name]
    return names


def dense_features(candidates: Sequence[Candidate], sets: Sequence[str]) -> np.ndarray:
    """The non-embedding columns for candidates scored together (siblings, for `agreement`)."""
    agreement = agreement_features(candidates)
    rows = []
    for candidate, agree in zip(candidates, agreement, strict=True):
        row: list[float] = []
        if "structural" in sets:
            row += structural_features(candidate)
        if "confidence" in sets:
            row += confidence_features(candidate.logprobs)
        if "agreement" in sets:
            row += agree
        rows.append(row)
    return np.asarray(rows, dtype=np.float64).reshape(len(candidates), -1)
