"""The search options every surface takes (strategy, the three budgets, the seed) as one value, and
the decorator that spreads such a value over flat parameters.

Typer and the MCP SDK read a command's options from its signature and neither groups parameters,
so without help every command and tool declares the same parameters and forwards them by hand.
`spread(SearchOptions, strategy=..., ...)` lets a function take one `SearchOptions` while the
signature those libraries read still lists the flat parameters, each with its own help text and
limits, in the place where the function declares the value:

    @spread(SearchOptions, strategy=StrategyOpt, max_expansions=ExpansionsOpt, ...)
    def solve(question: str, *, search: SearchOptions) -> None: ...

This module imports nothing heavy: the CLI reads it at start-up (`ponder --help` stays fast).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, cast

from ponder.graph.names import StrategyChoice

if TYPE_CHECKING:
    from ponder.plugin.settings import PonderSettings

R = TypeVar("R")


@dataclass(frozen=True, slots=True, kw_only=True)
class SearchOptions:
    """One call's search choices (flags, tool arguments) over the settings; `None` keeps the setting."""

    strategy: StrategyChoice | None = None
    """Search strategy, or "auto" (chosen from the budget); `None`: the workflow's default when
    settings choose none, else settings'."""
    max_expansions: int | None = None
    """Budget: model expansions (children generated), all branches together."""
    max_tokens: int | None = None
    """Budget: generated tokens, all branches together."""
    max_seconds: float | None = None
    """Budget: wall-clock seconds."""
    seed: int | None = None
    """Sampling seed: the same seed repeats the same search."""

    def overrides(self, settings: PonderSettings, *, default_strategy: str | None = None) -> dict[str, Any]:
        """Keyword arguments for `Runtime.search_config`: these options over `settings`.

        A workflow's `default_strategy` (repair and analyze: refine) applies only when neither
        this call nor the settings chose a strategy; the budget holds only the limits given, so
        the configured ones stay for the rest.
        """
        strategy: str | None = self.strategy
        if strategy is None and "strategy" not in settings.search.model_fields_set:
            strategy = default_strategy
        budget = {
            "max_expansions": self.max_expansions,
            "max_tokens": self.max_tokens,
            "max_seconds": self.max_seconds,
        }
        return {
            "strategy": strategy,
            "seed": self.seed,
            "budget": {k: v for k, v in budget.items() if v is not None},
        }


def spread(cls: type[Any], **annotations: Any) -> Callable[[Callable[..., R]], Callable[..., R]]:
    """A decorator: `fn`'s parameter annotated `cls` (a dataclass) becomes one parameter per field
    in the signature that Typer and the MCP SDK read, and their values are gathered back into one
    `cls` when `fn` is called.

    Args:
        cls: the dataclass; each field's default (every field needs one) is its flat parameter's.
        **annotations: each field's annotation as the reading library wants it (a Typer option,
            a pydantic `Field`), by field name; every field needs one.

    Raises:
        TypeError: at decoration, when the names are not `cls`'s fields, a field has no default,
            or `fn` has no (or more than one) parameter annotated `cls`.
    """
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if set(annotations) != set(fields):
        raise TypeError(f"spread({cls.__name__}) needs an annotation for each of {', '.join(fields)}")
    if any(f.default is dataclasses.MISSING for f in fields.values()):
        raise TypeError(f"spread({cls.__name__}) needs a default on every field (the flags' defaults)")

    def decorate(fn: Callable[..., R]) -> Callable[..., R]:
        signature = inspect.signature(fn, eval_str=True)
        slots = [p for p in signature.parameters.values() if p.annotation is cls]
        if len(slots) != 1:
            raise TypeError(f"{fn.__qualname__} needs one parameter annotated {cls.__name__} to spread")
        slot = slots[0]
        flat = [
            inspect.Parameter(name, slot.kind, default=fields[name].default, annotation=annotation)
            for name, annotation in annotations.items()
        ]
        params = [q for p in signature.parameters.values() for q in (flat if p is slot else [p])]

        def gather(kwargs: dict[str, Any]) -> dict[str, Any]:
            values = {p.name: kwargs.pop(p.name, p.default) for p in flat}
            return {**kwargs, slot.name: cls(**values)}

        async def call_async(*args: Any, **kwargs: Any) -> Any:
            awaitable: Any = fn(*args, **gather(kwargs))
            return await awaitable

        def call(*args: Any, **kwargs: Any) -> Any:
            return fn(*args, **gather(kwargs))

        # The MCP SDK awaits a tool only when the function itself is a coroutine function.
        wrapper: Any = functools.update_wrapper(call_async if inspect.iscoroutinefunction(fn) else call, fn)
        # Both libraries read `inspect.signature` (which stops at `__signature__`) and
        # `typing.get_type_hints` (which reads `__annotations__`): both get the flat parameters,
        # already evaluated, so the caller's `from __future__ import annotations` does not matter.
        wrapper.__signature__ = signature.replace(parameters=params)
        wrapper.__annotations__ = {p.name: p.annotation for p in params if p.annotation is not p.empty}
        if signature.return_annotation is not signature.empty:
            wrapper.__annotations__["return"] = signature.return_annotation
        return cast("Callable[..., R]", wrapper)

    return decorate
