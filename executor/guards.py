"""The executor's guards: pure checks on frozen values that refuse a trade with the numbers.

Each `check_*` returns None when the trade may go on and raises a `TradeRefused` subclass
otherwise; `min_out_from_slippage`, `choose_fee_caps` and `choose_deadline` derive the
values the transaction will carry. Nothing here does I/O: the caller gathers the quote,
the base fee and the day's traded value, and calls these before signing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from executor.errors import (
    DailyCapExceeded,
    DeadlineTooFar,
    GasPriceAboveCap,
    GasShareTooHigh,
    PriceImpactTooHigh,
    QuoteStale,
    RouterNotAllowed,
    SlippageExceeded,
    TokenNotAllowed,
    TradeAboveCap,
)
from ledger.ids import Address

MAX_DEADLINE_SECONDS = 300
"""DESIGN: a swap's deadline is at most five minutes ahead."""

MAX_QUOTE_AGE_BLOCKS = 2
"""A quote older than two blocks is not good enough to sign against."""


@dataclass(frozen=True, slots=True)
class GuardLimits:
    """Every limit the guards enforce; built from the validated settings."""

    max_slippage_bps: int
    max_price_impact_bps: int
    max_fee_per_gas_wei: int
    priority_fee_wei: int
    max_gas_share_bps: int
    allowed_tokens: frozenset[Address]
    allowed_routers: frozenset[Address]
    max_trade_usd: Decimal
    max_daily_usd: Decimal
    deadline_seconds: int = 120
    max_quote_age_blocks: int = MAX_QUOTE_AGE_BLOCKS


@dataclass(frozen=True, slots=True)
class FeeCaps:
    """The EIP-1559 fee fields a transaction will carry."""

    max_fee_per_gas_wei: int
    max_priority_fee_per_gas_wei: int
    base_fee_wei: int
    """The base fee they were chosen against (the next block's, when known)."""

    @property
    def expected_gas_price_wei(self) -> int:
        """What one gas unit is expected to cost if included at this base fee."""
        return min(self.max_fee_per_gas_wei, self.base_fee_wei + self.max_priority_fee_per_gas_wei)


def min_out_from_slippage(quoted_out_raw: int, max_slippage_bps: int) -> int:
    """The minimum output that stays within the slippage limit, rounded up (stricter).

    Raises:
        ValueError: a slippage limit outside 0..10000 bps.
    """
    if not 0 <= max_slippage_bps <= 10_000:
        raise ValueError(f"max_slippage_bps must be within 0..10000, got {max_slippage_bps}")
    return -((-quoted_out_raw * (10_000 - max_slippage_bps)) // 10_000)


def check_slippage(route: str, min_out_raw: int, quoted_out_raw: int) -> None:
    """Refuse when a fresh quote no longer reaches the minimum output.

    Raises:
        SlippageExceeded: quoted_out_raw < min_out_raw.
    """
    if quoted_out_raw < min_out_raw:
        raise SlippageExceeded(route, min_out_raw, quoted_out_raw)


def price_impact_bps(quoted_out_raw: int, reference_out_raw: int) -> Decimal:
    """How far the output falls below its value at the pricing source's price, in bps."""
    if reference_out_raw <= 0:
        return Decimal(0)
    return Decimal(reference_out_raw - quoted_out_raw) * 10_000 / reference_out_raw


def check_price_impact(
    route: str, quoted_out_raw: int, reference_out_raw: int, max_price_impact_bps: int
) -> None:
    """Refuse when the output is too far below what the pricing source says the input is worth.

    The pool fee counts as impact here: it is part of what the trade costs.

    Raises:
        PriceImpactTooHigh: the shortfall is above the limit.
    """
    impact = price_impact_bps(quoted_out_raw, reference_out_raw)
    if impact > max_price_impact_bps:
        raise PriceImpactTooHigh(
            route, quoted_out_raw, reference_out_raw, impact, max_price_impact_bps
        )


def choose_fee_caps(base_fee_wei: int, priority_fee_wei: int, max_fee_per_gas_wei: int) -> FeeCaps:
    """EIP-1559 fees: room for the base fee to double, never above the cap.

    Raises:
        GasPriceAboveCap: even base fee + tip is above the cap, so the cap could not be kept.
    """
    if base_fee_wei + priority_fee_wei > max_fee_per_gas_wei:
        raise GasPriceAboveCap(base_fee_wei, priority_fee_wei, max_fee_per_gas_wei)
    max_fee = min(2 * base_fee_wei + priority_fee_wei, max_fee_per_gas_wei)
    return FeeCaps(max_fee, priority_fee_wei, base_fee_wei)


def check_gas_share(
    gas_cost_usd: Decimal, trade_value_usd: Decimal, max_gas_share_bps: int
) -> None:
    """Refuse when gas would eat too large a share of the trade's value.

    Raises:
        GasShareTooHigh: gas_cost / value above the limit (or a worthless trade).
    """
    if trade_value_usd <= 0 or gas_cost_usd * 10_000 > trade_value_usd * max_gas_share_bps:
        raise GasShareTooHigh(gas_cost_usd, trade_value_usd, max_gas_share_bps)


def check_tokens_allowed(tokens: tuple[Address, ...], allowed: frozenset[Address]) -> None:
    """Refuse a route through any token outside the allow-list.

    Raises:
        TokenNotAllowed: the first token that is not allowed.
    """
    for token in tokens:
        if token not in allowed:
            raise TokenNotAllowed(token)


def check_router_allowed(router: Address, allowed: frozenset[Address]) -> None:
    """Refuse a router outside the allow-list.

    Raises:
        RouterNotAllowed: the router is not allowed.
    """
    if router not in allowed:
        raise RouterNotAllowed(router)


def check_trade_cap(value_usd: Decimal, max_trade_usd: Decimal) -> None:
    """Refuse a trade worth more than the per-trade cap.

    Raises:
        TradeAboveCap: value_usd > max_trade_usd.
    """
    if value_usd > max_trade_usd:
        raise TradeAboveCap(value_usd, max_trade_usd)


def check_daily_cap(spent_today_usd: Decimal, value_usd: Decimal, max_daily_usd: Decimal) -> None:
    """Refuse a trade that would take today's traded value past the daily cap.

    Raises:
        DailyCapExceeded: spent_today_usd + value_usd > max_daily_usd.
    """
    if spent_today_usd + value_usd > max_daily_usd:
        raise DailyCapExceeded(spent_today_usd, value_usd, max_daily_usd)


def check_quote_fresh(quote_block: int, current_block: int, max_age_blocks: int) -> None:
    """Refuse a quote taken more than `max_age_blocks` blocks before the current one.

    Raises:
        QuoteStale: current_block - quote_block > max_age_blocks.
    """
    if current_block - quote_block > max_age_blocks:
        raise QuoteStale(quote_block, current_block, max_age_blocks)


def choose_deadline(now_timestamp: int, deadline_seconds: int) -> int:
    """The swap's deadline (unix seconds), at most five minutes ahead.

    Raises:
        DeadlineTooFar: deadline_seconds above MAX_DEADLINE_SECONDS.
    """
    if deadline_seconds > MAX_DEADLINE_SECONDS or deadline_seconds <= 0:
        raise DeadlineTooFar(deadline_seconds, MAX_DEADLINE_SECONDS)
    return now_timestamp + deadline_seconds
