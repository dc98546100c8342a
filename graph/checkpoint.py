"""Checkpointers: SQLite by default when a path is given, any LangGraph saver otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver

CheckpointerLike = BaseCheckpointSaver[Any] | str | Path | None
"""A saver, a SQLite file path (opened for the run), or None (no checkpoints)."""


@asynccontextmanager
async def open_checkpointer(spec: CheckpointerLike) -> AsyncIterator[BaseCheckpointSaver[Any] | None]:
    """Yield a usable saver for `spec`; a path opens (and later closes) an `AsyncSqliteSaver`."""
    if spec is None or isinstance(spec, BaseCheckpointSaver):
        yield spec
        return
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    path = Path(spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    async with AsyncSqliteSaver.from_conn_string(str(path)) as saver:
        yield saver
