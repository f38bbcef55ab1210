"""The lot engine: pure, stdlib-only cost-basis matching under a jurisdiction's rules.

No I/O, no logging: it takes frozen values and returns frozen values.

    replay(events, policy) -> LedgerResult          everything realised and still held
    select_lots(lots, amount_raw, proceeds, sold_at, policy) -> [(Lot, amount_raw)]
    estimate_sale(picks, proceeds, sold_at, policy) -> SaleEstimate

Rules live one jurisdiction per module in `ledger.engine.jurisdictions`; exact money
arithmetic and its rounding rule in `ledger.engine.money`.

From chain events (`ledger.events.LedgerEvent`) to engine events, one `LotEvent` each:

    SWAP_IN, RECEIVE (income/purchase/unreviewed)  -> ACQUIRE   value=value_usd, fee=fee_usd
    SWAP_OUT, GAS, SEND (sale/spend/unreviewed)     -> DISPOSE   value=value_usd, fee=fee_usd
    SEND (own_account, gift)                        -> WITHDRAW
    TRANSFER_OUT (+ its TRANSFER_IN)                -> TRANSFER  to_wallet=counterparty
    WRAP / UNWRAP (both legs)                       -> CONVERT   to_asset, to_amount_raw

with `id` unique and stable (e.g. "chain:tx_hash:log_index:leg"), `time` the block time
(UTC), and `seq` ordering events inside one timestamp (e.g. block_number * 2**40 +
(log_index + 1) * 2**8 + leg). Pieces and lots carry these ids back.
"""

from __future__ import annotations

from ledger.engine.errors import (
    BasisFileError,
    DuplicateEventId,
    EngineError,
    InsufficientLots,
    InvalidEvent,
    MalformedBasisFile,
    MethodNotAllowed,
    SpecAmountMismatch,
    SpecLotExhausted,
    SpecLotMissing,
    UnknownEventKind,
)
from ledger.engine.replay import estimate_sale, order_events, replay, select_lots
from ledger.engine.values import (
    DEFAULT_WALLET,
    Action,
    Adjustment,
    AdjustmentKind,
    Disposal,
    Holding,
    Jurisdiction,
    LedgerResult,
    Lot,
    LotEvent,
    LotMethod,
    MatchedPiece,
    MatchRule,
    Policy,
    Removal,
    RemovedPiece,
    SaleEstimate,
    SpecLot,
    TaxRates,
    Term,
    Totals,
)

__all__ = [
    "DEFAULT_WALLET",
    "Action",
    "Adjustment",
    "AdjustmentKind",
    "BasisFileError",
    "Disposal",
    "DuplicateEventId",
    "EngineError",
    "Holding",
    "InsufficientLots",
    "InvalidEvent",
    "Jurisdiction",
    "LedgerResult",
    "Lot",
    "LotEvent",
    "LotMethod",
    "MalformedBasisFile",
    "MatchRule",
    "MatchedPiece",
    "MethodNotAllowed",
    "Policy",
    "Removal",
    "RemovedPiece",
    "SaleEstimate",
    "SpecAmountMismatch",
    "SpecLot",
    "SpecLotExhausted",
    "SpecLotMissing",
    "TaxRates",
    "Term",
    "Totals",
    "UnknownEventKind",
    "estimate_sale",
    "order_events",
    "replay",
    "select_lots",
]
