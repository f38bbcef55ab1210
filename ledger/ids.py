"""Identifier types shared by every package: chain coordinates of a ledger row.

Every tax-relevant row traces back to (chain id, block number, block hash,
transaction hash, log index); these NewTypes keep those apart in signatures.
"""

from __future__ import annotations

from typing import NewType

ChainId = NewType("ChainId", int)
BlockNumber = NewType("BlockNumber", int)
BlockHash = NewType("BlockHash", str)
TxHash = NewType("TxHash", str)
LogIndex = NewType("LogIndex", int)
Address = NewType("Address", str)
"""A 0x-prefixed, EIP-55 checksummed 20-byte address."""
