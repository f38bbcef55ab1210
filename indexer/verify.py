"""Verification: the ledger's balances against the chain's, at the checkpoint block.

For every owned wallet and every asset (configured tokens, assets seen in events, the
native coin), the ledger balance is the sum of the booked raw amounts up to the
checkpoint (`ledger.booking.ledger_delta`: gas, wraps and transfers included); the chain
balance is `balanceOf` / `eth_getBalance` at that block. When the checkpoint is the
node's latest block the calls are made at `latest` (the same state, and a node restored
from a state dump answers nothing else); a node without past state and a checkpoint
below the head is reported as `PastStateUnavailable`. A token that cannot answer
`balanceOf` (a spam or hostile contract) is listed as unverifiable, not as a difference.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass

from indexer.errors import IndexerError, MalformedResponse, RpcError
from indexer.records import parse_quantity
from indexer.rpc import RpcCall, RpcClient
from ledger.booking import ledger_delta
from ledger.events import NATIVE_ASSET
from ledger.ids import Address, BlockNumber, ChainId
from ledger.store import Store, get_checkpoint, load_events

BALANCE_OF_SELECTOR = "0x70a08231"


class NothingIndexed(IndexerError):
    """The chain has no checkpoint yet: run a backfill first."""

    def __init__(self, chain_id: int) -> None:
        self.chain_id = chain_id
        super().__init__(f"chain {chain_id} has not been indexed yet (no checkpoint)")


class PastStateUnavailable(IndexerError):
    """The node cannot answer balances at the checkpoint block (no past state)."""

    def __init__(self, chain_id: int, block_number: int, reason: str) -> None:
        self.chain_id = chain_id
        self.block_number = block_number
        self.reason = reason
        super().__init__(
            f"chain {chain_id}: no balances at block {block_number} ({reason}); "
            "index up to the head and verify again"
        )


@dataclass(frozen=True, slots=True)
class BalanceCheck:
    """One wallet's balance of one asset, in the ledger and on chain (raw units)."""

    wallet: Address
    asset: Address
    ledger_raw: int
    chain_raw: int | None
    """None when the asset cannot answer `balanceOf` (spam, hostile contracts)."""

    @property
    def difference_raw(self) -> int:
        """Chain minus ledger (0 when they agree or the chain cannot tell)."""
        return 0 if self.chain_raw is None else self.chain_raw - self.ledger_raw


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Every balance checked on one chain at one block."""

    chain_id: ChainId
    block_number: BlockNumber
    checks: tuple[BalanceCheck, ...]

    @property
    def differences(self) -> tuple[BalanceCheck, ...]:
        """The checks that disagree."""
        return tuple(c for c in self.checks if c.difference_raw != 0)

    @property
    def unverifiable(self) -> tuple[BalanceCheck, ...]:
        """The checks whose asset gave no balance (not counted as differences)."""
        return tuple(c for c in self.checks if c.chain_raw is None)


def ledger_balances(
    store: Store, chain_id: ChainId
) -> tuple[BlockNumber, dict[tuple[Address, Address], int]]:
    """The checkpoint block and the ledger's balance per (wallet, asset) there.

    Raises:
        NothingIndexed: no checkpoint.
        StoreError: the store refused the read.
    """
    with store.reader("ledger balances") as session:
        checkpoint = get_checkpoint(session, chain_id)
        if checkpoint is None:
            raise NothingIndexed(chain_id)
        events = load_events(session, chain_id, to_block=checkpoint.block_number)
    balances: dict[tuple[Address, Address], int] = {}
    for event in events:
        for asset, delta in ledger_delta(event):
            key = (event.wallet, Address(asset))
            balances[key] = balances.get(key, 0) + delta
    return checkpoint.block_number, balances


async def verify_balances(
    store: Store,
    rpc: RpcClient,
    chain_id: ChainId,
    wallets: Iterable[Address],
    assets: Iterable[Address],
) -> VerifyReport:
    """Compare the ledger's balances with the chain's at the checkpoint.

    Raises:
        NothingIndexed: no checkpoint.
        PastStateUnavailable: the node has no state at the checkpoint (and it is not the head).
        RpcTimeout, RpcUnavailable, MalformedResponse: the node failed.
        StoreError: the store refused the read.
    """
    block, balances = await asyncio.to_thread(ledger_balances, store, chain_id)
    head = parse_quantity(await rpc.call("eth_blockNumber"), "eth_blockNumber")
    tag = "latest" if head == block else hex(block)
    wanted_assets = set(assets) | {NATIVE_ASSET} | {a for _, a in balances}
    pairs = sorted({(w, a) for w in wallets for a in wanted_assets} | set(balances))
    native = [(w, a) for w, a in pairs if a == NATIVE_ASSET]
    try:
        # Balances never revert: an error here means no state at that block.
        found = await rpc.batch([RpcCall("eth_getBalance", [w, tag]) for w, _ in native])
    except RpcError as exc:
        raise PastStateUnavailable(chain_id, block, exc.message) from exc
    chain: dict[tuple[Address, Address], int | None] = {
        pair: parse_quantity(result, "eth_getBalance")
        for pair, result in zip(native, found, strict=True)
    }

    async def token_balance(wallet: Address, asset: Address) -> int | None:
        data = BALANCE_OF_SELECTOR + wallet[2:].lower().rjust(64, "0")
        try:
            result = await rpc.call("eth_call", {"to": asset, "data": data}, tag)
            return 0 if result in ("0x", None) else parse_quantity(result, "eth_call")
        except (RpcError, MalformedResponse):
            return None  # no balanceOf (spam, hostile contracts): cannot be verified

    tokens = [(w, a) for w, a in pairs if a != NATIVE_ASSET]
    answers = await asyncio.gather(*(token_balance(w, a) for w, a in tokens))
    chain.update(zip(tokens, answers, strict=True))
    checks = [
        BalanceCheck(wallet, asset, balances.get((wallet, asset), 0), chain[(wallet, asset)])
        for wallet, asset in pairs
    ]
    return VerifyReport(chain_id, block, tuple(checks))
