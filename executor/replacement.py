"""Replacing a stuck transaction: the same nonce with both fee fields raised.

Pure. A node accepts a replacement only when both `maxFeePerGas` and
`maxPriorityFeePerGas` rise by its price bump (10 % on geth and Anvil), so each field is
raised by at least `fee_bump_percent` (>= 10), rounded up, and the new max fee also
covers the next block's base fee plus the new tip. A bump that would pass the configured
cap on max fee per gas is refused (`ReplacementAboveCap`): the stuck transaction is kept.
"""

from __future__ import annotations

from executor.errors import ReplacementAboveCap
from executor.guards import FeeCaps

MIN_FEE_BUMP_PERCENT = 10


def bumped(value_wei: int, percent: int) -> int:
    """`value_wei` raised by `percent` %, rounded up, and by at least 1 wei."""
    return max(-((-value_wei * (100 + percent)) // 100), value_wei + 1)


def replacement_fees(
    current: FeeCaps,
    fee_bump_percent: int,
    next_base_fee_wei: int,
    max_fee_per_gas_cap_wei: int,
    tx_hash: str = "",
) -> FeeCaps:
    """The fees of a replacement for a transaction signed with `current`.

    Raises:
        ReplacementAboveCap: the bumped max fee is above `max_fee_per_gas_cap_wei`.
        ValueError: `fee_bump_percent` below 10.
    """
    if fee_bump_percent < MIN_FEE_BUMP_PERCENT:
        raise ValueError(f"fee_bump_percent {fee_bump_percent} is below {MIN_FEE_BUMP_PERCENT}")
    tip = bumped(current.max_priority_fee_per_gas_wei, fee_bump_percent)
    max_fee = max(bumped(current.max_fee_per_gas_wei, fee_bump_percent), next_base_fee_wei + tip)
    if max_fee > max_fee_per_gas_cap_wei:
        raise ReplacementAboveCap(tx_hash, max_fee, max_fee_per_gas_cap_wei)
    return FeeCaps(max_fee, tip, next_base_fee_wei)
