"""Sending a planned trade (wave 1): re-check, sign, send, wait for receipts, read the output.

Before anything is signed, `TradeSender.send` takes a fresh quote of every planned route at
the latest block and refuses (`SlippageExceeded`) when it no longer reaches the plan's
minimum output, re-checks the fee cap against the next base fee (`GasPriceAboveCap`), and
runs the exact swap transaction with eth_call + eth_estimateGas from the sender
(`SimulationReverted`); a refusal is logged as `trade_refused` and nothing is sent.

`TradeSender.send` (wave 1) takes nonces from a `NonceSource` and waits for each receipt in
turn; nothing is persisted. `TradeSender.prepare` is what the exactly-once runner
(`executor.execution.TradeExecutor`) uses: the same re-checks, approvals sent and mined,
the swap simulated and returned unsigned, so the runner can reserve the nonce, sign and
store the signed bytes before anything is broadcast. Give it `executor.nonces.StoreNonces`
so approvals also take store-reserved nonces.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import structlog

from executor.calldata import to_address
from executor.chain import ChainClient, Receipt
from executor.errors import (
    CallReverted,
    NoRouteFound,
    SigningFailed,
    SimulationReverted,
    SlippageExceeded,
    TradeRefused,
    TransactionFailed,
    UnsupportedTrade,
)
from executor.guards import (
    MAX_QUOTE_AGE_BLOCKS,
    FeeCaps,
    check_quote_fresh,
    check_slippage,
    choose_fee_caps,
)
from executor.planning import PlannedTrade, log_refusal
from executor.quoting import RouteQuoter
from executor.signing import SecretKey, SignedTx, address_of, sign_transaction
from executor.transactions import UnsignedTx, build_swap_call, gas_limit_from_estimate
from ledger.ids import Address, BlockNumber

log = structlog.get_logger(__name__)

TRANSFER_TOPIC = bytes.fromhex("ddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef")
WETH_WITHDRAWAL_TOPIC = bytes.fromhex(
    "7fcf532c15f0a6db0bd6d0e038bea71d30d808c7d98cb3bf7268a95bf5081b65"
)


class NonceSource(Protocol):
    """Where the next nonce of a sender comes from (wave 2: a store-backed, restart-safe one)."""

    async def next_nonce(self, sender: Address) -> int:
        """The nonce to sign the sender's next transaction with."""
        ...


class NodeNonces:
    """Wave 1's nonce source: the node's pending transaction count."""

    def __init__(self, chain: ChainClient) -> None:
        self._chain = chain

    async def next_nonce(self, sender: Address) -> int:
        """eth_getTransactionCount(sender, "pending").

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        return await self._chain.nonce(sender, pending=True)


@dataclass(frozen=True, slots=True)
class SentTx:
    """One transaction that was sent and mined."""

    signed: SignedTx
    receipt: Receipt


@dataclass(frozen=True, slots=True)
class TradeOutcome:
    """What a sent trade did on chain."""

    planned: PlannedTrade
    sent: tuple[SentTx, ...]
    amount_out_raw: int
    """Output received by the recipient, read from the swap receipts' logs."""
    fresh_quote_out_raw: int
    fresh_quote_block: BlockNumber

    @property
    def gas_used(self) -> int:
        """Gas of every transaction of the trade."""
        return sum(tx.receipt.gas_used for tx in self.sent)

    @property
    def gas_paid_wei(self) -> int:
        """Native coin paid for gas."""
        return sum(tx.receipt.gas_used * tx.receipt.effective_gas_price_wei for tx in self.sent)


def received_raw(
    receipts: Sequence[Receipt],
    token: Address,
    recipient: Address,
    native_via: frozenset[Address] | None,
) -> int:
    """Output a recipient got: ERC-20 Transfers of `token` to it, or for native output the
    WETH `Withdrawal`s made by the router `native_via`."""
    total = 0
    for receipt in receipts:
        for entry in receipt.logs:
            if entry.address != token or not entry.topics:
                continue
            if native_via is None:
                counts = (
                    entry.topics[0] == TRANSFER_TOPIC
                    and len(entry.topics) == 3
                    and to_address(entry.topics[2][-20:]) == recipient
                )
            else:
                counts = (
                    entry.topics[0] == WETH_WITHDRAWAL_TOPIC
                    and len(entry.topics) == 2
                    and to_address(entry.topics[1][-20:]) in native_via
                )
            if counts:
                total += int.from_bytes(entry.data[:32], "big")
    return total


@dataclass(frozen=True, slots=True)
class PreparedSwap:
    """A single-swap trade re-checked and ready to sign: its approvals are mined, the swap
    simulated; the transaction carries fees and gas limit but no nonce yet."""

    planned: PlannedTrade
    tx: UnsignedTx
    fresh_quote_out_raw: int
    fresh_quote_block: BlockNumber
    approvals: tuple[SentTx, ...]


class TradeSender:
    """Re-checks a planned trade against the chain, then signs and sends it."""

    def __init__(
        self,
        chain: ChainClient,
        quoter: RouteQuoter,
        nonces: NonceSource | None = None,
        receipt_timeout_seconds: float = 120.0,
        max_quote_age_blocks: int = MAX_QUOTE_AGE_BLOCKS,
    ) -> None:
        self._chain = chain
        self._quoter = quoter
        self._max_quote_age_blocks = max_quote_age_blocks
        self._nonces: NonceSource = nonces or NodeNonces(chain)
        self._receipt_timeout_seconds = receipt_timeout_seconds

    async def send(
        self, planned: PlannedTrade, key: SecretKey, priority_fee_wei: int, max_fee_per_gas_wei: int
    ) -> TradeOutcome:
        """Send a planned trade if it still passes its guards; wait for every receipt.

        Raises:
            TradeRefused: SlippageExceeded, GasPriceAboveCap, QuoteStale or SimulationReverted;
                logged as `trade_refused`; nothing of the failing step was sent.
            SigningFailed: the key is not the sender's.
            TransactionFailed: a sent transaction reverted on chain.
            RpcError, RpcUnavailable: the node failed.
        """
        request = planned.request
        if address_of(key) != request.sender:
            raise SigningFailed(request.sender, "the key does not belong to the sender")
        try:
            fresh_out, fresh_block, fees = await self._recheck(
                planned, priority_fee_wei, max_fee_per_gas_wei
            )
        except TradeRefused as refusal:
            log_refusal(refusal, request, stage="send")
            raise
        sent: list[SentTx] = []
        for approval in planned.approvals:
            sent.append(await self._sign_send_wait(approval.with_fees(fees), key, planned))
        swap_receipts: list[Receipt] = []
        for index, swap in enumerate(planned.swaps):
            unsigned = swap.tx
            if planned.sequential and index > 0:
                unsigned = await self._next_leg(planned, index, swap_receipts[-1])
            call = unsigned.as_call()
            try:
                await self._chain.call(call)
                gas = await self._chain.estimate_gas(call)
            except CallReverted as exc:
                reverted = SimulationReverted(call.to, exc.reason, exc.revert_data)
                log_refusal(reverted, request, stage="send")
                raise reverted from None
            tx = unsigned.with_fees(fees).with_gas_limit(gas_limit_from_estimate(gas))
            done = await self._sign_send_wait(tx, key, planned)
            sent.append(done)
            swap_receipts.append(done.receipt)
        if request.native_out:
            native_via = frozenset(swap.call.router for swap in planned.swaps)
            receipts = swap_receipts[-1:] if planned.sequential else swap_receipts
            amount_out = received_raw(receipts, request.token_out, request.receiver, native_via)
        else:
            amount_out = received_raw(swap_receipts, request.token_out, request.receiver, None)
        log.info(
            "trade_executed",
            proposal_id=request.proposal_id,
            sender=request.sender,
            route=planned.route_name,
            amount_in_raw=request.amount_in_raw,
            amount_out_raw=amount_out,
            min_out_raw=planned.min_out_raw,
            fresh_quote_out_raw=fresh_out,
            tx_hashes=[s.signed.tx_hash for s in sent],
            gas_used=sum(s.receipt.gas_used for s in sent),
        )
        return TradeOutcome(planned, tuple(sent), amount_out, fresh_out, fresh_block)

    async def prepare(
        self, planned: PlannedTrade, key: SecretKey, priority_fee_wei: int, max_fee_per_gas_wei: int
    ) -> PreparedSwap:
        """Re-check a one-swap trade, send and wait for its approvals, simulate the swap;
        the swap itself is left unsigned (the exactly-once runner signs and records it).

        Raises:
            UnsupportedTrade: the plan has more than one swap transaction.
            TradeRefused: SlippageExceeded, GasPriceAboveCap, QuoteStale or SimulationReverted
                (logged as `trade_refused`).
            SigningFailed: the key is not the sender's.
            TransactionFailed: an approval reverted on chain.
            RpcError, RpcUnavailable: the node failed.
        """
        request = planned.request
        if len(planned.swaps) != 1:
            raise UnsupportedTrade(request.proposal_id, len(planned.swaps))
        if address_of(key) != request.sender:
            raise SigningFailed(request.sender, "the key does not belong to the sender")
        try:
            fresh_out, fresh_block, fees = await self._recheck(
                planned, priority_fee_wei, max_fee_per_gas_wei
            )
        except TradeRefused as refusal:
            log_refusal(refusal, request, stage="send")
            raise
        approvals = [
            await self._sign_send_wait(approval.with_fees(fees), key, planned)
            for approval in planned.approvals
        ]
        unsigned = planned.swaps[0].tx
        call = unsigned.as_call()
        try:
            await self._chain.call(call)
            gas = await self._chain.estimate_gas(call)
        except CallReverted as exc:
            reverted = SimulationReverted(call.to, exc.reason, exc.revert_data)
            log_refusal(reverted, request, stage="send")
            raise reverted from None
        tx = unsigned.with_fees(fees).with_gas_limit(gas_limit_from_estimate(gas))
        return PreparedSwap(planned, tx, fresh_out, fresh_block, tuple(approvals))

    async def _next_leg(self, planned: PlannedTrade, index: int, previous: Receipt) -> UnsignedTx:
        """A chain's later leg, spending what the previous leg actually paid out.

        Raises:
            SlippageExceeded: the leg, re-quoted for that amount, misses its minimum output
                (logged; the intermediate token stays in the wallet).
        """
        swap = planned.swaps[index]
        call = swap.call
        received = received_raw([previous], call.route.token_in, planned.request.sender, None)
        amount = min(received, call.amount_in_raw)
        block = await self._chain.block_number()
        try:
            fresh = await self._quoter.quote_route(call.route, amount, block)
            check_slippage(swap.route_name, call.min_out_raw, fresh.amount_out_raw)
        except NoRouteFound:
            refusal = SlippageExceeded(swap.route_name, call.min_out_raw, 0)
            log_refusal(refusal, planned.request, stage="send_leg")
            raise refusal from None
        except SlippageExceeded as refusal:
            log_refusal(refusal, planned.request, stage="send_leg")
            raise
        if amount == call.amount_in_raw:
            return swap.tx
        rebuilt = build_swap_call(
            call.route,
            amount,
            call.min_out_raw,
            call.recipient,
            call.deadline,
            self._quoter.deployment,
            native_in=call.native_in,
            native_out=call.native_out,
        )
        return replace(swap.tx, data=rebuilt.data, value_wei=rebuilt.value_wei)

    async def _recheck(
        self, planned: PlannedTrade, priority_fee_wei: int, max_fee_per_gas_wei: int
    ) -> tuple[int, BlockNumber, FeeCaps]:
        block = await self._chain.block_number()
        # A plan is signed only shortly after it was made: an older one is planned again.
        check_quote_fresh(planned.quote_block, block, self._max_quote_age_blocks)
        fresh_total = 0
        handed_over = planned.request.amount_in_raw
        for swap in planned.swaps:
            # A chain's leg is re-quoted with what the previous leg would pay out now.
            amount = handed_over if planned.sequential else swap.quote.amount_in_raw
            try:
                fresh = await self._quoter.quote_route(swap.quote.route, amount, block)
            except NoRouteFound:
                raise SlippageExceeded(swap.route_name, swap.call.min_out_raw, 0) from None
            check_quote_fresh(
                fresh.block_number, await self._chain.block_number(), self._max_quote_age_blocks
            )
            check_slippage(swap.route_name, swap.call.min_out_raw, fresh.amount_out_raw)
            handed_over = fresh.amount_out_raw
            fresh_total = (
                fresh.amount_out_raw if planned.sequential else fresh_total + fresh.amount_out_raw
            )
        base_fee = await self._chain.next_base_fee_wei()
        fees = choose_fee_caps(base_fee, priority_fee_wei, max_fee_per_gas_wei)
        return fresh_total, block, fees

    async def _sign_send_wait(
        self, tx: UnsignedTx, key: SecretKey, planned: PlannedTrade
    ) -> SentTx:
        nonce = await self._nonces.next_nonce(tx.sender)
        signed = sign_transaction(tx.with_nonce(nonce), key)
        tx_hash = await self._chain.send_raw_transaction(signed.raw)
        log.info(
            "trade_sent",
            proposal_id=planned.request.proposal_id,
            purpose=tx.purpose.value,
            tx_hash=tx_hash,
            nonce=nonce,
            to=tx.to,
            gas_limit=tx.gas_limit,
            max_fee_per_gas_wei=tx.fees.max_fee_per_gas_wei,
        )
        receipt = await self._chain.wait_for_receipt(tx_hash, self._receipt_timeout_seconds)
        if not receipt.success:
            raise TransactionFailed(
                tx_hash, tx.purpose.value, receipt.block_number, receipt.gas_used
            )
        return SentTx(signed, receipt)
