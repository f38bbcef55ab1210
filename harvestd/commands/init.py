"""`harvestd init`: write a starter configuration file for Ethereum mainnet.

The file is built from a template, filled with the owner's wallets and jurisdiction,
and validated with the same rules as `harvestd config check` before it is written, so a
new user starts from a file that is known to be valid (only `${HARVESTD_RPC_URL}` has to
be exported). An existing file is never overwritten unless `--force` is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Final

import typer

from harvestd.commands.config import EXIT_CONFIG, print_config_error
from harvestd.errors import ConfigError
from harvestd.settings import validate_settings
from harvestd.settings_types import Jurisdiction

EXIT_EXISTS: Final = 1

_RATES: Final[dict[Jurisdiction, str]] = {
    Jurisdiction.US: "{short_term: 0.37, long_term: 0.20}",
    Jurisdiction.DE: "{short_term: 0.42}",
    Jurisdiction.UK: "{flat: 0.24}",
    Jurisdiction.CA: "{flat: 0.25}",
    Jurisdiction.GENERIC: "{flat: 0.25}",
}

TEMPLATE: Final = """\
# harvestd configuration (written by `harvestd init`). Every key is documented in
# config/example.yaml of the harvestd repository. Check it with:
#   harvestd config check {path}
# Secrets never go here: export HARVESTD_RPC_URL (and, for live mode, the key variable).

database:
  url: sqlite:///harvestd.db

owner:
  jurisdiction: {jurisdiction}
  method: {method}
  wash_sale: {wash_sale}
  tax_rates: {rates}

chains:
  - name: mainnet
    chain_id: 1
    rpc_url: ${{HARVESTD_RPC_URL}}
    confirmations: 12
    start_block: 0
    numeraire: USDC
    wallets:
{wallets}
    tokens:
      - symbol: USDC
        address: "0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48"
        decimals: 6
      - symbol: WETH
        address: "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
        decimals: 18
        pricing:
          - {{source: uniswap_v3, pool: "0x88e6A0c2dDD26FEEb64F039a2c41296FcB3f5640", quote: USDC}}
    dex:
      weth: "0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2"
      uniswap_v3_factory: "0x1F98431c8aD98523631AE4a59f267346ea31F984"
      swap_router: "0xE592427A0AEce92De3Edee1F18E0157C05861564"
      quoter_v2: "0x61fFE014bA17989E743c5F6cB21bF9697530B21e"

strategy:
  harvest:
    enabled: true
    min_loss_usd: 100

execution:
  mode: dry_run
  # For live mode: key: {{env: HARVESTD_PRIVATE_KEY}}

logging:
  level: info
  format: auto
"""


def render_starter_config(
    path: Path, jurisdiction: Jurisdiction, wallets: list[tuple[str, str]]
) -> str:
    """The starter file's text for `jurisdiction` and `(label, address)` wallets."""
    method = (
        "fifo" if jurisdiction in (Jurisdiction.DE, Jurisdiction.UK, Jurisdiction.CA) else "hifo"
    )
    wallet_lines = "\n".join(
        f'      - {{label: {label}, address: "{address}"}}' for label, address in wallets
    )
    return TEMPLATE.format(
        path=path,
        jurisdiction=jurisdiction.value,
        method=method,
        wash_sale="true" if jurisdiction is Jurisdiction.US else "false",
        rates=_RATES[jurisdiction],
        wallets=wallet_lines,
    )


def _parse_wallet(text: str) -> tuple[str, str]:
    label, sep, address = text.partition("=")
    if not sep or not label or not address:
        raise typer.BadParameter(f"expected LABEL=ADDRESS, got {text!r}", param_hint="--wallet")
    return label.strip(), address.strip()


def init_command(
    path: Annotated[Path, typer.Argument(help="Where to write the file.")] = Path("harvestd.yaml"),
    wallet: Annotated[
        list[str],
        typer.Option("--wallet", "-w", help="A wallet as LABEL=ADDRESS (EIP-55); repeat."),
    ] = [],  # noqa: B006 - typer reads the default; it is never mutated
    jurisdiction: Annotated[
        Jurisdiction, typer.Option(help="The owner's tax jurisdiction.")
    ] = Jurisdiction.US,
    force: Annotated[bool, typer.Option(help="Overwrite an existing file.")] = False,
) -> None:
    """Write a starter configuration (validated before it is written)."""
    if not wallet:
        raise typer.BadParameter("give at least one --wallet LABEL=ADDRESS", param_hint="--wallet")
    wallets = [_parse_wallet(w) for w in wallet]
    if path.exists() and not force:
        typer.echo(f"{path} exists; use --force to overwrite it", err=True)
        raise typer.Exit(EXIT_EXISTS)
    text = render_starter_config(path, jurisdiction, wallets)
    try:
        validate_settings(text, path, {"HARVESTD_RPC_URL": "http://127.0.0.1:8545"})
    except ConfigError as exc:
        print_config_error(exc)
        raise typer.Exit(EXIT_CONFIG) from exc
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    typer.echo(f"wrote {path}")
    typer.echo("next: export HARVESTD_RPC_URL=<your node's URL>")
    typer.echo(f"      harvestd config check {path}")


def register(app: typer.Typer) -> None:
    """Add `harvestd init` to the root app."""
    app.command("init")(init_command)
