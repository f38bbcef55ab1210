"""The shipped configuration files validate, and example.yaml documents every field."""

from __future__ import annotations

import re
import types
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Union, get_args, get_origin

from pydantic import BaseModel

from harvestd.settings import (
    ChainlinkPricing,
    EnvKeySource,
    ExecutionMode,
    Jurisdiction,
    KeystoreKeySource,
    LotMethod,
    MonthDay,
    Settings,
    UniswapV3Pricing,
    load_settings,
    validate_settings,
)

ROOT = Path(__file__).resolve().parents[3]
EXAMPLE = ROOT / "config" / "example.yaml"
LOCAL = ROOT / "config" / "local.yaml"
EXAMPLE_ENV = {"MAINNET_RPC_URL": "https://eth-mainnet.example/v2/abcdefghij0123456789"}


def _models(annotation: object) -> list[type[BaseModel]]:
    """Every pydantic model class reachable inside a field annotation."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = get_origin(annotation)
    if origin is Annotated:
        return _models(get_args(annotation)[0])
    if origin in (Union, types.UnionType, tuple, list, dict):
        return [m for arg in get_args(annotation) for m in _models(arg)]
    return []


def _all_fields(model: type[BaseModel], seen: set[type[BaseModel]]) -> set[tuple[str, str]]:
    if model in seen:
        return set()
    seen.add(model)
    found: set[tuple[str, str]] = set()
    for name, field in model.model_fields.items():
        found.add((model.__name__, name))
        for inner in _models(field.annotation):
            found |= _all_fields(inner, seen)
    return found


def test_example_yaml_validates() -> None:
    settings = load_settings(EXAMPLE, EXAMPLE_ENV)
    assert settings.owner.jurisdiction is Jurisdiction.US
    assert settings.owner.method is LotMethod.HIFO
    assert settings.execution.mode is ExecutionMode.DRY_RUN
    chain = settings.chains[0]
    assert chain.chain_id == 1
    assert chain.rpc_url.get_secret_value() == EXAMPLE_ENV["MAINNET_RPC_URL"]
    # ${VAR:-default} falls back when the variable is unset
    assert chain.send_rpc_url is not None
    assert chain.send_rpc_url.get_secret_value() == "https://rpc.flashbots.net"
    weth = chain.find_token("WETH")
    assert weth is not None
    assert isinstance(weth.pricing[0], UniswapV3Pricing)
    assert isinstance(weth.pricing[2], ChainlinkPricing)
    assert isinstance(settings.execution.key, EnvKeySource)
    assert settings.execution.max_priority_fee_gwei == Decimal("1.5")


def test_local_yaml_validates_for_the_demo_world() -> None:
    settings = load_settings(LOCAL, {})
    chain = settings.chains[0]
    assert chain.chain_id == 31337
    assert settings.execution.mode is ExecutionMode.DRY_RUN
    assert [w.label for w in chain.wallets] == ["main", "cold"]
    assert {t.symbol for t in chain.tokens} == {"USDC", "WBTC", "WETH", "wstETH", "rETH", "LINK"}
    assert chain.find_token("USDC") is not None
    assert chain.find_token("WBTC") is not None
    usdc, wbtc = chain.find_token("USDC"), chain.find_token("WBTC")
    assert usdc is not None and usdc.decimals == 6
    assert wbtc is not None and wbtc.decimals == 8
    assert settings.strategy.harvest.substitutes == {"wstETH": "rETH", "rETH": "wstETH"}
    assert sum(settings.strategy.rebalance.targets.values()) == 1
    url = settings.database.url.get_secret_value()
    assert url == f"sqlite:///{(ROOT / '.harvestd-cache' / 'local.db').resolve()}"


def test_every_model_field_appears_in_example_yaml() -> None:
    text = EXAMPLE.read_text(encoding="utf-8")
    keys = set(re.findall(r"^[\s#-]*([A-Za-z_][A-Za-z0-9_]*):", text, flags=re.MULTILINE))
    keys |= set(re.findall(r"[{,]\s*([A-Za-z_][A-Za-z0-9_]*):", text))
    fields = _all_fields(Settings, set())
    missing = sorted(f"{model}.{name}" for model, name in fields if name not in keys)
    assert missing == []
    # the walk really reached the leaves, including both key sources
    assert ("KeystoreKeySource", "password_env") in fields
    assert ("EnvKeySource", "env") in fields
    assert KeystoreKeySource.__name__ and EnvKeySource.__name__


def test_ratios_are_exact_decimals_and_money_is_never_float() -> None:
    settings = load_settings(EXAMPLE, EXAMPLE_ENV)
    targets = settings.strategy.rebalance.targets
    assert all(type(w) is Decimal for w in targets.values())
    assert targets["USDC"] == Decimal("0.30")
    assert settings.owner.tax_rates.long_term == Decimal("0.20")
    assert type(settings.owner.tax_rates.short_term) is Decimal
    assert type(settings.strategy.harvest.min_loss_usd) is Decimal


def _minimal(extra_owner: str = "", database: str = "") -> str:
    return f"""\
{database}owner:
  jurisdiction: uk
  tax_rates: {{flat: 0.2}}
{extra_owner}chains:
  - name: local
    chain_id: 31337
    rpc_url: http://127.0.0.1:8545
    numeraire: USDC
    wallets: [{{label: main, address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}}]
    tokens: [{{symbol: USDC, address: "0x5FbDB2315678afecb367f032d93F642f64180aa3"}}]
"""


def test_defaults_fill_in_and_the_uk_tax_year_starts_in_april(tmp_path: Path) -> None:
    settings = validate_settings(_minimal(), tmp_path / "h.yaml", {})
    assert settings.owner.tax_year_start == MonthDay(4, 6)
    assert settings.execution.mode is ExecutionMode.DRY_RUN
    assert settings.execution.auto_approve is False
    assert settings.execution.quote_max_age_blocks == 2
    assert settings.server.host == "127.0.0.1" and settings.server.is_loopback
    assert settings.database.url.get_secret_value() == f"sqlite:///{tmp_path.resolve()}/harvestd.db"


def test_postgres_urls_are_normalised_to_psycopg3(tmp_path: Path) -> None:
    text = _minimal(database="database:\n  url: postgresql://postgres@127.0.0.1:5432/test\n")
    settings = validate_settings(text, tmp_path / "h.yaml", {})
    url = settings.database.url.get_secret_value()
    assert url == "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def test_secret_values_lists_url_credentials_only(tmp_path: Path) -> None:
    text = _minimal().replace("http://127.0.0.1:8545", "${RPC}")
    settings = validate_settings(
        text,
        tmp_path / "h.yaml",
        {"RPC": "https://node.example/v3/0123456789abcdef0123456789abcdef"},
    )
    assert "0123456789abcdef0123456789abcdef" in settings.secret_values()
    plain = validate_settings(_minimal(), tmp_path / "h.yaml", {})
    assert plain.secret_values() == ()
