"""The executor's restart-safe nonce source: the store's NonceRow, reconciled with the node.

`StoreNonces.next_nonce` takes the node's pending count and atomically reserves
max(stored, pending) in the store (`ledger.store.reserve_nonce`), so two workers, or a
worker before and after a restart, never sign two transactions with one nonce.
`reconcile` runs at start-up: the stored next nonce becomes the smallest value that is
above the node's pending count and above every nonce still held by a `signed` or `sent`
execution of ours, which drops reservations that never reached the chain (a gap would
leave every later transaction stuck) and skips nonces spent elsewhere.

`reserve_in` is the same reservation inside a caller's open store transaction, for the
runner that reserves and persists the signed transaction all at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog
from sqlmodel import Session

from executor.chain import ChainClient
from ledger.ids import Address, ChainId
from ledger.store import (
    Store,
    get_next_nonce,
    list_executions,
    reserve_nonce,
    set_next_nonce,
)
from ledger.store.records import ExecutionState

log = structlog.get_logger(__name__)

IN_FLIGHT_STATES = (ExecutionState.SIGNED, ExecutionState.SENT)


@dataclass(frozen=True, slots=True)
class NonceReconciliation:
    """What start-up found for one sender."""

    sender: Address
    latest_count: int
    pending_count: int
    stored_next: int | None
    in_flight_nonces: tuple[int, ...]
    next_nonce: int


def reconciled_next_nonce(pending_count: int, in_flight_nonces: tuple[int, ...]) -> int:
    """The next nonce to store after a restart: above the node's pending count and above
    every nonce a signed/sent execution of ours still holds."""
    return max([pending_count, *(nonce + 1 for nonce in in_flight_nonces)])


class StoreNonces:
    """A `NonceSource` backed by the store's NonceRow (atomic reservation)."""

    def __init__(self, store: Store, chain: ChainClient, chain_id: ChainId) -> None:
        self._store = store
        self._chain = chain
        self._chain_id = chain_id

    async def next_nonce(self, sender: Address) -> int:
        """Reserve the sender's next nonce (max of the stored one and the node's pending count).

        Raises:
            RpcError, RpcUnavailable: the node failed.
            StoreError: the database refused the write (TransactionConflict: retry).
        """
        pending = await self._chain.nonce(sender, pending=True)
        return await asyncio.to_thread(self._reserve, sender, pending)

    def _reserve(self, sender: Address, pending: int) -> int:
        with self._store.transaction("reserve_nonce") as session:
            return self.reserve_in(session, sender, pending)

    def reserve_in(self, session: Session, sender: Address, pending_count: int) -> int:
        """Reserve inside an open write transaction (committed or rolled back with it).

        Raises:
            StoreError: the database refused the write.
        """
        return reserve_nonce(session, self._chain_id, sender, pending_count)

    async def reconcile(self, sender: Address) -> NonceReconciliation:
        """Align the stored next nonce with the node and our in-flight executions.

        Raises:
            RpcError, RpcUnavailable: the node failed.
            StoreError: the database refused the write.
        """
        latest = await self._chain.nonce(sender, pending=False)
        pending = await self._chain.nonce(sender, pending=True)
        result = await asyncio.to_thread(self._reconcile, sender, latest, pending)
        log.info(
            "nonces_reconciled",
            chain_id=self._chain_id,
            sender=sender,
            latest_count=result.latest_count,
            pending_count=result.pending_count,
            stored_next=result.stored_next,
            in_flight_nonces=list(result.in_flight_nonces),
            next_nonce=result.next_nonce,
        )
        return result

    def _reconcile(self, sender: Address, latest: int, pending: int) -> NonceReconciliation:
        with self._store.transaction("reconcile_nonces") as session:
            stored = get_next_nonce(session, self._chain_id, sender)
            in_flight = tuple(
                sorted(
                    {
                        record.nonce
                        for record in list_executions(session, states=IN_FLIGHT_STATES)
                        if record.nonce is not None
                        and record.from_address == sender
                        and record.chain_id == self._chain_id
                        and record.nonce >= latest
                    }
                )
            )
            next_nonce = reconciled_next_nonce(pending, in_flight)
            set_next_nonce(session, self._chain_id, sender, next_nonce)
        return NonceReconciliation(sender, latest, pending, stored, in_flight, next_nonce)
