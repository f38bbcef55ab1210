"""The basis file (docs: BASIS-FILE.md): hand-written YAML events in, the engine's result out
as the exact JSON the document specifies.

Reading: every problem names the event (`event 's1' (position 3)`, or the position alone
when the id is missing) and the key. Amounts, values and fees must be decimal strings or
integers: a YAML float (`1.5` unquoted) is refused because it may already have lost
exactness. Each asset's amounts are kept as integers at the largest number of decimal
places any of its amounts uses (`BasisFile.decimals`).

Writing: values are exact, in plain notation without trailing zeros; times are UTC with a
`Z`. `totals` carries `net_gain` (all reportable gains, whatever their term) besides the
four documented keys, because `uk` and `ca` have no terms. Holdings list their `lots`
where lots are kept per wallet; pooled holdings (uk, ca) have neither `wallet` nor `lots`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Context, Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Final

import yaml

from ledger.engine import (
    DEFAULT_WALLET,
    Action,
    BasisFileError,
    Holding,
    Jurisdiction,
    LedgerResult,
    LotEvent,
    LotMethod,
    MalformedBasisFile,
    Policy,
    SpecLot,
    UnknownEventKind,
    replay,
)
from ledger.engine.money import amount_to_decimal, format_decimal

__all__ = [
    "BasisFile",
    "BasisFileError",
    "MalformedBasisFile",
    "UnknownEventKind",
    "dumps_result",
    "load_basis_file",
    "parse_basis_file",
    "result_to_json",
    "run_basis_file",
]

_WIDE: Final = Context(prec=200, Emax=10**6, Emin=-(10**6))
KINDS: Final = ("buy", "receive", "sell", "send", "transfer")
_TOP_KEYS: Final = frozenset(
    {"jurisdiction", "method", "currency", "wash_sale", "long_term_after_days", "events"}
)
_EVENT_KEYS: Final = frozenset(
    {
        "id",
        "time",
        "kind",
        "asset",
        "amount",
        "value",
        "fee",
        "wallet",
        "to_wallet",
        "lots",
        "taxable",
    }
)


@dataclass(frozen=True, slots=True)
class BasisFile:
    """A parsed basis file: the policy, the engine events, and each asset's decimal places."""

    policy: Policy
    currency: str
    events: tuple[LotEvent, ...]
    decimals: Mapping[str, int]


def _decimal(where: str, key: str, raw: object) -> Decimal:
    if isinstance(raw, bool | float):
        raise MalformedBasisFile(
            where, f'{key}: got {raw!r}, expected a decimal string such as "1.5" (quote it)'
        )
    if isinstance(raw, int):
        return Decimal(raw)
    if isinstance(raw, str):
        try:
            value = Decimal(raw.strip())
        except InvalidOperation:
            raise MalformedBasisFile(
                where, f"{key}: got {raw!r}, expected a decimal string"
            ) from None
        if value.is_finite():
            return value
    raise MalformedBasisFile(where, f"{key}: got {raw!r}, expected a decimal string")


def _time(where: str, raw: object) -> datetime:
    if isinstance(raw, datetime):
        moment = raw
    elif isinstance(raw, date):
        moment = datetime.combine(raw, time(0), tzinfo=UTC)
    elif isinstance(raw, str):
        try:
            moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        except ValueError:
            raise MalformedBasisFile(
                where, f"time: got {raw!r}, expected an ISO date or date-time (UTC)"
            ) from None
    else:
        raise MalformedBasisFile(
            where, f"time: got {raw!r}, expected an ISO date or date-time (UTC)"
        )
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _text(where: str, key: str, raw: object) -> str:
    if isinstance(raw, bool) or not isinstance(raw, str | int) or str(raw).strip() == "":
        raise MalformedBasisFile(where, f"{key}: got {raw!r}, expected a non-empty name")
    return str(raw).strip()


def _places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _positive_amount(where: str, key: str, raw: object) -> Decimal:
    amount = _decimal(where, key, raw)
    if amount <= 0:
        raise MalformedBasisFile(where, f"{key}: got {raw!r}, expected an amount above zero")
    return amount.normalize() if amount == amount.to_integral_value() else amount


def _raw_amount(amount: Decimal, places: int) -> int:
    return int(amount.scaleb(places, _WIDE))


def _policy(source: str, top: Mapping[str, Any]) -> Policy:
    if "jurisdiction" not in top:
        raise MalformedBasisFile(
            source, "jurisdiction: missing, expected one of us, uk, de, ca, generic"
        )
    try:
        jurisdiction = Jurisdiction(str(top["jurisdiction"]))
    except ValueError:
        raise MalformedBasisFile(
            source,
            f"jurisdiction: got {top['jurisdiction']!r}, expected one of us, uk, de, ca, generic",
        ) from None
    method: LotMethod | None = None
    if top.get("method") is not None:
        try:
            method = LotMethod(str(top["method"]))
        except ValueError:
            raise MalformedBasisFile(
                source,
                f"method: got {top['method']!r}, expected one of fifo, lifo, hifo, spec, min_tax",
            ) from None
    wash_sale = top.get("wash_sale", False)
    if not isinstance(wash_sale, bool):
        raise MalformedBasisFile(source, f"wash_sale: got {wash_sale!r}, expected true or false")
    days = top.get("long_term_after_days")
    if days is not None and (isinstance(days, bool) or not isinstance(days, int) or days < 0):
        raise MalformedBasisFile(
            source, f"long_term_after_days: got {days!r}, expected a whole number of days >= 0"
        )
    return Policy(
        jurisdiction=jurisdiction, method=method, wash_sale=wash_sale, long_term_after_days=days
    )


def parse_basis_file(text: str, source: str = "basis file") -> BasisFile:
    """Read a basis file's YAML text into a policy and engine events.

    Raises:
        MalformedBasisFile: invalid YAML, a missing, unknown or invalid key or value.
        UnknownEventKind: an event's kind is not buy, receive, sell, send or transfer.
    """
    try:
        top = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise MalformedBasisFile(f"{source}{line}", f"not valid YAML: {problem}") from None
    if not isinstance(top, dict):
        raise MalformedBasisFile(source, "expected a mapping with jurisdiction and events")
    unknown = sorted(str(key) for key in top if key not in _TOP_KEYS)
    if unknown:
        raise MalformedBasisFile(
            source, f"unknown key {unknown[0]!r}, expected one of {', '.join(sorted(_TOP_KEYS))}"
        )
    policy = _policy(source, top)
    currency = str(top.get("currency", "USD"))
    raw_events = top.get("events")
    if not isinstance(raw_events, list):
        raise MalformedBasisFile(source, "events: missing or not a list")

    checked: list[tuple[str, dict[str, Any], str, Decimal, list[tuple[str, Decimal]]]] = []
    places: dict[str, int] = {}
    for position, item in enumerate(raw_events, start=1):
        where = f"event at position {position}"
        if not isinstance(item, dict):
            raise MalformedBasisFile(where, "expected a mapping of keys to values")
        if "id" in item:
            where = f"event {_text(where, 'id', item['id'])!r} (position {position})"
        else:
            raise MalformedBasisFile(where, "id: missing")
        unknown = sorted(str(key) for key in item if key not in _EVENT_KEYS)
        if unknown:
            raise MalformedBasisFile(
                where,
                f"unknown key {unknown[0]!r}, expected one of {', '.join(sorted(_EVENT_KEYS))}",
            )
        kind = item.get("kind")
        if kind is None:
            raise MalformedBasisFile(where, "kind: missing")
        if kind not in KINDS:
            raise UnknownEventKind(where, str(kind))
        for key in ("time", "asset", "amount"):
            if key not in item:
                raise MalformedBasisFile(where, f"{key}: missing")
        asset = _text(where, "asset", item["asset"])
        amount = _positive_amount(where, "amount", item["amount"])
        lots: list[tuple[str, Decimal]] = []
        if "lots" in item:
            if kind not in ("sell", "send", "transfer") or not isinstance(item["lots"], list):
                raise MalformedBasisFile(
                    where, "lots: expected a list of {lot, amount} on a sell, send or transfer"
                )
            for entry in item["lots"]:
                if not isinstance(entry, dict) or set(entry) != {"lot", "amount"}:
                    raise MalformedBasisFile(
                        where,
                        f'lots: got {entry!r}, expected {{lot: <acquisition id>, amount: "..."}}',
                    )
                lots.append(
                    (
                        _text(where, "lots.lot", entry["lot"]),
                        _positive_amount(where, "lots.amount", entry["amount"]),
                    )
                )
        digits = max([_places(amount), *(_places(lot_amount) for _, lot_amount in lots)])
        places[asset] = max(places.get(asset, 0), digits)
        checked.append((where, item, str(kind), amount, lots))

    events = tuple(
        _event(where, item, kind, amount, lots, places[_text(where, "asset", item["asset"])])
        for where, item, kind, amount, lots in checked
    )
    return BasisFile(policy=policy, currency=currency, events=events, decimals=dict(places))


def _event(
    where: str,
    item: Mapping[str, Any],
    kind: str,
    amount: Decimal,
    lots: Sequence[tuple[str, Decimal]],
    places: int,
) -> LotEvent:
    event_id = _text(where, "id", item["id"])
    wallet = _text(where, "wallet", item.get("wallet", DEFAULT_WALLET))
    taxable = item.get("taxable", True)
    if "taxable" in item and (kind != "send" or not isinstance(taxable, bool)):
        raise MalformedBasisFile(where, "taxable: only a send may say taxable: true or false")
    if kind == "transfer":
        for key in ("value", "fee"):
            if key in item:
                raise MalformedBasisFile(where, f"{key}: a transfer has no {key}")
        if "to_wallet" not in item:
            raise MalformedBasisFile(where, "to_wallet: missing, a transfer needs it")
        to_wallet = _text(where, "to_wallet", item["to_wallet"])
        if to_wallet == wallet:
            raise MalformedBasisFile(where, f"to_wallet: got {to_wallet!r}, the same as wallet")
        action = Action.TRANSFER
        value: Decimal | None = None
    else:
        if "to_wallet" in item:
            raise MalformedBasisFile(where, "to_wallet: only a transfer has one")
        action = {
            "buy": Action.ACQUIRE,
            "receive": Action.ACQUIRE,
            "sell": Action.DISPOSE,
            "send": Action.DISPOSE if taxable else Action.WITHDRAW,
        }[kind]
        to_wallet = None
        if "value" in item:
            value = _decimal(where, "value", item["value"])
        elif action is Action.WITHDRAW:
            value = None
        else:
            raise MalformedBasisFile(where, f"value: missing, a {kind} needs its total value")
    fee = _decimal(where, "fee", item["fee"]) if "fee" in item else Decimal(0)
    if fee < 0:
        raise MalformedBasisFile(where, f"fee: got {item['fee']!r}, expected a value >= 0")
    return LotEvent(
        id=event_id,
        time=_time(where, item["time"]),
        action=action,
        asset=_text(where, "asset", item["asset"]),
        amount_raw=_raw_amount(amount, places),
        wallet=wallet,
        value=value,
        fee=fee,
        to_wallet=to_wallet,
        lots=tuple(
            SpecLot(lot=lot, amount_raw=_raw_amount(lot_amount, places)) for lot, lot_amount in lots
        ),
    )


def load_basis_file(path: Path) -> BasisFile:
    """Read and parse a basis file from disk.

    Raises:
        MalformedBasisFile: the file cannot be read, or its content is malformed.
        UnknownEventKind: an event's kind is unknown.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise MalformedBasisFile(str(path), f"cannot be read: {exc}") from None
    return parse_basis_file(text, str(path))


def run_basis_file(basis: BasisFile) -> LedgerResult:
    """Replay a parsed basis file.

    Raises:
        EngineError: the engine refused an event (insufficient lots, bad named lots, ...).
    """
    return replay(basis.events, basis.policy)


def _utc(moment: datetime) -> str:
    text = moment.astimezone(UTC).isoformat()
    return text.replace("+00:00", "Z")


def _amount(raw: int, asset: str, decimals: Mapping[str, int]) -> str:
    return format_decimal(amount_to_decimal(raw, decimals.get(asset, 0)))


def _holding_json(holding: Holding, decimals: Mapping[str, int]) -> dict[str, object]:
    out: dict[str, object] = {"asset": holding.asset}
    if holding.wallet is not None:
        out["wallet"] = holding.wallet
    out["amount"] = _amount(holding.amount_raw, holding.asset, decimals)
    out["cost"] = format_decimal(holding.cost)
    if holding.wallet is not None:
        out["lots"] = [
            {
                "id": lot.id,
                "amount": _amount(lot.amount_raw, lot.asset, decimals),
                "cost": format_decimal(lot.cost),
                "acquired": _utc(lot.acquired_at),
                "holding_period_start": _utc(lot.holding_period_start),
            }
            for lot in holding.lots
        ]
    return out


def result_to_json(result: LedgerResult, decimals: Mapping[str, int]) -> dict[str, object]:
    """The result as the JSON document of BASIS-FILE.md (a plain dict, ready to dump).

    Raises:
        Nothing.
    """
    disposals = [
        {
            "id": disposal.id,
            "time": _utc(disposal.time),
            "asset": disposal.asset,
            "amount": _amount(disposal.amount_raw, disposal.asset, decimals),
            "proceeds": format_decimal(disposal.proceeds),
            "cost": format_decimal(disposal.cost),
            "gain": format_decimal(disposal.gain),
            "term": None if disposal.term is None else disposal.term.value,
            "disallowed_loss": format_decimal(disposal.disallowed_loss),
            "reportable_gain": format_decimal(disposal.reportable_gain),
            "matched": [
                {
                    "lot": piece.lot,
                    "rule": piece.rule.value,
                    "amount": _amount(piece.amount_raw, disposal.asset, decimals),
                    "cost": format_decimal(piece.cost),
                    "proceeds": format_decimal(piece.proceeds),
                    "gain": format_decimal(piece.gain),
                    "term": None if piece.term is None else piece.term.value,
                }
                for piece in disposal.pieces
            ],
        }
        for disposal in result.disposals
    ]
    totals = result.totals
    return {
        "disposals": disposals,
        "holdings": [_holding_json(holding, decimals) for holding in result.holdings],
        "totals": {
            "short_term_gain": format_decimal(totals.short_term_gain),
            "long_term_gain": format_decimal(totals.long_term_gain),
            "exempt_gain": format_decimal(totals.exempt_gain),
            "disallowed_loss": format_decimal(totals.disallowed_loss),
            "net_gain": format_decimal(totals.net_gain),
        },
    }


def dumps_result(result: LedgerResult, decimals: Mapping[str, int]) -> str:
    """The result's JSON document as text (two-space indent, keys in documented order).

    Raises:
        Nothing.
    """
    return json.dumps(result_to_json(result, decimals), indent=2)
