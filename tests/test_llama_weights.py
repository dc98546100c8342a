"""Which weights the embedded engine multiplies with, and the BF16 copy it makes of a GGUF.

The decision is checked without a model (CPU flags, the build's kernels, the file type, the
size cap); the copy itself against the real SmolLM2 file: written once and reused, and giving
the logits of the GGUF's own weights to within what llama.cpp's Q4_1 path itself rounds away.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from ponder.backends.errors import BackendConfigError
from ponder.backends.llama.weights import (
    AUTO_MAX_BF16_BYTES,
    bf16_copy,
    build_has_bf16_kernel,
    wants_bf16,
)

Q4_1, F16, BF16 = 3, 1, 32  # llama.cpp file types


def test_bf16_kernel_is_read_from_the_build_info() -> None:
    assert build_has_bf16_kernel(b"CPU : AVX2 = 1 | AVX512 = 1 | AVX512_BF16 = 1 | REPACK = 1 |")
    assert not build_has_bf16_kernel(b"CPU : AVX2 = 1 | AVX512 = 1 | REPACK = 1 |")


@pytest.mark.parametrize(
    ("mode", "has_kernel", "ftype", "n_params", "expected"),
    [
        ("auto", True, Q4_1, 135_000_000, True),
        ("auto", False, Q4_1, 135_000_000, False),  # no tiled BF16 kernel: the 4-bit path is faster
        ("auto", True, F16, 135_000_000, False),  # already 16-bit
        ("auto", True, BF16, 135_000_000, False),
        ("auto", True, Q4_1, AUTO_MAX_BF16_BYTES // 2 + 1, False),  # large: bandwidth-bound, keep 4 bits
        ("gguf", True, Q4_1, 135_000_000, False),
        ("bf16", False, F16, 7_000_000_000, True),  # asked for explicitly
    ],
)
def test_weights_decision(mode: str, has_kernel: bool, ftype: int, n_params: int, expected: bool) -> None:
    assert wants_bf16(mode, has_kernel=has_kernel, ftype=ftype, n_params=n_params) is expected  # type: ignore[arg-type]


def test_an_unwritable_cache_names_the_fixes(tmp_path: Path) -> None:
    source = tmp_path / "model.gguf"
    source.write_bytes(b"GGUF")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(BackendConfigError, match=r"XDG_CACHE_HOME.*PONDER_BACKEND_WEIGHTS=gguf"):
        bf16_copy(source, threads=1, folder=blocker / "gguf")


def _log_softmax(rows: np.ndarray) -> np.ndarray:
    shifted = rows - rows.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


@pytest.mark.model
def test_bf16_copy_is_made_once_and_keeps_the_models_logits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("llama_cpp")
    from ponder.backends.llama.model import default_model_path
    from ponder.backends.llama.runtime import DecodeItem, LlamaRuntime

    source = default_model_path()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    copy = bf16_copy(source, threads=1)
    assert copy.parent == tmp_path / "ponder" / "gguf"
    stamp = copy.stat().st_mtime_ns
    assert bf16_copy(source, threads=1) == copy and copy.stat().st_mtime_ns == stamp
    assert not [p for p in os.listdir(copy.parent) if p.endswith(".partial")]

    logp = {}
    for mode in ("gguf", "bf16"):
        rt = LlamaRuntime(source, n_ctx=512, n_seq=1, n_threads=1, weights=mode)  # type: ignore[arg-type]
        assert rt.weights_path == (source if mode == "gguf" else copy)
        ids = rt.tokenize("def add(a, b):\n    return a + b\n\nprint(add(2, 3))", add_bos=rt.add_bos)
        rows = rt.decode([DecodeItem(t, i, 0, True) for i, t in enumerate(ids)])
        logp[mode] = _log_softmax(np.stack(rows).astype(np.float64))
        rt.close()
    kl = (np.exp(logp["gguf"]) * (logp["gguf"] - logp["bf16"])).sum(axis=1)
    # Measured 3e-3 nats a token on HumanEval prompts, nearly all of it the Q4_1 path's 8-bit
    # rounding of activations; a broken copy (a wrong tensor, lost scales) is off by whole nats.
    assert float(kl.mean()) < 0.03


@pytest.mark.model
@pytest.mark.parametrize("mode", ["gguf", "bf16"])
def test_a_tokens_logits_do_not_depend_on_its_batch(mode: str) -> None:
    """Alone, beside siblings, or inside a prefill: bit-identical logits, so `seed + i` reproduces."""
    pytest.importorskip("llama_cpp")
    from ponder.backends.llama.model import default_model_path
    from ponder.backends.llama.runtime import DecodeItem, LlamaRuntime

    rt = LlamaRuntime(default_model_path(), n_ctx=1024, n_seq=4, n_threads=1, weights=mode)  # type: ignore[arg-type]
    try:
        ids = rt.tokenize("<|im_start|>user\nName three colours.<|im_end|>\n<|im_start|>assistant\nRed,")
        n = len(ids)
        [in_prefill] = rt.decode([DecodeItem(t, i, 0, i == n - 1) for i, t in enumerate(ids)])
        for seq in (1, 2, 3):
            rt.seq_cp(0, seq, 0, n - 1)
        [alone] = rt.decode([DecodeItem(ids[-1], n - 1, 1, True)])
        rt.seq_rm(1, n - 1)
        siblings = rt.decode([DecodeItem(ids[-1], n - 1, seq, True) for seq in (1, 2, 3)])
    finally:
        rt.close()
    assert np.array_equal(alone, in_prefill)
    assert all(np.array_equal(alone, row) for row in siblings)
