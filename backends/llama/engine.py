"""The embedded engine's synchronous core: prefill with prefix reuse, then lockstep sampling.

A call takes prepared requests (prompt ids known) and runs them in waves of at most `n_seq`
samples. For each request in a wave the prompt is prefilled once into a KV sequence picked by
`PrefixCache` (so a prompt sharing a prefix with earlier work evaluates only the new suffix); its
other samples fork that sequence. All samples of the wave then decode together, one token per
sample per `llama_decode` call, which on CPU costs little more than decoding one. Runs in one
worker thread; `cancel` is checked before every evaluation so a cancelled call stops within a
token.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ponder.backends.base import Completion, FinishReason, GenerationRequest, TokenLogprob, Usage
from ponder.backends.errors import BackendError
from ponder.backends.llama.prefix_cache import PrefixCache, Slot
from ponder.backends.llama.runtime import DecodeItem, KvFullError, LlamaRuntime
from ponder.backends.llama.sampling import choose_token, log_softmax, top_alternatives


class EngineCancelled(Exception):
    """Raised inside the worker when the caller cancelled; the KV bookkeeping stays consistent."""


@dataclass(slots=True)
class PreparedRequest:
    request: GenerationRequest
    prompt_ids: list[int]


@dataclass(slots=True)
class _Stream:
    """One sample being generated in its own KV sequence."""

    prep: PreparedRequest
    request_index: int
    sample: int
    slot: Slot
    pos: int
    logits: np.ndarray | None
    rng: np.random.Generator
    usage: Usage
    out: list[int] = field(default_factory=list)
    buf: bytearray = field(default_factory=bytearray)
    scanned: int = 0
    cut: int | None = None
    logprobs: list[TokenLogprob] | None = None
    finish: FinishReason | None = None


class LlamaEngine:
    """Owns the runtime and the prefix cache; `run` is the only entry point for generation."""

    def __init__(self, runtime: LlamaRuntime, *, reuse_prefixes: bool = True) -> None:
        self.rt = runtime
        self.cache = PrefixCache(runtime, runtime.n_seq, enabled=reuse_prefixes)

    def run(self, preps: Sequence[PreparedRequest], cancel: threading.Event) -> list[list[Completion]]:
        results: list[list[Completion | None]] = [[None] * p.request.n for p in preps]
        jobs = [(ri, si) for ri, p in enumerate(preps) for si in range(p.request.n)]
        for start in range(0, len(jobs), self.rt.n_seq):
            self._run_wave(preps, jobs[start : start + self.rt.n_seq], results, cancel)
        return [[c for c in row if c is not None] for row in results]

    # ---- one wave ---------------------------------------------------------------------------

    def _run_wave(
        self,
        preps: Sequence[PreparedRequest],
        wave: list[tuple[int, int]],
        results: list[list[Completion | None]],
        cancel: threading.Event,
    ) -> None:
        pinned: list[Slot] = []
        streams: list[_Stream] = []
        by_request: dict[int, list[int]] = {}
        for ri, si in wave:
            by_request.setdefault(ri, []).append(si)
        for ri, samples in by_request.items():
            prep = preps[ri]
            req = prep.request
            need_logits = req.max_tokens > 0
            slot, cached, logits = self._prefill(prep.prompt_ids, need_logits, pinned, cancel)
            pinned.append(slot)
            plen = len(prep.prompt_ids)
            for k, si in enumerate(samples):
                usage = Usage(plen, 0, cached) if si == 0 else Usage()
                if not need_logits:
                    results[ri][si] = Completion("", [], "length", list(prep.prompt_ids), usage=usage)
                    continue
                own = slot
                if k > 0:
                    own, _ = self._fork(slot, plen, pinned)
                    pinned.append(own)
                seed = None if req.seed is None else req.seed + si
                streams.append(
                    _Stream(
                        prep=prep,
                        request_index=ri,
                        sample=si,
                        slot=own,
                        pos=plen,
                        logits=logits,
                        rng=np.random.default_rng(seed),
                        usage=usage,
                        logprobs=[] if req.logprobs else None,
                    )
                )
        self._decode_streams(streams, pinned, cancel)
        for st in streams:
            results[st.request_index][st.sample] = self._completion(st)

    def _fork(self, src: Slot, n: int, pinned: list[Slot]) -> tuple[Slot, int]:
        dst = self.cache.victim([*pinned, src])
        if dst is None:
            raise BackendError(f"no free KV sequence (n_seq={self.rt.n_seq}); this is a bug in wave sizing")
        self.cache.fork(src, dst, n)
        return dst, n

    def _prefill(
        self, prompt: list[int], need_logits: bool, pinned: list[Slot], cancel: threading.Event
    ) -> tuple[Slot, int, np.ndarray | None]:
        """Bring `prompt` into a KV sequence: the sequence, tokens reused, last-token logits.

        The last prompt token is always evaluated when logits are needed (logits are not cached).
        """
        limit = len(prompt) - 1 if need_logits else len(prompt)
        try:
            slot, cached = self.cache.acquire(prompt, limit, pinned)
        except LookupError:
            raise BackendError(f"no free KV sequence (n_seq={self.rt.n_seq})") from None
        logits = None
        pos = cached
        while pos < len(prompt):
            if cancel.is_set():
                raise EngineCancelled
            chunk = prompt[pos : pos + self.rt.n_batch]
            end = pos + len(chunk)
            items = [
                DecodeItem(tok, pos + i, slot.seq_id, need_logits and pos + i == len(prompt) - 1)
                for i, tok in enumerate(chunk)
            ]
            out = self._decode(items, [*pinned, slot])
            slot.tokens.extend(chunk)
            if out:
                logits = out[-1]
            pos = end
        return slot, cached, logits

    def _decode(self, items: list[DecodeItem], pinned: list[Slot]) -> list[np.ndarray]:
        """Decode, evicting least-recently-used cached sequences while the KV pool is full."""
        while True:
            try:
                return self.rt.decode(items)
            except KvFullError:
                pinned_ids = {s.seq_id for s in pinned}
                evictable = [s for s in self.cache.slots if s.tokens and s.seq_id not in pinned_ids]
                if not evictable:
                    raise BackendError(
                        f"the embedded engine's context of {self.rt.n_ctx} tokens is full "
                        "(prompts plus samples of one call); raise PONDER_BACKEND_N_CTX or ask for fewer "
                        "samples per call"
                    ) from None
                self.cache.clear(min(evictable, key=lambda s: s.last_used))

    # ---- sampling loop ------------------------------------------------------------------------

    def _decode_streams(self, streams: list[_Stream], pinned: list[Slot], cancel: threading.Event) -> None:
        active = list(streams)
        while active:
            if cancel.is_set():
                raise EngineCancelled
            items: list[DecodeItem] = []
            stepping: list[_Stream] = []
            for st in active:
                token = self._sample(st)
                if st.finish is None and st.pos >= self.rt.n_ctx:
                    st.finish = "length"  # no room to evaluate it: the context window is the limit
                if st.finish is None:
                    items.append(DecodeItem(token, st.pos, st.slot.seq_id, True))
                    stepping.append(st)
            if items:
                logits = self._decode(items, pinned)
                for st, lg, item in zip(stepping, logits, items, strict=True):
                    st.slot.tokens.append(item.token)
                    self.cache.touch(st.slot)
                    st.pos += 1
                    st.logits = lg
            active = stepping

    def _sample(self, st: _Stream) -> int:
        req = st.prep.request
        assert st.logits is not None
        token = choose_token(st.logits, req.temperature, req.top_p, st.rng)
        st.out.append(token)
        st.usage.completion_tokens += 1
        if st.logprobs is not None:
            logp = log_softmax(st.logits)
            top: dict[str, float] = {}
            for alt, lp in top_alternatives(logp, req.top_logprobs):
                text = self.rt.piece(alt).decode("utf-8", errors="replace")
                top.setdefault(text, lp)
            piece = self.rt.piece(token).decode("utf-8", errors="replace")
            st.logprobs.append(TokenLogprob(token, piece, float(logp[token]), top))
        if self.rt.is_eog(token):
            st.finish = "stop"
            return token
        st.buf.extend(self.rt.piece(token))
        if req.stop:
            text = st.buf.decode("utf-8", errors="replace")
            longest = max(len(s) for s in req.stop)
            start = max(0, st.scanned - longest + 1)
            hits = [i for i in (text.find(s, start) for s in req.stop if s) if i >= 0]
            st.scanned = len(text)
            if hits:
                st.cut = min(hits)
                st.finish = "stop"
                return token
        if len(st.out) >= req.max_tokens:
            st.finish = "length"
        return token

    def _completion(self, st: _Stream) -> Completion:
        text = st.buf.decode("utf-8", errors="replace")
        if st.cut is not None:
            text = text[: st.cut]
        return Completion(
            text=text,
            token_ids=list(st.out),
            finish_reason=st.finish or "length",
            prompt_token_ids=list(st.prep.prompt_ids),
            logprobs=st.logprobs,
            usage=st.usage,
        )
