"""The executor's exceptions.

    HarvestdError (ledger.errors)
    └── ExecutorError                 anything the executor raises on purpose
        ├── ChainError                the node could not answer (executor.chain translates web3/aiohttp)
        │   ├── RpcError              the node answered with a JSON-RPC error (method, code, message)
        │   ├── RpcUnavailable        no answer: connection refused, timeout, bad response
        │   └── CallReverted          an eth_call / eth_estimateGas reverted (to, reason, data)
        ├── NoRouteFound              no pool connects the two tokens with liquidity
        ├── PriceMissing              the pricing source has no price for a token
        ├── TradeRefused              a guard refused the trade; nothing was sent
        │   ├── SlippageExceeded      the fresh quote is below the minimum output
        │   ├── PriceImpactTooHigh    output too far below the pricing source's value
        │   ├── GasPriceAboveCap      base fee + tip above the cap on max fee per gas
        │   ├── GasShareTooHigh       gas cost too large a share of the trade's value
        │   ├── TokenNotAllowed       a token outside the allow-list
        │   ├── RouterNotAllowed      a router outside the allow-list
        │   ├── TradeAboveCap         the trade's value above the per-trade cap
        │   ├── DailyCapExceeded      today's traded value would pass the daily cap
        │   ├── QuoteStale            the quote is older than allowed (blocks)
        │   ├── DeadlineTooFar        a deadline further out than allowed (seconds)
        │   └── SimulationReverted    the exact transaction reverts when simulated
        ├── TransactionFailed         a sent transaction was mined but reverted
        ├── SigningFailed             the key could not sign (the key itself is never shown)
        ├── ProposalNotApproved       live execution of a proposal nobody approved (proposal, status)
        ├── ExecutionInFlight         another attempt of the trade is being signed or sent
        ├── UnsupportedTrade          a plan the exactly-once runner cannot record (several swaps)
        ├── ReplacementAboveCap       a fee bump would pass the fee cap; the stuck tx is kept
        ├── NonceTaken                our nonce was mined by a transaction that is not ours
        ├── BroadcastFailed           the node refused the signed bytes; they stay `signed`
        └── ReceiptTimedOut           no receipt in time; the execution stays `sent` (resumable)

Each leaf carries the numbers that explain it and builds its own message.
"""

from __future__ import annotations

from decimal import Decimal
from typing import ClassVar

from ledger.errors import HarvestdError
from ledger.ids import Address


class ExecutorError(HarvestdError):
    """The executor refused or failed to carry out a trade."""


class ChainError(ExecutorError):
    """The node could not give an answer the executor can use."""


class RpcError(ChainError):
    """The node answered a JSON-RPC request with an error object."""

    def __init__(self, method: str, code: int | None, message: str) -> None:
        self.method = method
        self.code = code
        self.message = message
        super().__init__(f"{method} failed: rpc error {code}: {message}")


class RpcUnavailable(ChainError):
    """The node did not answer (connection refused, timeout, malformed reply)."""

    def __init__(self, method: str, endpoint: str, reason: str) -> None:
        self.method = method
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"{method} to {endpoint} got no usable answer: {reason}")


class CallReverted(ChainError):
    """An eth_call or eth_estimateGas reverted."""

    def __init__(self, method: str, to: Address | None, reason: str, revert_data: str) -> None:
        self.method = method
        self.to = to
        self.reason = reason
        self.revert_data = revert_data
        super().__init__(f"{method} to {to} reverted: {reason or '(no reason)'} data={revert_data}")


class NoRouteFound(ExecutorError):
    """No configured pool route connects the two tokens with liquidity."""

    def __init__(self, token_in: Address, token_out: Address, amount_in_raw: int) -> None:
        self.token_in = token_in
        self.token_out = token_out
        self.amount_in_raw = amount_in_raw
        super().__init__(
            f"no route from {token_in} to {token_out} for amount_in_raw={amount_in_raw}"
        )


class PriceMissing(ExecutorError):
    """The pricing source has no price for a token the trade needs."""

    def __init__(self, token: Address) -> None:
        self.token = token
        super().__init__(f"no reference price for token {token}")


class TradeRefused(ExecutorError):
    """A guard refused the trade before anything was signed or sent."""

    refusal: ClassVar[str] = "refused"


class SlippageExceeded(TradeRefused):
    """The fresh quote fell below the minimum output set from the slippage limit."""

    refusal = "slippage_exceeded"

    def __init__(self, route: str, min_out_raw: int, quoted_out_raw: int) -> None:
        self.route = route
        self.min_out_raw = min_out_raw
        self.quoted_out_raw = quoted_out_raw
        super().__init__(
            f"route {route}: quoted_out_raw={quoted_out_raw} is below min_out_raw={min_out_raw}"
        )


class PriceImpactTooHigh(TradeRefused):
    """The output is further below the pricing source's value than allowed."""

    refusal = "price_impact_too_high"

    def __init__(
        self,
        route: str,
        quoted_out_raw: int,
        reference_out_raw: int,
        impact_bps: Decimal,
        max_bps: int,
    ) -> None:
        self.route = route
        self.quoted_out_raw = quoted_out_raw
        self.reference_out_raw = reference_out_raw
        self.impact_bps = impact_bps
        self.max_bps = max_bps
        super().__init__(
            f"route {route}: price impact {impact_bps:.2f} bps above the limit {max_bps} bps "
            f"(quoted_out_raw={quoted_out_raw}, reference_out_raw={reference_out_raw})"
        )


class GasPriceAboveCap(TradeRefused):
    """The fee needed for inclusion (base fee + tip) is above the cap on max fee per gas."""

    refusal = "gas_price_above_cap"

    def __init__(self, base_fee_wei: int, priority_fee_wei: int, cap_wei: int) -> None:
        self.base_fee_wei = base_fee_wei
        self.priority_fee_wei = priority_fee_wei
        self.cap_wei = cap_wei
        super().__init__(
            f"base fee {base_fee_wei} wei + tip {priority_fee_wei} wei is above the cap "
            f"max_fee_per_gas_wei={cap_wei}"
        )


class GasShareTooHigh(TradeRefused):
    """The gas cost is too large a share of the trade's value."""

    refusal = "gas_share_too_high"

    def __init__(self, gas_cost_usd: Decimal, trade_value_usd: Decimal, max_bps: int) -> None:
        self.gas_cost_usd = gas_cost_usd
        self.trade_value_usd = trade_value_usd
        self.max_bps = max_bps
        super().__init__(
            f"gas cost {gas_cost_usd} USD on a trade worth {trade_value_usd} USD is above "
            f"{max_bps} bps"
        )


class TokenNotAllowed(TradeRefused):
    """A token of the trade or its route is not on the allow-list."""

    refusal = "token_not_allowed"

    def __init__(self, token: Address) -> None:
        self.token = token
        super().__init__(f"token {token} is not on the allow-list")


class RouterNotAllowed(TradeRefused):
    """The router the transaction would call is not on the allow-list."""

    refusal = "router_not_allowed"

    def __init__(self, router: Address) -> None:
        self.router = router
        super().__init__(f"router {router} is not on the allow-list")


class TradeAboveCap(TradeRefused):
    """The trade's value is above the per-trade cap."""

    refusal = "trade_above_cap"

    def __init__(self, value_usd: Decimal, cap_usd: Decimal) -> None:
        self.value_usd = value_usd
        self.cap_usd = cap_usd
        super().__init__(f"trade value {value_usd} USD is above the per-trade cap {cap_usd} USD")


class DailyCapExceeded(TradeRefused):
    """Today's traded value plus this trade would pass the daily cap."""

    refusal = "daily_cap_exceeded"

    def __init__(self, spent_today_usd: Decimal, value_usd: Decimal, cap_usd: Decimal) -> None:
        self.spent_today_usd = spent_today_usd
        self.value_usd = value_usd
        self.cap_usd = cap_usd
        super().__init__(
            f"{spent_today_usd} USD traded today + {value_usd} USD would pass the daily cap "
            f"{cap_usd} USD"
        )


class QuoteStale(TradeRefused):
    """The quote was taken too many blocks ago."""

    refusal = "quote_stale"

    def __init__(self, quote_block: int, current_block: int, max_age_blocks: int) -> None:
        self.quote_block = quote_block
        self.current_block = current_block
        self.max_age_blocks = max_age_blocks
        super().__init__(
            f"quote from block {quote_block} is {current_block - quote_block} blocks old at "
            f"block {current_block}; at most {max_age_blocks} allowed"
        )


class DeadlineTooFar(TradeRefused):
    """A swap deadline further in the future than allowed."""

    refusal = "deadline_too_far"

    def __init__(self, deadline_seconds: int, max_seconds: int) -> None:
        self.deadline_seconds = deadline_seconds
        self.max_seconds = max_seconds
        super().__init__(f"deadline {deadline_seconds} s ahead is beyond the limit {max_seconds} s")


class SimulationReverted(TradeRefused):
    """The exact transaction reverted when simulated from the sender."""

    refusal = "simulation_reverted"

    def __init__(self, to: Address, revert_reason: str, revert_data: str) -> None:
        self.to = to
        self.revert_reason = revert_reason
        self.revert_data = revert_data
        super().__init__(
            f"simulation of the transaction to {to} reverted: "
            f"{revert_reason or '(no reason)'} data={revert_data}"
        )


class TransactionFailed(ExecutorError):
    """A sent transaction was mined but reverted."""

    def __init__(self, tx_hash: str, purpose: str, block_number: int, gas_used: int) -> None:
        self.tx_hash = tx_hash
        self.purpose = purpose
        self.block_number = block_number
        self.gas_used = gas_used
        super().__init__(
            f"{purpose} transaction {tx_hash} reverted in block {block_number} "
            f"(gas_used={gas_used})"
        )


class SigningFailed(ExecutorError):
    """The key could not sign the transaction; the key is never part of the message."""

    def __init__(self, sender: Address | None, reason: str) -> None:
        self.sender = sender
        self.reason = reason
        super().__init__(f"signing for {sender} failed: {reason}")


class ProposalNotApproved(ExecutorError):
    """Live execution asked for a proposal that is not approved (and auto-approve is off)."""

    def __init__(self, proposal_id: str, status: str) -> None:
        self.proposal_id = proposal_id
        self.status = status
        super().__init__(f"proposal {proposal_id} is {status}, expected approved")


class ExecutionInFlight(ExecutorError):
    """Another attempt of this trade is pending, signed or confirmed in the store."""

    def __init__(self, proposal_id: str, trade_index: int, detail: str) -> None:
        self.proposal_id = proposal_id
        self.trade_index = trade_index
        self.detail = detail
        super().__init__(f"trade {proposal_id}#{trade_index} is already in flight: {detail}")


class UnsupportedTrade(ExecutorError):
    """A planned trade the exactly-once runner cannot record as one transaction."""

    def __init__(self, proposal_id: str | None, swap_count: int) -> None:
        self.proposal_id = proposal_id
        self.swap_count = swap_count
        super().__init__(
            f"trade of proposal {proposal_id} has {swap_count} swap transactions, expected 1"
        )


class ReplacementAboveCap(ExecutorError):
    """Bumping a stuck transaction's fees would pass the configured cap."""

    def __init__(self, tx_hash: str, wanted_max_fee_wei: int, cap_wei: int) -> None:
        self.tx_hash = tx_hash
        self.wanted_max_fee_wei = wanted_max_fee_wei
        self.cap_wei = cap_wei
        super().__init__(
            f"replacing {tx_hash} needs max fee {wanted_max_fee_wei} wei, above the cap {cap_wei}"
        )


class NonceTaken(ExecutorError):
    """The sender's nonce was consumed on chain by none of the trade's transactions."""

    def __init__(self, sender: Address, nonce: int, tx_hashes: tuple[str, ...]) -> None:
        self.sender = sender
        self.nonce = nonce
        self.tx_hashes = tx_hashes
        super().__init__(
            f"nonce {nonce} of {sender} was mined by another transaction than {list(tx_hashes)}"
        )


class BroadcastFailed(ExecutorError):
    """The node refused the signed transaction and does not know it."""

    def __init__(self, tx_hash: str, reason: str) -> None:
        self.tx_hash = tx_hash
        self.reason = reason
        super().__init__(f"broadcast of {tx_hash} failed: {reason}")


class ReceiptTimedOut(ExecutorError):
    """No receipt for any of the trade's transactions within the timeout."""

    def __init__(self, tx_hashes: tuple[str, ...], timeout_seconds: float) -> None:
        self.tx_hashes = tx_hashes
        self.timeout_seconds = timeout_seconds
        super().__init__(f"no receipt for {list(tx_hashes)} within {timeout_seconds} s")
