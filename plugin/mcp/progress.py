"""A search's events as MCP progress notifications, sent while the search runs.

The workflows report through a synchronous ``on_event`` callback (the same feed the CLI's progress
bar and the server's stream read), while MCP notifications are awaited sends. `ProgressRelay`
bridges the two: the callback only queues, and a pump task beside the workflow sends in order, so
a slow client never stalls the search and no event is reordered.

    async with ProgressRelay(ctx, total=config.budget.max_expansions).running() as relay:
        outcome = await solve_question(question, rt, config, on_event=relay)
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import anyio

from ponder.graph.types import SearchEvent
from ponder.plugin.chat_task import describe_event

logger = logging.getLogger(__name__)

NUDGE = 0.001
"""The spec wants every notification's progress above the last; events between two expansions
(scores, prunes) move it by this much so they keep their message without faking an expansion."""


class ProgressSink(Protocol):
    """What the relay needs from the SDK's tool context (`Context.report_progress`)."""

    async def report_progress(
        self, progress: float, total: float | None = None, message: str | None = None
    ) -> None: ...


class ProgressRelay:
    """Callable as ``on_event``; progress counts model expansions against the expansion budget.

    Without a progress token from the client the SDK drops the notifications, so relaying costs
    nothing when nobody listens.
    """

    def __init__(self, sink: ProgressSink, *, total: int | None) -> None:
        self._sink = sink
        self._total = float(total) if total is not None else None
        self._expanded = 0
        self._last = -1.0
        self._send, self._receive = anyio.create_memory_object_stream[tuple[float, str]](math.inf)
        self._broken = False

    def __call__(self, event: SearchEvent) -> None:
        if event.kind == "node_expanded":
            self._expanded += 1
        line = describe_event(event)
        if line is not None:
            self.note(line)

    def note(self, message: str) -> None:
        """Queue one notification (also for work outside the search, e.g. a baseline test run)."""
        value = max(float(self._expanded), self._last + NUDGE) if self._last >= 0 else float(self._expanded)
        self._last = round(value, 6)
        self._send.send_nowait((self._last, " ".join(message.split())))

    @asynccontextmanager
    async def running(self) -> AsyncIterator[ProgressRelay]:
        """Pump notifications for the block's duration; on exit, send what is queued, then stop.

        Cancelling the block (an MCP cancel) cancels the pump with it.
        """
        try:
            async with anyio.create_task_group() as group:
                group.start_soon(self._pump)
                try:
                    yield self
                finally:
                    self._send.close()
        except BaseExceptionGroup as group_error:
            # The pump never raises, so the one error is the block's own (a PonderError the tool
            # turns into a one-line tool error); the task group's wrapper would hide it.
            if len(group_error.exceptions) != 1:
                raise
            error = group_error.exceptions[0]
            raise error from error.__cause__

    async def _pump(self) -> None:
        async with self._receive:
            async for value, message in self._receive:
                if self._broken:
                    continue
                try:
                    await self._sink.report_progress(value, self._total, message)
                except Exception as exc:  # a gone client must not fail the tool call itself
                    logger.debug("progress notifications stopped: %r", exc)
                    self._broken = True
