"""A warm pool: containers started ahead of time, each handed out once, refilled in the background.

Starting a container costs far more than running a small test in one, so the pool keeps `size`
started containers waiting. A taken container is never returned: the caller discards it after its
one run, so nothing written by one candidate can be seen by the next.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

RETRY_S = 2.0
"""Pause after a failed start before trying again (an engine hiccup must not become a busy loop)."""


T = TypeVar("T")


class WarmPool(Generic[T]):
    """Holds up to `size` ready containers; `take()` never waits for a start.

    Args:
        make: starts and prepares one container, returns its handle (blocking).
        discard: removes a container (blocking); also used for leftovers at close.
        size: containers kept ready.
        workers: starts (and removals) run in parallel on this many threads.
    """

    def __init__(
        self, make: Callable[[], T], discard: Callable[[T], None], size: int, workers: int = 2
    ) -> None:
        self._make = make
        self._discard = discard
        self.size = size
        self._ready: queue.SimpleQueue[T] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._starting = 0
        self._closed = False
        self._workers = ThreadPoolExecutor(max(1, workers), thread_name_prefix="ponder-sandbox-pool")
        self._removals: set[Future[None]] = set()

    @property
    def ready(self) -> int:
        """Containers waiting right now."""
        return self._ready.qsize()

    def fill(self) -> None:
        """Start enough containers to reach `size` (non-blocking)."""
        with self._lock:
            missing = self.size - self._ready.qsize() - self._starting
            if self._closed or missing <= 0:
                return
            self._starting += missing
        for _ in range(missing):
            self._workers.submit(self._start_one)

    def take(self) -> T | None:
        """A ready container, or None when none is ready (the caller starts one itself)."""
        try:
            container = self._ready.get_nowait()
        except queue.Empty:
            container = None
        self.fill()
        return container

    def discard(self, container: T) -> None:
        """Remove a used container in the background, off the caller's latency path."""
        with self._lock:
            if not self._closed:
                future = self._workers.submit(self._discard, container)
                self._removals.add(future)
                future.add_done_callback(self._removals.discard)
                return
        self._discard(container)

    def _start_one(self) -> None:
        try:
            container = self._make()
        except Exception as exc:  # keep the pool alive; runs fall back to cold starts meanwhile
            log.warning("warm pool: starting a sandbox container failed: %s", exc)
            time.sleep(RETRY_S)
            with self._lock:
                self._starting -= 1
            self.fill()
            return
        with self._lock:
            self._starting -= 1
            closed = self._closed
            if not closed:
                self._ready.put(container)
        if closed:
            self._discard(container)

    def close(self) -> None:
        """Stop refilling, wait for starts and removals in flight, remove every ready container."""
        with self._lock:
            self._closed = True
        self._workers.shutdown(wait=True, cancel_futures=False)
        while True:
            try:
                self._discard(self._ready.get_nowait())
            except queue.Empty:
                break
