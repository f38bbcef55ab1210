"""Signing EIP-1559 transactions with eth-account from a key held as a secret.

The key arrives as any object with `get_secret_value() -> str` (pydantic's `SecretStr`
fits); it is read only at the moment of signing, never stored on a value, never logged,
and never part of an error message.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from eth_account import Account
from eth_account.typed_transactions.typed_transaction import TypedTransaction
from eth_utils.crypto import keccak
from eth_utils.exceptions import ValidationError as EthValidationError
from hexbytes import HexBytes
from rlp.exceptions import RLPException  # type: ignore[import-untyped]  # no stubs; eth-account raises it for malformed bytes

from executor.calldata import to_address
from executor.errors import SigningFailed
from executor.guards import FeeCaps
from executor.transactions import TxPurpose, UnsignedTx
from ledger.ids import Address, ChainId, TxHash


class SecretKey(Protocol):
    """A private key that reveals itself only on request (e.g. pydantic.SecretStr)."""

    def get_secret_value(self) -> str:
        """The hex private key."""
        ...


@dataclass(frozen=True, slots=True)
class SignedTx:
    """A signed transaction: the raw bytes to broadcast and its hash."""

    tx: UnsignedTx
    raw: bytes
    tx_hash: TxHash


def address_of(key: SecretKey) -> Address:
    """The address a key signs for.

    Raises:
        SigningFailed: the key is not a valid secp256k1 private key.
    """
    try:
        return to_address(Account.from_key(key.get_secret_value()).address)
    except (ValueError, TypeError, EthValidationError):
        raise SigningFailed(None, "the key is not a valid private key") from None


def sign_transaction(tx: UnsignedTx, key: SecretKey) -> SignedTx:
    """Sign an EIP-1559 transaction; the key must be the sender's.

    Raises:
        SigningFailed: no nonce, a key for another address, or eth-account refused it.
    """
    if tx.nonce is None:
        raise SigningFailed(tx.sender, "the transaction has no nonce")
    if address_of(key) != tx.sender:
        raise SigningFailed(tx.sender, "the key does not belong to the sender")
    fields = {
        "type": 2,
        "chainId": tx.chain_id,
        "nonce": tx.nonce,
        "to": tx.to,
        "value": tx.value_wei,
        "data": tx.data,
        "gas": tx.gas_limit,
        "maxFeePerGas": tx.fees.max_fee_per_gas_wei,
        "maxPriorityFeePerGas": tx.fees.max_priority_fee_per_gas_wei,
        "accessList": [],
    }
    try:
        signed = Account.sign_transaction(fields, key.get_secret_value())
    except (ValueError, TypeError, EthValidationError, RLPException) as exc:
        # rlp refuses out-of-range fields (a negative value) with its own exception tree.
        raise SigningFailed(tx.sender, type(exc).__name__) from None
    return SignedTx(tx, bytes(signed.raw_transaction), TxHash("0x" + bytes(signed.hash).hex()))


def decode_signed(raw: bytes, sender: Address, purpose: TxPurpose = TxPurpose.SWAP) -> SignedTx:
    """A stored signed EIP-1559 transaction read back from its raw bytes (to resume or
    replace it after a restart); `sender` is who signed it (not re-derived).

    Raises:
        SigningFailed: the bytes are not a signed EIP-1559 transaction.
    """
    try:
        fields = TypedTransaction.from_bytes(HexBytes(raw)).as_dict()
        to = fields["to"]
        unsigned = UnsignedTx(
            purpose=purpose,
            chain_id=ChainId(int(fields["chainId"])),
            sender=sender,
            to=to_address(bytes(to)),
            data=bytes(fields["data"]),
            value_wei=int(fields["value"]),
            gas_limit=int(fields["gas"]),
            fees=FeeCaps(int(fields["maxFeePerGas"]), int(fields["maxPriorityFeePerGas"]), 0),
            nonce=int(fields["nonce"]),
        )
    except (ValueError, TypeError, KeyError, EthValidationError, RLPException):
        raise SigningFailed(
            sender, "the stored bytes are not a signed EIP-1559 transaction"
        ) from None
    return SignedTx(unsigned, bytes(raw), TxHash("0x" + keccak(raw).hex()))
