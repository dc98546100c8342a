"""Prefix reuse across requests: which KV sequence holds which tokens, and which one to reuse.

llama.cpp keeps up to `n_seq` sequences in one unified KV pool. Each sequence ("slot") here
mirrors the token ids whose KV it holds, positions 0..len-1. A new prompt starts from the slot
with the longest common prefix: it either extends that slot in place (when nothing beyond the
prefix would be lost) or forks it into a free / least-recently-used slot with
`seq_cp`, which shares cells instead of copying tensors. Siblings of one parent therefore
evaluate the parent once, and a child continuing one of several siblings finds that sibling's
tokens still cached. The class only does bookkeeping; the KV operations go through `KvOps`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol


class KvOps(Protocol):
    """The two llama.cpp memory operations the cache needs (see LlamaRuntime)."""

    def seq_rm(self, seq_id: int, p0: int = 0, p1: int = -1) -> None: ...

    def seq_cp(self, src: int, dst: int, p0: int, p1: int) -> None: ...


@dataclass(slots=True)
class Slot:
    seq_id: int
    tokens: list[int] = field(default_factory=list)
    last_used: int = 0


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PrefixCache:
    """Bookkeeping for `n_seq` KV sequences; `enabled=False` makes every lookup miss (baseline)."""

    def __init__(self, kv: KvOps, n_seq: int, *, enabled: bool = True) -> None:
        self._kv = kv
        self.slots = [Slot(i) for i in range(n_seq)]
        self.enabled = enabled
        self._clock = 0

    def touch(self, slot: Slot) -> None:
        self._clock += 1
        slot.last_used = self._clock

    def longest_match(self, tokens: Sequence[int]) -> tuple[Slot | None, int]:
        """The slot sharing the longest prefix with `tokens`, and that prefix's length."""
        if not self.enabled:
            return None, 0
        best: Slot | None = None
        best_len = 0
        for slot in self.slots:
            n = common_prefix(slot.tokens, tokens)
            if n > best_len or (n == best_len and best is not None and slot.last_used > best.last_used):
                best, best_len = slot, n
        return best, best_len

    def victim(self, pinned: Iterable[Slot]) -> Slot | None:
        """An unpinned slot to overwrite: an empty one if any, else the least recently used."""
        pinned_ids = {s.seq_id for s in pinned}
        free = [s for s in self.slots if s.seq_id not in pinned_ids]
        if not free:
            return None
        return min(free, key=lambda s: (len(s.tokens) > 0, s.last_used))

    def truncate(self, slot: Slot, n: int) -> None:
        if len(slot.tokens) > n:
            self._kv.seq_rm(slot.seq_id, n, -1)
            del slot.tokens[n:]

    def clear(self, slot: Slot) -> None:
        if slot.tokens:
            self._kv.seq_rm(slot.seq_id, 0, -1)
            slot.tokens.clear()

    def fork(self, src: Slot, dst: Slot, n: int) -> None:
        """Make `dst` hold the first `n` tokens of `src` by sharing its KV cells."""
        self.clear(dst)
        if n > 0:
            self._kv.seq_cp(src.seq_id, dst.seq_id, 0, n)
            dst.tokens.extend(src.tokens[:n])
        self.touch(dst)

    def acquire(self, tokens: Sequence[int], reuse_limit: int, pinned: Sequence[Slot]) -> tuple[Slot, int]:
        """A slot holding the longest reusable prefix of `tokens` (at most `reuse_limit`).

        Returns the slot (to be pinned by the caller) and how many leading tokens it already holds.
        Raises LookupError when every slot is pinned.
        """
        src, n = self.longest_match(tokens)
        n = min(n, reuse_limit)
        pinned_ids = {s.seq_id for s in pinned}
        if src is not None and n > 0 and src.seq_id not in pinned_ids and len(src.tokens) <= n + 1:
            # Extending in place loses at most one token we would re-evaluate anyway.
            self.truncate(src, n)
            self.touch(src)
            return src, n
        dst = self.victim([*pinned, *([src] if src is not None and n > 0 else [])])
        if dst is None:
            if src is None or src.seq_id in pinned_ids:
                raise LookupError("all KV sequences are in use")
            self.truncate(src, n)  # only the source is free: give up its tail
            self.touch(src)
            return src, n
        if src is not None and n > 0:
            self.fork(src, dst, n)
        else:
            self.clear(dst)
            self.touch(dst)
        return dst, n
