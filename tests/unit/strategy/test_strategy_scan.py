"""The async scan: gather, plan, quote, decide over sources behind the Protocols."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import pytest
from strategy_builders import (
    ETH,
    FakeQuotes,
    FixedGas,
    FixedPortfolio,
    lot,
    policy,
    snapshot,
    year,
)

from ledger.ids import Address
from strategy.errors import MissingPrice
from strategy.quotes import Quote
from strategy.scan import scan


@dataclass
class _BrokenQuotes:
    """A quote source whose adapter reports an error the strategy must not swallow."""

    async def quote(self, sell_asset: Address, buy_asset: Address, amount_raw: int) -> Quote:
        await asyncio.sleep(0)
        raise MissingPrice(buy_asset)


@pytest.mark.asyncio
async def test_scan_returns_proposals_and_no_trades() -> None:
    lots = [lot("loss", ETH, "10", "30000", 100), lot("small", ETH, "1", "2010", 30)]
    result = await scan(
        FixedPortfolio(snapshot(lots, tax_year=year(short="20000"))),
        FakeQuotes(),
        FixedGas(),
        policy(rebalance=False),
    )
    # both losing lots of the wallet go in one sale: one swap's gas for both
    [harvest] = result.proposals
    assert sorted(u.lot_id for u in harvest.lots) == ["loss", "small"]
    assert result.valuation.managed_value_usd > 0
    assert result.no_trades == ()  # rebalancing is off; nothing was turned down


@pytest.mark.asyncio
async def test_a_source_error_reaches_the_caller_unwrapped() -> None:
    with pytest.raises(MissingPrice):
        await scan(
            FixedPortfolio(snapshot([lot("loss", ETH, "10", "30000", 100)])),
            _BrokenQuotes(),
            FixedGas(),
            policy(rebalance=False),
        )
