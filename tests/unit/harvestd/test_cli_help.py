"""Every command's --help reads as user help: a summary, never the docstring's
Raises/Args sections meant for the code's readers."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from harvestd.cli import app, user_help


def _all_commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    # typer vendors its own click: groups are recognised by their `commands` mapping.
    found: list[tuple[str, ...]] = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        found.append(path)
        if hasattr(command, "commands"):
            found.extend(_all_commands(command, path))
    return found


def test_user_help_drops_docstring_sections() -> None:
    doc = """Do the thing.

    More words for users.

    Raises:
        typer.Exit: on failure.
    """
    assert user_help(doc) == "Do the thing.\n\nMore words for users."
    assert user_help(None) is None


def test_no_command_help_shows_a_raises_section() -> None:
    commands = _all_commands(typer.main.get_command(app))
    assert {("basis",), ("run",), ("demo",), ("init",)} <= set(commands)
    runner = CliRunner()
    for path in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Raises:" not in result.output, path
        assert "Usage:" in result.output, path
