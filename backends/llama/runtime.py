"""A thin, typed layer over llama.cpp's C API (through llama-cpp-python's ctypes bindings).

We use the low-level API instead of `llama_cpp.Llama` because prefix reuse needs several KV
sequences in one context (`llama_memory_seq_cp` shares cells between sequences, so forking a
parent costs nothing) and batched decoding of sibling samples; the high-level class keeps a
single sequence. Everything here is synchronous and not thread-safe: the caller serialises.
"""

from __future__ import annotations

import ctypes
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np

from ponder.backends.errors import BackendConfigError, BackendError
from ponder.backends.llama.weights import (
    UNPADDED_FTYPES,
    WeightsMode,
    bf16_copy,
    build_has_bf16_kernel,
    wants_bf16,
)

# The `local` extra is optional: without it this module still imports (the package's lazy names
# reach it) and `LlamaRuntime` refuses to start with the install hint. Type checkers see a plain
# import, so every call below is checked against llama-cpp-python's own annotations; at run time
# the name is None only when `_LLAMA_CPP_MISSING` says why, and `_require_llama_cpp` (the first
# thing `LlamaRuntime` does) is the one place that looks.
_LLAMA_CPP_MISSING: str | None = None
if TYPE_CHECKING:
    import llama_cpp
else:
    try:
        import llama_cpp
    except ImportError as exc:  # pragma: no cover - exercised only without the `local` extra
        llama_cpp = None
        _LLAMA_CPP_MISSING = str(exc)

# llama-cpp-python routes llama.cpp's log through this logger. Keep it off stderr: load chatter is
# noise, and the failures it reports (e.g. a full KV cache, which we handle by evicting) reach the
# caller as BackendErrors that name the setting to change.
logging.getLogger("llama-cpp-python").setLevel(logging.CRITICAL)


class KvFullError(BackendError):
    """The KV cache has no free cells for a batch; the caller evicts cached sequences and retries."""


@dataclass(frozen=True, slots=True)
class DecodeItem:
    """One token to evaluate: which sequence, at which position, and whether we need its logits."""

    token: int
    pos: int
    seq_id: int
    logits: bool


def _available_cores() -> int:
    """Cores this process may run on (affinity-aware, unlike os.cpu_count())."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _require_llama_cpp() -> None:
    if _LLAMA_CPP_MISSING is not None:
        raise BackendConfigError(
            f"the embedded engine needs llama-cpp-python ({_LLAMA_CPP_MISSING}); "
            "install it with pip install 'ponder[local]'"
        )


def _token_id(value: int | ctypes.c_int32) -> int:
    """A token id from a binding annotated as returning `llama_token` (c_int32): ctypes hands back a
    plain int for that result type, but the annotation allows the ctypes object too."""
    return value if isinstance(value, int) else value.value


def _load_model(path: Path) -> llama_cpp.llama_model_p:
    """The model on the CPU, in the file's own weight layouts."""
    mparams = llama_cpp.llama_model_default_params()
    mparams.n_gpu_layers = 0
    # No "extra" buffer types (repacked weight layouts, AMX tiles). Repacking gives multi-row
    # matmuls other kernels than one-row ones, so a token's logits would depend on how many rows
    # its decode carried; the bundled Q4_1 model's tied embedding/output tensor is Q8_0, which is
    # repacked on AVX2 CPUs (greedy output then changed with the prefix cache, seen on an AMD
    # EPYC VM). And ggml's AMX kernels crash on VMs that advertise AMX without being able to run it.
    mparams.use_extra_bufts = False
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), mparams)
    if not model:
        raise BackendConfigError(
            f"llama.cpp could not load {path}; check that it is a GGUF model file (PONDER_BACKEND_MODEL_PATH)"
        )
    return model


class LlamaRuntime:
    """One loaded model and one context with `n_seq` KV sequences sharing a unified cell pool."""

    def __init__(
        self,
        model_path: Path,
        *,
        n_ctx: int,
        n_seq: int,
        n_threads: int | None = None,
        n_batch: int = 512,
        weights: WeightsMode = "auto",
    ) -> None:
        _require_llama_cpp()
        llama_cpp.llama_backend_init()
        # Half the cores, as llama.cpp itself defaults: its worker threads spin-wait on each other,
        # so claiming every core collapses throughput (measured here: 0.85 vs 14 tokens/s) as soon
        # as anything else (a sandbox run, a second model process) needs a core.
        threads = n_threads or max(1, _available_cores() // 2)
        model = _load_model(model_path)
        self.weights_path = model_path
        """The file whose tensors are used: `model_path` or its BF16 copy (see `weights`)."""
        has_kernel = build_has_bf16_kernel(llama_cpp.llama_print_system_info())
        ftype = llama_cpp.llama_model_ftype(model)
        if wants_bf16(
            weights, has_kernel=has_kernel, ftype=ftype, n_params=llama_cpp.llama_model_n_params(model)
        ):
            llama_cpp.llama_model_free(model)
            self.weights_path = bf16_copy(model_path, threads=threads)
            model = _load_model(self.weights_path)
        self._model = model
        cparams = llama_cpp.llama_context_default_params()
        cparams.n_ctx = n_ctx
        cparams.n_batch = n_batch
        cparams.n_ubatch = n_batch
        cparams.kv_unified = True  # one cell pool: a prefix shared by siblings is stored once
        cparams.n_threads = threads
        cparams.n_threads_batch = threads
        cparams.no_perf = True
        # llama.cpp computes a decode of one token (or with one output row) with other kernels than
        # a decode of two or more, which round differently: a token's logits would depend on how many
        # siblings shared its step, and `seed + i` would stop reproducing sample i. Q4_1 weights are
        # the exception (bit-identical, checked); with others, the BF16 copy included, every decode
        # carries at least two rows and two outputs (`_rows_for`). Attention stays llama.cpp's default,
        # its flash kernel: it skips other sequences' cells instead of summing their zeros, so a result
        # does not depend on where in the shared KV pool earlier calls left their cells (plain
        # attention's does).
        self._pad = llama_cpp.llama_model_ftype(model) not in UNPADDED_FTYPES
        self._scratch_seq = n_seq
        """KV sequence of the padding row; outside the prefix cache's 0..n_seq-1, emptied after use."""
        cparams.n_seq_max = n_seq + 1
        ctx = llama_cpp.llama_init_from_model(model, cparams)
        if not ctx:
            llama_cpp.llama_model_free(model)
            raise BackendConfigError(
                f"llama.cpp could not create a context of {n_ctx} tokens for {model_path}; "
                "lower PONDER_BACKEND_N_CTX"
            )
        mem = llama_cpp.llama_get_memory(ctx)
        vocab = llama_cpp.llama_model_get_vocab(model)
        if not mem or not vocab:
            llama_cpp.llama_free(ctx)
            llama_cpp.llama_model_free(model)
            raise BackendConfigError(
                f"llama.cpp loaded {model_path} without a KV memory or a vocabulary; check that the "
                "GGUF file is complete (PONDER_BACKEND_MODEL_PATH)"
            )
        self._ctx = ctx
        self._mem = mem
        self._vocab = vocab
        self._closed = False
        self.n_vocab: int = llama_cpp.llama_vocab_n_tokens(self._vocab)
        self.n_ctx: int = llama_cpp.llama_n_ctx(ctx)
        self.n_seq: int = n_seq
        self.n_batch: int = n_batch
        self.n_threads: int = threads
        self.add_bos: bool = bool(llama_cpp.llama_vocab_get_add_bos(self._vocab))
        self.bos_id: int = _token_id(llama_cpp.llama_vocab_bos(self._vocab))
        self.eos_id: int = _token_id(llama_cpp.llama_vocab_eos(self._vocab))
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._pieces: dict[int, bytes] = {}
        self.path = model_path

    # ---- vocabulary -------------------------------------------------------------------------

    def tokenize(self, text: str, *, add_bos: bool = False) -> list[int]:
        """Token ids of `text`; special-token text such as `<|im_start|>` maps to its id."""
        data = text.encode("utf-8")
        cap = len(data) + 8
        buf = (llama_cpp.llama_token * cap)()
        n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buf, cap, add_bos, True)
        if n < 0:  # buffer too small: -n is the size needed
            cap = -n
            buf = (llama_cpp.llama_token * cap)()
            n = llama_cpp.llama_tokenize(self._vocab, data, len(data), buf, cap, add_bos, True)
        return list(buf[:n])

    def piece(self, token: int) -> bytes:
        """Bytes of one token (special tokens rendered as their text); may be a partial UTF-8 char."""
        cached = self._pieces.get(token)
        if cached is not None:
            return cached
        buf = ctypes.create_string_buffer(64)
        n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, 64, 0, True)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llama_cpp.llama_token_to_piece(self._vocab, token, buf, -n, 0, True)
        out = buf.raw[:n]
        self._pieces[token] = out
        return out

    def detokenize(self, tokens: Sequence[int]) -> str:
        return b"".join(self.piece(t) for t in tokens).decode("utf-8", errors="replace")

    def is_eog(self, token: int) -> bool:
        return bool(llama_cpp.llama_vocab_is_eog(self._vocab, token))

    def metadata(self, key: str) -> str | None:
        """A GGUF metadata value as text, or None when the key is absent."""
        size = 1 << 16
        while True:
            buf = ctypes.create_string_buffer(size)
            # The binding annotates `buf` as bytes, but C writes into it: it must get this mutable
            # char array (its sibling `llama_model_meta_val_str_by_index` is annotated so).
            n = llama_cpp.llama_model_meta_val_str(self._model, key.encode(), cast(bytes, buf), size)
            if n < 0:
                return None
            if n < size:
                return buf.value.decode("utf-8", errors="replace")
            size = n + 1

    # ---- KV sequences ----------------------------------------------------------------------

    def seq_rm(self, seq_id: int, p0: int = 0, p1: int = -1) -> None:
        """Drop positions [p0, p1) of `seq_id` (p1 = -1: to the end)."""
        llama_cpp.llama_memory_seq_rm(self._mem, seq_id, p0, p1)

    def seq_cp(self, src: int, dst: int, p0: int, p1: int) -> None:
        """Make `dst` share the cells of `src` at positions [p0, p1) (no tensor copy)."""
        llama_cpp.llama_memory_seq_cp(self._mem, src, dst, p0, p1)

    # ---- evaluation ------------------------------------------------------------------------

    def decode(self, items: Sequence[DecodeItem]) -> list[np.ndarray]:
        """Evaluate `items` (at most n_batch) and return the logits of those that asked, in order."""
        if not items:
            return []
        if len(items) > self.n_batch:
            raise ValueError(f"decode got {len(items)} tokens, more than n_batch={self.n_batch}")
        rows, outputs = self._rows_for(items)
        batch = self._batch
        for i, (item, output) in enumerate(zip(rows, outputs, strict=True)):
            batch.token[i] = item.token
            batch.pos[i] = item.pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = item.seq_id
            batch.logits[i] = 1 if output else 0
        batch.n_tokens = len(rows)
        try:
            rc = llama_cpp.llama_decode(self._ctx, batch)
        finally:
            if len(rows) > len(items):
                self.seq_rm(self._scratch_seq)
        if rc == 1:
            raise KvFullError("KV cache full")
        if rc != 0:
            raise BackendError(f"llama_decode failed with code {rc} for {self.path}")
        out = []
        for i, item in enumerate(items):
            if item.logits:
                ptr = llama_cpp.llama_get_logits_ith(self._ctx, i)
                out.append(np.ctypeslib.as_array(ptr, shape=(self.n_vocab,)).copy())
        return out

    def _rows_for(self, items: Sequence[DecodeItem]) -> tuple[list[DecodeItem], list[bool]]:
        """The batch rows and their output flags: `items`, padded where the kernels need it.

        With padding on, a lone token gets a companion at position 0 of the scratch sequence, and
        a lone output a second one (the companion, or the row before it), whose logits are dropped.
        """
        rows = list(items)
        outputs = [item.logits for item in items]
        if not self._pad:
            return rows, outputs
        if len(rows) == 1:
            rows.append(DecodeItem(items[0].token, 0, self._scratch_seq, items[0].logits))
            outputs.append(items[0].logits)
        if sum(outputs) == 1:
            lone = outputs.index(True)
            outputs[lone - 1 if lone > 0 else lone + 1] = True
        return rows, outputs

    def close(self) -> None:
        """Free the context and the model; the runtime is unusable afterwards."""
        if not self._closed:
            self._closed = True
            llama_cpp.llama_batch_free(self._batch)
            llama_cpp.llama_free(self._ctx)
            llama_cpp.llama_model_free(self._model)
