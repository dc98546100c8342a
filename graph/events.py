"""Emitting `SearchEvent`s on LangGraph's custom stream.

Graph nodes call `emit`; `stream_search` reads the events with `stream_mode="custom"`. Outside
a streaming run (e.g. `graph.ainvoke`) LangGraph hands out a no-op writer, so emitting is
always safe.
"""

from __future__ import annotations

from typing import Any

from langgraph.config import get_stream_writer

from ponder.graph.types import EventKind, SearchEvent


def emit(kind: EventKind, *, elapsed_s: float, **fields: Any) -> None:
    try:
        writer = get_stream_writer()
    except RuntimeError:  # called outside a graph run (unit tests of node helpers)
        return
    writer(SearchEvent(kind=kind, elapsed_s=round(elapsed_s, 4), **fields))
