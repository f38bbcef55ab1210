"""`harvestd config ...` and the command layer's access to settings and logging.

Commands print and exit; this module is where a `ConfigError` becomes text on stderr and
exit status 2. Other command modules call:

- `global_options(ctx)` for the root options (`--config`, `--log-level`, `--log-format`);
- `load_settings_or_exit(ctx, path=None)` for validated `Settings` (exits 2 on problems);
- `start_logging(ctx, settings)` to configure logging from the settings and the root
  options, with the settings' credentials registered for redaction.

Commands:

- `harvestd config check FILE`: validate FILE; prints a summary and exits 0, or prints
  every problem and exits 2.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Final

import typer

from harvestd.errors import ConfigError
from harvestd.logs import SecretRedactor, configure_logging
from harvestd.settings import KeystoreKeySource, Settings, load_settings
from harvestd.settings_types import LogFormat, LogLevel

EXIT_CONFIG: Final = 2
"""Exit status for an unusable configuration."""

DEFAULT_CONFIG_PATH: Final = Path("harvestd.yaml")


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    """The root command's options, shared by every command through `ctx.obj`."""

    config_path: Path = DEFAULT_CONFIG_PATH
    log_level: LogLevel | None = None
    log_format: LogFormat | None = None


def global_options(ctx: typer.Context) -> GlobalOptions:
    """The root options, or their defaults when the command runs without the root."""
    root = ctx.find_root()
    return root.obj if isinstance(root.obj, GlobalOptions) else GlobalOptions()


def print_config_error(error: ConfigError) -> None:
    """Write every problem of `error` to stderr, one per line."""
    typer.echo(str(error), err=True)


def load_settings_or_exit(ctx: typer.Context, path: Path | None = None) -> Settings:
    """Settings from `path` (default: the root `--config`); on problems print them, exit 2.

    Raises:
        typer.Exit: with status 2 when the file is unusable (after printing why).
    """
    config_path = path if path is not None else global_options(ctx).config_path
    try:
        return load_settings(config_path)
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(EXIT_CONFIG) from exc


def start_logging(ctx: typer.Context, settings: Settings | None) -> SecretRedactor:
    """Configure logging from `settings.logging`, overridden by the root options.

    The settings' credentials (RPC and database URL secrets, and the keystore's password
    when one is configured and set) are registered with the returned redactor; register
    the signing key on it once it is read.
    """
    options = global_options(ctx)
    level = options.log_level or (settings.logging.level if settings else LogLevel.INFO)
    fmt = options.log_format or (settings.logging.format if settings else LogFormat.AUTO)
    redactor = SecretRedactor(secrets_to_redact(settings, os.environ) if settings else ())
    return configure_logging(level, fmt, redactor=redactor)


def secrets_to_redact(settings: Settings, environ: Mapping[str, str]) -> tuple[str, ...]:
    """Every secret the settings lead to: their credentials, and the keystore's password
    (as secret as the key it opens) read from its environment variable.

    Raises:
        Nothing.
    """
    found = list(settings.secret_values())
    source = settings.execution.key
    if isinstance(source, KeystoreKeySource):
        password = environ.get(source.password_env)
        if password:
            found.append(password)
    return tuple(found)


config_app = typer.Typer(
    name="config", help="Check and explain configuration files.", no_args_is_help=True
)


@config_app.command("check")
def check_command(
    file: Annotated[Path, typer.Argument(help="The YAML settings file to validate.")],
) -> None:
    """Validate FILE: print a summary and exit 0, or every problem and exit 2."""
    try:
        settings = load_settings(file)
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(EXIT_CONFIG) from exc
    typer.echo(f"{file}: OK")
    for line in describe_settings(settings):
        typer.echo(f"  {line}")


def describe_settings(settings: Settings) -> list[str]:
    """A short human summary of `settings` (no secrets: URLs are not shown)."""
    database = settings.database.url.get_secret_value().split("://", 1)[0]
    lines = [
        f"owner: {settings.owner.jurisdiction.value}, method {settings.owner.method.value}",
        f"database: {database}",
    ]
    for chain in settings.chains:
        lines.append(
            f"chain {chain.name} (id {chain.chain_id}): {len(chain.wallets)} wallet(s), "
            f"{len(chain.tokens)} token(s), numeraire {chain.numeraire}"
        )
    harvest = "on" if settings.strategy.harvest.enabled else "off"
    rebalance = "on" if settings.strategy.rebalance.enabled else "off"
    lines.append(f"strategy: harvest {harvest}, rebalance {rebalance}")
    approve = ", auto-approve" if settings.execution.auto_approve else ""
    lines.append(f"execution: {settings.execution.mode.value}{approve}")
    lines.append(f"server: {settings.server.host}:{settings.server.port}")
    return lines


def register(app: typer.Typer) -> None:
    """Add the `config` command group to the root app."""
    app.add_typer(config_app, name="config")
