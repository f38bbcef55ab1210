"""The strategy scan job: the store, the node and the executor's quotes -> `strategy.scan`
-> persisted proposals and one structured event per decision.

Gather, decide, apply:

- `StorePortfolio` (a `strategy.quotes.PortfolioSource`): the chain's open lots, the
  latest stored prices, this tax year's realised figures, recent acquisitions and loss
  disposals (window checks) and the fingerprints of active proposals, read in one
  `Store.reader()` block in a worker thread. The buys of active proposals count as
  acquisitions at `taken_at`, so no harvest is proposed that they would wash. Pooled lots
  (uk, ca: no wallet) are sold from the chain's first wallet. The native coin is valued
  at the wrapped coin's price.
- `RouterQuotes` (a `QuoteSource`) over the executor's `TradeRouter.quote`; executor
  errors become `QuoteUnavailable`.
- `NodeGasPrice` (a `GasPriceSource`) over `ChainClient.next_base_fee_wei`; node errors
  become `GasPriceUnavailable`.
- `persist_scan(store, chain_id, result, ...)`: in one transaction, expires stale
  proposals, supersedes an open proposal of the same subject whose fingerprint differs
  (the situation changed), and creates each new proposal (skipping one whose equivalent
  became active meanwhile, or that would sell a lot an active proposal of another
  subject already plans to sell). Then it logs `proposal_created` per proposal (its figures),
  `trade_declined` per `NoTrade` (its reason) and one canonical `scan_completed` line.
- `run_scan(settings, store, ...)`: all of the above for every configured chain;
  `scan_job(settings, store)` is the daemon's `strategy_scan` job factory
  (`harvestd.wiring.StageJobFactory`).

The tax clock is the chain's: a scan decides as of the head block's timestamp (on a real
chain that is now; on a local world it is the world's time). Records are stamped with
the wall clock, which the daemon's expiry job also uses.

Errors:

    HarvestdError
    └── StrategyError (strategy.errors)
        └── GasPriceUnavailable   the node could not give the next base fee
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

from executor.chain import ChainClient
from executor.errors import ExecutorError
from executor.quoting import RouteQuoter, UniswapDeployment
from executor.routing import TradeRouter
from harvestd.daemon import JobContext, JobFunction
from harvestd.logs import get_logger
from harvestd.settings import ChainSettings, Settings
from harvestd.strategy_policy import policy_for_chain, tax_year_start
from ledger.events import NATIVE_ASSET
from ledger.ids import Address, BlockNumber, ChainId
from ledger.store import (
    DisposalRecord,
    DisposalTerm,
    ProposalRecord,
    ProposalStatus,
    Store,
    create_proposal,
    expire_proposals,
    find_latest_price,
    find_open_proposal,
    list_proposals,
    load_disposals,
    load_lots,
    update_proposal_status,
)
from ledger.store.columns import JsonValue
from ledger.store.errors import EquivalentProposalOpen
from ledger.store.records import ACTIVE_PROPOSAL_STATUSES
from strategy.errors import QuoteUnavailable, StrategyError
from strategy.policy import StrategyPolicy
from strategy.proposals import Proposal
from strategy.quotes import GasPrice, Quote
from strategy.scan import ScanResult, scan
from strategy.values import (
    ZERO,
    Acquisition,
    Asset,
    LossDisposal,
    LotId,
    OpenLot,
    PortfolioSnapshot,
    Price,
    TaxYearState,
)

__all__ = [
    "RECENT_WINDOW_DAYS",
    "GasPriceUnavailable",
    "NodeGasPrice",
    "RouterQuotes",
    "ScanOutcome",
    "StorePortfolio",
    "log_outcome",
    "persist_scan",
    "portfolio_for_chain",
    "proposal_details",
    "router_for_chain",
    "run_scan",
    "scan_chain",
    "scan_job",
]

log = get_logger(__name__)

RECENT_WINDOW_DAYS: Final = 61
"""How far back acquisitions and loss disposals are read for window checks (the longest
window is 30 days either side of a sale; twice that is read, to be safe)."""

LATEST_BLOCK: Final = BlockNumber(2**62)
"""`at_or_before` for 'the latest stored price'."""

SUPERSEDABLE: Final = frozenset({ProposalStatus.OPEN, ProposalStatus.APPROVED})


class GasPriceUnavailable(StrategyError):
    """The node could not tell the next block's base fee."""

    def __init__(self, endpoint: str, reason: str) -> None:
        self.endpoint = endpoint
        self.reason = reason
        super().__init__(f"no gas price from {endpoint}: {reason}")


# ---------------------------------------------------------------------- gather


def _year_figures(disposals: Sequence[DisposalRecord]) -> tuple[Decimal, Decimal]:
    """Signed (short, long) reportable gains; exempt ones are left out; no term -> short."""
    short = ZERO
    long = ZERO
    for disposal in disposals:
        if disposal.term is DisposalTerm.MIXED:
            for match in disposal.matches:
                gain = match.gain_usd + match.disallowed_loss_usd
                if match.term is DisposalTerm.LONG:
                    long += gain
                elif match.term is not DisposalTerm.EXEMPT:
                    short += gain
        elif disposal.term is DisposalTerm.LONG:
            long += disposal.reportable_gain_usd
        elif disposal.term is not DisposalTerm.EXEMPT:
            short += disposal.reportable_gain_usd
    return short, long


def _trades(proposal: ProposalRecord) -> list[Mapping[str, JsonValue]]:
    trades = proposal.details.get("trades")
    if not isinstance(trades, list):
        return []
    return [t for t in trades if isinstance(t, Mapping) and "buy_asset" in t]


def _lot_ids(proposal: ProposalRecord) -> set[str]:
    found: set[str] = set()
    for trade in _trades(proposal):
        lots = trade.get("lots")
        if isinstance(lots, list):
            found.update(str(lot["lot_id"]) for lot in lots if isinstance(lot, Mapping))
    return found


@dataclass(frozen=True, slots=True)
class StorePortfolio:
    """The `PortfolioSource` of one chain: what the store knows, as of `taken_at`."""

    store: Store
    chain_id: ChainId
    assets: Mapping[Address, Asset]
    """Every asset the scan may value; lots of other assets are left out (spam, unknown)."""
    numeraire: Address
    wrapped_native: Address
    default_wallet: Address
    """The wallet a pooled lot (uk, ca: no wallet) is sold from."""
    year_start: datetime
    taken_at: datetime
    carried_loss_usd: Decimal = ZERO

    def read(self) -> PortfolioSnapshot:
        """The snapshot, read synchronously in one read transaction.

        Raises:
            StoreError: the database failed.
        """
        since = self.taken_at - timedelta(days=RECENT_WINDOW_DAYS)
        with self.store.reader() as session:
            prices: dict[Address, Price] = {}
            for address in self.assets:
                source = self.wrapped_native if address == NATIVE_ASSET else address
                point = find_latest_price(session, self.chain_id, source, LATEST_BLOCK)
                if point is not None and point.price_usd is not None:
                    prices[address] = Price(address, point.price_usd, self.taken_at)
                elif address == self.numeraire:
                    prices[address] = Price(address, Decimal(1), self.taken_at)
            all_lots = load_lots(session, self.chain_id)
            year = load_disposals(session, self.chain_id, since=self.year_start)
            recent = load_disposals(session, self.chain_id, since=since)
            active = list_proposals(
                session, statuses=ACTIVE_PROPOSAL_STATUSES, chain_id=self.chain_id
            )
        lots = tuple(
            OpenLot(
                lot_id=LotId(lot.lot_id),
                asset=lot.asset,
                wallet=lot.wallet if lot.wallet is not None else self.default_wallet,
                amount_raw=lot.remaining_raw,
                cost_usd=lot.remaining_cost_usd,
                acquired_at=lot.acquired_at,
                holding_period_start=lot.holding_period_start,
            )
            for lot in all_lots
            if lot.remaining_raw > 0
            and lot.asset in self.assets
            and lot.acquired_at <= self.taken_at
        )
        acquisitions = tuple(
            Acquisition(
                asset=lot.asset,
                wallet=lot.wallet if lot.wallet is not None else self.default_wallet,
                acquired_at=lot.acquired_at,
                amount_raw=lot.amount_raw,
                lot_id=LotId(lot.lot_id),
            )
            for lot in all_lots
            if since <= lot.acquired_at <= self.taken_at
        )
        # A buy that an active proposal would make counts as an acquisition now: a harvest
        # of that asset inside a re-entry window would be washed once it executes.
        pending = tuple(
            Acquisition(
                asset=Address(str(trade["buy_asset"])),
                wallet=Address(str(trade["wallet"])),
                acquired_at=self.taken_at,
                amount_raw=int(str(trade["expected_out_raw"])),
            )
            for proposal in active
            for trade in _trades(proposal)
        )
        losses = tuple(
            LossDisposal(
                asset=d.asset,
                wallet=d.wallet if d.wallet is not None else self.default_wallet,
                disposed_at=d.disposed_at,
                loss_usd=-d.gain_usd,
            )
            for d in recent
            if d.gain_usd < 0
        )
        short, long = _year_figures(year)
        return PortfolioSnapshot(
            taken_at=self.taken_at,
            assets=self.assets,
            prices=prices,
            lots=lots,
            year=TaxYearState(
                year=self.year_start.year,
                realised_short_usd=short,
                realised_long_usd=long,
                carried_short_loss_usd=self.carried_loss_usd,
            ),
            recent_acquisitions=acquisitions + pending,
            recent_loss_disposals=losses,
            open_fingerprints=frozenset(p.fingerprint for p in active),
        )

    async def snapshot(self) -> PortfolioSnapshot:
        """The snapshot, read in a worker thread.

        Raises:
            StoreError: the database failed.
        """
        return await asyncio.to_thread(self.read)


class RouterQuotes:
    """The `QuoteSource` over the executor's `TradeRouter` (best single route)."""

    def __init__(self, router: TradeRouter) -> None:
        self._router = router

    async def quote(self, sell_asset: Address, buy_asset: Address, amount_raw: int) -> Quote:
        """Quote one swap on the best route.

        Raises:
            QuoteUnavailable: no route, or the node failed.
        """
        try:
            summary = await self._router.quote(sell_asset, buy_asset, amount_raw)
        except ExecutorError as error:
            raise QuoteUnavailable(sell_asset, buy_asset, amount_raw, str(error)) from error
        return Quote(
            amount_out_raw=summary.amount_out_raw,
            gas_units=summary.gas_units,
            fee_bps=Decimal(summary.pool_fee_ppm) / 100,
            price_impact_bps=summary.price_impact_bps,
        )


class NodeGasPrice:
    """The `GasPriceSource` over the node's next base fee plus the configured tip."""

    def __init__(
        self, chain: ChainClient, priority_fee_wei: int, native_price_usd: Decimal
    ) -> None:
        self._chain = chain
        self._priority_fee_wei = priority_fee_wei
        self._native_price_usd = native_price_usd

    async def gas_price(self) -> GasPrice:
        """The price a swap sent now would pay.

        Raises:
            GasPriceUnavailable: the node failed.
        """
        try:
            base_fee = await self._chain.next_base_fee_wei()
        except ExecutorError as error:
            raise GasPriceUnavailable(self._chain.endpoint, str(error)) from error
        return GasPrice(base_fee, self._priority_fee_wei, self._native_price_usd)


def router_for_chain(chain: ChainSettings, client: ChainClient) -> TradeRouter | None:
    """The executor's router for a chain's configured DEX; None without a complete one.

    Raises:
        Nothing.
    """
    dex = chain.dex
    if (
        dex is None
        or dex.uniswap_v2_factory is None
        or dex.uniswap_v2_router is None
        or dex.uniswap_v3_factory is None
        or dex.quoter_v2 is None
        or dex.swap_router is None
    ):
        return None
    deployment = UniswapDeployment(
        weth=Address(dex.weth),
        v2_factory=Address(dex.uniswap_v2_factory),
        v2_router=Address(dex.uniswap_v2_router),
        v3_factory=Address(dex.uniswap_v3_factory),
        v3_quoter=Address(dex.quoter_v2),
        v3_router=Address(dex.swap_router),
    )
    symbols = {Address(t.address): t.symbol for t in chain.tokens}
    numeraire = [Address(t.address) for t in chain.tokens if t.symbol == chain.numeraire]
    connectors = [Address(dex.weth), *numeraire]
    return TradeRouter(RouteQuoter(client, deployment), connectors, symbols)


# ----------------------------------------------------------------------- apply


def _text(value: Decimal) -> str:
    return format(value, "f")


def proposal_details(proposal: Proposal) -> dict[str, JsonValue]:
    """The full decision as the JSON a `ProposalRecord` keeps in `details`.

    Raises:
        Nothing.
    """
    trades: list[JsonValue] = []
    for trade in proposal.trades:
        lots: list[JsonValue] = [
            {
                "lot_id": str(use.lot_id),
                "wallet": use.wallet,
                "asset": use.asset,
                "amount_raw": str(use.amount_raw),
                "cost_usd": use.cost_usd,
                "proceeds_usd": use.proceeds_usd,
                "gain_usd": use.gain_usd,
                "term": None if use.term is None else use.term.value,
            }
            for use in trade.lots
        ]
        trades.append(
            {
                "wallet": trade.wallet,
                "sell_asset": trade.sell_asset,
                "buy_asset": trade.buy_asset,
                "amount_raw": str(trade.amount_raw),
                "expected_out_raw": str(trade.expected_out_raw),
                "lots": lots,
            }
        )
    return {
        "subject": proposal.subject,
        "reentry": proposal.reentry.value,
        "trades": trades,
        "realised_short_usd": proposal.realised_short_usd,
        "realised_long_usd": proposal.realised_long_usd,
        "realised_exempt_usd": proposal.realised_exempt_usd,
        "tax_effect_usd": proposal.tax_effect_usd,
        "costs": {
            "gas_usd": proposal.costs.gas_usd,
            "fee_usd": proposal.costs.fee_usd,
            "price_impact_usd": proposal.costs.price_impact_usd,
            "total_usd": proposal.costs.total_usd,
        },
        "net_benefit_usd": proposal.net_benefit_usd,
        "decided_at": proposal.created_at.isoformat(),
        "figures": {key: value for key, value in proposal.figures},
    }


def _record(
    proposal: Proposal, chain_id: ChainId, now: datetime, expiry: timedelta
) -> ProposalRecord:
    return ProposalRecord(
        id=uuid.uuid4().hex,
        kind=proposal.kind.value,
        status=ProposalStatus.OPEN,
        fingerprint=proposal.fingerprint,
        chain_id=chain_id,
        wallet=proposal.trades[0].wallet if proposal.trades else None,
        reason=proposal.reason.value,
        created_at=now,
        updated_at=now,
        expires_at=now + expiry,
        expected_short_term_gain_usd=proposal.realised_short_usd,
        expected_long_term_gain_usd=proposal.realised_long_usd,
        expected_exempt_gain_usd=proposal.realised_exempt_usd,
        expected_tax_effect_usd=proposal.tax_effect_usd,
        expected_cost_usd=proposal.costs.total_usd,
        trade_count=len(proposal.trades),
        details=proposal_details(proposal),
    )


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """What one chain's scan decided and what it changed in the store."""

    chain_id: ChainId
    result: ScanResult
    created: tuple[ProposalRecord, ...]
    superseded_ids: tuple[str, ...]
    expired_ids: tuple[str, ...]
    skipped_fingerprints: tuple[str, ...]
    """Proposals not stored: an equivalent one became active meanwhile, or one of its lots
    is already to be sold by an active proposal of another subject."""


def persist_scan(
    store: Store,
    chain_id: ChainId,
    result: ScanResult,
    *,
    now: datetime,
    expiry: timedelta,
) -> ScanOutcome:
    """Store a scan's proposals in one transaction (expire, supersede, create).

    Raises:
        StoreError: the database failed.
    """
    created: list[ProposalRecord] = []
    superseded: list[str] = []
    skipped: list[str] = []
    with store.transaction("persist scan") as session:
        expired = expire_proposals(session, now)
        for proposal in result.proposals:
            record = _record(proposal, chain_id, now, expiry)
            if find_open_proposal(session, record.fingerprint) is not None:
                skipped.append(record.fingerprint)
                continue
            active = list_proposals(session, statuses=ACTIVE_PROPOSAL_STATUSES, chain_id=chain_id)
            older = [
                p
                for p in active
                if p.status in SUPERSEDABLE
                and p.details.get("subject") == proposal.subject
                and p.fingerprint != record.fingerprint
            ]
            # Lots another active proposal (of another subject) will sell are reserved:
            # two open proposals must not plan to sell the same lot.
            reserved = {
                lot_id
                for p in active
                if p.details.get("subject") != proposal.subject
                for lot_id in _lot_ids(p)
            }
            if reserved.intersection(str(use.lot_id) for use in proposal.lots):
                skipped.append(record.fingerprint)
                continue
            try:
                stored = create_proposal(session, record)
            except EquivalentProposalOpen:
                skipped.append(record.fingerprint)
                continue
            for old in older:
                update_proposal_status(
                    session,
                    old.id,
                    ProposalStatus.SUPERSEDED,
                    note=f"superseded by {stored.id}",
                    at=now,
                )
                superseded.append(old.id)
            created.append(stored)
    return ScanOutcome(
        chain_id, result, tuple(created), tuple(superseded), tuple(expired), tuple(skipped)
    )


def log_outcome(outcome: ScanOutcome, duration_seconds: Decimal) -> None:
    """One `proposal_created` per stored proposal, one `trade_declined` per no-trade,
    `proposal_superseded` per superseded one and the canonical `scan_completed` line.

    Raises:
        Nothing.
    """
    by_fingerprint = {p.fingerprint: p for p in outcome.result.proposals}
    for record in outcome.created:
        proposal = by_fingerprint[record.fingerprint]
        log.info(
            "proposal_created",
            chain_id=outcome.chain_id,
            proposal_id=record.id,
            expires_at=None if record.expires_at is None else record.expires_at.isoformat(),
            **proposal.log_fields(),
        )
    for old_id in outcome.superseded_ids:
        log.info("proposal_superseded", chain_id=outcome.chain_id, proposal_id=old_id)
    for no_trade in outcome.result.no_trades:
        log.info("trade_declined", chain_id=outcome.chain_id, **no_trade.log_fields())
    valuation = outcome.result.valuation
    log.info(
        "scan_completed",
        chain_id=outcome.chain_id,
        portfolio_value_usd=str(valuation.managed_value_usd.quantize(Decimal("0.01"))),
        breach_count=len(outcome.result.breaches),
        proposal_count=len(outcome.result.proposals),
        created_count=len(outcome.created),
        superseded_count=len(outcome.superseded_ids),
        expired_count=len(outcome.expired_ids),
        skipped_count=len(outcome.skipped_fingerprints),
        no_trade_count=len(outcome.result.no_trades),
        duration_seconds=str(duration_seconds.quantize(Decimal("0.001"))),
    )


# ----------------------------------------------------------------------- wiring


def _assets(chain: ChainSettings) -> dict[Address, Asset]:
    assets = {
        Address(t.address): Asset(Address(t.address), t.symbol, t.decimals)
        for t in chain.tokens
        if t.decimals is not None
    }
    assets[NATIVE_ASSET] = Asset(NATIVE_ASSET, chain.native_symbol, 18)
    return assets


async def scan_chain(
    settings: Settings,
    store: Store,
    chain: ChainSettings,
    *,
    client: ChainClient | None = None,
    policy: StrategyPolicy | None = None,
    wall_clock: Callable[[], datetime] | None = None,
) -> ScanOutcome:
    """Scan one chain: gather, `strategy.scan`, persist, log.

    `policy` overrides the one built from `settings` (tests, simulations).

    Raises:
        UnknownSymbol: a strategy setting names a token the chain does not configure.
        MissingPrice, UnknownAsset: a managed asset has no stored price or decimals.
        GasPriceUnavailable: the node failed while reading the base fee or head time.
        StoreError: the database failed.
    """
    started = time.perf_counter()
    chain_id = ChainId(chain.chain_id)
    own_client = client is None
    node = client if client is not None else ChainClient.from_url(chain.rpc_url.get_secret_value())
    try:
        try:
            head_time = datetime.fromtimestamp(await node.block_timestamp(), UTC)
        except ExecutorError as error:
            raise GasPriceUnavailable(node.endpoint, str(error)) from error
        chosen = policy if policy is not None else policy_for_chain(settings, chain)
        portfolio = portfolio_for_chain(settings, store, chain, head_time)
        weth = portfolio.wrapped_native
        native_point = await asyncio.to_thread(_native_price, store, chain_id, weth)
        tip_wei = int(settings.execution.max_priority_fee_gwei * 10**9)
        gas = NodeGasPrice(node, tip_wei, native_point)
        router = router_for_chain(chain, node)
        quotes: RouterQuotes | _NoQuotes = (
            RouterQuotes(router) if router is not None else _NoQuotes()
        )
        result = await scan(portfolio, quotes, gas, chosen)
    finally:
        if own_client:
            await node.close()
    now = (wall_clock or _utc_now)()
    expiry = timedelta(seconds=settings.strategy.proposal_expiry_seconds)
    outcome = await asyncio.to_thread(persist_scan, store, chain_id, result, now=now, expiry=expiry)
    log_outcome(outcome, Decimal(str(round(time.perf_counter() - started, 6))))
    return outcome


def portfolio_for_chain(
    settings: Settings, store: Store, chain: ChainSettings, taken_at: datetime
) -> StorePortfolio:
    """The `PortfolioSource` of one configured chain as of `taken_at` (chain time).

    Raises:
        StopIteration: the chain's numeraire is not among its tokens (settings prevent it).
    """
    dex = chain.dex
    return StorePortfolio(
        store=store,
        chain_id=ChainId(chain.chain_id),
        assets=_assets(chain),
        numeraire=next(Address(t.address) for t in chain.tokens if t.symbol == chain.numeraire),
        wrapped_native=Address(dex.weth) if dex is not None else NATIVE_ASSET,
        default_wallet=Address(chain.wallets[0].address),
        year_start=tax_year_start(settings, taken_at),
        taken_at=taken_at,
        carried_loss_usd=settings.owner.loss_carryforward_usd,
    )


class _NoQuotes:
    """A chain without a configured DEX: every quote is unavailable."""

    async def quote(self, sell_asset: Address, buy_asset: Address, amount_raw: int) -> Quote:
        raise QuoteUnavailable(sell_asset, buy_asset, amount_raw, "no dex configured")


def _native_price(store: Store, chain_id: ChainId, weth: Address) -> Decimal:
    with store.reader() as session:
        point = find_latest_price(session, chain_id, weth, LATEST_BLOCK)
    if point is None or point.price_usd is None:
        return ZERO
    return point.price_usd


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def run_scan(
    settings: Settings,
    store: Store,
    *,
    wall_clock: Callable[[], datetime] | None = None,
) -> tuple[ScanOutcome, ...]:
    """Scan every configured chain, one after the other.

    Raises:
        Whatever `scan_chain` raises, for the first chain that fails.
    """
    outcomes: list[ScanOutcome] = []
    for chain in settings.chains:
        outcomes.append(await scan_chain(settings, store, chain, wall_clock=wall_clock))
    return tuple(outcomes)


def scan_job(settings: Settings, store: Store) -> JobFunction:
    """The daemon's `strategy_scan` job (a `harvestd.wiring.StageJobFactory`).

    Raises:
        Nothing (the job raises what `run_scan` raises).
    """

    async def run(context: JobContext) -> None:
        for chain in settings.chains:
            if context.is_stopping():
                return
            await scan_chain(settings, store, chain)

    return run
