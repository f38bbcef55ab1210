"""Classifying one transaction into ledger events (pure: values in, values out).

`classify_transaction` follows DESIGN.md's rules, for the owner's wallets `owned`:

- WETH `Deposit`/`Withdrawal` by an owned wallet on a configured wrapped-native contract:
  `WRAP`/`UNWRAP` (not a disposal). The native transfer that pays for it (wallet → WETH,
  or WETH → wallet) is consumed by it. `asset` of both kinds is the WETH contract.
- An ERC-20 transfer or native transfer between two owned wallets: `TRANSFER_OUT` and
  `TRANSFER_IN` sharing a group (`<tx>:<log index>` or `<tx>:<trace address>`).
- Flows between owned wallets and outside addresses are netted per (wallet, asset). When
  the transaction holds a Uniswap V2/V3 `Swap` log and the net flows are exactly one asset
  out and one other asset in, it is a swap: one `SWAP_OUT` and one `SWAP_IN` sharing the
  group `<tx>` and carrying a `SwapAudit`. Multi-hop routes (A→WETH→B) never touch the
  wallet in the middle, so they come out as one disposal of A and one acquisition of B; a
  router paying native ETH out at the end is the `SWAP_IN` leg; an excess-ETH refund is
  netted away.
- Any other outside flow is a `SEND` or a `RECEIVE`, marked `needs_review`.
- Gas paid by an owned sender (even for a reverted transaction): `GAS` in the native coin.

Events come without prices (`value_usd=None`); `indexer.pricing.apply_prices` values them.
Legs are numbered per (tx, log index) in a fixed order (gas first, then by log index and
trace position), so classifying the same inputs again gives the same identities.
Undecodable logs are returned in `Classification.decode_errors`, never raised.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Protocol

from indexer.decoders.erc20 import TRANSFER_TOPIC, decode_transfer
from indexer.decoders.uniswap_v2 import SWAP_V2_TOPIC, UniswapV2Swap, decode_swap_v2
from indexer.decoders.uniswap_v3 import SWAP_V3_TOPIC, UniswapV3Swap, decode_swap_v3
from indexer.decoders.weth import (
    DEPOSIT_TOPIC,
    WITHDRAWAL_TOPIC,
    decode_deposit,
    decode_withdrawal,
)
from indexer.errors import DecodeError
from indexer.records import BlockHeader, NativeTransfer, TxReceipt
from ledger.events import NATIVE_ASSET, TX_LEVEL, ChainRef, EventKind, LedgerEvent, SwapAudit
from ledger.ids import Address, ChainId, LogIndex


class PoolProtocol(StrEnum):
    """The AMM a pool belongs to."""

    UNISWAP_V2 = "uniswap_v2"
    UNISWAP_V3 = "uniswap_v3"


@dataclass(frozen=True, slots=True)
class PoolTokens:
    """A pool's protocol and its two tokens (token0 < token1), immutable for its lifetime."""

    pool: Address
    protocol: PoolProtocol
    token0: Address
    token1: Address


@dataclass(frozen=True, slots=True)
class TxBundle:
    """Everything gathered about one transaction that the classifier needs."""

    chain_id: ChainId
    block: BlockHeader
    receipt: TxReceipt
    native_transfers: tuple[NativeTransfer, ...] = ()
    """This transaction's native movements, the top-level value included (trace `()`)."""


@dataclass(frozen=True, slots=True)
class Classification:
    """The events of one transaction and the logs that could not be decoded."""

    events: tuple[LedgerEvent, ...]
    decode_errors: tuple[DecodeError, ...] = ()


class _Emit(Protocol):
    def __call__(
        self,
        log_index: LogIndex,
        kind: EventKind,
        wallet: Address,
        asset: Address,
        amount: int,
        **extra: Any,
    ) -> None: ...


@dataclass(frozen=True, slots=True)
class _Flow:
    """One movement between an owned wallet and an outside address."""

    wallet: Address
    asset: Address
    amount_raw: int  # positive: into the wallet
    counterparty: Address
    log_index: LogIndex


@dataclass(frozen=True, slots=True)
class _PoolSwap:
    protocol: PoolProtocol
    pool: Address
    token_in: Address | None
    token_out: Address | None
    amount_in_raw: int
    amount_out_raw: int


def _pool_swap(
    decoded: UniswapV2Swap | UniswapV3Swap, pools: Mapping[Address, PoolTokens]
) -> _PoolSwap:
    tokens = pools.get(decoded.pool)
    t0 = tokens.token0 if tokens else None
    t1 = tokens.token1 if tokens else None
    if isinstance(decoded, UniswapV2Swap):
        zero_in = decoded.amount0_in_raw > 0 and decoded.amount0_out_raw == 0
        return _PoolSwap(
            PoolProtocol.UNISWAP_V2,
            decoded.pool,
            t0 if zero_in else t1,
            t1 if zero_in else t0,
            decoded.amount0_in_raw if zero_in else decoded.amount1_in_raw,
            decoded.amount1_out_raw if zero_in else decoded.amount0_out_raw,
        )
    zero_in = decoded.amount0_raw > 0
    return _PoolSwap(
        PoolProtocol.UNISWAP_V3,
        decoded.pool,
        t0 if zero_in else t1,
        t1 if zero_in else t0,
        decoded.amount0_raw if zero_in else decoded.amount1_raw,
        -(decoded.amount1_raw if zero_in else decoded.amount0_raw),
    )


def _audit(
    hops: list[_PoolSwap],
    asset_out: Address,
    asset_in: Address,
    out_raw: int,
    in_raw: int,
    wrapped: frozenset[Address],
) -> SwapAudit:
    """The swap kept for audit: first hop's pool; pool-side tokens and amounts where known."""

    def same(pool_token: Address | None, wallet_asset: Address) -> bool:
        return pool_token == wallet_asset or (
            wallet_asset == NATIVE_ASSET and pool_token in wrapped
        )

    first = next((h for h in hops if same(h.token_in, asset_out)), hops[0])
    last = next((h for h in reversed(hops) if same(h.token_out, asset_in)), hops[-1])
    return SwapAudit(
        protocol=str(first.protocol),
        pool=first.pool,
        token_in=first.token_in or asset_out,
        token_out=last.token_out or asset_in,
        amount_in_raw=first.amount_in_raw if first.token_in else out_raw,
        amount_out_raw=last.amount_out_raw if last.token_out else in_raw,
    )


def classify_transaction(
    tx: TxBundle,
    owned: frozenset[Address],
    *,
    wrapped_native: frozenset[Address] = frozenset(),
    pools: Mapping[Address, PoolTokens] | None = None,
) -> Classification:
    """Turn one transaction's receipt, native transfers and block into unpriced ledger events.

    Raises:
        Nothing: undecodable logs are returned in `decode_errors`.
    """
    receipt = tx.receipt
    pools = pools or {}
    timestamp = datetime.fromtimestamp(tx.block.timestamp, tz=UTC)
    drafts: list[tuple[LogIndex, LedgerEvent]] = []
    errors: list[DecodeError] = []

    def event(
        log_index: LogIndex,
        kind: EventKind,
        wallet: Address,
        asset: Address,
        amount: int,
        **extra: Any,
    ) -> None:
        ref = ChainRef(tx.chain_id, tx.block.number, tx.block.hash, receipt.tx_hash, log_index)
        drafts.append(
            (
                log_index,
                LedgerEvent(
                    ref=ref,
                    leg=0,
                    timestamp=timestamp,
                    kind=kind,
                    wallet=wallet,
                    asset=asset,
                    amount_raw=amount,
                    value_usd=None,
                    **extra,
                ),
            )
        )

    # Gas first: it is paid whatever happened inside.
    if receipt.sender in owned and receipt.gas_fee_wei > 0:
        event(TX_LEVEL, EventKind.GAS, receipt.sender, NATIVE_ASSET, receipt.gas_fee_wei)
    if not receipt.succeeded:
        return Classification(_number_legs(drafts))

    flows: list[_Flow] = []
    hops: list[_PoolSwap] = []
    natives = list(tx.native_transfers)

    def consume_native(sender: Address, recipient: Address, amount: int) -> None:
        for i, transfer in enumerate(natives):
            if (transfer.sender, transfer.recipient, transfer.amount_raw) == (
                sender,
                recipient,
                amount,
            ):
                del natives[i]
                return

    def book_pair(
        log_index: LogIndex,
        group: str,
        asset: Address,
        sender: Address,
        recipient: Address,
        amount: int,
    ) -> None:
        if amount == 0 or sender == recipient:
            return
        if sender in owned and recipient in owned:
            event(
                log_index,
                EventKind.TRANSFER_OUT,
                sender,
                asset,
                amount,
                counterparty=recipient,
                group=group,
            )
            event(
                log_index,
                EventKind.TRANSFER_IN,
                recipient,
                asset,
                amount,
                counterparty=sender,
                group=group,
            )
        elif sender in owned:
            flows.append(_Flow(sender, asset, -amount, recipient, log_index))
        elif recipient in owned:
            flows.append(_Flow(recipient, asset, amount, sender, log_index))

    for entry in sorted(receipt.logs, key=lambda e: e.log_index):
        if not entry.topics:
            continue
        topic = entry.topics[0]
        try:
            if topic == TRANSFER_TOPIC and len(entry.topics) != 4:  # 4 topics: ERC-721
                transfer = decode_transfer(entry)
                book_pair(
                    entry.log_index,
                    f"{receipt.tx_hash}:{entry.log_index}",
                    transfer.token,
                    transfer.sender,
                    transfer.recipient,
                    transfer.amount_raw,
                )
            elif topic == DEPOSIT_TOPIC and entry.address in wrapped_native:
                deposit = decode_deposit(entry)
                if deposit.owner in owned and deposit.amount_raw:
                    consume_native(deposit.owner, deposit.token, deposit.amount_raw)
                    event(
                        entry.log_index,
                        EventKind.WRAP,
                        deposit.owner,
                        deposit.token,
                        deposit.amount_raw,
                        counterparty=deposit.token,
                    )
            elif topic == WITHDRAWAL_TOPIC and entry.address in wrapped_native:
                withdrawal = decode_withdrawal(entry)
                if withdrawal.owner in owned and withdrawal.amount_raw:
                    consume_native(withdrawal.token, withdrawal.owner, withdrawal.amount_raw)
                    event(
                        entry.log_index,
                        EventKind.UNWRAP,
                        withdrawal.owner,
                        withdrawal.token,
                        withdrawal.amount_raw,
                        counterparty=withdrawal.token,
                    )
            elif topic == SWAP_V2_TOPIC:
                hops.append(_pool_swap(decode_swap_v2(entry), pools))
            elif topic == SWAP_V3_TOPIC:
                hops.append(_pool_swap(decode_swap_v3(entry), pools))
        except DecodeError as exc:
            errors.append(exc)

    for native in sorted(natives, key=lambda t: t.trace_address):
        path = ".".join(str(p) for p in native.trace_address)
        book_pair(
            TX_LEVEL,
            f"{receipt.tx_hash}:trace[{path}]",
            NATIVE_ASSET,
            native.sender,
            native.recipient,
            native.amount_raw,
        )

    _book_outside_flows(flows, hops, receipt.tx_hash, event, wrapped_native)
    return Classification(_number_legs(drafts), tuple(errors))


def _book_outside_flows(
    flows: list[_Flow],
    hops: list[_PoolSwap],
    group: str,
    emit: _Emit,
    wrapped: frozenset[Address],
) -> None:
    net: dict[tuple[Address, Address], int] = {}
    first: dict[tuple[Address, Address, bool], _Flow] = {}
    for flow in flows:
        key = (flow.wallet, flow.asset)
        net[key] = net.get(key, 0) + flow.amount_raw
        first.setdefault((flow.wallet, flow.asset, flow.amount_raw > 0), flow)
    outs = [(k, -v) for k, v in net.items() if v < 0]
    ins = [(k, v) for k, v in net.items() if v > 0]
    if hops and len(outs) == 1 and len(ins) == 1 and outs[0][0][1] != ins[0][0][1]:
        (out_key, out_raw), (in_key, in_raw) = outs[0], ins[0]
        out_flow, in_flow = first[(*out_key, False)], first[(*in_key, True)]
        audit = _audit(hops, out_key[1], in_key[1], out_raw, in_raw, wrapped)
        emit(
            out_flow.log_index,
            EventKind.SWAP_OUT,
            out_key[0],
            out_key[1],
            out_raw,
            counterparty=out_flow.counterparty,
            group=group,
            swap=audit,
        )
        emit(
            in_flow.log_index,
            EventKind.SWAP_IN,
            in_key[0],
            in_key[1],
            in_raw,
            counterparty=in_flow.counterparty,
            group=group,
            swap=audit,
        )
        return
    for flow in flows:
        kind = EventKind.RECEIVE if flow.amount_raw > 0 else EventKind.SEND
        emit(
            flow.log_index,
            kind,
            flow.wallet,
            flow.asset,
            abs(flow.amount_raw),
            counterparty=flow.counterparty,
            needs_review=True,
        )


def _number_legs(drafts: Iterable[tuple[LogIndex, LedgerEvent]]) -> tuple[LedgerEvent, ...]:
    """Number legs per log index in emission order; order events by (log index, leg)."""
    counters: dict[LogIndex, int] = {}
    numbered: list[LedgerEvent] = []
    for log_index, draft in drafts:
        leg = counters.get(log_index, 0)
        counters[log_index] = leg + 1
        numbered.append(replace(draft, leg=leg))
    return tuple(sorted(numbered, key=lambda e: (e.ref.log_index, e.leg)))
