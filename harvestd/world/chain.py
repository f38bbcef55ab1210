"""A thin synchronous client for building the world: send transactions from Anvil's
unlocked dev accounts, deploy artifacts, and drive Anvil's test methods (snapshots,
time, balances). Web3 errors are translated to `WorldError`s here.

It sends `eth_sendTransaction` directly with an explicit gas limit (no estimate round
trip): Anvil signs for its dev accounts and mines each transaction at once.
"""

from __future__ import annotations

import functools
import time
from typing import Any, Final

import requests
from eth_abi.abi import encode as abi_encode
from eth_typing import HexStr
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak
from web3 import HTTPProvider, Web3
from web3.contract import Contract
from web3.exceptions import TransactionNotFound, Web3Exception
from web3.types import RPCEndpoint, TxReceipt

from harvestd.world.artifacts import Artifact
from harvestd.world.errors import TransactionFailed, WorldError
from ledger.ids import Address, TxHash

DEFAULT_GAS: Final = 1_500_000
DEPLOY_GAS: Final = 10_000_000
HTTP_TIMEOUT_SECONDS: Final = 60
RECEIPT_TIMEOUT_SECONDS: Final = 30.0


class RpcRefused(WorldError):
    """The node answered a JSON-RPC request with an error."""

    def __init__(self, method: str, code: int | None, message: str) -> None:
        self.method = method
        self.code = code
        self.message = message
        super().__init__(f"{method} failed ({code}): {message}")


@functools.cache
def selector(signature: str) -> bytes:
    """The 4-byte selector of a canonical function signature, e.g. `transfer(address,uint256)`."""
    return keccak(text=signature)[:4]


def encode_call(signature: str, *args: Any) -> str:
    """Calldata for `signature` (canonical, tuple types in parentheses) with `args`.

    A direct eth-abi encoding: about 100 times faster than web3's `encode_abi`, which
    matters for the thousands of whale swaps of a history.

    Raises:
        eth_abi.exceptions.EncodingError: `args` do not fit the signature's types.
    """
    types = _argument_types(signature)
    return "0x" + (selector(signature) + abi_encode(types, args)).hex()


@functools.cache
def _argument_types(signature: str) -> list[str]:
    inner = signature[signature.index("(") + 1 : -1]
    types: list[str] = []
    depth = 0
    current = ""
    for char in inner:
        if char == "," and depth == 0:
            types.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    if current:
        types.append(current)
    return types


def connect(rpc_url: str) -> Web3:
    """A sync Web3 on `rpc_url` (HTTP), ignoring proxy settings from the environment
    (the node is local, and reading them on every request doubles a world build)."""
    session = requests.Session()
    session.trust_env = False
    return Web3(
        Web3.HTTPProvider(
            rpc_url, request_kwargs={"timeout": HTTP_TIMEOUT_SECONDS}, session=session
        )
    )


class WorldChain:
    """Sends the world's transactions and test-method calls to one node."""

    def __init__(self, w3: Web3) -> None:
        self.w3 = w3

    @classmethod
    def at(cls, rpc_url: str) -> WorldChain:
        """A client for the node at `rpc_url`."""
        return cls(connect(rpc_url))

    def request(self, method: str, params: list[Any]) -> Any:
        """One raw JSON-RPC call; returns its result.

        Raises:
            RpcRefused: the node answered with an error (or not at all).
        """
        try:
            reply = self.w3.provider.make_request(RPCEndpoint(method), params)
        except (OSError, Web3Exception) as error:
            raise RpcRefused(method, None, str(error)) from error
        if reply.get("error"):
            err = reply["error"]
            if isinstance(err, dict):
                raise RpcRefused(method, err.get("code"), str(err.get("message")))
            raise RpcRefused(method, None, str(err))
        return reply.get("result")

    def call_many(self, calls: list[tuple[Address, str]], block: str = "latest") -> list[bytes]:
        """`eth_call` each (address, calldata) in one JSON-RPC batch; the return data.

        Raises:
            RpcRefused: the node refused the batch or one of the calls.
        """
        if not calls:
            return []
        provider = self.w3.provider
        if not isinstance(provider, HTTPProvider):
            raise RpcRefused("eth_call batch", None, "needs an HTTP provider")
        batch = [
            (RPCEndpoint("eth_call"), [{"to": address, "data": calldata}, block])
            for address, calldata in calls
        ]
        try:
            replies = provider.make_batch_request(batch)
        except (OSError, Web3Exception) as error:
            raise RpcRefused("eth_call batch", None, str(error)) from error
        if not isinstance(replies, list):
            raise RpcRefused("eth_call batch", None, str(replies.get("error")))
        results: list[bytes] = []
        for reply in replies:
            if reply.get("error") or "result" not in reply:
                raise RpcRefused("eth_call", None, str(reply.get("error")))
            results.append(bytes.fromhex(str(reply["result"]).removeprefix("0x")))
        return results

    def check_block(self, step: str, block: int, expected: list[TxHash]) -> None:
        """Every transaction of `expected` is in `block` and succeeded.

        Raises:
            TransactionFailed: one is missing or reverted.
        """
        receipts = self.request("eth_getBlockReceipts", [hex(block)]) or []
        status = {str(r["transactionHash"]).lower(): int(r["status"], 16) for r in receipts}
        for tx_hash in expected:
            found = status.get(str(tx_hash).lower())
            if found is None:
                raise TransactionFailed(step, tx_hash, f"not mined in block {block}")
            if found != 1:
                raise TransactionFailed(step, tx_hash, "reverted")

    def contract(self, artifact: Artifact, address: Address) -> Contract:
        """A web3 contract object for `artifact` at `address`."""
        return self.w3.eth.contract(address=to_checksum_address(address), abi=list(artifact.abi))

    def send(
        self,
        step: str,
        sender: Address,
        to: Address | None,
        calldata: str = "0x",
        *,
        value_wei: int = 0,
        gas: int = DEFAULT_GAS,
    ) -> TxHash:
        """Send one transaction from an unlocked dev account; return its hash.

        Raises:
            TransactionFailed: the node refused the transaction.
        """
        tx: dict[str, Any] = {"from": sender, "data": calldata, "gas": hex(gas)}
        if to is not None:
            tx["to"] = to
        if value_wei:
            tx["value"] = hex(value_wei)
        try:
            result = self.request("eth_sendTransaction", [tx])
        except RpcRefused as error:
            raise TransactionFailed(step, None, error.message) from error
        return TxHash(str(result))

    def receipt(self, step: str, tx_hash: TxHash) -> TxReceipt:
        """The receipt of a mined transaction; it must have succeeded.

        Polls `eth_getTransactionReceipt` briefly (Anvil mines at once; web3's own waiter
        sleeps 100 ms between polls, which dominates a world build).

        Raises:
            TransactionFailed: the transaction reverted or has no receipt in time.
        """
        deadline = time.monotonic() + RECEIPT_TIMEOUT_SECONDS
        delay = 0.002
        while True:
            try:
                receipt = self.w3.eth.get_transaction_receipt(HexStr(tx_hash))
            except TransactionNotFound:
                if time.monotonic() > deadline:
                    raise TransactionFailed(step, tx_hash, "no receipt") from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
                continue
            except Web3Exception as error:
                raise TransactionFailed(step, tx_hash, str(error)) from error
            break
        if receipt["status"] != 1:
            raise TransactionFailed(step, tx_hash, "reverted")
        return receipt

    def transact(
        self,
        step: str,
        sender: Address,
        to: Address | None,
        calldata: str = "0x",
        *,
        value_wei: int = 0,
        gas: int = DEFAULT_GAS,
    ) -> TxReceipt:
        """Send and wait for a successful receipt.

        Raises:
            TransactionFailed: refused or reverted.
        """
        return self.receipt(
            step, self.send(step, sender, to, calldata, value_wei=value_wei, gas=gas)
        )

    def deploy(self, step: str, sender: Address, artifact: Artifact, *args: Any) -> Address:
        """Deploy `artifact` with constructor `args`; return the new contract's address.

        Raises:
            TransactionFailed: the deployment reverted.
        """
        factory = self.w3.eth.contract(abi=list(artifact.abi), bytecode=artifact.bytecode)
        calldata = str(factory.constructor(*args).data_in_transaction)
        receipt = self.transact(step, sender, None, calldata, gas=DEPLOY_GAS)
        address = receipt["contractAddress"]
        if address is None:
            raise TransactionFailed(step, receipt["transactionHash"].to_0x_hex(), "no contract")
        return Address(to_checksum_address(address))

    def snapshot(self) -> str:
        """`evm_snapshot`: an id to revert to.

        Raises:
            RpcRefused: the node refused.
        """
        return str(self.request("evm_snapshot", []))

    def revert(self, snapshot_id: str) -> None:
        """`evm_revert` to a snapshot (which is consumed).

        Raises:
            RpcRefused: the node refused or the snapshot is unknown.
        """
        if not self.request("evm_revert", [snapshot_id]):
            raise RpcRefused("evm_revert", None, f"unknown snapshot {snapshot_id}")

    def set_next_timestamp(self, timestamp: int) -> None:
        """`evm_setNextBlockTimestamp`.

        Raises:
            RpcRefused: the node refused (e.g. a timestamp in the past).
        """
        self.request("evm_setNextBlockTimestamp", [timestamp])

    def mine(self) -> None:
        """`evm_mine` one block.

        Raises:
            RpcRefused: the node refused.
        """
        self.request("evm_mine", [])

    def set_balance(self, address: Address, wei: int) -> None:
        """`anvil_setBalance`.

        Raises:
            RpcRefused: the node refused.
        """
        self.request("anvil_setBalance", [address, hex(wei)])
