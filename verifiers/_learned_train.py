"""Training the learned PRM: read labelled candidates, split by item, fit, and measure on the items
set aside.

Deterministic by construction (`ponder train-verifier` must reproduce the shipped weights): the
split is a seeded shuffle of sorted item ids, the embedding is rounded, PCA signs are fixed, the
head is fitted by Newton's method from zero (no random init, no SGD order), and the numbers are
rounded before they are written.
"""

from __future__ import annotations

import datetime
import json
import random
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ponder.verifiers._learned_eval import auroc, auroc_ci, selection
from ponder.verifiers._learned_features import (
    Candidate,
    confidence_features,
    dense_features,
    embed_text,
    feature_names,
)
from ponder.verifiers.learned import (
    EmbeddingProjection,
    LearnedWeights,
    LearnedWeightsError,
    score_columns,
    sigmoid,
)

L2_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
"""Ridge strengths tried by item-grouped cross-validation on the training items."""
PCA_DIMS = 8
HOLDOUT_SHARE = 0.25
CV_FOLDS = 4
DIGITS = 8
"""Significant digits kept in the weights file."""

REQUIRED = ("item", "question", "text", "label")


@dataclass(frozen=True, slots=True)
class Row:
    """One labelled candidate; `item` groups the samples of one question (they are siblings)."""

    item: str
    candidate: Candidate
    label: int
    source: str


def read_rows(paths: Sequence[Path]) -> list[Row]:
    """Candidates of every JSONL file, sorted by (item, sample); one-line errors name file and line."""
    rows: list[tuple[str, int, Row]] = []
    for path in paths:
        if not path.is_file():
            raise LearnedWeightsError(
                f"training data {path} does not exist; make it with python benchmarks/make_verifier_data.py"
            )
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                missing = [k for k in REQUIRED if k not in rec]
                if missing or rec["label"] not in (0, 1, True, False):
                    raise ValueError(f"needs {', '.join(REQUIRED)} with label 0 or 1")
                logprobs = tuple(float(x) for x in rec.get("logprobs") or ()) or None
                candidate = Candidate(str(rec["question"]), str(rec["text"]), logprobs, rec.get("answer"))
            except (ValueError, TypeError) as exc:
                raise LearnedWeightsError(f"{path}, line {n}: not a labelled candidate ({exc})") from None
            item = str(rec["item"])
            source = item.split("/", 1)[0] if "/" in item else path.stem
            rows.append((item, int(rec.get("sample", n)), Row(item, candidate, int(rec["label"]), source)))
    rows.sort(key=lambda r: (r[0], r[1]))
    return [r for _, _, r in rows]


def split_items(rows: Sequence[Row], seed: int, share: float = HOLDOUT_SHARE) -> tuple[set[str], set[str]]:
    """(train items, holdout items): per source, a seeded shuffle of its sorted item ids."""
    by_source: dict[str, list[str]] = defaultdict(list)
    for item in sorted({r.item for r in rows}):
        by_source[item.split("/", 1)[0]].append(item)
    train: set[str] = set()
    holdout: set[str] = set()
    rng = random.Random(seed)
    for source in sorted(by_source):
        items = by_source[source]
        rng.shuffle(items)
        k = max(1, round(len(items) * share)) if len(items) > 1 else 0
        holdout.update(items[:k])
        train.update(items[k:])
    return train, holdout


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float, iterations: int = 50) -> tuple[np.ndarray, float]:
    """Ridge logistic regression by Newton's method (intercept not penalised)."""
    design = np.hstack([x, np.ones((len(x), 1))])
    w = np.zeros(design.shape[1])
    penalty = np.eye(design.shape[1]) * l2
    penalty[-1, -1] = 0.0
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-np.clip(design @ w, -40, 40)))
        grad = design.T @ (p - y) + penalty @ w
        hess = design.T @ (design * (p * (1 - p))[:, None]) + penalty + np.eye(len(w)) * 1e-9
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.max(np.abs(step)) < 1e-10:
            break
    return w[:-1], float(w[-1])


def _round(values: Sequence[float] | np.ndarray) -> list[float]:
    return [float(f"{v:.{DIGITS}g}") for v in np.asarray(values, dtype=np.float64).ravel()]


def _pca(embeddings: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    center = embeddings.mean(axis=0)
    _, _, vt = np.linalg.svd(embeddings - center, full_matrices=False)
    comps = vt[:dims]
    signs = np.sign(comps[np.arange(len(comps)), np.argmax(np.abs(comps), axis=1)])
    return center, comps * signs[:, None]


@dataclass(slots=True)
class Matrix:
    """Training columns for a subset of rows, built as the PRM builds them at scoring time."""

    dense: np.ndarray
    embeddings: np.ndarray | None


def _columns(rows: Sequence[Row], sets: Sequence[str], embeddings: np.ndarray | None) -> Matrix:
    """Dense columns computed per item, so `agreement` sees exactly that item's siblings."""
    dense = np.zeros((len(rows), len(feature_names([s for s in sets if s != "embedding"]))))
    groups: dict[str, list[int]] = defaultdict(list)
    for i, row in enumerate(rows):
        groups[row.item].append(i)
    for idx in groups.values():
        dense[idx] = dense_features([rows[i].candidate for i in idx], sets)
    return Matrix(dense, embeddings)


def _fit(m: Matrix, y: np.ndarray, sets: Sequence[str], l2: float, meta: dict[str, Any]) -> LearnedWeights:
    projection = None
    columns = m.dense
    if m.embeddings is not None:
        center, comps = _pca(m.embeddings, min(PCA_DIMS, max(1, len(y) - 1)))
        projection = EmbeddingProjection(
            model=meta["embedding_model"],
            model_sha256=meta["embedding_model_sha256"],
            center=_round(center),
            components=[_round(c) for c in comps],
        )
        columns = np.hstack([columns, projection.project(m.embeddings)])
    mean = columns.mean(axis=0)
    scale = columns.std(axis=0)
    scale[scale < 1e-9] = 1.0
    coef, intercept = fit_logistic((columns - mean) / scale, y, l2)
    names = feature_names(sets, len(projection.components) if projection else 0)
    return LearnedWeights(
        feature_sets=[s for s in ("structural", "confidence", "agreement", "embedding") if s in sets],
        features=names,
        mean=_round(mean),
        scale=_round(scale),
        coef=_round(coef),
        intercept=_round([intercept])[0],
        embedding=projection,
        meta={**{k: v for k, v in meta.items() if not k.startswith("embedding_")}, "l2": l2},
    )


def _subset(m: Matrix, idx: Sequence[int]) -> Matrix:
    return Matrix(m.dense[list(idx)], None if m.embeddings is None else m.embeddings[list(idx)])


def _predict(w: LearnedWeights, rows: Sequence[Row], m: Matrix) -> np.ndarray:
    columns = m.dense
    if w.embedding is not None:
        assert m.embeddings is not None
        columns = np.hstack([columns, w.embedding.project(m.embeddings)])
    return sigmoid(w.logits(columns))


def _choose_l2(
    rows: Sequence[Row], m: Matrix, y: np.ndarray, sets: Sequence[str], meta: dict[str, Any]
) -> float:
    """The ridge strength with the best mean AUROC over item-grouped folds (ties: the stronger)."""
    items = sorted({r.item for r in rows})
    random.Random(0).shuffle(items)
    fold_of = {item: i % CV_FOLDS for i, item in enumerate(items)}
    best, best_auc = L2_GRID[-1], -1.0
    for l2 in L2_GRID:
        aucs = []
        for fold in range(CV_FOLDS):
            tr = [i for i, r in enumerate(rows) if fold_of[r.item] != fold]
            te = [i for i, r in enumerate(rows) if fold_of[r.item] == fold]
            if len({int(y[i]) for i in tr}) < 2:
                continue
            w = _fit(_subset(m, tr), y[tr], sets, l2, meta)
            value = auroc(list(_predict(w, [rows[i] for i in te], _subset(m, te))), [int(y[i]) for i in te])
            if value is not None:
                aucs.append(value)
        mean_auc = sum(aucs) / len(aucs) if aucs else 0.0
        if mean_auc >= best_auc - 1e-12:
            best, best_auc = l2, mean_auc
    return best


def train(
    rows: Sequence[Row],
    *,
    sets: Sequence[str],
    seed: int,
    data_meta: dict[str, Any],
    embed: Callable[[list[str]], np.ndarray] | None = None,
    embedding_model: tuple[str, str] | None = None,
    trained_at: str | None = None,
) -> LearnedWeights:
    """Fit on the training items; the weights' meta records the holdout AUROC and selection figures.

    Args:
        embed: Text -> embedding rows, needed when `sets` has "embedding".
        embedding_model: (file name, sha256) of the GGUF behind `embed`.
    """
    unknown = set(sets) - {"structural", "confidence", "agreement", "embedding"}
    if unknown or not sets:
        raise LearnedWeightsError(
            f"unknown feature sets {sorted(unknown) or '(none given)'}; "
            "use structural,confidence,agreement,embedding"
        )
    train_items, holdout_items = split_items(rows, seed)
    tr = [r for r in rows if r.item in train_items]
    ho = [r for r in rows if r.item in holdout_items]
    y = np.asarray([r.label for r in tr], dtype=np.float64)
    if len(set(y.tolist())) < 2:
        raise LearnedWeightsError(
            "the training items hold only one label (all right or all wrong); add data with both"
        )
    embeddings = None
    meta: dict[str, Any] = {**data_meta, "seed": seed}
    if "embedding" in sets:
        if embed is None or embedding_model is None:
            raise LearnedWeightsError("the embedding feature set needs the embedded model (llama-cpp-python)")
        embeddings = embed([embed_text(r.candidate) for r in rows])
        meta["embedding_model"], meta["embedding_model_sha256"] = embedding_model
    index = {id(r): i for i, r in enumerate(rows)}
    full = _columns(rows, sets, embeddings)
    m_tr = _subset(full, [index[id(r)] for r in tr])
    m_ho = _subset(full, [index[id(r)] for r in ho])
    l2 = _choose_l2(tr, m_tr, y, sets, meta)
    weights = _fit(m_tr, y, sets, l2, meta)
    report = holdout_report(weights, ho, m_ho)
    weights.meta.update(
        trained_at=trained_at or datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        train_items=len(train_items),
        train_candidates=len(tr),
        train_right=int(y.sum()),
        holdout_items=len(holdout_items),
        holdout_candidates=len(ho),
        auroc_holdout=report["auroc"]["learned"],
        holdout=report,
    )
    return weights


def holdout_report(weights: LearnedWeights, rows: Sequence[Row], m: Matrix) -> dict[str, Any]:
    """AUROC of the learned head beside the confidence signals, and selection by source."""
    learned = [float(p) for p in _predict(weights, rows, m)]
    labels = [r.label for r in rows]
    conf = [confidence_features(r.candidate.logprobs) for r in rows]
    aucs = {
        "learned": _r(auroc(learned, labels)),
        "confidence_mean": _r(auroc([c[1] for c in conf], labels)),
        "confidence_lowest_window": _r(auroc([c[2] for c in conf], labels)),
    }
    by_source: dict[str, Any] = {}
    for source in sorted({r.source for r in rows}):
        idx = [i for i, r in enumerate(rows) if r.source == source]
        sub = [rows[i] for i in idx]
        by_source[source] = {
            "candidates": len(idx),
            "right": sum(r.label for r in sub),
            "auroc_learned": _r(auroc([learned[i] for i in idx], [labels[i] for i in idx])),
            "auroc_learned_ci95": auroc_ci(
                [learned[i] for i in idx], [labels[i] for i in idx], [r.item for r in sub]
            ),
            "auroc_confidence_mean": _r(auroc([conf[i][1] for i in idx], [labels[i] for i in idx])),
            "selection_n": max(
                (sum(1 for r in sub if r.item == it) for it in {r.item for r in sub}), default=0
            ),
            "selection": selection(sub, [learned[i] for i in idx]),
        }
    ci = auroc_ci(learned, labels, [r.item for r in rows])
    return {
        "candidates": len(rows),
        "right": sum(labels),
        "auroc": aucs,
        "auroc_learned_ci95": ci,
        "by_source": by_source,
    }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def scores_for(weights: LearnedWeights, rows: Sequence[Row], embeddings: np.ndarray | None) -> list[float]:
    """Scores of rows grouped by item, exactly as `LearnedPRM.score` computes them per sibling set."""
    out = [0.0] * len(rows)
    groups: dict[str, list[int]] = defaultdict(list)
    for i, r in enumerate(rows):
        groups[r.item].append(i)
    for idx in groups.values():
        emb = None if embeddings is None else embeddings[idx]
        for i, p in zip(idx, score_columns(weights, [rows[i].candidate for i in idx], emb), strict=True):
            out[i] = float(p)
    return out
