"""The exactly-once runner's pure parts: replacement fees, nonce reconciliation, swap
outcomes from receipts, stored signed bytes read back, in-flight grouping."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from eth_account import Account
from hypothesis import given
from hypothesis import strategies as st

from executor.chain import Receipt, TxLog
from executor.errors import ReplacementAboveCap, SigningFailed
from executor.execution import group_in_flight
from executor.guards import FeeCaps
from executor.nonces import reconciled_next_nonce
from executor.outcome import read_swap_outcome, realised_slippage_bps
from executor.replacement import bumped, replacement_fees
from executor.sending import TRANSFER_TOPIC, WETH_WITHDRAWAL_TOPIC
from executor.signing import address_of, decode_signed, sign_transaction
from executor.transactions import TxPurpose, UnsignedTx
from ledger.ids import Address, BlockNumber, ChainId, TxHash
from ledger.store.records import ExecutionRecord, ExecutionState

GWEI = 10**9
TOKEN = Address("0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48")
WETH = Address("0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2")
ME = Address("0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266")
ROUTER = Address("0x7a250d5630B4cF539739dF2C5dAcb4c659F2488D")
DEV_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"


class Key:
    def __init__(self, value: str) -> None:
        self._value = value

    def get_secret_value(self) -> str:
        return self._value


def test_replacement_raises_both_fees_by_the_bump() -> None:
    fees = replacement_fees(FeeCaps(30 * GWEI, 2 * GWEI, 14 * GWEI), 12, 14 * GWEI, 100 * GWEI)
    assert fees.max_fee_per_gas_wei == 33_600_000_000
    assert fees.max_priority_fee_per_gas_wei == 2_240_000_000


def test_replacement_covers_a_risen_base_fee() -> None:
    fees = replacement_fees(FeeCaps(30 * GWEI, 2 * GWEI, 14 * GWEI), 10, 40 * GWEI, 100 * GWEI)
    assert fees.max_fee_per_gas_wei == 40 * GWEI + 2_200_000_000
    assert fees.base_fee_wei == 40 * GWEI


def test_replacement_above_the_cap_is_refused() -> None:
    with pytest.raises(ReplacementAboveCap) as refused:
        replacement_fees(FeeCaps(95 * GWEI, 2 * GWEI, 40 * GWEI), 10, 40 * GWEI, 100 * GWEI, "0xab")
    assert refused.value.wanted_max_fee_wei == 104_500_000_000
    assert refused.value.cap_wei == 100 * GWEI
    assert "0xab" in str(refused.value)


def test_a_bump_below_ten_percent_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="below 10"):
        replacement_fees(FeeCaps(30 * GWEI, 2 * GWEI, 14 * GWEI), 5, 14 * GWEI, 100 * GWEI)


@given(st.integers(0, 10**30), st.integers(10, 100))
def test_bumped_is_at_least_the_percentage_and_one_wei(value: int, percent: int) -> None:
    raised = bumped(value, percent)
    assert raised * 100 >= value * (100 + percent)
    assert raised >= value + 1
    assert raised * 100 < value * (100 + percent) + 100 or raised == value + 1


def test_reconciled_nonce_is_above_pending_and_in_flight() -> None:
    assert reconciled_next_nonce(5, ()) == 5
    assert reconciled_next_nonce(5, (5, 6)) == 7
    assert reconciled_next_nonce(9, (5,)) == 9


def _receipt(success: bool, *logs: TxLog) -> Receipt:
    return Receipt(
        TxHash("0x" + "11" * 32), BlockNumber(7), "0x" + "22" * 32, success, 100_000, 3 * GWEI, logs
    )


def _word(address: str) -> bytes:
    return bytes(12) + bytes.fromhex(address[2:])


def test_outcome_of_a_token_swap() -> None:
    receipt = _receipt(
        True, TxLog(TOKEN, (TRANSFER_TOPIC, _word(ROUTER), _word(ME)), (990).to_bytes(32, "big"), 0)
    )
    outcome = read_swap_outcome(receipt, TOKEN, ME, ROUTER, 4, 1_000)
    assert outcome.amount_out_raw == 990
    assert outcome.effective_price == Decimal("247.5")
    assert outcome.slippage_bps == Decimal(100)
    assert outcome.gas_paid_wei == 300_000 * GWEI


def test_outcome_of_a_native_payout_counts_the_routers_withdrawal() -> None:
    receipt = _receipt(
        True, TxLog(WETH, (WETH_WITHDRAWAL_TOPIC, _word(ROUTER)), (5 * GWEI).to_bytes(32, "big"), 0)
    )
    outcome = read_swap_outcome(receipt, WETH, ME, ROUTER, 10, None)
    assert outcome.amount_out_raw == 5 * GWEI and outcome.slippage_bps is None


def test_outcome_of_a_reverted_swap_has_no_output() -> None:
    outcome = read_swap_outcome(_receipt(False), TOKEN, ME, ROUTER, 4, 1_000)
    assert not outcome.success and outcome.amount_out_raw == 0 and outcome.effective_price is None


def test_slippage_is_negative_when_the_swap_beats_its_quote() -> None:
    assert realised_slippage_bps(1_000, 1_010) == Decimal(-100)
    assert realised_slippage_bps(0, 5) is None


def test_signed_bytes_read_back_are_the_same_transaction() -> None:
    key = Key(DEV_KEY)
    sender = address_of(key)
    tx = UnsignedTx(
        TxPurpose.SWAP,
        ChainId(31337),
        sender,
        ROUTER,
        b"\x38\xed",
        10**18,
        200_000,
        FeeCaps(30 * GWEI, 2 * GWEI, 14 * GWEI),
        nonce=4,
    )
    signed = sign_transaction(tx, key)
    read = decode_signed(signed.raw, sender)
    assert read.tx_hash == signed.tx_hash and read.raw == signed.raw
    assert read.tx.with_fees(tx.fees) == tx
    assert read.tx.fees.max_fee_per_gas_wei == 30 * GWEI
    assert Account.recover_transaction(signed.raw) == sender
    with pytest.raises(SigningFailed) as failed:
        decode_signed(b"\x02garbage", sender)
    assert DEV_KEY[2:] not in str(failed.value)


def _record(proposal: str, trade: int, attempt: int, state: ExecutionState) -> ExecutionRecord:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    return ExecutionRecord(
        id=attempt * 10 + trade,
        proposal_id=proposal,
        trade_index=trade,
        attempt=attempt,
        state=state,
        chain_id=ChainId(1),
        from_address=ME,
        token_in=WETH,
        token_out=TOKEN,
        amount_in_raw=1,
        min_amount_out_raw=1,
        nonce=3,
        tx_hash=None,
        raw_tx=None,
        max_fee_per_gas_wei=None,
        max_priority_fee_per_gas_wei=None,
        amount_out_raw=None,
        gas_used=None,
        effective_gas_price_wei=None,
        effective_price=None,
        block_number=None,
        error=None,
        created_at=now,
        updated_at=now,
    )


def test_in_flight_attempts_are_grouped_per_trade_oldest_first() -> None:
    records = [
        _record("b", 0, 2, ExecutionState.SIGNED),
        _record("a", 1, 1, ExecutionState.CONFIRMED),
        _record("b", 0, 1, ExecutionState.SENT),
        _record("a", 0, 1, ExecutionState.SENT),
    ]
    groups = group_in_flight(records)
    assert list(groups) == [("a", 0), ("b", 0)]
    assert [r.attempt for r in groups[("b", 0)]] == [1, 2]
