"""persist_scan / log_outcome on a real SQLite store: a proposal is stored once with its
trades, lots and figures; an equivalent one is not stored again; a changed proposal of the
same subject supersedes the open one; stale ones expire."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from structlog.testing import capture_logs

from harvestd.scanning import log_outcome, persist_scan
from ledger.engine.values import Term
from ledger.ids import Address, ChainId
from ledger.store import ProposalStatus, Store, get_proposal, list_proposals, open_store
from strategy.lotchoice import LotUse
from strategy.proposals import (
    Costs,
    NoTrade,
    NoTradeReason,
    Proposal,
    ProposalKind,
    ProposalReason,
    Reentry,
    Trade,
)
from strategy.scan import ScanResult
from strategy.valuation import value_portfolio
from strategy.values import (
    Asset,
    AssetTarget,
    Jurisdiction,
    LotId,
    PortfolioSnapshot,
    Price,
    Targets,
    TaxYearState,
    rules_for,
)

CHAIN = ChainId(31337)
WALLET = Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")
RETH = Address("0x610178dA211FEF7D417bC0e6FeD39F05609AD788")
WSTETH = Address("0x8A791620dd6260079BF849Dc5567aDC3F2FdC318")
USDC = Address("0xa513E6E4b8f2a923D98304ec87F64353C4D5C853")
NOW = datetime(2026, 3, 1, tzinfo=UTC)
EXPIRY = timedelta(minutes=10)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    opened = open_store(f"sqlite:///{tmp_path}/ledger.db")
    opened.upgrade()
    try:
        yield opened
    finally:
        opened.close()


def harvest(lot_ids: tuple[str, ...], loss: Decimal) -> Proposal:
    uses = tuple(
        LotUse(LotId(lot_id), WALLET, RETH, 10**18, Decimal(3000), Decimal(3000) - loss, Term.SHORT)
        for lot_id in lot_ids
    )
    return Proposal(
        kind=ProposalKind.HARVEST,
        reason=ProposalReason.LOSS_HARVEST,
        reentry=Reentry.SUBSTITUTE,
        trades=(Trade(WALLET, RETH, WSTETH, 10**18 * len(uses), 9 * 10**17, uses),),
        realised_short_usd=-loss * len(uses),
        realised_long_usd=Decimal(0),
        realised_exempt_usd=Decimal(0),
        tax_effect_usd=-loss * len(uses) * Decimal("0.35"),
        costs=Costs(Decimal("1.5"), Decimal("0.25"), Decimal("0.125")),
        created_at=NOW,
    )


def result(*proposals: Proposal, no_trades: tuple[NoTrade, ...] = ()) -> ScanResult:
    snapshot = PortfolioSnapshot(
        taken_at=NOW,
        assets={USDC: Asset(USDC, "USDC", 6)},
        prices={USDC: Price(USDC, Decimal(1), NOW)},
        lots=(),
        year=TaxYearState(2026, Decimal(0), Decimal(0)),
    )
    rules = rules_for(Jurisdiction.US, wash_sale=True)
    targets = Targets((AssetTarget(USDC, Decimal(1), abs_band=Decimal(1)),))
    return ScanResult(value_portfolio(snapshot, targets, rules), (), proposals, no_trades)


def test_a_proposal_is_stored_with_its_trades_lots_and_figures(store: Store) -> None:
    proposal = harvest(("lot-a",), Decimal(900))
    declined = NoTrade(
        ProposalKind.HARVEST, NoTradeReason.SAVING_BELOW_COST, USDC, WALLET, (("loss_usd", "3"),)
    )
    outcome = persist_scan(
        store, CHAIN, result(proposal, no_trades=(declined,)), now=NOW, expiry=EXPIRY
    )
    (record,) = outcome.created
    with store.reader() as session:
        stored = get_proposal(session, record.id)
    assert stored.status is ProposalStatus.OPEN
    assert stored.fingerprint == proposal.fingerprint
    assert stored.expected_short_term_gain_usd == Decimal(-900)
    assert stored.expected_tax_effect_usd == Decimal(-315)
    assert stored.expected_cost_usd == Decimal("1.875")
    assert stored.expires_at == NOW + EXPIRY
    details: Any = stored.details  # JSON read back: index it as such
    (trade,) = details["trades"]
    assert trade["buy_asset"] == WSTETH
    (lot,) = trade["lots"]
    assert lot["lot_id"] == "lot-a"
    assert Decimal(lot["gain_usd"]) == Decimal(-900)
    with capture_logs() as logs:
        log_outcome(outcome, Decimal("0.5"))
    assert [e["event"] for e in logs] == ["proposal_created", "trade_declined", "scan_completed"]
    assert logs[0]["proposal_id"] == record.id
    assert logs[0]["realised_short_usd"] == "-900.00"
    assert logs[1]["reason"] == "saving_below_cost"
    assert logs[2]["created_count"] == 1


def test_an_equivalent_proposal_is_not_stored_twice(store: Store) -> None:
    persist_scan(store, CHAIN, result(harvest(("lot-a",), Decimal(900))), now=NOW, expiry=EXPIRY)
    again = persist_scan(
        store, CHAIN, result(harvest(("lot-a",), Decimal(950))), now=NOW, expiry=EXPIRY
    )
    assert again.created == ()
    assert len(again.skipped_fingerprints) == 1
    with store.reader() as session:
        assert len(list_proposals(session, chain_id=CHAIN)) == 1


def test_a_changed_proposal_of_the_same_subject_supersedes_the_open_one(store: Store) -> None:
    first = persist_scan(
        store, CHAIN, result(harvest(("lot-a",), Decimal(900))), now=NOW, expiry=EXPIRY
    )
    later = NOW + timedelta(minutes=1)
    second = persist_scan(
        store, CHAIN, result(harvest(("lot-a", "lot-b"), Decimal(900))), now=later, expiry=EXPIRY
    )
    (old,) = first.created
    (new,) = second.created
    assert second.superseded_ids == (old.id,)
    with store.reader() as session:
        assert get_proposal(session, old.id).status is ProposalStatus.SUPERSEDED
        assert get_proposal(session, old.id).status_note == f"superseded by {new.id}"
        assert get_proposal(session, new.id).status is ProposalStatus.OPEN


def test_stale_proposals_expire_before_new_ones_are_stored(store: Store) -> None:
    first = persist_scan(
        store, CHAIN, result(harvest(("lot-a",), Decimal(900))), now=NOW, expiry=EXPIRY
    )
    later = NOW + EXPIRY + timedelta(seconds=1)
    second = persist_scan(
        store, CHAIN, result(harvest(("lot-a",), Decimal(900))), now=later, expiry=EXPIRY
    )
    (old,) = first.created
    assert second.expired_ids == (old.id,)
    assert len(second.created) == 1  # the same trade, proposed afresh


def test_a_lot_an_open_proposal_of_another_subject_sells_is_not_proposed_again(
    store: Store,
) -> None:
    (use,) = harvest(("lot-a",), Decimal(900)).lots
    rebalance = Proposal(
        kind=ProposalKind.REBALANCE,
        reason=ProposalReason.DRIFT_BREACH,
        reentry=Reentry.NONE,
        trades=(Trade(WALLET, RETH, USDC, use.amount_raw, 2_000 * 10**6, (use,)),),
        realised_short_usd=use.gain_usd,
        realised_long_usd=Decimal(0),
        realised_exempt_usd=Decimal(0),
        tax_effect_usd=Decimal(-315),
        costs=Costs(Decimal(1), Decimal(0), Decimal(0)),
        created_at=NOW,
    )
    persist_scan(store, CHAIN, result(rebalance), now=NOW, expiry=EXPIRY)
    outcome = persist_scan(
        store, CHAIN, result(harvest(("lot-a",), Decimal(900))), now=NOW, expiry=EXPIRY
    )
    assert outcome.created == ()
    assert len(outcome.skipped_fingerprints) == 1
