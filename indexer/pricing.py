"""Historical prices from the pools' own logs, and the valuation of classified events.

Pure part (no I/O, exact arithmetic: ints, `Fraction`, `Decimal`; never float):

- `v2_price(reserve0, reserve1, decimals0, decimals1)`: token0 in token1 from V2 reserves
  (a `Sync` log or `getReserves()`).
- `v3_price(sqrt_price_x96, decimals0, decimals1)`: token0 in token1 from a V3 `Swap` log
  or `slot0()`: (sqrtPriceX96 / 2**96)**2 scaled by the decimals.
- `PriceBook.usd_price(asset, block)`: the last pool state at or before `block`; a USD
  stable is worth 1; other tokens go through a stable pool directly or through the
  numeraire (token → WETH → USDC). The native coin is priced as its wrapped token.
- `apply_prices(events, book)`: DESIGN.md's valuation rule, at the price the block
  started with (the pools' state at the end of the previous block), so that a trade's
  own price impact, or a later trade in the same block, does not value it. A swap's two legs share one
  value: the stable side's if there is one, otherwise whichever side has a price (the
  disposed side first). Gas is valued as the native coin and its USD value is put on the
  swap's disposal leg as `fee_usd` (taken off its proceeds). Missing prices stay missing
  (`value_usd=None`, `price_missing=True`), never guessed.

Async part (gather): `fetch_pool_prices` reads `Sync` / `Initialize` / `Swap` logs of the configured pools
with the same adaptive sweep (no archive node needed); `fetch_pool_price_at` asks
`getReserves()`/`slot0()` at a past block only as a fallback (e.g. to seed the state a
range starts from), and returns None where the node has no state at that block.

USD values are quantized to 18 decimal places (`USD_QUANTUM`); prices keep 60 digits.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from typing import Final

import structlog

from indexer.classify import PoolProtocol, PoolTokens
from indexer.decoders.uniswap_v2 import SYNC_TOPIC, decode_sync
from indexer.decoders.uniswap_v3 import (
    INITIALIZE_TOPIC,
    SWAP_V3_TOPIC,
    decode_initialize,
    decode_swap_v3,
)
from indexer.errors import DecodeError, InvalidTokenMetadata, MalformedResponse, RpcError
from indexer.records import parse_address, parse_bytes
from indexer.rpc import RpcCall, RpcClient
from indexer.sweep import LogFilter, LogSweeper
from ledger.events import NATIVE_ASSET, EventKind, LedgerEvent
from ledger.ids import Address, BlockNumber, LogIndex

log = structlog.get_logger(__name__)

PRICE_CONTEXT: Final = Context(prec=60)
USD_QUANTUM: Final = Decimal("1e-18")
Q192: Final = 1 << 192

TOKEN0_SELECTOR: Final = "0x0dfe1681"
TOKEN1_SELECTOR: Final = "0xd21220a7"
DECIMALS_SELECTOR: Final = "0x313ce567"
GET_RESERVES_SELECTOR: Final = "0x0902f1ac"
SLOT0_SELECTOR: Final = "0x3850c7bd"

_NEEDS_VALUE: Final = frozenset(
    {EventKind.SWAP_IN, EventKind.SWAP_OUT, EventKind.RECEIVE, EventKind.SEND, EventKind.GAS}
)


MAX_DECIMALS: Final = 255

def _decimal(value: Fraction) -> Decimal:
    return PRICE_CONTEXT.divide(Decimal(value.numerator), Decimal(value.denominator))


def v2_price(
    reserve0_raw: int, reserve1_raw: int, decimals0: int, decimals1: int
) -> Decimal | None:
    """Price of one whole token0 in whole token1 from V2 reserves; None for an empty pool.

    Raises:
        Nothing: an empty pool gives None.
    """
    if reserve0_raw <= 0 or reserve1_raw <= 0:
        return None
    return _decimal(Fraction(reserve1_raw * 10**decimals0, reserve0_raw * 10**decimals1))


def v3_price(sqrt_price_x96: int, decimals0: int, decimals1: int) -> Decimal | None:
    """Price of one whole token0 in whole token1 from a V3 sqrtPriceX96; None when zero.

    Raises:
        Nothing: a zero price gives None.
    """
    if sqrt_price_x96 <= 0:
        return None
    return _decimal(Fraction(sqrt_price_x96 * sqrt_price_x96 * 10**decimals0, Q192 * 10**decimals1))


@dataclass(frozen=True, slots=True)
class PoolPrice:
    """A pool's price after one log (or at the end of one block, from a call)."""

    pool: Address
    token0: Address
    token1: Address
    price0_in_1: Decimal
    block_number: BlockNumber
    log_index: LogIndex

    def price_of(self, token: Address) -> tuple[Address, Decimal] | None:
        """(quote token, price of one whole `token` in it), if the pool holds `token`.

        Raises:
            Nothing.
        """
        if token == self.token0:
            return self.token1, self.price0_in_1
        if token == self.token1:
            return self.token0, PRICE_CONTEXT.divide(Decimal(1), self.price0_in_1)
        return None


def pool_price_from_log(
    entry_pool: PoolTokens,
    price: Decimal | None,
    block: BlockNumber,
    log_index: LogIndex,
) -> PoolPrice | None:
    """Wrap a computed price with its pool's tokens (None stays None).

    Raises:
        Nothing.
    """
    if price is None:
        return None
    return PoolPrice(entry_pool.pool, entry_pool.token0, entry_pool.token1, price, block, log_index)


@dataclass(frozen=True, slots=True)
class PriceBook:
    """Pool states over time and the rules to turn them into USD prices (pure, frozen)."""

    pools: Mapping[Address, PoolTokens]
    decimals: Mapping[Address, int]
    usd_stables: frozenset[Address]
    numeraire: Address
    """The wrapped native token most pools quote against (WETH)."""
    observations: Mapping[Address, tuple[PoolPrice, ...]] = field(default_factory=dict)
    """Per pool, the end-of-block state of each block with a change, in block order."""
    _blocks: Mapping[Address, tuple[int, ...]] = field(default_factory=dict)

    @staticmethod
    def build(
        pools: Mapping[Address, PoolTokens],
        decimals: Mapping[Address, int],
        usd_stables: frozenset[Address],
        numeraire: Address,
        prices: Iterable[PoolPrice],
    ) -> PriceBook:
        """Index pool prices by pool and chain order.

        Raises:
            Nothing.
        """
        last: dict[tuple[Address, int], PoolPrice] = {}
        for price in sorted(prices, key=lambda p: (p.block_number, p.log_index)):
            last[(price.pool, price.block_number)] = price  # the block's final state wins
        by_pool: dict[Address, list[PoolPrice]] = {}
        for (pool, _), price in sorted(last.items(), key=lambda item: item[0][1]):
            by_pool.setdefault(pool, []).append(price)
        ordered = {pool: tuple(found) for pool, found in by_pool.items()}
        blocks = {pool: tuple(p.block_number for p in found) for pool, found in ordered.items()}
        return PriceBook(pools, decimals, usd_stables, numeraire, ordered, blocks)

    def pool_price_at(self, pool: Address, block: int) -> PoolPrice | None:
        """The pool's state at the end of `block`: its last observation at or before it.

        Raises:
            Nothing.
        """
        found = self.observations.get(pool, ())
        index = bisect.bisect_right(self._blocks.get(pool, ()), block)
        return found[index - 1] if index else None

    def _quote(self, asset: Address, quote: Address, block: int) -> Decimal | None:
        for pool in sorted(self.pools):
            tokens = self.pools[pool]
            if {tokens.token0, tokens.token1} != {asset, quote}:
                continue
            state = self.pool_price_at(pool, block)
            if state is not None:
                priced = state.price_of(asset)
                if priced is not None:
                    return priced[1]
        return None

    def usd_price(self, asset: Address, block: int) -> Decimal | None:
        """USD price of one whole `asset` at the end of `block`, or None when unknown.

        Raises:
            Nothing: unknown is None.
        """
        if asset == NATIVE_ASSET:
            asset = self.numeraire
        if asset in self.usd_stables:
            return Decimal(1)
        for stable in sorted(self.usd_stables):
            direct = self._quote(asset, stable, block)
            if direct is not None:
                return direct
        numeraire_usd = self.usd_price(self.numeraire, block) if asset != self.numeraire else None
        if numeraire_usd is None:
            return None
        in_numeraire = self._quote(asset, self.numeraire, block)
        if in_numeraire is None:
            return None
        return PRICE_CONTEXT.multiply(in_numeraire, numeraire_usd)

    def value_usd(self, asset: Address, amount_raw: int, block: int) -> Decimal | None:
        """USD value of `amount_raw` of `asset` at `block`, or None when unpriced.

        Raises:
            Nothing: unknown is None.
        """
        price = self.usd_price(asset, block)
        dec = self.decimals.get(self.numeraire if asset == NATIVE_ASSET else asset)
        if price is None or dec is None:
            return None
        value = PRICE_CONTEXT.divide(
            PRICE_CONTEXT.multiply(price, Decimal(amount_raw)), Decimal(10) ** dec
        )
        return value.quantize(USD_QUANTUM, rounding=ROUND_HALF_EVEN, context=PRICE_CONTEXT)


def apply_prices(events: Sequence[LedgerEvent], book: PriceBook) -> tuple[LedgerEvent, ...]:
    """Value a transaction's events by DESIGN.md's rule (see the module docstring).

    Raises:
        Nothing: a missing price is marked, not raised.
    """
    out = list(events)

    def value_at(event: LedgerEvent) -> Decimal | None:
        return book.value_usd(event.asset, event.amount_raw, event.ref.block_number - 1)

    def price_event(i: int, value: Decimal | None) -> None:
        event = out[i]
        missing = value is None and event.kind in _NEEDS_VALUE
        out[i] = replace(event, value_usd=value, price_missing=missing)

    swap_out = next((i for i, e in enumerate(out) if e.kind is EventKind.SWAP_OUT), None)
    swap_in = next((i for i, e in enumerate(out) if e.kind is EventKind.SWAP_IN), None)
    if swap_out is not None and swap_in is not None:
        legs = (out[swap_out], out[swap_in])
        stable = [e for e in legs if e.asset in book.usd_stables]
        ordered = stable + [e for e in legs if e not in stable]
        value = None
        for leg in ordered:
            value = value_at(leg)
            if value is not None:
                break
        price_event(swap_out, value)
        price_event(swap_in, value)
    for i, event in enumerate(out):
        if event.kind in (EventKind.SWAP_OUT, EventKind.SWAP_IN):
            continue
        price_event(i, value_at(event))
    gas = next((e for e in out if e.kind is EventKind.GAS), None)
    if gas is not None and gas.value_usd is not None and swap_out is not None:
        out[swap_out] = replace(out[swap_out], fee_usd=gas.value_usd)
    return tuple(out)


async def fetch_pool_prices(
    sweeper: LogSweeper,
    pools: Mapping[Address, PoolTokens],
    decimals: Mapping[Address, int],
    from_block: int,
    to_block: int,
) -> tuple[list[PoolPrice], list[DecodeError]]:
    """Pool prices after every `Sync` (V2), `Initialize` and `Swap` (V3) of the pools.

    Raises:
        RangeTooLarge, RpcError, RpcTimeout, RpcUnavailable, MalformedResponse: see
        `LogSweeper.fetch_logs`.
    """
    if not pools:
        return [], []
    price_filter = LogFilter(
        topics=((SYNC_TOPIC, SWAP_V3_TOPIC, INITIALIZE_TOPIC),), addresses=tuple(sorted(pools))
    )
    logs = await sweeper.fetch_logs([price_filter], from_block, to_block)
    prices: list[PoolPrice] = []
    errors: list[DecodeError] = []
    for entry in logs:
        tokens = pools.get(entry.address)
        if tokens is None:
            continue
        d0, d1 = decimals.get(tokens.token0), decimals.get(tokens.token1)
        if d0 is None or d1 is None:
            continue
        topic0 = entry.topics[0] if entry.topics else b""
        try:
            if tokens.protocol is PoolProtocol.UNISWAP_V2 and topic0 == SYNC_TOPIC:
                sync = decode_sync(entry)
                price = v2_price(sync.reserve0_raw, sync.reserve1_raw, d0, d1)
            elif tokens.protocol is PoolProtocol.UNISWAP_V3 and topic0 == SWAP_V3_TOPIC:
                swap = decode_swap_v3(entry)
                price = v3_price(swap.sqrt_price_x96, d0, d1)
            elif tokens.protocol is PoolProtocol.UNISWAP_V3 and topic0 == INITIALIZE_TOPIC:
                initialize = decode_initialize(entry)
                price = v3_price(initialize.sqrt_price_x96, d0, d1)
            else:
                continue
        except DecodeError as exc:
            errors.append(exc)
            continue
        found = pool_price_from_log(tokens, price, entry.block_number, entry.log_index)
        if found is not None:
            prices.append(found)
    return prices, errors


def _words(result: object, method: str, count: int) -> list[int]:
    raw = parse_bytes(result, method)
    if len(raw) < 32 * count:
        raise MalformedResponse(method, f"expected {count} words, got {len(raw)} bytes")
    return [int.from_bytes(raw[i * 32 : (i + 1) * 32], "big") for i in range(count)]


async def fetch_pool_price_at(
    rpc: RpcClient, pool: PoolTokens, decimals: Mapping[Address, int], block: int
) -> PoolPrice | None:
    """The pool's price at the end of `block` by `eth_call` (fallback); None without state.

    Raises:
        RpcTimeout, RpcUnavailable, MalformedResponse: see `RpcClient.call`.
    """
    selector = GET_RESERVES_SELECTOR if pool.protocol is PoolProtocol.UNISWAP_V2 else SLOT0_SELECTOR
    try:
        result = await rpc.call("eth_call", {"to": pool.pool, "data": selector}, hex(block))
    except RpcError as exc:
        log.info("pool_price_call_failed", pool=pool.pool, block_number=block, code=exc.code)
        return None
    if result == "0x":  # no contract (yet) at that block
        return None
    d0, d1 = decimals[pool.token0], decimals[pool.token1]
    if pool.protocol is PoolProtocol.UNISWAP_V2:
        reserve0, reserve1 = _words(result, "eth_call", 2)
        price = v2_price(reserve0, reserve1, d0, d1)
    else:
        (sqrt_price,) = _words(result, "eth_call", 1)
        price = v3_price(sqrt_price, d0, d1)
    return pool_price_from_log(pool, price, BlockNumber(block), LogIndex(1 << 30))


async def fetch_pool_tokens(
    rpc: RpcClient, pools: Mapping[Address, PoolProtocol]
) -> dict[Address, PoolTokens]:
    """token0/token1 of each pool (immutable, so read at the latest block).

    Raises:
        RpcError, RpcTimeout, RpcUnavailable, MalformedResponse: see `RpcClient.batch`.
    """
    addresses = sorted(pools)
    calls = [
        RpcCall("eth_call", [{"to": pool, "data": selector}, "latest"])
        for pool in addresses
        for selector in (TOKEN0_SELECTOR, TOKEN1_SELECTOR)
    ]
    results = await rpc.batch(calls)
    out: dict[Address, PoolTokens] = {}
    for i, pool in enumerate(addresses):
        t0 = parse_bytes(results[2 * i], "eth_call")[-20:]
        t1 = parse_bytes(results[2 * i + 1], "eth_call")[-20:]
        out[pool] = PoolTokens(
            pool,
            pools[pool],
            parse_address("0x" + t0.hex(), "eth_call"),
            parse_address("0x" + t1.hex(), "eth_call"),
        )
    return out


async def fetch_decimals(rpc: RpcClient, tokens: Iterable[Address]) -> dict[Address, int]:
    """`decimals()` of each token (immutable, so read at the latest block).

    Raises:
        RpcError, RpcTimeout, RpcUnavailable, MalformedResponse: see `RpcClient.batch`.
        InvalidTokenMetadata: a token's decimals() is beyond a uint8.
    """
    wanted = sorted(set(tokens))
    results = await rpc.batch(
        [RpcCall("eth_call", [{"to": t, "data": DECIMALS_SELECTOR}, "latest"]) for t in wanted]
    )
    found = {t: _words(r, "eth_call", 1)[0] for t, r in zip(wanted, results, strict=True)}
    for token, value in found.items():
        if value > MAX_DECIMALS:
            # 10 ** value must stay computable: ERC-20 declares decimals() a uint8.
            raise InvalidTokenMetadata(token, "decimals", value, f"a uint8 (0..{MAX_DECIMALS})")
    return found
