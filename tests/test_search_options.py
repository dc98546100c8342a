"""The shared search options: `SearchOptions.overrides` (flags over settings) and `spread`, which
lets a command or tool take one value while Typer and the MCP SDK still read flat parameters."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated

import pytest
import typer
from typer.testing import CliRunner

from ponder.plugin import cli as shared
from ponder.plugin.analyze import cli as analyze_cli
from ponder.plugin.repair import cli as repair_cli
from ponder.plugin.search_options import SearchOptions, spread
from ponder.plugin.settings import PonderSettings, load_settings
from ponder.plugin.solve import cli as solve_cli
from tests._cli import command_app

SHARED_FLAGS = {
    "--strategy",
    "--max-expansions",
    "--max-tokens",
    "--max-seconds",
    "--seed",
    "--prm",
    "--report",
    "--json",
    "--quiet",
}


def test_default_strategy_applies_only_when_nothing_chose_one() -> None:
    plain = PonderSettings()
    configured = load_settings(environ={"PONDER_SEARCH_STRATEGY": "beam"})
    assert configured.search.strategy == "beam"
    unset = SearchOptions()
    assert unset.overrides(plain, default_strategy="refine")["strategy"] == "refine"
    assert unset.overrides(configured, default_strategy="refine")["strategy"] is None  # settings' beam stays
    assert unset.overrides(plain)["strategy"] is None
    assert (
        SearchOptions(strategy="greedy").overrides(configured, default_strategy="refine")["strategy"]
        == "greedy"
    )


def test_budget_holds_only_the_limits_given() -> None:
    options = SearchOptions(max_tokens=64, seed=3)
    assert options.overrides(PonderSettings()) == {"strategy": None, "seed": 3, "budget": {"max_tokens": 64}}
    everything = SearchOptions(max_expansions=2, max_tokens=5, max_seconds=1.5)
    assert everything.overrides(PonderSettings())["budget"] == {
        "max_expansions": 2,
        "max_tokens": 5,
        "max_seconds": 1.5,
    }


def test_spread_lists_flat_parameters_in_place_and_gathers_them() -> None:
    spread_ints = spread(
        SearchOptions, strategy=str, max_expansions=int, max_tokens=int, max_seconds=float, seed=int
    )

    @spread_ints
    def command(
        question: str, n: int = 1, *, search: SearchOptions, last: bool = False
    ) -> tuple[int, SearchOptions]:
        return n, search

    params = inspect.signature(command).parameters
    assert list(params) == [
        "question",
        "n",
        "strategy",
        "max_expansions",
        "max_tokens",
        "max_seconds",
        "seed",
        "last",
    ]
    assert params["max_tokens"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["max_tokens"].default is None and command.__annotations__["max_tokens"] is int
    assert command("q", max_tokens=9, seed=1) == (1, SearchOptions(max_tokens=9, seed=1))
    assert command.__name__ == "command"


async def test_spread_keeps_a_coroutine_function_a_coroutine_function() -> None:
    @spread(SearchOptions, strategy=str, max_expansions=int, max_tokens=int, max_seconds=float, seed=int)
    async def tool(*, search: SearchOptions) -> SearchOptions:
        return search

    assert inspect.iscoroutinefunction(tool)  # the MCP SDK awaits only coroutine functions
    assert await tool(strategy="beam") == SearchOptions(strategy="beam")


def test_spread_rejects_what_it_cannot_spread() -> None:
    with pytest.raises(TypeError, match="an annotation for each of strategy"):
        spread(SearchOptions, strategy=str)
    decorate = spread(
        SearchOptions, strategy=str, max_expansions=int, max_tokens=int, max_seconds=float, seed=int
    )
    with pytest.raises(TypeError, match="needs one parameter annotated SearchOptions"):
        decorate(lambda x: x)


def _echo_app() -> typer.Typer:
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root so that the command keeps its name."""

    @app.command("echo")
    @shared.search_command
    def echo(
        word: Annotated[str, typer.Argument()], *, search: SearchOptions, common: shared.CommandOptions
    ) -> None:
        """Print what the command was handed."""
        report = str(common.report) if common.report else None
        fields = {"word": word, "strategy": search.strategy, "max_seconds": search.max_seconds}
        fields |= {"seed": search.seed, "prm": common.prm, "report": report, "json": common.as_json}
        typer.echo(json.dumps({**fields, "quiet": common.quiet}))

    return app


def test_search_command_hands_one_value_from_the_shared_flags(tmp_path: Path) -> None:
    args = ["echo", "hi", "-s", "beam", "--max-seconds", "2.5", "--seed", "7", "--prm", "judge"]
    result = CliRunner().invoke(_echo_app(), [*args, "--report", str(tmp_path), "--json", "-q"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {
        "word": "hi",
        "strategy": "beam",
        "max_seconds": 2.5,
        "seed": 7,
        "prm": "judge",
        "report": str(tmp_path),
        "json": True,
        "quiet": True,
    }
    defaults = json.loads(CliRunner().invoke(_echo_app(), ["echo", "hi"]).output)
    assert defaults == {**dict.fromkeys(defaults), "word": "hi", "json": False, "quiet": False}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(
            ["--max-expansions", "0"], "Invalid value for '--max-expansions'", id="expansions-below-one"
        ),
        pytest.param(
            ["--max-seconds", "0.05"], "Invalid value for '--max-seconds'", id="seconds-below-a-tenth"
        ),
        pytest.param(["--strategy", "fastest"], "'fastest' is not one of", id="unknown-strategy"),
    ],
)
def test_shared_flags_keep_their_limits(args: list[str], expected: str) -> None:
    result = CliRunner().invoke(_echo_app(), ["echo", "hi", *args])
    assert result.exit_code == 2 and expected in result.output, result.output


@pytest.mark.parametrize("command", ["repair", "solve", "analyze"])
def test_every_search_command_lists_the_shared_flags(command: str) -> None:
    app = command_app(analyze_cli, repair_cli, solve_cli)
    click_command = typer.main.get_group(app).commands[command]
    flags = {opt for param in click_command.params for opt in param.opts}
    assert flags >= SHARED_FLAGS


def test_error_lines_print_brackets_as_written() -> None:
    """An install hint names an extra in brackets; rich must not eat it as markup."""
    app = typer.Typer()

    @app.command()
    def broken() -> None:
        shared.fail("needs Ray: pip install 'ponder[scale]'")

    result = CliRunner().invoke(app, [])
    assert result.exit_code == shared.EXIT_ERROR
    assert "pip install 'ponder[scale]'" in result.output
