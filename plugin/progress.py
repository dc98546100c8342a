"""Live rendering of a search's event stream on stderr.

Every surface that runs a search in front of a person passes a `SearchProgress` as ``on_event``.
It reads only `SearchEvent`s, so it works with any strategy and shows the same numbers the report
and the server's stream show. Results go to stdout; this writes to stderr only, so piping the
output of ``ponder repair`` into ``patch`` keeps working.

    with SearchProgress(label="repairing", max_expansions=config.budget.max_expansions) as progress:
        result = await rt.search(task, config, verifier=verifier, on_event=progress)
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

from ponder.graph.types import SearchEvent


def progress_bar(console: Console, *, spinner: bool, transient: bool, enabled: bool) -> Progress:
    """The one progress-bar layout every ponder surface uses: label, bar, done/total, detail, elapsed.

    The task's `detail` field carries the running summary (best score, accuracy so far).
    """
    columns = [
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
    ]
    if spinner:
        columns.insert(0, SpinnerColumn())
    return Progress(*columns, console=console, transient=transient, disable=not enabled)


@dataclass(slots=True)
class ProgressStats:
    """Running totals read from the events; what the bar shows and what tests assert on."""

    expanded: int = 0
    """Nodes the model created."""
    scored: int = 0
    passed: int = 0
    """Candidates whose hard gates all passed."""
    failed: int = 0
    """Candidates a hard gate rejected (pruned)."""
    best_score: float | None = None
    tokens: int = 0
    found: bool = False
    budget_hit: str | None = None
    """Which limit stopped the search, when one did."""
    finished: bool = False


def _spent_tokens(data: dict[str, Any]) -> int | None:
    spend = data.get("spend")
    if isinstance(spend, dict) and isinstance(spend.get("tokens_generated"), int):
        return spend["tokens_generated"]
    for key in ("tokens_generated", "tokens"):
        if isinstance(data.get(key), int):
            return data[key]
    return None


class SearchProgress:
    """A rich progress bar driven by `SearchEvent`s (callable, so it can be passed as ``on_event``).

    The bar's total is the expansion budget when there is one; without a budget it shows a spinner
    and counts. On a non-terminal stderr (CI logs, pipes) rich draws nothing live, and the few
    events that matter (answer found, budget hit) are printed as plain lines instead, so logs
    still say what happened.
    """

    def __init__(
        self,
        *,
        label: str = "searching",
        max_expansions: int | None = None,
        console: Console | None = None,
        enabled: bool = True,
    ) -> None:
        self.console = console or Console(stderr=True)
        self.stats = ProgressStats()
        self._label = label
        self._enabled = enabled
        self._live = enabled and self.console.is_terminal
        self._progress = progress_bar(self.console, spinner=True, transient=True, enabled=self._live)
        self._task: TaskID = self._progress.add_task(label, total=max_expansions, detail="")

    def __enter__(self) -> SearchProgress:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def __call__(self, event: SearchEvent) -> None:
        self._update_stats(event)
        self._progress.update(self._task, completed=self.stats.expanded, detail=self._detail())
        if self._enabled and not self._live:
            self._log_line(event)

    def _update_stats(self, event: SearchEvent) -> None:
        stats = self.stats
        tokens = _spent_tokens(event.data)
        if tokens is not None:
            stats.tokens = max(stats.tokens, tokens)
        if event.kind == "node_expanded":
            stats.expanded += 1
        elif event.kind == "node_scored":
            stats.scored += 1
            if event.gate == "pass":
                stats.passed += 1
            elif event.gate == "fail":
                stats.failed += 1
            if event.score is not None:
                stats.best_score = max(event.score, stats.best_score or 0.0)
        elif event.kind == "answer_found":
            stats.found = True
        elif event.kind == "budget_hit":
            stats.budget_hit = str(event.data.get("limit") or event.text or "budget")
        elif event.kind == "search_finished":
            stats.finished = True

    def _detail(self) -> str:
        s = self.stats
        best = "-" if s.best_score is None else f"{s.best_score:.2f}"
        return f"scored {s.scored} (✓{s.passed} ✗{s.failed})  best {best}  {s.tokens} tok"

    def _log_line(self, event: SearchEvent) -> None:
        if event.kind == "answer_found":
            self.console.print(f"{self._label}: passing candidate found ({event.elapsed_s:.1f}s)")
        elif event.kind == "budget_hit":
            self.console.print(f"{self._label}: budget reached ({self.stats.budget_hit})")
