"""The learned PRM: training on a tiny labelled set, the weights file, `[prm] kind="learned"` and
`ponder train-verifier`. The tiny set is built here, so nothing depends on what the model writes."""

from __future__ import annotations

import asyncio
import datetime
import json
from pathlib import Path
from typing import cast

import pytest
from typer.testing import CliRunner

from ponder.backends.base import BaseBackend
from ponder.plugin.bench import train as cli_train
from ponder.verifiers import Chain, VerifyTask
from ponder.verifiers._learned_train import read_rows, split_items, train
from ponder.verifiers.learned import (
    LearnedPRM,
    LearnedWeightsError,
    file_sha256,
    load_weights,
    shipped_weights_path,
)
from ponder.verifiers.prm import PrmSettings, make_prm
from tests._cli import command_app

GOOD = "We add them: {a} + {b} = {s}.\n\nAnswer: {s}"
BAD_SUM = "We add them: {a} + {b} = {w}.\n\nAnswer: {w}"
COPY = "The number is {a}. So {a} {a} {a}.\n\nThe number is {a}."


def _tiny_rows(items: int = 12) -> list[dict[str, object]]:
    """Per item two right samples (arithmetic holds) and two wrong ones (it does not, or it rambles)."""
    rows: list[dict[str, object]] = []
    for i in range(items):
        a, b = 3 + i % 7, 2 + (i * 5) % 6
        q = f"Ana has {a} apples and gets {b} more. How many apples does she have?"
        texts = [
            (GOOD.format(a=a, b=b, s=a + b), 1, -0.2),
            (GOOD.format(a=a, b=b, s=a + b) + " apples", 1, -0.4),
            (BAD_SUM.format(a=a, b=b, w=a + b + 2 + i % 3), 0, -0.9),
            (COPY.format(a=a), 0, -1.5),
        ]
        for s, (text, label, lp) in enumerate(texts):
            rows.append(
                {
                    "item": f"tiny/{i}",
                    "sample": s,
                    "question": q,
                    "text": text,
                    "logprobs": [lp, lp - 0.1],
                    "label": label,
                }
            )
    return rows


@pytest.fixture
def tiny_data(tmp_path: Path) -> Path:
    path = tmp_path / "verifier_tiny.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in _tiny_rows()), encoding="utf-8")
    return path


NO_BACKEND = cast(BaseBackend, None)
"""The learned PRM runs on its own embedding context, never on the generation backend."""


def _task() -> VerifyTask:
    return VerifyTask(kind="math", question="Ben has 4 apples and gets 5 more. How many apples does he have?")


GOOD_CHAIN = Chain(steps=("We add them: 4 + 5 = 9.", "Answer: 9"), terminal=True, step_logprobs=(-0.2, -0.3))
BAD_CHAIN = Chain(steps=("We add them: 4 + 5 = 12.", "Answer: 12"), terminal=True, step_logprobs=(-0.9, -1.0))


def _train_file(path: Path, out: Path, *extra: str) -> object:
    app = command_app(cli_train)
    return CliRunner().invoke(app, ["train-verifier", "--data", str(path), "--out", str(out), *extra])


def test_training_on_a_tiny_set_ranks_good_above_bad(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.json"
    result = _train_file(tiny_data, out)
    assert result.exit_code == 0, result.output
    assert "holdout AUROC" in result.output
    prm = LearnedPRM(weights_path=out)
    good, bad = asyncio.run(prm.score(_task(), [GOOD_CHAIN, BAD_CHAIN]))
    assert good.score > bad.score
    assert good.gate == bad.gate == "unknown"  # a PRM orders, it never gates
    assert good.evidence["weights"] == prm.weights.meta["data_sha256"]


def test_weights_record_their_data_hash_date_features_and_holdout(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.json"
    assert _train_file(tiny_data, out).exit_code == 0
    weights = load_weights(out)
    meta = weights.meta
    assert meta["data"] == {tiny_data.name: file_sha256(tiny_data)}
    assert len(meta["data_sha256"]) == 64
    assert datetime.datetime.fromisoformat(meta["trained_at"]).tzinfo is not None
    assert weights.features[:2] == ["log_chars", "log_paragraphs"] and "sibling_agreement" in weights.features
    assert len(weights.coef) == len(weights.features)
    # The split is by item, made before training: no item is on both sides.
    train_items, holdout = split_items(read_rows([tiny_data]), seed=0)
    assert not train_items & holdout and meta["holdout_items"] == len(holdout) == 3
    assert meta["holdout"]["auroc"]["learned"] == meta["auroc_holdout"] >= 0.75


def test_train_verifier_is_deterministic_atomic_and_keeps_an_existing_file(
    tiny_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "w.json"
    assert _train_file(tiny_data, out).exit_code == 0
    before = out.read_text()
    refused = _train_file(tiny_data, out)
    assert refused.exit_code == 2 and "--force" in refused.output
    assert out.read_text() == before
    assert _train_file(tiny_data, out, "--check").exit_code == 0  # same data, same numbers
    assert _train_file(tiny_data, out, "--force").exit_code == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["verifier_tiny.jsonl", "w.json"]  # no temp left
    assert out.stat().st_mode & 0o777 == 0o644  # readable package data, not mkstemp's private mode
    changed = tmp_path / "other.jsonl"
    rows = _tiny_rows()
    rows[0]["label"] = 0
    changed.write_text("".join(json.dumps(r) + "\n" for r in rows))
    differs = _train_file(changed, out, "--check")
    assert differs.exit_code == 1 and "DIFFERS" in differs.output


def test_bad_training_data_is_one_line_naming_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"item": "x/1", "question": "q", "text": "t"}\n')
    result = _train_file(path, tmp_path / "w.json")
    assert result.exit_code != 0
    assert isinstance(result.exception, LearnedWeightsError)
    assert f"{path}, line 1" in str(result.exception) and "label" in str(result.exception)


def test_one_label_only_is_refused(tmp_path: Path) -> None:
    rows = [dict(r, label=0) for r in _tiny_rows()]
    with pytest.raises(LearnedWeightsError, match="only one label"):
        path = tmp_path / "zero.jsonl"
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
        train(read_rows([path]), sets=["structural"], seed=0, data_meta={})


def test_a_broken_weights_file_says_how_to_fix_it(tmp_path: Path) -> None:
    path = tmp_path / "w.json"
    path.write_text('{"format": "something-else"}')
    with pytest.raises(LearnedWeightsError, match="train-verifier"):
        load_weights(path)
    with pytest.raises(LearnedWeightsError, match="do not exist"):
        load_weights(tmp_path / "missing.json")


def test_prm_kind_learned_builds_the_verifier(tiny_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "w.json"
    assert _train_file(tiny_data, out).exit_code == 0
    settings = PrmSettings.model_validate({"kind": "learned", "weights": str(out)})
    prm = make_prm(settings, backend=NO_BACKEND)
    assert isinstance(prm, LearnedPRM) and prm.weights.meta["data"] == {
        tiny_data.name: file_sha256(tiny_data)
    }
    shipped = make_prm(PrmSettings(kind="learned"), backend=NO_BACKEND)
    assert isinstance(shipped, LearnedPRM)


def test_shipped_weights_load_and_are_reproduced_from_the_shipped_data() -> None:
    weights = load_weights()
    assert weights.meta["auroc_holdout"] is not None
    if "embedding" in weights.feature_sets:
        pytest.skip("reproducing embedding features needs the model (see the model-marked test)")
    data = cli_train._default_data()
    if not data:
        pytest.skip("no benchmarks/data in this installation")
    assert {p.name: file_sha256(p) for p in data} == weights.meta["data"]
    app = command_app(cli_train)
    result = CliRunner().invoke(app, ["train-verifier", "--check", "--out", str(shipped_weights_path())])
    assert result.exit_code == 0, result.output


@pytest.mark.model
@pytest.mark.slow
def test_embedding_features_train_and_rank(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "w.json"
    result = _train_file(tiny_data, out, "--features", "structural,embedding")
    assert result.exit_code == 0, result.output
    weights = load_weights(out)
    assert weights.embedding is not None and weights.features[-1].startswith("emb_")

    async def scores() -> list[float]:
        prm = LearnedPRM(weights)
        try:
            return [s.score for s in await prm.score(_task(), [GOOD_CHAIN, BAD_CHAIN])]
        finally:
            await prm.aclose()

    good, bad = asyncio.run(scores())
    assert good > bad


def test_weighted_and_majority_picks_are_paired_item_by_item() -> None:
    """Two wrong samples agree on 7 and one right sample says 9: majority voting picks 7, a PRM
    that scores the right one high picks 9 by weight; the per-item picks carry both, so the
    benchmark can test them paired (McNemar) rather than by totals."""
    from ponder.verifiers._learned_eval import item_picks, selection
    from ponder.verifiers._learned_features import Candidate
    from ponder.verifiers._learned_train import Row

    def row(item: str, answer: str, label: int) -> Row:
        return Row(item, Candidate("q", f"Answer: {answer}", answer=answer), label, "gsm8k")

    rows = [row("a", "7", 0), row("a", "7", 0), row("a", "9", 1), row("b", "4", 1), row("b", "5", 0)]
    scores = [0.1, 0.1, 0.9, 0.8, 0.2]
    picks = item_picks(rows, scores)
    assert picks["majority"] == [False, True]
    assert picks["weighted"] == [True, True]
    assert picks["oracle"] == [True, True]
    sel = selection(rows, scores)
    assert (sel["majority"]["right"], sel["weighted"]["right"], sel["items"]) == (1, 2, 2)
