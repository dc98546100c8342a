"""`ponder mcp`: ponder's workflows as MCP tools, on the official `mcp` SDK (version 2).

Tools: ``repair_code`` (verified patch, written only with ``apply=true``), ``analyze_table``
(value, VERIFIED/UNVERIFIED and the audit trail), ``solve`` (a problem, optionally checked against
a reference) and ``think`` (a conversation answered by a search). Few MCP clients lend their model
to a server, so the server brings its own backend and sandbox, chosen by the same settings as
every other surface (``PONDER_*`` variables, ``ponder.toml``); both are opened on the first call
that needs them and kept until the server stops.

Every long call sends progress notifications while its search runs, and an MCP cancel cancels
the search task (the SDK cancels the handler; the search is awaited inside it).

    server = create_mcp_server(load_settings())
    server.run("stdio")
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, InputRequiredResult, ToolAnnotations
from pydantic import ValidationError

from ponder.plugin.mcp.tools import Tools
from ponder.plugin.settings import PonderSettings

if TYPE_CHECKING:
    from ponder.backends.base import BaseBackend
    from ponder.plugin.runtime import Runtime
    from ponder.sandbox.base import BaseSandbox

SERVER_NAME = "ponder"
INSTRUCTIONS = (
    "ponder answers by searching over reasoning steps and checking them: code fixes are run against "
    "the project's tests in a sandbox, table answers are recomputed and traced to cells. Calls take "
    "seconds to minutes; budgets (max_expansions, max_tokens, max_seconds) bound them. Trust a result "
    "only as far as its status says: 'fixed'/'verified' were checked, anything else was not."
)

DESCRIPTIONS = {
    "repair_code": (
        "Fix failing pytest tests in a Python project. Runs the tests in a Docker sandbox, searches for "
        "a patch with the model and with mutation operators near the failing lines, and returns the "
        "unified diff only if the whole suite then passes (patches that edit, skip or game the tests "
        "are rejected). status: 'fixed' (diff verified), 'ambiguous' (the tests also pass with the "
        "fix's comparison on the other side of its boundary, so neither is verified), 'no_fix' "
        "(budget spent; nothing verified) or 'nothing_to_fix'. Never writes to disk unless apply=true. "
        "Pass `path` (a folder, or a file plus `tests`) or `files` (inline texts)."
    ),
    "analyze_table": (
        "Answer a numeric question about a table (financial statements, any CSV) with calculations "
        "that run in a sandbox. The answer is VERIFIED only when every operand traces to a table "
        "cell or the question, the cells are the ones the question names, and the operation and "
        "scale fit the question; otherwise UNVERIFIED with the failed rule. Returns value, status, "
        "the rules and the audit trail (each step's code, values and cells used). Pass `data` (a "
        "file) or `table` (rows)."
    ),
    "solve": (
        "Solve a math or word problem step by step with a verifier-guided search. With `reference` "
        "the answer is checked by symbolic equivalence (status verified or wrong); without one it "
        "is 'unchecked'. With `program` the model writes a Python program instead, run in a "
        "sandbox, and the answer is the number it returns (a majority over N programs' values)."
    ),
    "think": (
        "Answer the last user message of a conversation by searching over reasoning steps instead "
        "of answering in one pass; returns the answer, the chosen chain's steps and what the search "
        "spent. With `reference` the answer is checked against it; without, it is unverified."
    ),
}


class McpParts:
    """The backend and sandbox every call shares, opened on first use, closed with the server.

    Opening Docker (a warm container pool) or loading a model per call would dominate short
    calls, and a `solve` should never start Docker at all, hence lazily and once.
    """

    def __init__(
        self,
        settings: PonderSettings,
        *,
        backend: BaseBackend | None = None,
        sandbox: BaseSandbox | None = None,
    ) -> None:
        self.settings = settings
        self._backend = backend
        self._sandbox = sandbox
        self._stack = AsyncExitStack()
        # One lock per part: a `solve` need not wait while Docker starts for a `repair_code`.
        self._backend_lock = asyncio.Lock()
        self._sandbox_lock = asyncio.Lock()

    async def _get_backend(self) -> BaseBackend:
        async with self._backend_lock:
            if self._backend is None:
                from ponder.backends import make_backend

                self._backend = await asyncio.to_thread(make_backend, self.settings.backend)
                self._stack.push_async_callback(self._backend.aclose)
            return self._backend

    async def _get_sandbox(self) -> BaseSandbox:
        async with self._sandbox_lock:
            if self._sandbox is None:
                from ponder.sandbox import open_sandbox

                self._sandbox = await self._stack.enter_async_context(open_sandbox(self.settings.sandbox))
            return self._sandbox

    @asynccontextmanager
    async def runtime(self, *, need_sandbox: bool) -> AsyncIterator[Runtime]:
        """A `Runtime` over the shared parts (the PRM, when configured, is made per call)."""
        from ponder.plugin.runtime import open_runtime

        backend = await self._get_backend()
        sandbox = await self._get_sandbox() if need_sandbox else None
        async with open_runtime(
            self.settings, backend=backend, sandbox=sandbox, need_sandbox=need_sandbox
        ) as rt:
            yield rt

    async def aclose(self) -> None:
        """Close what was opened here (parts passed in stay the caller's)."""
        await self._stack.aclose()


class PonderMCP(MCPServer[Any]):
    """`MCPServer` whose argument errors are one line naming the argument and the fix.

    The SDK reports arguments that fail the input schema with pydantic's multi-line text; a
    model reads one line better, and every other ponder surface answers bad input that way.
    """

    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Any = None
    ) -> CallToolResult | InputRequiredResult:
        try:
            return await super().call_tool(name, arguments, context)
        except ToolError as exc:
            if isinstance(exc.__cause__, ValidationError):
                raise ToolError(f"Error executing tool {name}: {_describe(exc.__cause__)}") from exc.__cause__
            raise


def _describe(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "arguments"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"argument `{where}`: {err['msg'].lower()}{more}; fix it to match the tool's input schema"


def create_mcp_server(
    settings: PonderSettings | None = None,
    *,
    backend: BaseBackend | None = None,
    sandbox: BaseSandbox | None = None,
) -> PonderMCP:
    """The MCP server with ponder's four tools.

    Args:
        settings: backend, sandbox, PRM and default search; `PonderSettings()` when None.
        backend: a built backend to use (the caller closes it); else built on first use.
        sandbox: an opened sandbox to use (the caller closes it); else opened on first use.
    """
    parts = McpParts(settings or PonderSettings(), backend=backend, sandbox=sandbox)

    @asynccontextmanager
    async def lifespan(_: MCPServer[Any]) -> AsyncIterator[McpParts]:
        try:
            yield parts
        finally:
            await parts.aclose()

    server = PonderMCP(SERVER_NAME, instructions=INSTRUCTIONS, lifespan=lifespan, log_level="WARNING")
    tools = Tools(parts)
    reads_only = ToolAnnotations(read_only_hint=True, open_world_hint=False)
    server.add_tool(
        tools.repair_code,
        name="repair_code",
        title="Repair code (verified by its tests)",
        description=DESCRIPTIONS["repair_code"],
        annotations=ToolAnnotations(read_only_hint=False, destructive_hint=True, open_world_hint=False),
    )
    server.add_tool(
        tools.analyze_table,
        name="analyze_table",
        title="Analyze a table (verified calculation)",
        description=DESCRIPTIONS["analyze_table"],
        annotations=reads_only,
    )
    server.add_tool(
        tools.solve,
        name="solve",
        title="Solve a problem",
        description=DESCRIPTIONS["solve"],
        annotations=reads_only,
    )
    server.add_tool(
        tools.think,
        name="think",
        title="Think before answering",
        description=DESCRIPTIONS["think"],
        annotations=reads_only,
    )
    return server
