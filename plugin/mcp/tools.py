"""The four MCP tools: thin adapters from tool arguments to the repair, analyze, solve and chat
workflows, and from their outcomes to a tool result.

Each tool's signature is its input schema (the SDK reads the annotations), so the descriptions on
the parameters are written for the calling model: what to pass, the unit, what leaving it out
means. The search arguments every tool takes are declared once (`search_args`) and reach the
tool as one `SearchOptions`. The workflows are called as they are; nothing about search or
verification is decided here. A result carries a short text for the model to read and the
workflow's own summary as structured content for programs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal, TypeVar

import pydantic_core
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, TextContent
from pydantic import BaseModel, Field

from ponder.errors import PonderError
from ponder.graph.types import SearchConfig, StrategyChoice
from ponder.plugin.mcp.progress import ProgressRelay
from ponder.plugin.search_options import SearchOptions, spread

if TYPE_CHECKING:
    from ponder.plugin.mcp.server import McpParts
    from ponder.plugin.repair.outcome import RepairOutcome
    from ponder.plugin.repair.project import Project
    from ponder.plugin.runtime import Runtime

StrategyArg = Annotated[
    StrategyChoice | None,
    Field(
        description="Search strategy: refine (retry with the checker's feedback), greedy, best_of_n, "
        "self_consistency, beam, dvts, mcts, or auto (picked with N from the token budget). Omit for "
        "the default (refine for repair_code and analyze_table, else the server's configured strategy)."
    ),
]
ExpansionsArg = Annotated[
    int | None,
    Field(ge=1, le=10_000, description="Budget: model generations (tree nodes), all branches together."),
]
TokensArg = Annotated[int | None, Field(ge=1, description="Budget: generated tokens, all branches together.")]
SecondsArg = Annotated[float | None, Field(gt=0, le=3600, description="Budget: wall-clock seconds.")]
SeedArg = Annotated[int | None, Field(description="Sampling seed: the same seed repeats the same search.")]
NArg = Annotated[
    int | None, Field(ge=1, le=256, description="Chains for best_of_n / self_consistency; subtrees for dvts.")
]
T = TypeVar("T")
search_args = spread(
    SearchOptions,
    strategy=StrategyArg,
    max_expansions=ExpansionsArg,
    max_tokens=TokensArg,
    max_seconds=SecondsArg,
    seed=SeedArg,
)
"""Tool decorator: the tool's `SearchOptions` parameter is five flat arguments in its input schema."""
ReferenceArg = Annotated[
    str | None,
    Field(
        description="The known right answer, if any: the result is then checked against it (verified/wrong)."
    ),
]


class ChatTurn(BaseModel):
    """One message of the conversation `think` answers."""

    role: Literal["system", "user", "assistant"]
    content: str = Field(description="The message text.")


def _result(text: str, summary: Mapping[str, Any]) -> CallToolResult:
    structured = pydantic_core.to_jsonable_python(dict(summary), fallback=str)
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def _inline_project(files: Mapping[str, str]) -> Project:
    """A project sent as file texts: what a client on another machine can pass (no apply)."""
    from ponder.plugin.repair.patching import is_test_path
    from ponder.plugin.repair.project import Project

    tests = {p: t for p, t in files.items() if p.endswith(".py") and is_test_path(p)}
    sources = {p: t for p, t in files.items() if p not in tests}
    if not tests:
        raise ToolError("`files` holds no test file; include test_*.py files with the sources")
    if not any(p.endswith(".py") for p in sources):
        raise ToolError("`files` holds only tests; include the source file to repair")
    return Project(root=Path("(inline files)"), sources=sources, tests=tests)


def _load_project(path: str | None, tests: list[str] | None, files: dict[str, str] | None) -> Project:
    from ponder.plugin.repair.project import load_project

    if (path is None) == (files is None):
        raise ToolError(
            "pass either `path` (a folder or a source file on the server) or `files` (file texts)"
        )
    if files is not None:
        return _inline_project(files)
    assert path is not None
    root = Path(path).expanduser()
    if not root.exists():
        raise ToolError(f"path {path!r} does not exist on the server; pass an existing folder or file")
    if root.is_file() and not tests:
        raise ToolError(f"{path} is a file: list its test files in `tests` too")
    for test in tests or ():
        if not Path(test).expanduser().is_file():
            raise ToolError(f"test file {test!r} does not exist on the server; fix `tests`")
    extra = [Path(t).expanduser() for t in tests or ()]
    return load_project(root, tests=extra) if root.is_dir() else load_project(file=root, tests=extra)


def _repair_text(outcome: RepairOutcome, applied: str | None) -> str:
    if outcome.status == "nothing_to_fix":
        return f"nothing to repair: {outcome.reason}"
    if outcome.status == "ambiguous":
        return (
            f"unverified candidate for {outcome.target}: {outcome.reason}\ntests: {outcome.before} → "
            f"{outcome.after}\nnothing was written.\n\n{outcome.diff}"
        )
    if not outcome.verified:
        lines = [f"no verified fix for {outcome.target} within the budget: {outcome.reason}"]
        lines.append(f"tests: {outcome.before}")
        lines += [f"best candidate: {outcome.best}"] if outcome.best else []
        lines += [f"suspects: {', '.join(outcome.suspects[:3])}"] if outcome.suspects else []
        return "\n".join(lines) + "\nnothing was written."
    done = (
        f"applied (backup: {applied})" if applied else "not applied: call again with apply=true to write it"
    )
    head = f"verified fix for {outcome.target} from {outcome.source}: {outcome.description}"
    return f"{head}\ntests: {outcome.before} → {outcome.after}\n{done}\n\n{outcome.diff}"


class Tools:
    """The tool functions, bound to the server's parts (backend and sandbox, opened on first use)."""

    def __init__(self, parts: McpParts) -> None:
        self.parts = parts

    async def _run(
        self,
        ctx: Context,
        work: Callable[[Runtime, SearchConfig, ProgressRelay], Awaitable[T]],
        search: SearchOptions,
        *,
        need_sandbox: bool,
        default_strategy: str | None = None,
        n: int | None = None,
    ) -> T:
        """Open a runtime on the server's parts, build the call's search config (arguments over
        settings, as the CLI flags do) and run `work` with progress relayed to the client."""
        with _tool_errors():
            async with self.parts.runtime(need_sandbox=need_sandbox) as rt:
                overrides = search.overrides(rt.settings, default_strategy=default_strategy)
                config = rt.search_config(n=n, **overrides)
                async with ProgressRelay(ctx, total=config.budget.max_expansions).running() as relay:
                    return await work(rt, config, relay)

    @search_args
    async def repair_code(
        self,
        ctx: Context,
        path: Annotated[
            str | None,
            Field(
                description="Absolute path on the server of a project folder (sources and pytest tests), "
                "or of one source file (then list its tests in `tests`). Leave out when sending `files`."
            ),
        ] = None,
        tests: Annotated[
            list[str] | None,
            Field(description="Test file paths for a single-file `path` (extra test files for a folder)."),
        ] = None,
        files: Annotated[
            dict[str, str] | None,
            Field(
                description="Instead of `path`: the project as {relative path: file text}, sources and "
                "tests together (tests are test_*.py, *_test.py, conftest.py or under tests/). "
                "The fix comes back as a diff; nothing can be applied."
            ),
        ] = None,
        apply: Annotated[
            bool,
            Field(
                description="Write a verified fix to the file on disk (atomically, keeping NAME.orig). "
                "Default false: nothing is ever written."
            ),
        ] = False,
        mutants: Annotated[
            int,
            Field(ge=0, le=500, description="Mutation-operator candidates near the failing lines (0 = off)."),
        ] = 24,
        test_timeout: Annotated[
            float | None, Field(ge=0.5, le=600, description="Seconds per test-suite run in the sandbox.")
        ] = None,
        *,
        search: SearchOptions,
    ) -> CallToolResult:
        from ponder.plugin.repair.patching import apply_patch
        from ponder.plugin.repair.workflow import repair_project
        from ponder.sandbox.types import Limits

        if apply and files is not None:
            raise ToolError("apply=true needs a `path` on the server; drop apply or pass `path`, not `files`")
        with _tool_errors():
            project = _load_project(path, tests, files)
        limits = Limits(timeout_s=test_timeout) if test_timeout else None

        async def work(rt: Runtime, config: SearchConfig, relay: ProgressRelay) -> Any:
            relay.note("running the project's tests in the sandbox (baseline)")
            return await repair_project(
                project, rt, config, max_mutants=mutants, limits=limits, on_event=relay
            )

        outcome = await self._run(
            ctx,
            work,
            search,
            need_sandbox=True,
            default_strategy="refine",
        )
        backup = None
        if apply and outcome.verified and outcome.target is not None and outcome.fixed is not None:
            with _tool_errors():
                backup = apply_patch(
                    project.root / outcome.target, outcome.fixed, expected_text=outcome.original
                )
        applied = str(backup) if backup else None
        summary = {**outcome.summary(), "applied": backup is not None, "backup": applied}
        return _result(_repair_text(outcome, applied), summary)

    @search_args
    async def analyze_table(
        self,
        ctx: Context,
        question: Annotated[str, Field(min_length=1, description="The question to answer from the table.")],
        data: Annotated[
            str | None,
            Field(
                description="Absolute path on the server of a CSV, TSV, JSON or Excel file. Or send `table`."
            ),
        ] = None,
        table: Annotated[
            list[list[str | float]] | None,
            Field(
                description="Instead of `data`: the table as rows, the first row being the column headers, "
                'e.g. [["Line item", "FY2023", "FY2022"], ["Revenue", "4,512", "3,987"]].'
            ),
        ] = None,
        paragraphs: Annotated[
            list[str] | None, Field(description="Text that goes with the table (notes, the report's prose).")
        ] = None,
        scale: Annotated[
            Literal["thousand", "million", "billion", "percent"] | None,
            Field(description="Scale of the table's amounts; guessed from headers and text when left out."),
        ] = None,
        reference: ReferenceArg = None,
        require_agreement: Annotated[
            bool, Field(description="VERIFIED also needs two different programs that reach the same value.")
        ] = False,
        *,
        search: SearchOptions,
    ) -> CallToolResult:
        from ponder.plugin.analyze.tables import load_tables, make_table
        from ponder.plugin.analyze.workflow import AnalyzeRequest, analyze, format_audit

        if (data is None) == (table is None):
            raise ToolError(
                "pass either `data` (a table file on the server) or `table` (rows, headers first)"
            )
        if table is not None:
            if len(table) < 2:
                raise ToolError("`table` needs a header row and at least one data row")
            tables = [make_table("table", table[0], table[1:])]
        else:
            with _tool_errors():
                tables = load_tables(Path(str(data)).expanduser())
        request = AnalyzeRequest(
            question=question,
            tables=tables,
            paragraphs=paragraphs or [],
            scale=scale,
            reference=reference,
            require_agreement=require_agreement,
        )
        outcome = await self._run(
            ctx,
            lambda rt, config, relay: analyze(request, rt, config, on_event=relay),
            search,
            need_sandbox=True,
            default_strategy="refine",
        )
        return _result("\n".join(format_audit(outcome)), outcome.summary())

    @search_args
    async def solve(
        self,
        ctx: Context,
        question: Annotated[str, Field(min_length=1, description="The math or word problem, in words.")],
        reference: ReferenceArg = None,
        n: NArg = None,
        program: Annotated[
            bool,
            Field(
                description="Answer with a Python program run in the sandbox: the answer is the number its "
                "solution() returns (with self_consistency, the majority of the N programs' values), never "
                "a number the model wrote."
            ),
        ] = False,
        *,
        search: SearchOptions,
    ) -> CallToolResult:
        from ponder.plugin.solve.workflow import solve_question

        outcome = await self._run(
            ctx,
            lambda rt, config, relay: solve_question(
                question, rt, config, reference=reference, on_event=relay, program=program
            ),
            search,
            need_sandbox=program,  # only program mode runs anything: text mode never starts Docker
            n=n,
        )
        answer = outcome.answer if outcome.answer is not None else "(none)"
        text = f"answer: {answer}\nstatus: {outcome.status} ({outcome.detail})"
        if program:
            text += f"\nvotes: {outcome.votes_line}"
        return _result(text, outcome.summary())

    @search_args
    async def think(
        self,
        ctx: Context,
        messages: Annotated[
            list[ChatTurn],
            Field(min_length=1, description="The conversation so far; the last user message is answered."),
        ],
        reference: ReferenceArg = None,
        n: NArg = None,
        *,
        search: SearchOptions,
    ) -> CallToolResult:
        from ponder.plugin.chat_task import (
            build_chat_task,
            chat_messages,
            chat_verifier,
            reasoning_steps,
            search_summary,
        )

        with _tool_errors():
            task = build_chat_task(chat_messages([m.model_dump() for m in messages]), reference=reference)
        result = await self._run(
            ctx,
            lambda rt, config, relay: rt.search(
                task, config, verifier=chat_verifier(reference), on_event=relay
            ),
            search,
            need_sandbox=False,
            n=n,
        )
        summary = {"answer": result.answer, "reasoning": reasoning_steps(result), **search_summary(result)}
        why = f" — {result.reason}" if result.reason else ""
        text = f"{result.answer or '(no answer)'}\n\n[{result.status}{why}; strategy {result.strategy}]"
        return _result(text, summary)


@contextmanager
def _tool_errors() -> Iterator[None]:
    """ponder's own one-line errors (bad file, no Docker, bad setting) become tool errors."""
    try:
        yield
    except PonderError as exc:
        raise ToolError(str(exc)) from exc
