"""Live trading needs `execution.mode: live`, spelled exactly, and a key source whose
variable is set: a key in the environment alone, a truthy look-alike, or a `live` mode
without a key never yields settings that trade."""

from __future__ import annotations

from pathlib import Path

import pytest

from harvestd.errors import ConfigInvalid
from harvestd.settings import Settings, validate_settings
from harvestd.settings_types import ExecutionMode

KEY = "0x4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
BASE = """
owner:
  jurisdiction: us
  method: hifo
  tax_rates: {short_term: 0.35, long_term: 0.15}
chains:
  - name: local
    chain_id: 31337
    rpc_url: http://127.0.0.1:8545
    native_symbol: ETH
    numeraire: USDC
    wallets:
      - {label: main, address: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"}
    tokens:
      - {symbol: USDC, address: "0xa513E6E4b8f2a923D98304ec87F64353C4D5C853", decimals: 6}
"""
ENV = {"HARVESTD_SIGNING_KEY": KEY}


def _settings(execution: str, environ: dict[str, str], tmp_path: Path) -> Settings:
    return validate_settings(BASE + execution, tmp_path / "harvestd.yaml", environ)


@pytest.mark.parametrize(
    "execution",
    [
        "",
        "execution: {}\n",
        "execution:\n  key: {env: HARVESTD_SIGNING_KEY}\n",
        "execution:\n  mode: dry_run\n  key: {env: HARVESTD_SIGNING_KEY}\n",
        "execution:\n  auto_approve: true\n  key: {env: HARVESTD_SIGNING_KEY}\n",
    ],
)
def test_without_mode_live_nothing_trades(execution: str, tmp_path: Path) -> None:
    settings = _settings(execution, ENV, tmp_path)
    assert settings.execution.mode is ExecutionMode.DRY_RUN
    assert not settings.execution.is_live


@pytest.mark.parametrize("mode", ["LIVE", "Live", "true", "yes", "on", "1", '"live "', '""'])
def test_look_alikes_of_live_are_refused(mode: str, tmp_path: Path) -> None:
    execution = f"execution:\n  mode: {mode}\n  key: {{env: HARVESTD_SIGNING_KEY}}\n"
    try:
        settings = _settings(execution, ENV, tmp_path)
    except ConfigInvalid as refused:
        assert "execution.mode" in str(refused)
        return
    assert not settings.execution.is_live, mode


def test_live_without_a_key_source_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigInvalid) as refused:
        _settings("execution:\n  mode: live\n", ENV, tmp_path)
    assert "execution.key" in str(refused.value)


def test_live_with_its_variable_unset_is_refused(tmp_path: Path) -> None:
    execution = "execution:\n  mode: live\n  key: {env: HARVESTD_SIGNING_KEY}\n"
    with pytest.raises(ConfigInvalid) as refused:
        _settings(execution, {}, tmp_path)
    assert "HARVESTD_SIGNING_KEY" in str(refused.value)


def test_live_with_a_key_is_live_and_the_key_is_not_in_the_settings(tmp_path: Path) -> None:
    execution = "execution:\n  mode: live\n  key: {env: HARVESTD_SIGNING_KEY}\n"
    settings = _settings(execution, ENV, tmp_path)
    assert settings.execution.is_live
    dumped = f"{settings!r}{settings.model_dump()!r}{settings.model_dump_json()}"
    assert KEY[2:] not in dumped.lower()
