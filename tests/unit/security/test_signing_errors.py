"""The executor's signing never puts the key into an error: a malformed key, another
wallet's key, a transaction without nonce, and values eth-account refuses all raise
`SigningFailed` whose str, repr, fields, cause and context say nothing of the key."""

from __future__ import annotations

from pydantic import SecretStr

from executor.errors import SigningFailed
from executor.guards import FeeCaps
from executor.signing import address_of, sign_transaction
from executor.transactions import TxPurpose, UnsignedTx
from ledger.ids import Address, ChainId

KEY_HEX = "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
OTHER_SENDER = Address("0x70997970C51812dc3A010C7d01b50e0d17dc79C8")


def _tx(sender: Address, nonce: int | None = 0, value_wei: int = 0) -> UnsignedTx:
    return UnsignedTx(
        purpose=TxPurpose.SWAP,
        chain_id=ChainId(31337),
        sender=sender,
        to=OTHER_SENDER,
        data=b"",
        value_wei=value_wei,
        gas_limit=21_000,
        fees=FeeCaps(10**9, 10**9, 10**9),
        nonce=nonce,
    )


def _text(error: SigningFailed) -> str:
    parts = [str(error), repr(error), repr(vars(error))]
    for chained in (error.__cause__, error.__context__):
        if chained is not None:
            parts += [str(chained), repr(chained)]
    return "\n".join(parts).lower()


def _refusal(call: object) -> SigningFailed:
    assert callable(call)
    try:
        call()
    except SigningFailed as refused:
        return refused
    except Exception as other:
        raise AssertionError(f"{type(other).__module__}.{type(other).__name__} escaped") from None
    raise AssertionError("no SigningFailed")


def test_signing_refusals_never_carry_the_key() -> None:
    good = SecretStr("0x" + KEY_HEX)
    mine = address_of(good)
    bad_keys = [
        SecretStr("0x" + KEY_HEX[:-2]),  # one byte short
        SecretStr("0x" + KEY_HEX + "zz"),
        SecretStr("0x" + "f" * 64),  # above the curve order
        SecretStr("0x" + "0" * 64),
    ]
    refusals = [_refusal(lambda key=key: address_of(key)) for key in bad_keys]
    refusals.append(_refusal(lambda: sign_transaction(_tx(OTHER_SENDER), good)))
    refusals.append(_refusal(lambda: sign_transaction(_tx(mine, nonce=None), good)))
    for refused in refusals:
        text = _text(refused)
        for key in (*bad_keys, good):
            secret = key.get_secret_value().removeprefix("0x").lower()
            if set(secret) != {"0"} and set(secret) != {"f"}:
                assert secret[:40] not in text, refused


def test_a_value_eth_account_cannot_encode_is_a_signing_failure() -> None:
    """A negative value makes rlp raise `ObjectSerializationError` inside eth-account; the
    adapter must translate it (its Raises says SigningFailed) and keep the key out."""
    good = SecretStr("0x" + KEY_HEX)
    refused = _refusal(lambda: sign_transaction(_tx(address_of(good), value_wei=-1), good))
    assert KEY_HEX[:40] not in _text(refused)
