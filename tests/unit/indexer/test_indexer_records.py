"""Parsing JSON-RPC results into records: good shapes parse, any bad shape is a
MalformedResponse (never a KeyError/TypeError escaping to the caller)."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from indexer.errors import MalformedResponse
from indexer.records import parse_header, parse_log, parse_receipt

GOOD_LOG: dict[str, Any] = {
    "address": "0x5fbdb2315678afecb367f032d93f642f64180aa3",
    "topics": ["0x" + "11" * 32],
    "data": "0x" + "00" * 32,
    "blockNumber": "0x10",
    "blockHash": "0x" + "aa" * 32,
    "transactionHash": "0x" + "bb" * 32,
    "transactionIndex": "0x0",
    "logIndex": "0x3",
    "removed": False,
}


def test_good_log_parses_and_checksums() -> None:
    log = parse_log(GOOD_LOG)
    assert log.address == "0x5FbDB2315678afecb367f032d93F642f64180aa3"
    assert (log.block_number, log.log_index, log.topics) == (16, 3, (b"\x11" * 32,))


def test_receipt_and_header() -> None:
    receipt = parse_receipt(
        {
            "transactionHash": "0x" + "bb" * 32,
            "blockNumber": "0x10",
            "blockHash": "0x" + "aa" * 32,
            "transactionIndex": "0x1",
            "from": GOOD_LOG["address"],
            "to": None,
            "status": "0x0",
            "gasUsed": "0x5208",
            "effectiveGasPrice": "0x3b9aca00",
            "logs": [GOOD_LOG],
        }
    )
    assert not receipt.succeeded and receipt.to is None
    assert receipt.gas_fee_wei == 21_000 * 10**9
    header = parse_header(
        {
            "number": "0x10",
            "hash": "0x" + "aa" * 32,
            "parentHash": "0x" + "cc" * 32,
            "timestamp": "0x5",
        }
    )
    assert (header.number, header.timestamp) == (16, 5)
    with pytest.raises(MalformedResponse):
        parse_header(None)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=70),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(key=st.sampled_from(sorted(GOOD_LOG)), value=json_values)
def test_a_log_with_any_bad_field_is_malformed_not_a_crash(key: str, value: Any) -> None:
    broken = {**GOOD_LOG, key: value}
    try:
        parse_log(broken)
    except MalformedResponse as exc:
        assert exc.method == "eth_getLogs"


@settings(max_examples=100, deadline=None)
@given(value=json_values)
def test_any_json_is_a_receipt_or_malformed(value: Any) -> None:
    with contextlib.suppress(MalformedResponse):
        parse_receipt(value)
