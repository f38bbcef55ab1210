"""What a confirmed swap did, read from its receipt: amounts, gas, prices, slippage.

Pure: from a receipt and the trade's stored facts to a `SwapOutcome`. The output is the
ERC-20 Transfers of `token_out` to the recipient, or, when the swap paid out native ETH,
the WETH Withdrawals made by the router the transaction called.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from executor.chain import Receipt
from executor.sending import received_raw
from ledger.ids import Address


@dataclass(frozen=True, slots=True)
class SwapOutcome:
    """The numbers of one mined swap."""

    success: bool
    amount_in_raw: int
    amount_out_raw: int
    gas_used: int
    effective_gas_price_wei: int
    effective_price: Decimal | None
    """Output per input in raw units (amount_out_raw / amount_in_raw)."""
    quoted_out_raw: int | None
    slippage_bps: Decimal | None
    """(quote - actual) / quote in basis points; negative when the swap beat its quote."""

    @property
    def gas_paid_wei(self) -> int:
        """Native coin paid for gas."""
        return self.gas_used * self.effective_gas_price_wei


def realised_slippage_bps(quoted_out_raw: int, amount_out_raw: int) -> Decimal | None:
    """How far the output fell short of the quote, in basis points (None without a quote)."""
    if quoted_out_raw <= 0:
        return None
    return Decimal((quoted_out_raw - amount_out_raw) * 10_000) / Decimal(quoted_out_raw)


def read_swap_outcome(
    receipt: Receipt,
    token_out: Address,
    recipient: Address,
    router: Address,
    amount_in_raw: int,
    quoted_out_raw: int | None,
) -> SwapOutcome:
    """The outcome of a swap transaction from its receipt."""
    amount_out = received_raw([receipt], token_out, recipient, None)
    if amount_out == 0:
        amount_out = received_raw([receipt], token_out, recipient, frozenset({router}))
    if not receipt.success:
        amount_out = 0
    price = (
        Decimal(amount_out) / Decimal(amount_in_raw) if amount_in_raw > 0 and amount_out else None
    )
    slippage = None
    if quoted_out_raw is not None and receipt.success:
        slippage = realised_slippage_bps(quoted_out_raw, amount_out)
    return SwapOutcome(
        success=receipt.success,
        amount_in_raw=amount_in_raw,
        amount_out_raw=amount_out,
        gas_used=receipt.gas_used,
        effective_gas_price_wei=receipt.effective_gas_price_wei,
        effective_price=price,
        quoted_out_raw=quoted_out_raw,
        slippage_bps=slippage,
    )
