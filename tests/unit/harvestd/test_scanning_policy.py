"""Settings -> StrategyPolicy (harvestd.strategy_policy) on config/local.yaml and variants,
and the tax year's start."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from harvestd.settings import Settings, load_settings
from harvestd.strategy_policy import policy_for_chain, tax_year_start
from strategy.policy import RebalanceMode
from strategy.values import Jurisdiction

ROOT = Path(__file__).resolve().parents[3]
LOCAL = ROOT / "config" / "local.yaml"
ENV = {"HARVESTD_RPC_URL": "http://127.0.0.1:8545", "HARVESTD_DATABASE_URL": "sqlite://"}


def settings(tmp_path: Path, replace: dict[str, str] | None = None) -> Settings:
    text = LOCAL.read_text()
    for old, new in (replace or {}).items():
        assert old in text
        text = text.replace(old, new)
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return load_settings(path, ENV)


def address(s: Settings, symbol: str) -> str:
    return next(t.address for t in s.chains[0].tokens if t.symbol == symbol)


def test_local_settings_become_the_policy(tmp_path: Path) -> None:
    s = settings(tmp_path, {"wash_sale: false": "wash_sale: true"})
    policy = policy_for_chain(s, s.chains[0])
    assert policy.rules.code is Jurisdiction.US
    assert policy.rules.reentry_window_days == 30  # wash sale on
    assert policy.rates.short_term_rate == Decimal("0.35")
    assert policy.rates.long_term_rate == Decimal("0.15")
    assert policy.rates.loss_limit_usd == Decimal(3000)
    assert policy.harvest.min_loss_usd == Decimal(50)
    assert policy.harvest.margin_usd == Decimal(10)
    assert policy.harvest.margin_ratio == Decimal(1)  # saving >= 2 x cost
    assert policy.harvest.cash_asset == address(s, "USDC")
    assert policy.harvest.substitutes == {
        address(s, "rETH"): address(s, "wstETH"),
        address(s, "wstETH"): address(s, "rETH"),
    }
    assert policy.rebalance.mode is RebalanceMode.BAND_EDGE
    link = policy.targets.of(address(s, "LINK"))  # type: ignore[arg-type]
    assert link is not None
    assert link.weight == Decimal("0.15")
    assert link.half_width == Decimal("0.0375")  # min(0.05, 0.25 x 0.15)
    assert sum(t.weight for t in policy.targets.assets) == 1


def test_reentry_same_drops_the_substitutes(tmp_path: Path) -> None:
    s = settings(tmp_path, {"reentry: auto": "reentry: same"})
    assert policy_for_chain(s, s.chains[0]).harvest.substitutes == {}


def test_without_targets_only_the_numeraire_is_managed_and_never_breaches(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        {
            "  rebalance:\n    enabled: true": "  rebalance:\n    enabled: false",
            "    targets:\n      USDC: 0.20\n      WETH: 0.25\n      WBTC: 0.20\n"
            "      wstETH: 0.10\n      rETH: 0.10\n      LINK: 0.15\n": "    targets: {}\n",
        },
    )
    policy = policy_for_chain(s, s.chains[0])
    (only,) = policy.targets.assets
    assert only.asset == address(s, "USDC")
    assert (only.lower, only.upper) == (Decimal(0), Decimal(1))


def test_uk_has_no_loss_limit_and_its_tax_year_starts_in_april(tmp_path: Path) -> None:
    s = settings(
        tmp_path,
        {
            "jurisdiction: us": "jurisdiction: uk",
            "method: hifo": "",
            "    short_term: 0.35\n    long_term: 0.15": "    flat: 0.20",
            'tax_year_start: "01-01"': 'tax_year_start: "04-06"',
        },
    )
    policy = policy_for_chain(s, s.chains[0])
    assert policy.rules.code is Jurisdiction.UK
    assert policy.rates.loss_limit_usd == 0
    assert policy.rates.short_term_rate == policy.rates.long_term_rate == Decimal("0.20")
    assert tax_year_start(s, datetime(2025, 4, 5, 23, tzinfo=UTC)) == datetime(
        2024, 4, 6, tzinfo=UTC
    )
    assert tax_year_start(s, datetime(2025, 4, 6, tzinfo=UTC)) == datetime(2025, 4, 6, tzinfo=UTC)
