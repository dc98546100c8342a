"""ponder.graph: the System-2 search — a LangGraph state machine over reasoning steps.

from ponder.graph import SearchConfig, SearchTask, run_search, write_report

result = await run_search(task, SearchConfig(strategy="beam"), backend=backend, verifier=verifier)
write_report(result, Path("ponder-report"))

# or as a plain LangGraph graph, compiled once and given each run's dependencies as its context:
graph = build_search_graph()
final = await graph.ainvoke({"task": task.model_dump(mode="json")},
                            context=SearchContext(backend=backend, verifier=verifier, config=config))
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ponder._lazy import attach

if TYPE_CHECKING:
    from ponder.graph.checkpoint import open_checkpointer
    from ponder.graph.context import SearchContext
    from ponder.graph.export import TreeFormatError, export_tree, load_tree, save_tree, validate_tree
    from ponder.graph.search import build_search_graph, run_search, stream_search
    from ponder.graph.strategies import STRATEGIES, Strategy, get_strategy
    from ponder.graph.types import (
        AnswerFormat,
        Budget,
        EventKind,
        SearchConfig,
        SearchEvent,
        SearchResult,
        SearchTask,
        Seed,
        Spend,
        StrategyChoice,
        StrategyName,
    )
    from ponder.graph.viewer import render_html, write_report

__all__ = [
    "STRATEGIES",
    "AnswerFormat",
    "Budget",
    "EventKind",
    "SearchConfig",
    "SearchContext",
    "SearchEvent",
    "SearchResult",
    "SearchTask",
    "Seed",
    "Spend",
    "Strategy",
    "StrategyChoice",
    "StrategyName",
    "TreeFormatError",
    "build_search_graph",
    "export_tree",
    "get_strategy",
    "load_tree",
    "open_checkpointer",
    "render_html",
    "run_search",
    "save_tree",
    "stream_search",
    "validate_tree",
    "write_report",
]

# Submodules load on first use (PEP 562): `ponder.graph.types` alone must not pull in LangGraph.
# Hidden from type checkers, which read the imports above, so a misspelt name is still an error.
if not TYPE_CHECKING:
    __getattr__, __dir__ = attach(
        __name__,
        __all__,
        {
            "checkpoint": ("open_checkpointer",),
            "context": ("SearchContext",),
            "export": ("TreeFormatError", "export_tree", "load_tree", "save_tree", "validate_tree"),
            "search": ("build_search_graph", "run_search", "stream_search"),
            "strategies": ("STRATEGIES", "Strategy", "get_strategy"),
            "types": (
                "AnswerFormat",
                "Budget",
                "EventKind",
                "SearchConfig",
                "SearchEvent",
                "SearchResult",
                "SearchTask",
                "Seed",
                "Spend",
                "StrategyChoice",
                "StrategyName",
            ),
            "viewer": ("render_html", "write_report"),
        },
    )
