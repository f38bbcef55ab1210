"""The daemon's execution job: proposals from the store -> planned (and, live, sent) trades.

`execute_job(settings, store)` is the daemon's `execute_approved` job factory
(`harvestd.wiring.StageJobFactory`). Each run, per configured chain:

- dry-run (the default): every new open or approved proposal is planned once, trade by
  trade (`TradePlanner.plan`: fresh quotes, guards, exact calldata, simulation; logged as
  `trade_planned`); nothing is signed, sent or written. The ids planned are remembered in
  memory, so a proposal is planned once per daemon run; `proposal_planned` closes each.
- live: each run first resumes whatever was left signed or sent, by an earlier process
  or by a receipt that timed out (`TradeExecutor.resume`); then every approved proposal (or open one, with
  `execution.auto_approve`), and every one left `executing`, has its trades planned right
  before each is executed (`TradeExecutor.execute`: exactly once, persisted before
  broadcast). A trade already confirmed is skipped (never planned again), one still in
  flight holds back the rest of its proposal. A trade that sells what the previous trade
  of the proposal bought (same wallet) sells the amount that trade actually returned.

A guard's refusal is logged by the planner or sender (`trade_refused`, with the guard and
its numbers), counted with `JobContext.record_trades(refused={reason: n})`, and stops that
proposal for this run; other executor errors are logged as `trade_not_executed` and stop
that proposal too. In live mode a refused proposal is planned again only after
`RETRY_AFTER_REFUSAL_SECONDS`, not on every run. Trades sent are counted with
`record_trades(sent=n)`.

Reference prices (`ReferencePrices`) are the store's latest stored price of every
configured token (the numeraire at 1 USD when it has none), the native coin priced as the
wrapped one. The day's traded value (for the daily cap) is the value, at those prices, of
every execution of the chain created since 00:00 UTC that did not fail.

Errors: nothing of its own; the job raises `StoreError`, `SigningKeyUnavailable` (live
without a readable key) and the node's `RpcError`/`RpcUnavailable` to the supervisor.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Final

from executor.chain import ChainClient
from executor.errors import ExecutorError, NoRouteFound, PriceMissing, TradeRefused
from executor.execution import RunPolicy, TradeExecutor
from executor.guards import GuardLimits
from executor.nonces import StoreNonces
from executor.planning import ExecutorPolicy, TradePlanner, TradeRequest
from executor.pricing import ReferencePrices
from executor.routes import Token
from executor.sending import TradeSender
from executor.signing import SecretKey, address_of
from harvestd.daemon import JobContext, JobFunction
from harvestd.logs import get_logger
from harvestd.scanning import router_for_chain
from harvestd.settings import ChainSettings, Settings
from harvestd.settings_keys import load_signing_key
from ledger.events import NATIVE_ASSET
from ledger.ids import Address, BlockNumber, ChainId
from ledger.store import (
    ProposalRecord,
    ProposalStatus,
    Store,
    find_latest_price,
    list_executions,
    list_proposals,
)
from ledger.store.columns import JsonValue
from ledger.store.records import ExecutionState

__all__ = [
    "ProposalTrade",
    "TradeProgress",
    "execute_job",
    "guard_limits",
    "is_next_leg",
    "proposal_trades",
    "reference_prices",
    "run_policy",
    "spent_today_usd",
    "trade_progress",
    "trade_request",
]

log = get_logger(__name__)

LATEST_BLOCK: Final = BlockNumber(2**62)
"""`at_or_before` for 'the latest stored price'."""

GWEI: Final = 10**9

RETRY_AFTER_REFUSAL_SECONDS: Final = 60.0
"""Live: how long a proposal a guard refused waits before it is planned again."""

DRY_RUN_STATUSES: Final = (ProposalStatus.OPEN, ProposalStatus.APPROVED)
LIVE_STATUSES: Final = (ProposalStatus.APPROVED, ProposalStatus.EXECUTING)


# ------------------------------------------------------------------------ decide


@dataclass(frozen=True, slots=True)
class ProposalTrade:
    """One trade of a stored proposal, read back from its `details`."""

    index: int
    wallet: Address
    sell_asset: Address
    buy_asset: Address
    amount_raw: int
    expected_out_raw: int


def proposal_trades(proposal: ProposalRecord) -> tuple[ProposalTrade, ...]:
    """The trades a proposal's `details` list, in order (see `scanning.proposal_details`).

    Raises:
        ValueError: a trade entry lacks a field or holds a non-integer amount.
    """
    raw = proposal.details.get("trades")
    if not isinstance(raw, list):
        return ()
    found: list[ProposalTrade] = []
    for index, entry in enumerate(raw):
        if not isinstance(entry, Mapping):
            raise ValueError(f"proposal {proposal.id} trade {index} is not an object")
        found.append(
            ProposalTrade(
                index=index,
                wallet=Address(str(_field(entry, "wallet", proposal.id, index))),
                sell_asset=Address(str(_field(entry, "sell_asset", proposal.id, index))),
                buy_asset=Address(str(_field(entry, "buy_asset", proposal.id, index))),
                amount_raw=int(str(_field(entry, "amount_raw", proposal.id, index))),
                expected_out_raw=int(str(_field(entry, "expected_out_raw", proposal.id, index))),
            )
        )
    return tuple(found)


def _field(entry: Mapping[str, JsonValue], name: str, proposal_id: str, index: int) -> JsonValue:
    if name not in entry or entry[name] is None:
        raise ValueError(f"proposal {proposal_id} trade {index} has no {name}")
    return entry[name]


def is_next_leg(previous: ProposalTrade | None, trade: ProposalTrade) -> bool:
    """Whether `trade` sells what `previous` bought, from the same wallet."""
    return (
        previous is not None
        and previous.wallet == trade.wallet
        and previous.buy_asset == trade.sell_asset
    )


def trade_request(
    trade: ProposalTrade, amount_raw: int, weth: Address, proposal_id: str
) -> TradeRequest:
    """The executor's request for a proposal trade; the native coin trades through WETH."""
    native_in = trade.sell_asset == NATIVE_ASSET
    native_out = trade.buy_asset == NATIVE_ASSET
    return TradeRequest(
        sender=trade.wallet,
        token_in=weth if native_in else trade.sell_asset,
        token_out=weth if native_out else trade.buy_asset,
        amount_in_raw=amount_raw,
        native_in=native_in,
        native_out=native_out,
        proposal_id=proposal_id,
    )


def guard_limits(settings: Settings, chain: ChainSettings) -> GuardLimits:
    """The executor's guard limits for one chain from `execution.*`.

    No `allowed_tokens` means every configured token; no `allowed_routers` means the
    chain's configured V2 router and V3 swap router.

    Raises:
        Nothing (settings validation guarantees the symbols exist).
    """
    execution = settings.execution
    by_symbol = {t.symbol: Address(t.address) for t in chain.tokens}
    if execution.allowed_tokens is None:
        tokens = frozenset(by_symbol.values())
    else:
        tokens = frozenset(by_symbol[s] for s in execution.allowed_tokens if s in by_symbol)
    if execution.allowed_routers is not None:
        routers = frozenset(Address(r) for r in execution.allowed_routers)
    elif chain.dex is not None:
        routers = frozenset(
            Address(r) for r in (chain.dex.uniswap_v2_router, chain.dex.swap_router) if r
        )
    else:
        routers = frozenset()
    return GuardLimits(
        max_slippage_bps=execution.max_slippage_bps,
        max_price_impact_bps=execution.max_price_impact_bps,
        max_fee_per_gas_wei=int(execution.max_fee_per_gas_gwei * GWEI),
        priority_fee_wei=int(execution.max_priority_fee_gwei * GWEI),
        max_gas_share_bps=execution.max_gas_share_bps,
        allowed_tokens=tokens,
        allowed_routers=routers,
        max_trade_usd=execution.max_trade_usd,
        max_daily_usd=execution.max_daily_usd,
        deadline_seconds=execution.deadline_seconds,
        max_quote_age_blocks=execution.quote_max_age_blocks,
    )


def run_policy(settings: Settings) -> RunPolicy:
    """The exactly-once runner's policy from `execution.*`."""
    execution = settings.execution
    return RunPolicy(
        live=execution.is_live,
        auto_approve=execution.auto_approve,
        priority_fee_wei=int(execution.max_priority_fee_gwei * GWEI),
        max_fee_per_gas_wei=int(execution.max_fee_per_gas_gwei * GWEI),
        receipt_timeout_seconds=float(execution.receipt_timeout_seconds),
        replace_after_seconds=float(execution.replace_after_seconds),
        fee_bump_percent=execution.fee_bump_percent,
    )


# ------------------------------------------------------------------------ gather


def reference_prices(store: Store, chain: ChainSettings) -> ReferencePrices:
    """The store's latest price of every configured token, as the executor's reference.

    Raises:
        StoreError: the database failed.
    """
    chain_id = ChainId(chain.chain_id)
    tokens: dict[Address, Token] = {}
    usd: dict[Address, Decimal] = {}
    with store.reader("reference prices") as session:
        for token in chain.tokens:
            address = Address(token.address)
            if token.decimals is None:
                continue
            tokens[address] = Token(address, token.symbol, token.decimals)
            point = find_latest_price(session, chain_id, address, LATEST_BLOCK)
            if point is not None and point.price_usd is not None:
                usd[address] = point.price_usd
            elif token.symbol == chain.numeraire:
                usd[address] = Decimal(1)
    weth = Address(chain.dex.weth) if chain.dex is not None else None
    native = usd.get(weth, Decimal(0)) if weth is not None else Decimal(0)
    return ReferencePrices(tokens=tokens, usd_per_token=usd, native_usd=native, source="store")


def spent_today_usd(
    store: Store, chain_id: ChainId, prices: ReferencePrices, now: datetime
) -> Decimal:
    """The value of today's (UTC) executions of the chain that did not fail.

    Raises:
        StoreError: the database failed.
    """
    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    with store.reader("spent today") as session:
        records = list_executions(session)
    total = Decimal(0)
    counted: set[tuple[str, int]] = set()
    for record in records:
        if record.chain_id != chain_id or record.created_at < midnight:
            continue
        if record.state in (ExecutionState.FAILED, ExecutionState.REPLACED):
            continue
        key = (record.proposal_id, record.trade_index)
        if key in counted:
            continue  # a replacement is the same trade
        counted.add(key)
        try:
            total += prices.value_usd(record.token_in, record.amount_in_raw)
        except PriceMissing:
            continue
    return total


def _proposals(
    store: Store, chain_id: ChainId, statuses: tuple[ProposalStatus, ...]
) -> list[ProposalRecord]:
    with store.reader("proposals to execute") as session:
        return list_proposals(session, statuses=statuses, chain_id=chain_id)


@dataclass(frozen=True, slots=True)
class TradeProgress:
    """What the store says of one trade of a proposal."""

    confirmed_out_raw: int | None
    """The output of its confirmed execution; None when none is confirmed."""
    in_flight: bool
    """An attempt is still signed or sent (the runner is following it)."""


def trade_progress(store: Store, proposal_id: str, trade_index: int) -> TradeProgress:
    """Whether a trade is confirmed (and what it returned) or still in flight.

    Raises:
        StoreError: the database failed.
    """
    with store.reader("trade progress") as session:
        records = [
            r
            for r in list_executions(session, proposal_id=proposal_id)
            if r.trade_index == trade_index
        ]
    for record in records:
        if record.state is ExecutionState.CONFIRMED:
            return TradeProgress(record.amount_out_raw or 0, in_flight=False)
    in_flight = any(r.state in (ExecutionState.SIGNED, ExecutionState.SENT) for r in records)
    return TradeProgress(None, in_flight=in_flight)


# ------------------------------------------------------------------------- apply


@dataclass(slots=True)
class _Tally:
    """What one run did on one chain, for `record_trades`."""

    sent: int = 0
    refused: dict[str, int] = field(default_factory=dict)

    def refuse(self, reason: str) -> None:
        self.refused[reason] = self.refused.get(reason, 0) + 1


@dataclass(slots=True)
class _ChainMemory:
    """What the job remembers about one chain between runs (in memory)."""

    resumed: bool = False
    planned: set[str] = field(default_factory=set)
    retry_at: dict[str, float] = field(default_factory=dict)
    """Live: a proposal refused by a guard is tried again from this (monotonic) time."""


@dataclass(frozen=True, slots=True)
class _ChainTools:
    """The executor wired on one chain for one run."""

    chain_id: ChainId
    weth: Address
    planner: TradePlanner
    executor: TradeExecutor


def _tools(
    settings: Settings,
    chain: ChainSettings,
    store: Store,
    client: ChainClient,
    broadcaster: ChainClient | None,
) -> _ChainTools | None:
    router = router_for_chain(chain, client)
    if router is None or chain.dex is None:
        return None
    chain_id = ChainId(chain.chain_id)
    # The exactly-once runner signs one swap per trade: no two-transaction chained routes.
    policy = ExecutorPolicy(guard_limits(settings, chain), allow_chain=False)
    planner = TradePlanner(client, router, policy, chain_id)
    # Approvals take store-reserved nonces too, like the runner's swaps.
    sender = TradeSender(
        client,
        router.quoter,
        nonces=StoreNonces(store, client, chain_id),
        receipt_timeout_seconds=float(settings.execution.receipt_timeout_seconds),
        max_quote_age_blocks=settings.execution.quote_max_age_blocks,
    )
    executor = TradeExecutor(
        store, client, sender, chain_id, run_policy(settings), broadcaster=broadcaster
    )
    return _ChainTools(chain_id, Address(chain.dex.weth), planner, executor)


async def _plan_proposal(
    tools: _ChainTools,
    store: Store,
    chain: ChainSettings,
    proposal: ProposalRecord,
    tally: _Tally,
) -> bool:
    """Dry-run: plan each trade of a proposal (log only). True when every trade planned."""
    prices = await asyncio.to_thread(reference_prices, store, chain)
    spent = await asyncio.to_thread(
        spent_today_usd, store, tools.chain_id, prices, datetime.now(UTC)
    )
    trades = proposal_trades(proposal)
    for trade in trades:
        request = trade_request(trade, trade.amount_raw, tools.weth, proposal.id)
        try:
            await tools.planner.plan(request, prices, spent)
        except TradeRefused as refusal:
            tally.refuse(refusal.refusal)
            return False
        except (NoRouteFound, PriceMissing) as error:
            reason = "no_route" if isinstance(error, NoRouteFound) else "price_missing"
            tally.refuse(reason)
            log.warning(
                "trade_refused",
                stage="plan",
                reason=reason,
                message=str(error),
                proposal_id=proposal.id,
                trade_index=trade.index,
            )
            return False
    log.info(
        "proposal_planned",
        chain_id=tools.chain_id,
        proposal_id=proposal.id,
        kind=proposal.kind,
        status=proposal.status.value,
        trade_count=len(trades),
        dry_run=True,
    )
    return True


async def _execute_proposal(
    tools: _ChainTools,
    store: Store,
    chain: ChainSettings,
    proposal: ProposalRecord,
    key: SecretKey,
    tally: _Tally,
) -> None:
    """Live: plan then execute each trade in order; stop at the first that does not confirm."""
    signer = address_of(key)
    previous: ProposalTrade | None = None
    previous_out: int | None = None
    for trade in proposal_trades(proposal):
        if trade.wallet != signer:
            tally.refuse("no_key_for_wallet")
            log.warning(
                "trade_refused",
                stage="execute",
                reason="no_key_for_wallet",
                proposal_id=proposal.id,
                trade_index=trade.index,
                wallet=trade.wallet,
                signer=signer,
            )
            return
        progress = await asyncio.to_thread(trade_progress, store, proposal.id, trade.index)
        if progress.confirmed_out_raw is not None:
            # Done by an earlier run: never planned or sent again.
            previous, previous_out = trade, progress.confirmed_out_raw
            continue
        if progress.in_flight:
            return  # the runner follows it (resume); the next trades wait for its outcome
        amount = trade.amount_raw
        if is_next_leg(previous, trade) and previous_out is not None:
            amount = previous_out
        prices = await asyncio.to_thread(reference_prices, store, chain)
        spent = await asyncio.to_thread(
            spent_today_usd, store, tools.chain_id, prices, datetime.now(UTC)
        )
        request = trade_request(trade, amount, tools.weth, proposal.id)
        try:
            planned = await tools.planner.plan(request, prices, spent)
            result = await tools.executor.execute(proposal.id, trade.index, planned, key)
        except TradeRefused as refusal:
            tally.refuse(refusal.refusal)
            return
        except ExecutorError as error:
            log.warning(
                "trade_not_executed",
                chain_id=tools.chain_id,
                proposal_id=proposal.id,
                trade_index=trade.index,
                error_type=type(error).__name__,
                error=str(error),
            )
            if isinstance(error, NoRouteFound | PriceMissing):
                tally.refuse("no_route" if isinstance(error, NoRouteFound) else "price_missing")
            return
        if result.outcome is not None:
            tally.sent += 1
        if result.state is not ExecutionState.CONFIRMED:
            return
        previous = trade
        previous_out = (
            result.outcome.amount_out_raw
            if result.outcome is not None
            else (
                await asyncio.to_thread(trade_progress, store, proposal.id, trade.index)
            ).confirmed_out_raw
        )


async def _run_chain(
    settings: Settings,
    store: Store,
    chain: ChainSettings,
    memory: _ChainMemory,
    key: SecretKey | None,
    context: JobContext,
) -> _Tally:
    tally = _Tally()
    chain_id = ChainId(chain.chain_id)
    client = ChainClient.from_url(chain.rpc_url.get_secret_value())
    broadcaster = (
        ChainClient.from_url(chain.send_rpc_url.get_secret_value())
        if chain.send_rpc_url is not None
        else None
    )
    try:
        tools = _tools(settings, chain, store, client, broadcaster)
        if tools is None:
            log.debug("execution_skipped", chain_id=chain_id, reason="no dex configured")
            return tally
        if not settings.execution.is_live:
            for proposal in await asyncio.to_thread(_proposals, store, chain_id, DRY_RUN_STATUSES):
                if context.is_stopping():
                    break
                if proposal.id in memory.planned:
                    continue
                memory.planned.add(proposal.id)
                await _plan_proposal(tools, store, chain, proposal, tally)
            return tally
        assert key is not None
        # Every run: attempts left signed/sent (by an earlier process, or by a receipt that
        # timed out in an earlier run) are followed to their outcome before anything new.
        results = await tools.executor.resume(key)
        if results or not memory.resumed:
            log.info("executions_resumed", chain_id=chain_id, count=len(results))
        memory.resumed = True
        statuses: tuple[ProposalStatus, ...] = LIVE_STATUSES
        if settings.execution.auto_approve:
            statuses = (ProposalStatus.OPEN, *LIVE_STATUSES)
        loop = asyncio.get_running_loop()
        for proposal in await asyncio.to_thread(_proposals, store, chain_id, statuses):
            if context.is_stopping():
                break
            if memory.retry_at.get(proposal.id, 0.0) > loop.time():
                continue
            refused_before = sum(tally.refused.values())
            await _execute_proposal(tools, store, chain, proposal, key, tally)
            if sum(tally.refused.values()) > refused_before:
                # Not every execute interval: the market has to move first.
                memory.retry_at[proposal.id] = loop.time() + RETRY_AFTER_REFUSAL_SECONDS
        return tally
    finally:
        await client.close()
        if broadcaster is not None:
            await broadcaster.close()


def execute_job(
    settings: Settings,
    store: Store,
    *,
    key: SecretKey | None = None,
    environ: Mapping[str, str] | None = None,
) -> JobFunction:
    """The daemon's `execute_approved` job (a `harvestd.wiring.StageJobFactory`).

    In live mode the signing key is `key`, or else read (once, at the first run) from
    `execution.key` in `environ` (the process environment by default); register it with
    the log redactor before passing it in.

    Raises:
        Nothing (the job raises `SigningKeyUnavailable` in live mode without a key, and
        `StoreError`, `RpcError`, `RpcUnavailable` when the store or node fails).
    """
    memories: dict[ChainId, _ChainMemory] = {}
    held: list[SecretKey] = [] if key is None else [key]

    def signing_key() -> SecretKey | None:
        if not settings.execution.is_live:
            return None
        if not held:
            source = settings.execution.key
            if source is None:
                return None
            held.append(load_signing_key(source, os.environ if environ is None else environ))
        return held[0]

    async def run(context: JobContext) -> None:
        secret = signing_key()
        for chain in settings.chains:
            if context.is_stopping():
                return
            chain_id = ChainId(chain.chain_id)
            memory = memories.setdefault(chain_id, _ChainMemory())
            tally = await _run_chain(settings, store, chain, memory, secret, context)
            if tally.sent or tally.refused:
                context.record_trades(chain_id, sent=tally.sent, refused=tally.refused)

    return run
