"""Values for the strategy's unit tests: assets, lots, snapshots, policies, and fakes
behind the quote and gas Protocols (the real ones need a chain; unit tests have none)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from ledger.events import NATIVE_ASSET
from ledger.ids import Address
from strategy.errors import QuoteUnavailable
from strategy.policy import HarvestPolicy, RebalanceMode, RebalancePolicy, StrategyPolicy
from strategy.quotes import GasPrice, Quote
from strategy.scan import ScanResult, scan
from strategy.values import (
    Acquisition,
    Asset,
    AssetTarget,
    Jurisdiction,
    LossDisposal,
    LotId,
    OpenLot,
    PortfolioSnapshot,
    Price,
    Targets,
    TaxRates,
    TaxYearState,
    rules_for,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
W1 = Address("0x" + "a1" * 20)
W2 = Address("0x" + "a2" * 20)
ETH = Address("0x" + "e0" * 20)
STETH = Address("0x" + "5e" * 20)
USDC = Address("0x" + "c0" * 20)
WBTC = Address("0x" + "b0" * 20)

ASSETS = {
    ETH: Asset(ETH, "WETH", 18),
    STETH: Asset(STETH, "stETH", 18),
    USDC: Asset(USDC, "USDC", 6),
    WBTC: Asset(WBTC, "WBTC", 8),
    NATIVE_ASSET: Asset(NATIVE_ASSET, "ETH", 18),
}
PRICES = {ETH: "2000", STETH: "2000", USDC: "1", WBTC: "60000", NATIVE_ASSET: "2000"}

US_RATES = TaxRates(
    short_term_rate=Decimal("0.37"),
    long_term_rate=Decimal("0.20"),
    ordinary_income_rate=Decimal("0.37"),
    loss_limit_usd=Decimal(3000),
    carry_forward_value_rate=Decimal(0),
)
UK_RATES = TaxRates(Decimal("0.20"), Decimal("0.20"), Decimal(0), Decimal(0), Decimal(0))


def raw(asset: Address, units: str) -> int:
    """Whole units (decimal text) to raw units."""
    return int(Decimal(units).scaleb(ASSETS[asset].decimals))


def lot(
    lot_id: str,
    asset: Address,
    units: str,
    cost_usd: str,
    days_ago: int,
    wallet: Address = W1,
) -> OpenLot:
    """An open lot acquired `days_ago` days before NOW."""
    at = NOW - timedelta(days=days_ago)
    return OpenLot(LotId(lot_id), asset, wallet, raw(asset, units), Decimal(cost_usd), at, at)


def year(short: str = "0", long: str = "0") -> TaxYearState:
    """The tax year with these net realised figures so far."""
    return TaxYearState(2026, Decimal(short), Decimal(long))


def snapshot(
    lots: Sequence[OpenLot],
    *,
    tax_year: TaxYearState | None = None,
    prices: dict[Address, str] | None = None,
    acquisitions: Iterable[Acquisition] = (),
    loss_disposals: Iterable[LossDisposal] = (),
    open_fingerprints: Iterable[str] = (),
    now: datetime = NOW,
) -> PortfolioSnapshot:
    """A snapshot at `now` with the default prices unless overridden."""
    table = dict(PRICES)
    table.update(prices or {})
    return PortfolioSnapshot(
        taken_at=now,
        assets=ASSETS,
        prices={a: Price(a, Decimal(p), now) for a, p in table.items()},
        lots=tuple(lots),
        year=tax_year or year(),
        recent_acquisitions=tuple(acquisitions),
        recent_loss_disposals=tuple(loss_disposals),
        open_fingerprints=frozenset(open_fingerprints),
    )


def targets(
    *weights: tuple[Address, str], abs_band: str = "0.10", rel_band: str | None = None
) -> Targets:
    """Targets with one band setting for every asset."""
    return Targets(
        tuple(
            AssetTarget(
                a,
                Decimal(w),
                Decimal(abs_band),
                None if rel_band is None else Decimal(rel_band),
            )
            for a, w in weights
        )
    )


def policy(
    *,
    code: Jurisdiction = Jurisdiction.US,
    wash_sale: bool = False,
    rates: TaxRates = US_RATES,
    allocation: Targets | None = None,
    mode: RebalanceMode = RebalanceMode.TARGET,
    harvest: bool = True,
    rebalance: bool = True,
    min_loss_usd: str = "1",
    margin_usd: str = "0",
    margin_ratio: str = "0",
    substitutes: dict[Address, Address] | None = None,
    edge_buffer: str = "0",
    max_extra_cost_to_target_usd: str = "0",
    min_trade_usd: str = "0",
) -> StrategyPolicy:
    """A policy with test defaults: US rates, ETH/stETH substitutes, USDC as cash."""
    return StrategyPolicy(
        rules=rules_for(code, wash_sale=wash_sale),
        rates=rates,
        targets=allocation or targets((ETH, "0.5"), (USDC, "0.5")),
        harvest=HarvestPolicy(
            enabled=harvest,
            min_loss_usd=Decimal(min_loss_usd),
            margin_usd=Decimal(margin_usd),
            margin_ratio=Decimal(margin_ratio),
            cash_asset=USDC,
            substitutes={ETH: STETH, STETH: ETH} if substitutes is None else substitutes,
        ),
        rebalance=RebalancePolicy(
            enabled=rebalance,
            mode=mode,
            edge_buffer=Decimal(edge_buffer),
            max_extra_cost_to_target_usd=Decimal(max_extra_cost_to_target_usd),
            min_trade_usd=Decimal(min_trade_usd),
        ),
    )


GAS = GasPrice(base_fee_wei=20 * 10**9, priority_fee_wei=0, native_price_usd=Decimal(2000))
"""150,000 gas units cost 150000 x 20 gwei x $2000 = $6."""


@dataclass
class FakeQuotes:
    """Quotes at the snapshot's mid prices less a fixed fee and impact; 150k gas a swap.

    Stands in for the executor's on-chain quoting (a unit test has no chain).
    """

    fee_bps: Decimal = Decimal(0)
    impact_bps: Decimal = Decimal(0)
    gas_units: int = 150_000
    unavailable: set[tuple[Address, Address]] = field(default_factory=set)
    asked: list[tuple[Address, Address, int]] = field(default_factory=list)

    async def quote(self, sell_asset: Address, buy_asset: Address, amount_raw: int) -> Quote:
        self.asked.append((sell_asset, buy_asset, amount_raw))
        if (sell_asset, buy_asset) in self.unavailable:
            raise QuoteUnavailable(sell_asset, buy_asset, amount_raw, "no pool")
        sell, buy = ASSETS[sell_asset], ASSETS[buy_asset]
        value = Decimal(amount_raw).scaleb(-sell.decimals) * Decimal(PRICES[sell_asset])
        kept = 1 - (self.fee_bps + self.impact_bps) / 10_000
        out = int((value * kept / Decimal(PRICES[buy_asset])).scaleb(buy.decimals))
        return Quote(out, self.gas_units, self.fee_bps, self.impact_bps)


@dataclass
class FixedGas:
    """The gas price source: a fixed price."""

    price: GasPrice = GAS

    async def gas_price(self) -> GasPrice:
        return self.price


@dataclass
class FixedPortfolio:
    """The portfolio source: a fixed snapshot."""

    value: PortfolioSnapshot

    async def snapshot(self) -> PortfolioSnapshot:
        return self.value


def run_scan(
    snap: PortfolioSnapshot, pol: StrategyPolicy, quotes: FakeQuotes | None = None
) -> ScanResult:
    """One full scan (gather, plan, quote, decide) over the fakes."""
    return asyncio.run(scan(FixedPortfolio(snap), quotes or FakeQuotes(), FixedGas(), pol))
