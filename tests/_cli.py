"""A test root for CLI command modules, so each command is addressed by name as under `ponder`."""

from __future__ import annotations

from types import ModuleType

import typer


def command_app(*modules: ModuleType) -> typer.Typer:
    """A Typer group holding the commands each module's `register(app)` adds."""
    app = typer.Typer()

    @app.callback()
    def root() -> None:
        """Test root so that subcommands keep their names."""

    for module in modules:
        module.register(app)
    return app
