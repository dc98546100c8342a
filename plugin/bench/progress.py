"""The bench's progress bar: every (item, cell) unit, with the running accuracy of each strategy."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console

from ponder.plugin.bench.store import ItemResult
from ponder.plugin.progress import progress_bar


class BenchProgress:
    """A rich progress bar on stderr over all (item, cell) units, with running accuracy per strategy."""

    def __init__(
        self, total: int, *, label: str, console: Console | None = None, enabled: bool = True
    ) -> None:
        self.console = console or Console(stderr=True)
        self._tally: dict[str, list[int]] = {}
        self._progress = progress_bar(self.console, spinner=False, transient=False, enabled=enabled)
        self._task = self._progress.add_task(label, total=total, detail="")

    def __enter__(self) -> BenchProgress:
        self._progress.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._progress.stop()

    def __call__(self, result: ItemResult, skipped: bool) -> None:
        right, total = self._tally.setdefault(result.strategy, [0, 0])
        self._tally[result.strategy] = [right + result.correct, total + 1]
        detail = "  ".join(f"{s} {r}/{t}" for s, (r, t) in self._tally.items())
        self._progress.update(self._task, advance=1, detail=detail)
