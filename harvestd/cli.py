"""harvestd's command line: one typer app; each command lives in the module that owns it
and is registered here. Commands print and exit; everything below them raises.

Root options (before the command): `--config/-c FILE` (env `HARVESTD_CONFIG`, default
`harvestd.yaml`), `--log-level`, `--log-format`, `--version`. A command reads them with
`harvestd.commands.config.global_options(ctx)`, or simply calls
`load_settings_or_exit(ctx)` and `start_logging(ctx, settings)` from that module.

To add a command: create `harvestd/commands/<name>.py` defining
`register(app: typer.Typer) -> None`, and append ONE line naming the module to
`COMMAND_MODULES` below (keep other lines as they are).
"""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path
from typing import Annotated, Final, Protocol

import typer

from harvestd import __version__
from harvestd.commands.config import DEFAULT_CONFIG_PATH, GlobalOptions
from harvestd.settings_types import LogFormat, LogLevel

COMMAND_MODULES: Final[tuple[str, ...]] = (
    "harvestd.commands.init",
    "harvestd.commands.config",
    # one line per command module; append below
    "harvestd.commands.demo",
    "harvestd.commands.basis",
    "harvestd.commands.run",
    "harvestd.commands.backfill",
    "harvestd.commands.verify",
    "harvestd.commands.lots",
    "harvestd.commands.report",
    "harvestd.commands.scan",
    "harvestd.commands.proposals",
)


class _CommandModule(Protocol):
    def register(self, app: typer.Typer) -> None: ...


app = typer.Typer(
    name="harvestd",
    help="Exact cost-basis ledger and tax-aware harvesting daemon for EVM wallets.",
    no_args_is_help=True,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"harvestd {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    ctx: typer.Context,
    config: Annotated[
        Path,
        typer.Option("--config", "-c", envvar="HARVESTD_CONFIG", help="The YAML settings file."),
    ] = DEFAULT_CONFIG_PATH,
    log_level: Annotated[
        LogLevel | None, typer.Option(help="Override logging.level from the settings.")
    ] = None,
    log_format: Annotated[
        LogFormat | None, typer.Option(help="Override logging.format from the settings.")
    ] = None,
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """Exact cost-basis ledger and tax-aware harvesting daemon for EVM wallets."""
    del version
    ctx.obj = GlobalOptions(config_path=config, log_level=log_level, log_format=log_format)


def register_commands(target: typer.Typer) -> None:
    """Register every module of `COMMAND_MODULES` on `target`."""
    for name in COMMAND_MODULES:
        module: _CommandModule = importlib.import_module(name)
        module.register(target)
    _use_docstring_summaries(target)


_DOCSTRING_SECTIONS: Final = ("Raises:", "Args:", "Returns:", "Yields:")


def user_help(docstring: str | None) -> str | None:
    """A command docstring as `--help` shows it: without its Raises/Args/Returns sections,
    which are for the code's readers, not the CLI's users."""
    if docstring is None:
        return None
    kept: list[str] = []
    for line in inspect.cleandoc(docstring).splitlines():
        if line.strip() in _DOCSTRING_SECTIONS:
            break
        kept.append(line)
    return "\n".join(kept).strip() or None


def _use_docstring_summaries(target: typer.Typer) -> None:
    for command in target.registered_commands:
        if command.help is None and command.callback is not None:
            command.help = user_help(command.callback.__doc__)
    for group in target.registered_groups:
        if group.typer_instance is not None:
            _use_docstring_summaries(group.typer_instance)


register_commands(app)


def main() -> None:
    """Run the harvestd CLI."""
    app()
