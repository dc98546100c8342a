"""EmbeddedBackend: llama.cpp in-process on the CPU, the default that works offline.

The model is not thread-safe, so every call that touches the context runs on one dedicated
worker thread (a single-thread executor): requests are serialised across tasks *and* event
loops, and the event loop stays responsive while a batch decodes. Cancelling the awaiting task
sets a flag the worker checks before every evaluation, so it stops within one token and the next
queued call starts promptly. Prefix reuse lives in the engine (see `_llama_engine`,
`_prefix_cache`); `Usage.cached_tokens` counts prompt tokens that were not evaluated again.

`Completion.token_ids` are all sampled tokens, including those of a matched stop string and the
end-of-turn token, while `text` excludes both: `prompt_token_ids + token_ids` is then exactly
what the engine holds in its KV cache, so a child continuing by token ids reuses all of it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ponder.backends._chat_template import ChatTemplate
from ponder.backends.base import (
    BaseBackend,
    Capabilities,
    ChatMessage,
    Completion,
    GenerationRequest,
    Usage,
)
from ponder.backends.errors import BackendConfigError
from ponder.backends.llama.engine import LlamaEngine, PreparedRequest
from ponder.backends.llama.model import resolve_model_path
from ponder.backends.llama.runtime import LlamaRuntime
from ponder.backends.settings import BackendSettings

DEFAULT_N_SEQ = 16
"""KV sequences kept at once: samples decoded together per wave, and cached prefixes to reuse."""


class EmbeddedBackend(BaseBackend):
    """SmolLM2-135M-Instruct (or any GGUF) through llama.cpp, with KV prefix reuse across calls."""

    name = "embedded"

    def __init__(self, settings: BackendSettings | None = None, *, n_seq: int = DEFAULT_N_SEQ) -> None:
        settings = settings or BackendSettings()
        if n_seq < 1:
            raise BackendConfigError(f"n_seq must be at least 1, got {n_seq}")
        path = resolve_model_path(settings.model_path)
        self.model_path: Path = path
        self._runtime = LlamaRuntime(
            path, n_ctx=settings.n_ctx, n_seq=n_seq, n_threads=settings.n_threads, weights=settings.weights
        )
        self._engine = LlamaEngine(self._runtime, reuse_prefixes=settings.cache_mb > 0)
        self._template = ChatTemplate(
            self._runtime.metadata("tokenizer.chat_template"),
            bos_token=self._runtime.piece(self._runtime.bos_id).decode("utf-8", errors="replace"),
            eos_token=self._runtime.piece(self._runtime.eos_id).decode("utf-8", errors="replace"),
        )
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ponder-llama")
        self._closed = False

    @property
    def capabilities(self) -> Capabilities:
        return Capabilities(
            logprobs=True, top_logprobs=True, n=True, token_ids=True, prefix_cache=True, seed=True
        )

    @property
    def weights_path(self) -> Path:
        """The GGUF whose tensors are multiplied: `model_path` or its BF16 copy (`weights` setting)."""
        return self._runtime.weights_path

    @property
    def n_ctx(self) -> int:
        """Context window in tokens (prompt plus generated tokens of one sample)."""
        return self._runtime.n_ctx

    # ---- text <-> tokens ------------------------------------------------------------------

    def render_chat(self, messages: Sequence[ChatMessage], assistant_prefix: str | None = None) -> str:
        return self._template.render(messages, assistant_prefix)

    def tokenize(self, text: str) -> list[int]:
        """Token ids of `text`; special-token markup (`<|im_start|>`) becomes its special id."""
        return self._runtime.tokenize(text)

    def detokenize(self, token_ids: Sequence[int]) -> str:
        return self._runtime.detokenize(token_ids)

    def _prompt_ids(self, req: GenerationRequest) -> list[int]:
        if req.token_ids is not None:
            ids = list(req.token_ids)
            bad = [t for t in ids if not 0 <= t < self._runtime.n_vocab]
            if bad:
                raise BackendConfigError(
                    f"token id {bad[0]} is outside the vocabulary of {self.model_path.name} "
                    f"(0..{self._runtime.n_vocab - 1}); send ids produced by this model's tokenizer"
                )
        else:
            text = self.render_chat(req.messages, req.assistant_prefix) if req.messages else req.prompt
            assert text is not None
            ids = self._runtime.tokenize(text)
            if self._runtime.add_bos and (not ids or ids[0] != self._runtime.bos_id):
                ids.insert(0, self._runtime.bos_id)
        if not ids:
            raise BackendConfigError("the prompt is empty: give at least one token of input")
        limit = self.n_ctx if req.max_tokens == 0 else self.n_ctx - 1
        if len(ids) > limit:
            raise BackendConfigError(
                f"the prompt has {len(ids)} tokens but the context window is {self.n_ctx}; "
                "shorten it or raise PONDER_BACKEND_N_CTX"
            )
        return ids

    # ---- generation -----------------------------------------------------------------------

    async def generate(self, requests: Sequence[GenerationRequest]) -> list[list[Completion]]:
        if self._closed:
            raise BackendConfigError("this EmbeddedBackend is closed; create a new one")
        preps = [PreparedRequest(req, self._prompt_ids(req)) for req in requests]  # validate first
        if not preps:
            return []
        cancel = threading.Event()
        future = self._worker.submit(self._engine.run, preps, cancel)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            cancel.set()  # the worker raises EngineCancelled at its next check; nobody awaits it
            raise

    async def warm(self, requests: Sequence[GenerationRequest]) -> Usage:
        """Prefill each distinct prompt once (max_tokens=0) so later siblings reuse it."""
        prefill = [r.model_copy(update={"n": 1, "max_tokens": 0}) for r in requests]
        total = Usage()
        for row in await self.generate(prefill):
            for completion in row:
                total = total + completion.usage
        return total

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await asyncio.wrap_future(self._worker.submit(self._runtime.close))
        self._worker.shutdown(wait=True)
