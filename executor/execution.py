"""Exactly-once execution of a proposal's trades, surviving crashes and restarts.

For one trade of an approved proposal, `TradeExecutor.execute`:

1. dry-run: logs `trade_dry_run` with the plan's numbers and returns; nothing is signed,
   sent or written;
2. live: refuses a proposal that is not approved (`ProposalNotApproved`) unless
   auto-approve is on; re-checks the plan (fresh quote, fee cap, simulation) and sends
   its approvals (`TradeSender.prepare`);
3. in ONE store transaction: moves the proposal to `executing`, creates the execution,
   reserves the nonce (NonceRow), signs, and stores the signed raw bytes, hash, nonce and
   fee caps (`signed`); only then
4. broadcasts the stored bytes (through the send endpoint when one is configured) and
   records `sent` (`trade_sent`);
5. waits for a receipt of any of the trade's transactions; after `replace_after_seconds`
   without one it signs a replacement (same nonce, both fees bumped by
   `fee_bump_percent`, within the cap), stores it as a new attempt in `signed`, then
   broadcasts it (`trade_replaced`); a bump above the cap is logged
   (`trade_replacement_refused`) and the stuck transaction is kept;
6. records the outcome: the mined attempt `confirmed` (or `failed` if it reverted) with
   amount out, gas used, effective gas price and effective price, every other attempt
   `replaced`, the proposal `executed` once all its trades are confirmed (or `failed`),
   and logs `trade_executed` / `trade_failed` with the realised slippage vs the quote.

`TradeExecutor.resume` runs at start-up: for every trade with an attempt in `signed` or
`sent` it looks each hash up (receipt, then mempool) and the sender's mined nonce; a mined
attempt wins; if the nonce was mined by none of ours the trade fails (`NonceTaken`); if
nothing is mined or pending it re-broadcasts the newest attempt's SAME stored bytes; then
it waits as in step 5. A second swap for the same trade is never signed except as an
explicit replacement with the same nonce. Keys never reach a log line or an error.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import structlog
from sqlmodel import Session

from executor.chain import ChainClient, Receipt
from executor.errors import (
    BroadcastFailed,
    ExecutionInFlight,
    NonceTaken,
    ProposalNotApproved,
    ReceiptTimedOut,
    ReplacementAboveCap,
    RpcError,
)
from executor.nonces import StoreNonces
from executor.outcome import SwapOutcome, read_swap_outcome
from executor.planning import PlannedTrade
from executor.replacement import replacement_fees
from executor.sending import PreparedSwap, TradeSender
from executor.signing import SecretKey, SignedTx, decode_signed, sign_transaction
from ledger.ids import ChainId, TxHash
from ledger.store import (
    Store,
    advance_execution,
    create_execution,
    get_execution,
    get_proposal,
    list_executions,
    update_proposal_status,
)
from ledger.store.errors import InvalidTransition
from ledger.store.records import (
    ExecutionRecord,
    ExecutionState,
    ExecutionUpdate,
    NewExecution,
    ProposalStatus,
)

log = structlog.get_logger(__name__)

IN_FLIGHT: Final = (ExecutionState.SIGNED, ExecutionState.SENT)


@dataclass(frozen=True, slots=True)
class RunPolicy:
    """How the runner behaves (built by harvestd from `execution.*` settings)."""

    live: bool = False
    auto_approve: bool = False
    priority_fee_wei: int = 10**9
    max_fee_per_gas_wei: int = 100 * 10**9
    receipt_timeout_seconds: float = 300.0
    replace_after_seconds: float = 60.0
    fee_bump_percent: int = 12
    poll_seconds: float = 0.25


@dataclass(frozen=True, slots=True)
class TradeResult:
    """Where one trade ended after `execute` or `resume`."""

    proposal_id: str
    trade_index: int
    state: ExecutionState | None
    """The winning attempt's state; None for a dry run (nothing recorded)."""
    execution_id: int | None
    tx_hash: TxHash | None
    outcome: SwapOutcome | None
    attempts: int


def trade_key(record: ExecutionRecord) -> tuple[str, int]:
    """The (proposal, trade) an execution belongs to."""
    return record.proposal_id, record.trade_index


def group_in_flight(
    records: Sequence[ExecutionRecord],
) -> dict[tuple[str, int], list[ExecutionRecord]]:
    """In-flight attempts grouped per trade, oldest attempt first."""
    groups: dict[tuple[str, int], list[ExecutionRecord]] = {}
    for record in sorted(records, key=lambda r: (r.proposal_id, r.trade_index, r.attempt)):
        if record.state in IN_FLIGHT:
            groups.setdefault(trade_key(record), []).append(record)
    return groups


class TradeExecutor:
    """Signs, records, sends, replaces and confirms trades exactly once."""

    def __init__(
        self,
        store: Store,
        chain: ChainClient,
        sender: TradeSender,
        chain_id: ChainId,
        policy: RunPolicy,
        broadcaster: ChainClient | None = None,
    ) -> None:
        self._store = store
        self._chain = chain
        self._sender = sender
        self._chain_id = chain_id
        self._policy = policy
        self._broadcaster = broadcaster or chain
        self._nonces = StoreNonces(store, chain, chain_id)
        self._quoted: dict[int, int] = {}

    @property
    def nonces(self) -> StoreNonces:
        """The store-backed nonce source (also the one to give `TradeSender`)."""
        return self._nonces

    # ------------------------------------------------------------------ execute

    async def execute(
        self, proposal_id: str, trade_index: int, planned: PlannedTrade, key: SecretKey
    ) -> TradeResult:
        """Execute one trade of a proposal exactly once (or only log it in dry-run).

        Raises:
            ProposalNotApproved: live mode and the proposal is not approved (auto-approve off).
            ExecutionInFlight: another worker holds a pending attempt of this trade.
            UnsupportedTrade: the plan has more than one swap transaction.
            TradeRefused: a guard refused at send time; nothing was signed (proposal unchanged).
            BroadcastFailed: the node refused the signed bytes (they stay `signed`).
            NonceTaken: the nonce was mined by a transaction that is not ours.
            ReceiptTimedOut: no receipt in time; the execution stays `sent` (see `resume`).
            SigningFailed, TransactionFailed, RpcError, RpcUnavailable, StoreError.
        """
        request = planned.request
        if not self._policy.live:
            log.info(
                "trade_dry_run",
                proposal_id=proposal_id,
                trade_index=trade_index,
                sender=request.sender,
                route=planned.route_name,
                amount_in_raw=request.amount_in_raw,
                quoted_out_raw=planned.quoted_out_raw,
                min_out_raw=planned.min_out_raw,
                gas_estimate=planned.gas_estimate,
                max_fee_per_gas_wei=planned.fees.max_fee_per_gas_wei,
            )
            return TradeResult(proposal_id, trade_index, None, None, None, None, 0)
        existing = await asyncio.to_thread(self._attempts, proposal_id, trade_index)
        for record in existing:
            if record.state is ExecutionState.CONFIRMED:
                log.info(
                    "trade_already_executed",
                    proposal_id=proposal_id,
                    trade_index=trade_index,
                    tx_hash=record.tx_hash,
                )
                return TradeResult(
                    proposal_id,
                    trade_index,
                    record.state,
                    record.id,
                    record.tx_hash,
                    None,
                    len(existing),
                )
        in_flight = [r for r in existing if r.state in IN_FLIGHT]
        if in_flight:
            return await self._follow(in_flight, key, resumed=True)
        await asyncio.to_thread(self._check_approved, proposal_id)
        prepared = await self._sender.prepare(
            planned, key, self._policy.priority_fee_wei, self._policy.max_fee_per_gas_wei
        )
        pending_count = await self._chain.nonce(request.sender, pending=True)
        record = await asyncio.to_thread(
            self._persist_first, proposal_id, trade_index, prepared, key, pending_count
        )
        self._quoted[record.id] = prepared.fresh_quote_out_raw
        return await self._follow([record], key, resumed=False)

    def _attempts(self, proposal_id: str, trade_index: int) -> list[ExecutionRecord]:
        with self._store.reader("list_executions") as session:
            return [
                r
                for r in list_executions(session, proposal_id=proposal_id)
                if r.trade_index == trade_index
            ]

    def _check_approved(self, proposal_id: str) -> None:
        with self._store.reader("get_proposal") as session:
            status = get_proposal(session, proposal_id).status
        allowed = {ProposalStatus.APPROVED, ProposalStatus.EXECUTING}
        if self._policy.auto_approve:
            allowed.add(ProposalStatus.OPEN)
        if status not in allowed:
            log.warning("trade_not_approved", proposal_id=proposal_id, status=status.value)
            raise ProposalNotApproved(proposal_id, status.value)

    def _claim(self, session: Session, proposal_id: str) -> None:
        status = get_proposal(session, proposal_id).status
        if status is ProposalStatus.OPEN and self._policy.auto_approve:
            update_proposal_status(session, proposal_id, ProposalStatus.APPROVED, note="auto")
            status = ProposalStatus.APPROVED
        if status is ProposalStatus.APPROVED:
            update_proposal_status(session, proposal_id, ProposalStatus.EXECUTING)
        elif status is not ProposalStatus.EXECUTING:
            raise ProposalNotApproved(proposal_id, status.value)

    def _persist_first(
        self,
        proposal_id: str,
        trade_index: int,
        prepared: PreparedSwap,
        key: SecretKey,
        pending_count: int,
    ) -> ExecutionRecord:
        request = prepared.planned.request
        with self._store.transaction("execution_signed") as session:
            self._claim(session, proposal_id)
            try:
                pending = create_execution(
                    session,
                    NewExecution(
                        proposal_id=proposal_id,
                        trade_index=trade_index,
                        chain_id=self._chain_id,
                        from_address=request.sender,
                        token_in=request.token_in,
                        token_out=request.token_out,
                        amount_in_raw=request.amount_in_raw,
                        min_amount_out_raw=prepared.planned.min_out_raw,
                    ),
                )
            except InvalidTransition as exc:
                raise ExecutionInFlight(proposal_id, trade_index, str(exc)) from None
            nonce = self._nonces.reserve_in(session, request.sender, pending_count)
            signed = sign_transaction(prepared.tx.with_nonce(nonce), key)
            return self._store_signed(session, pending.id, signed)

    @staticmethod
    def _store_signed(session: Session, execution_id: int, signed: SignedTx) -> ExecutionRecord:
        return advance_execution(
            session,
            execution_id,
            ExecutionState.SIGNED,
            ExecutionUpdate(
                nonce=signed.tx.nonce,
                tx_hash=signed.tx_hash,
                raw_tx="0x" + signed.raw.hex(),
                max_fee_per_gas_wei=signed.tx.fees.max_fee_per_gas_wei,
                max_priority_fee_per_gas_wei=signed.tx.fees.max_priority_fee_per_gas_wei,
            ),
        )

    # ------------------------------------------------------------------ resume

    async def resume(self, key: SecretKey) -> list[TradeResult]:
        """Finish every trade left `signed` or `sent` by an earlier run (call at start-up).

        Raises:
            StoreError, RpcError, RpcUnavailable: the store or the node failed (nothing lost:
                call again).
        """
        records = await asyncio.to_thread(self._in_flight)
        groups = group_in_flight(records)
        for sender in sorted({r.from_address for r in records}):
            await self._nonces.reconcile(sender)
        results: list[TradeResult] = []
        for (proposal_id, trade_index), attempts in groups.items():
            log.info(
                "trade_resumed",
                proposal_id=proposal_id,
                trade_index=trade_index,
                attempts=len(attempts),
                tx_hashes=[a.tx_hash for a in attempts],
                states=[a.state.value for a in attempts],
            )
            try:
                results.append(await self._follow(attempts, key, resumed=True))
            except (NonceTaken, BroadcastFailed, ReceiptTimedOut) as exc:
                log.warning(
                    "trade_resume_unfinished",
                    proposal_id=proposal_id,
                    trade_index=trade_index,
                    error=str(exc),
                )
        return results

    def _in_flight(self) -> list[ExecutionRecord]:
        with self._store.reader("list_executions") as session:
            return [
                r
                for r in list_executions(session, states=IN_FLIGHT)
                if r.chain_id == self._chain_id
            ]

    # ------------------------------------------------------------------ follow

    async def _broadcast(self, record: ExecutionRecord) -> ExecutionRecord:
        """Send a stored attempt's exact bytes; `sent` once the node has them."""
        assert record.raw_tx is not None and record.tx_hash is not None
        raw = bytes.fromhex(record.raw_tx.removeprefix("0x"))
        try:
            await self._broadcaster.send_raw_transaction(raw)
        except RpcError as exc:
            # "already known" / "nonce too low": the node may have it or it may be mined.
            if not await self._chain.is_known(record.tx_hash):
                log.warning(
                    "trade_broadcast_refused",
                    proposal_id=record.proposal_id,
                    tx_hash=record.tx_hash,
                    nonce=record.nonce,
                    error=exc.message,
                )
                if await self._chain.nonce(record.from_address, pending=False) > (
                    record.nonce or 0
                ):
                    return record  # the nonce is spent; `_follow` decides who won
                raise BroadcastFailed(record.tx_hash, exc.message) from None
        if record.state is ExecutionState.SIGNED:
            record = await asyncio.to_thread(self._advance, record.id, ExecutionState.SENT, None)
        log.info(
            "trade_sent",
            proposal_id=record.proposal_id,
            trade_index=record.trade_index,
            attempt=record.attempt,
            sender=record.from_address,
            tx_hash=record.tx_hash,
            nonce=record.nonce,
            max_fee_per_gas_wei=record.max_fee_per_gas_wei,
            max_priority_fee_per_gas_wei=record.max_priority_fee_per_gas_wei,
            endpoint=self._broadcaster.endpoint if self._broadcaster is not self._chain else None,
        )
        return record

    def _advance(
        self, execution_id: int, state: ExecutionState, update: ExecutionUpdate | None
    ) -> ExecutionRecord:
        with self._store.transaction("advance_execution") as session:
            return advance_execution(session, execution_id, state, update)

    async def _find_receipt(
        self, attempts: Sequence[ExecutionRecord]
    ) -> tuple[ExecutionRecord, Receipt] | None:
        for record in reversed(attempts):
            if record.tx_hash is None:
                continue
            receipt = await self._chain.receipt(record.tx_hash)
            if receipt is not None:
                return record, receipt
        return None

    async def _follow(
        self, attempts: list[ExecutionRecord], key: SecretKey, *, resumed: bool
    ) -> TradeResult:
        """Broadcast what needs it, wait, replace when stuck, record the outcome."""
        loop = asyncio.get_running_loop()
        first = attempts[0]
        sender = first.from_address
        nonce = first.nonce
        assert nonce is not None
        found = await self._find_receipt(attempts)
        if found is None and resumed:
            known = [
                r
                for r in attempts
                if r.tx_hash is not None and await self._chain.is_known(r.tx_hash)
            ]
            for index, record in enumerate(attempts):
                if record.state is ExecutionState.SIGNED and record in known:
                    attempts[index] = await asyncio.to_thread(
                        self._advance, record.id, ExecutionState.SENT, None
                    )
            if not known:
                # Neither mined nor pending: the newest attempt's exact bytes go out again.
                log.info(
                    "trade_rebroadcast",
                    proposal_id=first.proposal_id,
                    trade_index=first.trade_index,
                    tx_hash=attempts[-1].tx_hash,
                    nonce=nonce,
                )
                attempts[-1] = await self._broadcast(attempts[-1])
        elif found is None:
            attempts[-1] = await self._broadcast(attempts[-1])
        started = last_sent = loop.time()
        while found is None:
            if await self._chain.nonce(sender, pending=False) > nonce:
                found = await self._find_receipt(attempts)
                if found is None:
                    await asyncio.to_thread(self._fail_all, attempts, "nonce mined by another tx")
                    error = NonceTaken(
                        sender, nonce, tuple(a.tx_hash for a in attempts if a.tx_hash)
                    )
                    log.error(
                        "trade_failed",
                        proposal_id=first.proposal_id,
                        trade_index=first.trade_index,
                        reason="nonce_taken",
                        nonce=nonce,
                    )
                    raise error
                break
            now = loop.time()
            if now - started >= self._policy.receipt_timeout_seconds:
                hashes = tuple(a.tx_hash for a in attempts if a.tx_hash)
                log.warning(
                    "trade_receipt_timed_out",
                    proposal_id=first.proposal_id,
                    trade_index=first.trade_index,
                    tx_hashes=list(hashes),
                    timeout_seconds=self._policy.receipt_timeout_seconds,
                )
                raise ReceiptTimedOut(hashes, self._policy.receipt_timeout_seconds)
            if now - last_sent >= self._policy.replace_after_seconds:
                last_sent = now
                if attempts[-1].state is ExecutionState.SIGNED:
                    # A stored replacement the node refused earlier: its bytes go out again.
                    with contextlib.suppress(BroadcastFailed):
                        attempts[-1] = await self._broadcast(attempts[-1])
                else:
                    replacement = await self._replace(attempts[-1], key)
                    if replacement is not None:
                        attempts.append(replacement)
            await asyncio.sleep(self._policy.poll_seconds)
            found = await self._find_receipt(attempts)
        winner, receipt = found
        return await self._finish(attempts, winner, receipt)

    async def _replace(self, stuck: ExecutionRecord, key: SecretKey) -> ExecutionRecord | None:
        """Sign, store (`signed`), then broadcast a fee-bumped replacement of `stuck`."""
        assert stuck.raw_tx is not None and stuck.tx_hash is not None
        old = decode_signed(bytes.fromhex(stuck.raw_tx.removeprefix("0x")), stuck.from_address)
        base_fee = await self._chain.next_base_fee_wei()
        try:
            fees = replacement_fees(
                old.tx.fees,
                self._policy.fee_bump_percent,
                base_fee,
                self._policy.max_fee_per_gas_wei,
                stuck.tx_hash,
            )
        except ReplacementAboveCap as exc:
            log.warning(
                "trade_replacement_refused",
                proposal_id=stuck.proposal_id,
                trade_index=stuck.trade_index,
                tx_hash=stuck.tx_hash,
                wanted_max_fee_wei=exc.wanted_max_fee_wei,
                cap_wei=exc.cap_wei,
            )
            return None
        signed = sign_transaction(old.tx.with_fees(fees), key)
        record = await asyncio.to_thread(self._persist_replacement, stuck, signed)
        if stuck.id in self._quoted:
            self._quoted[record.id] = self._quoted[stuck.id]
        log.info(
            "trade_replaced",
            proposal_id=stuck.proposal_id,
            trade_index=stuck.trade_index,
            replaced_tx_hash=stuck.tx_hash,
            tx_hash=signed.tx_hash,
            nonce=stuck.nonce,
            attempt=record.attempt,
            old_max_fee_per_gas_wei=old.tx.fees.max_fee_per_gas_wei,
            max_fee_per_gas_wei=fees.max_fee_per_gas_wei,
            old_max_priority_fee_per_gas_wei=old.tx.fees.max_priority_fee_per_gas_wei,
            max_priority_fee_per_gas_wei=fees.max_priority_fee_per_gas_wei,
        )
        try:
            return await self._broadcast(record)
        except BroadcastFailed:
            # Stored as `signed`; a restart or the next round will try these bytes again.
            return record

    def _persist_replacement(self, stuck: ExecutionRecord, signed: SignedTx) -> ExecutionRecord:
        with self._store.transaction("execution_replacement") as session:
            pending = create_execution(
                session,
                NewExecution(
                    proposal_id=stuck.proposal_id,
                    trade_index=stuck.trade_index,
                    chain_id=stuck.chain_id,
                    from_address=stuck.from_address,
                    token_in=stuck.token_in,
                    token_out=stuck.token_out,
                    amount_in_raw=stuck.amount_in_raw,
                    min_amount_out_raw=stuck.min_amount_out_raw,
                ),
            )
            return self._store_signed(session, pending.id, signed)

    def _fail_all(self, attempts: Sequence[ExecutionRecord], reason: str) -> None:
        with self._store.transaction("execution_failed") as session:
            for record in attempts:
                current = get_execution(session, record.id)
                if current.state in IN_FLIGHT:
                    advance_execution(
                        session, record.id, ExecutionState.FAILED, ExecutionUpdate(error=reason)
                    )
            self._settle_proposal(session, attempts[0].proposal_id)

    async def _finish(
        self, attempts: Sequence[ExecutionRecord], winner: ExecutionRecord, receipt: Receipt
    ) -> TradeResult:
        assert winner.raw_tx is not None
        router = decode_signed(
            bytes.fromhex(winner.raw_tx.removeprefix("0x")), winner.from_address
        ).tx.to
        outcome = read_swap_outcome(
            receipt,
            winner.token_out,
            winner.from_address,
            router,
            winner.amount_in_raw,
            self._quoted.get(winner.id),
        )
        final = await asyncio.to_thread(self._record_outcome, attempts, winner, receipt, outcome)
        event = "trade_executed" if outcome.success else "trade_failed"
        emit = log.info if outcome.success else log.error
        emit(
            event,
            proposal_id=winner.proposal_id,
            trade_index=winner.trade_index,
            sender=winner.from_address,
            tx_hash=winner.tx_hash,
            attempt=winner.attempt,
            attempts=len(attempts),
            nonce=winner.nonce,
            block_number=receipt.block_number,
            amount_in_raw=outcome.amount_in_raw,
            amount_out_raw=outcome.amount_out_raw,
            min_out_raw=winner.min_amount_out_raw,
            quoted_out_raw=outcome.quoted_out_raw,
            slippage_bps=None if outcome.slippage_bps is None else str(outcome.slippage_bps),
            effective_price=None
            if outcome.effective_price is None
            else str(outcome.effective_price),
            gas_used=outcome.gas_used,
            effective_gas_price_wei=outcome.effective_gas_price_wei,
            gas_paid_wei=outcome.gas_paid_wei,
        )
        return TradeResult(
            winner.proposal_id,
            winner.trade_index,
            final.state,
            final.id,
            final.tx_hash,
            outcome,
            len(attempts),
        )

    def _record_outcome(
        self,
        attempts: Sequence[ExecutionRecord],
        winner: ExecutionRecord,
        receipt: Receipt,
        outcome: SwapOutcome,
    ) -> ExecutionRecord:
        with self._store.transaction("execution_outcome") as session:
            current = get_execution(session, winner.id)
            if current.state is ExecutionState.SIGNED:
                advance_execution(session, winner.id, ExecutionState.SENT)
            state = ExecutionState.CONFIRMED if outcome.success else ExecutionState.FAILED
            final = advance_execution(
                session,
                winner.id,
                state,
                ExecutionUpdate(
                    amount_out_raw=outcome.amount_out_raw,
                    gas_used=outcome.gas_used,
                    effective_gas_price_wei=outcome.effective_gas_price_wei,
                    effective_price=outcome.effective_price,
                    block_number=receipt.block_number,
                    error=None if outcome.success else "reverted",
                ),
            )
            for record in attempts:
                if record.id == winner.id:
                    continue
                other = get_execution(session, record.id)
                if other.state is ExecutionState.SENT:
                    advance_execution(
                        session,
                        record.id,
                        ExecutionState.REPLACED,
                        ExecutionUpdate(error=f"replaced by {winner.tx_hash}"),
                    )
                elif other.state is ExecutionState.SIGNED:
                    advance_execution(
                        session,
                        record.id,
                        ExecutionState.FAILED,
                        ExecutionUpdate(error=f"never sent; nonce used by {winner.tx_hash}"),
                    )
            self._settle_proposal(session, winner.proposal_id)
            return final

    @staticmethod
    def _settle_proposal(session: Session, proposal_id: str) -> None:
        """executing -> executed when every trade is confirmed, -> failed when one failed
        for good (no attempt of that trade still in flight or confirmed)."""
        proposal = get_proposal(session, proposal_id)
        if proposal.status is not ProposalStatus.EXECUTING:
            return
        records = list_executions(session, proposal_id=proposal_id)
        by_trade: dict[int, set[ExecutionState]] = {}
        for record in records:
            by_trade.setdefault(record.trade_index, set()).add(record.state)
        confirmed = {t for t, states in by_trade.items() if ExecutionState.CONFIRMED in states}
        if len(confirmed) >= proposal.trade_count:
            update_proposal_status(session, proposal_id, ProposalStatus.EXECUTED)
            return
        for states in by_trade.values():
            live = states & {ExecutionState.CONFIRMED, *IN_FLIGHT, ExecutionState.PENDING}
            if not live:
                update_proposal_status(session, proposal_id, ProposalStatus.FAILED)
                return


__all__ = ["RunPolicy", "TradeExecutor", "TradeResult", "group_in_flight", "trade_key"]
