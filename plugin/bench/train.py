"""`ponder train-verifier`: fit the learned PRM on execution-labelled candidates and write its weights.

    ponder train-verifier                       # the shipped data -> checks against the shipped weights
    ponder train-verifier --data my.jsonl --out weights.json

Deterministic: the same data, features and seed give the same numbers, so the shipped file can be
reproduced (`--check` compares without writing). The weights are written atomically and an
existing file is kept unless `--force`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from ponder.plugin.cli import err_console, fail

DEFAULT_FEATURES = "structural,confidence,agreement"
_DATA_GLOB = "verifier_*.jsonl"


def _default_data() -> list[Path]:
    """The labelled sets made by benchmarks/make_verifier_data.py, in a source checkout."""
    import ponder

    folder = Path(ponder.__file__).resolve().parent.parent / "benchmarks" / "data"
    return sorted(folder.glob(_DATA_GLOB))


def _data_meta(paths: list[Path]) -> dict[str, Any]:
    from ponder.verifiers.learned import file_sha256

    combined = hashlib.sha256()
    files = {}
    for path in paths:
        files[path.name] = file_sha256(path)
        combined.update(bytes.fromhex(files[path.name]))
    return {"data": files, "data_sha256": combined.hexdigest()}


def _embedder() -> tuple[Any, tuple[str, str]]:
    """A cached text -> embedding function on the bundled model, and (model name, sha256)."""
    import numpy as np

    from ponder.backends.llama.model import resolve_model_path
    from ponder.verifiers._learned_features import Embedder
    from ponder.verifiers.learned import file_sha256

    path = resolve_model_path(None)
    model_sha = file_sha256(path)
    cache_file = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "ponder" / "learned_prm"
    cache_file = cache_file / f"embeddings-{model_sha[:16]}.npz"
    cache: dict[str, np.ndarray] = dict(np.load(cache_file)) if cache_file.is_file() else {}
    holder: list[Embedder] = []

    def embed(texts: list[str]) -> np.ndarray:
        keys = [hashlib.sha256(t.encode()).hexdigest() for t in texts]
        todo = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cache}.items())
        if todo:
            if not holder:
                holder.append(Embedder(path))
            err_console.print(f"embedding {len(todo)} texts with {path.name} (cached afterwards)")
            for (key, _), row in zip(todo, holder[0].embed([t for _, t in todo]), strict=True):
                cache[key] = row
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            np.savez(cache_file.with_suffix(".tmp.npz"), **cache)  # type: ignore[arg-type]
            os.replace(cache_file.with_suffix(".tmp.npz"), cache_file)
        return np.vstack([cache[k] for k in keys])

    return embed, (path.name, model_sha)


def write_atomically(path: Path, text: str) -> None:
    """Readers see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp makes it private; a weights file is package data
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _comparable(body: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in body.get("meta", {}).items() if k != "trained_at"}
    return {**body, "meta": meta}


def train_verifier(
    data: Annotated[
        list[Path] | None,
        typer.Option(
            "--data",
            help="Labelled candidates (JSONL, repeatable); default benchmarks/data/verifier_*.jsonl.",
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Weights file to write; default the shipped one in the package."),
    ] = None,
    features: Annotated[
        str, typer.Option("--features", help="Comma-separated: structural, confidence, agreement, embedding.")
    ] = DEFAULT_FEATURES,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the item split (train / set aside).")] = 0,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing weights file.")] = False,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Train, then compare with --out instead of writing (exit 1 if they differ)."
        ),
    ] = False,
) -> None:
    """Train the learned PRM on execution-labelled candidates; report AUROC on the items set aside."""
    from ponder.verifiers._learned_train import read_rows, train
    from ponder.verifiers.learned import shipped_weights_path

    paths = data or _default_data()
    if not paths:
        fail(
            "no training data: pass --data FILE.jsonl (make one with python benchmarks/make_verifier_data.py)"
        )
    target = out or shipped_weights_path()
    if target.exists() and not (force or check):
        fail(f"{target} exists; pass --force to overwrite it, or --out another file")
    sets = [s.strip() for s in features.split(",") if s.strip()]
    embed, model = _embedder() if "embedding" in sets else (None, None)
    rows = read_rows(paths)
    weights = train(
        rows, sets=sets, seed=seed, data_meta=_data_meta(paths), embed=embed, embedding_model=model
    )
    text = weights.to_json()
    _print_report(weights.meta)
    if check:
        if not target.is_file():
            fail(f"--check: {target} does not exist")
        same = _comparable(json.loads(text)) == _comparable(json.loads(target.read_text(encoding="utf-8")))
        typer.echo(f"{'same as' if same else 'DIFFERS from'} {target}")
        raise typer.Exit(0 if same else 1)
    write_atomically(target, text)
    typer.echo(f"wrote {target}")


def _print_report(meta: dict[str, Any]) -> None:
    report = meta["holdout"]
    typer.echo(
        f"trained on {meta['train_candidates']} candidates of {meta['train_items']} items "
        f"({meta['train_right']} right); set aside {meta['holdout_candidates']} of "
        f"{meta['holdout_items']} items"
    )
    aucs = "  ".join(f"{k}={_fmt(v)}" for k, v in report["auroc"].items())
    typer.echo(
        f"holdout AUROC, sources pooled: {aucs}  (learned 95% CI by item {report['auroc_learned_ci95']})"
    )
    for source, row in report["by_source"].items():
        sel = row["selection"]
        typer.echo(
            f"  {source}: {row['candidates']} candidates, {row['right']} right, AUROC learned="
            f"{_fmt(row['auroc_learned'])} {row['auroc_learned_ci95']} "
            f"confidence={_fmt(row['auroc_confidence_mean'])}; "
            f"at N={row['selection_n']} over {sel['items']} items: majority {sel['majority']['right']}, "
            f"weighted {sel['weighted']['right']}, best-of-N {sel['best_of_n']['right']}, "
            f"any right {sel['oracle']['right']}"
        )


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def register(app: typer.Typer) -> None:
    app.command("train-verifier")(train_verifier)
