"""LangChain tools for tool-calling agents: `repair_code` and `analyze_data`.

Both run the full workflows (search + sandboxed verification) and return JSON-ready dicts that
say plainly whether the result is verified, so an agent can tell a checked fix or number from
a guess. Build them bound to the parts an application already has:

    repair_code, analyze_data = make_tools(settings, backend=backend, sandbox=sandbox)
    agent = create_react_agent(llm, [repair_code, analyze_data])

Parts not given are opened per call from `settings` (Docker sandbox, configured backend).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field

from ponder.backends.base import BaseBackend
from ponder.errors import PonderError
from ponder.plugin.runtime import Runtime, open_runtime
from ponder.plugin.settings import PonderSettings, load_settings
from ponder.sandbox.base import BaseSandbox


class RepairCodeInput(BaseModel):
    source: str = Field(description="The full text of the Python module that has a bug.")
    tests: str = Field(description="A pytest test module that exercises it; some of its tests fail.")
    module_name: str = Field(
        default="solution", description="The module's import name (the tests import it by this name)."
    )


class AnalyzeDataInput(BaseModel):
    data_path: str = Field(description="Path of a CSV, JSON or Excel file holding the table(s).")
    question: str = Field(description="The question to answer from the data.")
    text_path: str | None = Field(default=None, description="Optional text file with paragraphs of context.")


def make_tools(
    settings: PonderSettings | None = None,
    *,
    backend: BaseBackend | None = None,
    sandbox: BaseSandbox | None = None,
    search: dict[str, Any] | None = None,
) -> list[BaseTool]:
    """`[repair_code, analyze_data]` bound to these parts; `search` overrides the search settings."""
    overrides = dict(search or {})

    @asynccontextmanager
    async def runtime() -> AsyncIterator[Runtime]:
        async with open_runtime(settings or load_settings(), backend=backend, sandbox=sandbox) as rt:
            yield rt

    async def repair_code(source: str, tests: str, module_name: str = "solution") -> dict[str, Any]:
        from ponder.plugin.repair.project import Project
        from ponder.plugin.repair.workflow import repair_project

        target = f"{module_name}.py"
        project = Project(root=Path("."), sources={target: source}, tests={f"test_{module_name}.py": tests})
        try:
            async with runtime() as rt:
                config = rt.search_config(**{"strategy": "refine", **overrides})
                outcome = await repair_project(project, rt, config)
        except PonderError as exc:
            return {"status": "error", "verified": False, "error": str(exc)}
        summary = outcome.summary()
        summary["fixed_source"] = outcome.fixed if outcome.verified else None
        return summary

    async def analyze_data(data_path: str, question: str, text_path: str | None = None) -> dict[str, Any]:
        from ponder.plugin.analyze.tables import load_paragraphs, load_tables
        from ponder.plugin.analyze.workflow import AnalyzeRequest, analyze

        try:
            request = AnalyzeRequest(
                question=question,
                tables=load_tables(Path(data_path)),
                paragraphs=load_paragraphs(Path(text_path)) if text_path else [],
            )
            async with runtime() as rt:
                outcome = await analyze(request, rt, rt.search_config(**{"strategy": "refine", **overrides}))
        except PonderError as exc:
            return {"status": "error", "verified": False, "error": str(exc)}
        return outcome.summary()

    return [
        StructuredTool.from_function(
            coroutine=repair_code,
            name="repair_code",
            description=(
                "Fix a bug in a Python module so that its pytest tests pass. Returns the verified fixed "
                "source (tests run in a sandbox) or says that no verified fix was found."
            ),
            args_schema=RepairCodeInput,
        ),
        StructuredTool.from_function(
            coroutine=analyze_data,
            name="analyze_data",
            description=(
                "Answer a numeric question about a table file (CSV/JSON/Excel) with calculations executed "
                "in a sandbox. Returns the answer, whether it is verified, and an audit trail."
            ),
            args_schema=AnalyzeDataInput,
        ),
    ]
