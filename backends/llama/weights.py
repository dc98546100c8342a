"""Which weights the embedded engine multiplies with: the GGUF's own, or a BF16 copy of them.

Sibling samples decode as one batch, so each weight should be read once for all of them. On x86,
llama.cpp has no batched kernel for the bundled model's Q4_1 type: it runs one dot product per
row and token, and eight tokens cost 7x one token (CPU time on one core: 8.8 ms for one, 61.5 ms
for eight). Its tiled BF16 kernel (AVX512-BF16) keeps weights in registers across tokens: 14.8
ms for one, 43.2 ms for eight, and prompt prefill gets faster too; a lone token is slower, since
it reads 2.8x the bytes. The BF16 copy is not a coarser
model: against the exact dequantised weights (F32 weights and activations), its logits differ by
a mean KL of 1.3e-4 nats per token, while llama.cpp's own Q4_1 path, which rounds activations to
8 bits, differs by 3.2e-3 (4 HumanEval prompts, 439 positions).

`auto` takes the copy only where it pays: the build has the BF16 kernel, the GGUF's weights are
quantised, and the copy is small (a large model is bound by memory bandwidth, where the 4-bit
file wins). The copy is written once, next to other caches (`$XDG_CACHE_HOME/ponder/gguf`), named
by the source's path, size and modification time, and written under a temporary name first so
that processes starting together never load a half-written file.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
from pathlib import Path
from typing import Literal

from ponder.backends.errors import BackendConfigError

WeightsMode = Literal["auto", "gguf", "bf16"]
"""`gguf`: the file's own tensors; `bf16`: always the BF16 copy; `auto`: the copy where it pays."""

AUTO_MAX_BF16_BYTES = 1 << 30
"""`auto` keeps the GGUF's own weights when the BF16 copy would exceed this (about 500M parameters)."""

UNPADDED_FTYPES = frozenset({3})
"""File types whose one-token decode is bit-identical to the same token in a larger batch (Q4_1,
checked: its x86 kernels do one dot product per row and token whatever the batch). For every other
type the runtime pads decodes to two rows, since llama.cpp's tiled and repacked kernels handle one
row by another code path."""

_WIDE_FTYPES = frozenset({0, 1, 32})
"""llama.cpp file types whose weights are already 16/32-bit (ALL_F32, MOSTLY_F16, MOSTLY_BF16)."""


def build_has_bf16_kernel(system_info: bytes) -> bool:
    """Whether this llama.cpp build runs BF16 matmuls with AVX512-BF16 (from its system info line)."""
    return b"AVX512_BF16 = 1" in system_info


def wants_bf16(mode: WeightsMode, *, has_kernel: bool, ftype: int, n_params: int) -> bool:
    """The decision for one loaded model; `ftype` is llama.cpp's file type (`llama_model_ftype`)."""
    if mode == "gguf":
        return False
    if mode == "bf16":
        return True
    return has_kernel and ftype not in _WIDE_FTYPES and 2 * n_params <= AUTO_MAX_BF16_BYTES


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "ponder" / "gguf"


def bf16_copy(source: Path, *, threads: int, folder: Path | None = None) -> Path:
    """The BF16 copy of `source`, converted with llama.cpp's own quantiser on first use."""
    stat = source.stat()
    key = hashlib.sha256(f"{source.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:16]
    target = (folder or cache_dir()) / f"{source.stem}-{key}.bf16.gguf"
    if target.is_file():
        return target
    import llama_cpp

    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unwritable(target, exc) from None
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_BF16
    params.allow_requantize = True  # dequantise each tensor, then store it as BF16
    params.nthread = threads
    rc = llama_cpp.llama_model_quantize(str(source).encode(), str(partial).encode(), ctypes.pointer(params))
    if rc != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise _unwritable(target, OSError(f"llama_model_quantize returned {rc}"))
    os.replace(partial, target)
    return target


def _unwritable(target: Path, exc: OSError) -> BackendConfigError:
    return BackendConfigError(
        f"could not write the BF16 copy of the model to {target} ({exc}); free disk space, set "
        "XDG_CACHE_HOME to a writable folder, or set PONDER_BACKEND_WEIGHTS=gguf"
    )
