"""The strategy's exceptions.

    HarvestdError (ledger.errors)
    └── StrategyError             anything the strategy raises on purpose
        ├── InvalidTargets        target weights that are negative or do not add up to 1
        ├── MissingPrice          an asset the scan needs has no price in the snapshot
        ├── UnknownAsset          an asset the scan needs is not described in the snapshot
        ├── InsufficientHoldings  a sale asks for more of an asset than its lots hold
        └── QuoteUnavailable      a QuoteSource could not quote a swap (raised by adapters)

Each leaf carries the fields that describe the problem and builds its own message.
`QuoteUnavailable` is the one error a `QuoteSource` implementation is expected to raise;
`scan` turns it into a `NoTrade` decision instead of failing the whole scan.
"""

from __future__ import annotations

from ledger.errors import HarvestdError
from ledger.ids import Address


class StrategyError(HarvestdError):
    """The strategy could not value, scan or propose."""


class InvalidTargets(StrategyError):
    """Target weights are negative or do not add up to exactly 1."""

    def __init__(self, total_weight: str, problem: str) -> None:
        self.total_weight = total_weight
        self.problem = problem
        super().__init__(
            f"invalid allocation targets ({problem}): weights add up to {total_weight}"
        )


class MissingPrice(StrategyError):
    """An asset held or targeted has no current price."""

    def __init__(self, asset: Address) -> None:
        self.asset = asset
        super().__init__(f"no current price for asset {asset}")


class UnknownAsset(StrategyError):
    """An asset held or targeted is not described (symbol, decimals) in the snapshot."""

    def __init__(self, asset: Address) -> None:
        self.asset = asset
        super().__init__(f"asset {asset} is not described in the portfolio snapshot")


class InsufficientHoldings(StrategyError):
    """A planned sale wants more of an asset than the given lots hold."""

    def __init__(self, asset: Address, wanted_raw: int, held_raw: int) -> None:
        self.asset = asset
        self.wanted_raw = wanted_raw
        self.held_raw = held_raw
        super().__init__(f"cannot sell {wanted_raw} raw units of {asset}: the lots hold {held_raw}")


class QuoteUnavailable(StrategyError):
    """A quote source could not price a swap (no route, node error, zero liquidity)."""

    def __init__(
        self, sell_asset: Address, buy_asset: Address, amount_raw: int, reason: str
    ) -> None:
        self.sell_asset = sell_asset
        self.buy_asset = buy_asset
        self.amount_raw = amount_raw
        self.reason = reason
        super().__init__(
            f"no quote for {amount_raw} raw units of {sell_asset} -> {buy_asset}: {reason}"
        )
