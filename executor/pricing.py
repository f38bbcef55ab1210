"""The pricing source's prices as a value, and the exact conversions routing and guards need.

The executor does not price anything itself: the daemon passes in `ReferencePrices` (USD
per whole token and per native coin, from the indexer's pricing), and these functions turn
them into values, cross-token amounts and gas costs in the output token. All Decimal/int.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal

from executor.errors import PriceMissing
from executor.routes import Token
from ledger.ids import Address

WEI_PER_ETH = 10**18


@dataclass(frozen=True, slots=True)
class ReferencePrices:
    """USD prices per whole token (by address) and per whole native coin."""

    tokens: Mapping[Address, Token]
    usd_per_token: Mapping[Address, Decimal]
    native_usd: Decimal
    source: str = field(default="reference")

    def token(self, address: Address) -> Token:
        """The token's description.

        Raises:
            PriceMissing: the token is unknown to the pricing source.
        """
        found = self.tokens.get(address)
        if found is None:
            raise PriceMissing(address)
        return found

    def price_usd(self, address: Address) -> Decimal:
        """USD per whole token.

        Raises:
            PriceMissing: no price for the token.
        """
        price = self.usd_per_token.get(address)
        if price is None or price <= 0:
            raise PriceMissing(address)
        return price

    def value_usd(self, address: Address, amount_raw: int) -> Decimal:
        """The USD value of `amount_raw` of a token.

        Raises:
            PriceMissing: no price for the token.
        """
        decimals = self.token(address).decimals
        return Decimal(amount_raw) * self.price_usd(address) / (Decimal(10) ** decimals)

    def convert_raw(self, amount_raw: int, from_token: Address, to_token: Address) -> int:
        """`amount_raw` of one token expressed in another at reference prices, rounded down.

        Raises:
            PriceMissing: either token has no price.
        """
        usd = self.value_usd(from_token, amount_raw)
        to_decimals = self.token(to_token).decimals
        raw = usd * (Decimal(10) ** to_decimals) / self.price_usd(to_token)
        return int(raw.to_integral_value(rounding=ROUND_FLOOR))

    def gas_cost_usd(self, gas_cost_wei: int) -> Decimal:
        """USD value of a gas cost paid in the native coin."""
        return Decimal(gas_cost_wei) * self.native_usd / WEI_PER_ETH

    def gas_cost_in_token(self, gas_cost_wei: int, token: Address) -> int:
        """A gas cost expressed in raw units of `token`, rounded up (a cost errs high).

        Raises:
            PriceMissing: the token has no price.
        """
        raw = self.gas_cost_usd(gas_cost_wei) * (Decimal(10) ** self.token(token).decimals)
        raw = raw / self.price_usd(token)
        return int(-((-raw).to_integral_value(rounding=ROUND_FLOOR)))
