"""The parts every surface needs, built once from `PonderSettings`: a backend, a sandbox, verifiers
and the search configuration.

Surfaces (the CLI commands, the server, the LangChain adapters) differ in how they present a search,
not in how they assemble one; keeping the assembly here means a setting such as
``PONDER_SANDBOX_KIND=docker`` behaves the same everywhere::

    async with open_runtime(load_settings()) as rt:
        config = rt.search_config(strategy="refine", budget={"max_expansions": 8})
        result = await rt.search(task, config, verifier=rt.code_verifier())

Heavy parts are imported lazily so that ``ponder --help`` does not load llama.cpp or Docker.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from ponder.errors import PonderError
from ponder.graph.types import SearchConfig, SearchEvent, SearchResult, SearchTask
from ponder.plugin.settings import PonderSettings, SettingsError

if TYPE_CHECKING:
    from langgraph.checkpoint.base import BaseCheckpointSaver

    from ponder.backends.base import BaseBackend
    from ponder.sandbox.base import BaseSandbox
    from ponder.sandbox.types import Limits
    from ponder.verifiers.base import BaseVerifier

EventHandler = Callable[[SearchEvent], None]


class RuntimeSetupError(PonderError):
    """A part the workflow needs was not opened (e.g. a verifier that executes code without a sandbox)."""


@dataclass(slots=True)
class Runtime:
    """Opened parts for one surface invocation; valid only inside `open_runtime`'s block."""

    settings: PonderSettings
    backend: BaseBackend
    sandbox: BaseSandbox | None
    prm: BaseVerifier | None = None
    """The configured process reward model (`settings.prm`); blended into every search's verifier."""

    def require_sandbox(self) -> BaseSandbox:
        """The sandbox, or a one-line error saying how to get one."""
        if self.sandbox is None:
            raise RuntimeSetupError(
                "this workflow executes code but the runtime was opened without a sandbox; "
                "open it with need_sandbox=True"
            )
        return self.sandbox

    def with_prm(self, verifier: BaseVerifier) -> BaseVerifier:
        """`verifier`, blended with the configured PRM under its hard gates when there is one."""
        from ponder.verifiers.prm import with_prm

        return with_prm(verifier, self.prm, self.settings.prm.weight)

    def search_config(self, **overrides: Any) -> SearchConfig:
        """`settings.search` with per-call overrides (flags); `None` values mean "not given".

        ``budget`` may be a partial dict (``{"max_expansions": 8}``): it is merged into the configured
        budget rather than replacing it, so a flag changes one limit and keeps the others.
        """
        return merge_search_config(self.settings.search, overrides)

    def code_verifier(self, *, limits: Limits | None = None) -> BaseVerifier:
        """Runs the full test suite of a candidate in the sandbox (hard gate); `limits` per test run."""
        from ponder.verifiers.code import CodeVerifier

        return CodeVerifier(self.require_sandbox(), limits=limits)

    def finance_verifier(self) -> BaseVerifier:
        """Executes the chain's calculations in the sandbox and checks traceability and invariants."""
        from ponder.verifiers.finance import FinanceVerifier

        return FinanceVerifier(self.require_sandbox())

    def math_verifier(self) -> BaseVerifier:
        """Compares the final answer with `inputs["reference"]` by symbolic equivalence."""
        from ponder.verifiers.math import MathVerifier

        return MathVerifier()

    def program_verifier(self, *, limits: Limits | None = None) -> BaseVerifier:
        """Runs the chain's program in the sandbox; the math verifier judges the number it returned."""
        from ponder.verifiers.program import ProgramVerifier

        return ProgramVerifier(self.require_sandbox(), limits=limits)

    async def search(
        self,
        task: SearchTask,
        config: SearchConfig,
        *,
        verifier: BaseVerifier,
        on_event: EventHandler | None = None,
        checkpointer: BaseCheckpointSaver | None = None,
        thread_id: str | None = None,
    ) -> SearchResult:
        """Run one search with this runtime's backend (and PRM, when one is configured)."""
        from ponder.graph import run_search

        return await run_search(
            task,
            config,
            backend=self.backend,
            verifier=self.with_prm(verifier),
            checkpointer=checkpointer,
            thread_id=thread_id,
            on_event=on_event,
        )

    def stream(
        self,
        task: SearchTask,
        config: SearchConfig,
        *,
        verifier: BaseVerifier,
        checkpointer: BaseCheckpointSaver | None = None,
        thread_id: str | None = None,
    ) -> AsyncIterator[SearchEvent | SearchResult]:
        """Events as they happen, then the `SearchResult` as the last item (for servers that stream)."""
        from ponder.graph import stream_search

        return stream_search(
            task,
            config,
            backend=self.backend,
            verifier=self.with_prm(verifier),
            checkpointer=checkpointer,
            thread_id=thread_id,
        )


def merge_search_config(base: SearchConfig, overrides: Mapping[str, Any]) -> SearchConfig:
    """`base` with `overrides` applied; `None` values are ignored and ``budget`` merges field by field."""
    data = base.model_dump()
    for key, value in overrides.items():
        if value is None:
            continue
        if key not in data:
            raise SettingsError(f"unknown search setting {key!r}; known: {', '.join(sorted(data))}")
        if key == "budget" and isinstance(value, Mapping):
            data["budget"] = {**data["budget"], **value}
        else:
            data[key] = value
    try:
        return SearchConfig.model_validate(data)
    except ValueError as exc:
        raise SettingsError(f"invalid search settings: {_first_error(exc)}") from exc


def _first_error(exc: ValueError) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        return f"{where}={err.get('input')!r}: {err['msg']}"
    return str(exc)


@asynccontextmanager
async def open_runtime(
    settings: PonderSettings,
    *,
    backend: BaseBackend | None = None,
    sandbox: BaseSandbox | None = None,
    need_sandbox: bool = True,
) -> AsyncIterator[Runtime]:
    """Open the backend and (unless `need_sandbox=False`) the sandbox; close what was opened here.

    Args:
        settings: where the parts come from.
        backend: an already-built backend to use instead of `settings.backend` (tests, servers that
            share one engine); the caller keeps ownership and closes it.
        sandbox: likewise for the sandbox.
        need_sandbox: workflows that never execute code (plain `solve`) skip starting Docker.

    Raises:
        PonderError subclasses from the parts (backend model missing, no Docker engine...), each a
        one-line message naming the fix.
    """
    async with AsyncExitStack() as stack:
        if sandbox is None and need_sandbox:
            from ponder.sandbox import open_sandbox

            sandbox = await stack.enter_async_context(open_sandbox(settings.sandbox))
        if backend is None:
            from ponder.backends import make_backend

            backend = make_backend(settings.backend)
            stack.push_async_callback(backend.aclose)
        from ponder.verifiers.prm import make_prm

        prm = make_prm(settings.prm, backend)
        if prm is not None:
            stack.push_async_callback(prm.aclose)
        yield Runtime(settings=settings, backend=backend, sandbox=sandbox, prm=prm)
