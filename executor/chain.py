"""The executor's adapter to the node: web3.py 8's AsyncWeb3 behind a small typed surface.

Reads (eth_call, eth_estimateGas, eth_simulateV1, fee history, nonces, balances, blocks,
receipts) and the one write (eth_sendRawTransaction). Every web3.py, aiohttp and timeout
error is translated here into `executor.errors` (`RpcError`, `RpcUnavailable`,
`CallReverted`); nothing above this module sees a web3 exception or a web3 type.
Building a `ChainClient` does no I/O; `close()` releases the HTTP session.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, cast

import aiohttp
from eth_abi.abi import decode
from eth_abi.exceptions import DecodingError
from eth_typing import ChecksumAddress, HexAddress, HexStr
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.exceptions import (
    ContractLogicError,
    TimeExhausted,
    TransactionNotFound,
    Web3Exception,
    Web3RPCError,
)
from web3.types import RPCEndpoint

from executor.calldata import to_address
from executor.errors import CallReverted, RpcError, RpcUnavailable
from ledger.ids import Address, BlockNumber, ChainId, TxHash
from ledger.redaction import redact_url, scrub_url_secrets

ERROR_STRING_SELECTOR = bytes.fromhex("08c379a0")


@dataclass(frozen=True, slots=True)
class CallRequest:
    """A message call: what eth_call, eth_estimateGas and eth_simulateV1 run."""

    to: Address
    data: bytes
    sender: Address | None = None
    value_wei: int = 0


@dataclass(frozen=True, slots=True)
class SimulatedCall:
    """One call's outcome inside an eth_simulateV1 bundle."""

    success: bool
    gas_used: int
    return_data: bytes
    revert_reason: str


@dataclass(frozen=True, slots=True)
class TxLog:
    """One log of a receipt."""

    address: Address
    topics: tuple[bytes, ...]
    data: bytes
    log_index: int


@dataclass(frozen=True, slots=True)
class Receipt:
    """A mined transaction's receipt, reduced to what the executor records."""

    tx_hash: TxHash
    block_number: BlockNumber
    block_hash: str
    success: bool
    gas_used: int
    effective_gas_price_wei: int
    logs: tuple[TxLog, ...]


def decode_revert_reason(revert_data: bytes) -> str:
    """The text of an `Error(string)` revert, or '' for any other revert payload."""
    if revert_data[:4] != ERROR_STRING_SELECTOR:
        return ""
    try:
        (reason,) = decode(["string"], revert_data[4:])
    except DecodingError:
        return ""
    return str(reason)


def _hex_data(value: object) -> bytes:
    if isinstance(value, bytes):
        return bytes(value)
    if isinstance(value, str) and value.startswith("0x"):
        try:
            return bytes.fromhex(value[2:])
        except ValueError:
            return b""
    if isinstance(value, dict):
        return _hex_data(value.get("data"))
    return b""


def _tx_params(request: CallRequest) -> dict[str, Any]:
    params: dict[str, Any] = {"to": request.to, "data": HexBytes(request.data)}
    if request.sender is not None:
        params["from"] = request.sender
    if request.value_wei:
        params["value"] = request.value_wei
    return params


class ChainClient:
    """Typed access to one EVM node through AsyncWeb3 (HTTP)."""

    def __init__(self, w3: AsyncWeb3[Any], url: str) -> None:
        self._w3 = w3
        self._url = url
        self._endpoint = redact_url(url)

    @classmethod
    def from_url(cls, url: str, timeout_seconds: float = 20.0) -> ChainClient:
        """A client for an HTTP JSON-RPC endpoint; opens nothing until the first request."""
        provider = AsyncHTTPProvider(
            url,
            request_kwargs={"timeout": aiohttp.ClientTimeout(total=timeout_seconds)},
            exception_retry_configuration=None,
        )
        return cls(AsyncWeb3(provider), url)

    @property
    def endpoint(self) -> str:
        """The node's URL as logs and errors show it: scheme, host and port only (hosted
        RPCs carry their keys in the user-info, path or query)."""
        return self._endpoint

    def _scrubbed(self, text: str) -> str:
        return scrub_url_secrets(text, self._url)

    async def close(self) -> None:
        """Release the HTTP session."""
        provider = self._w3.provider
        if isinstance(provider, AsyncHTTPProvider):
            await provider.disconnect()

    @asynccontextmanager
    async def _translated(self, method: str, to: Address | None = None) -> AsyncIterator[None]:
        try:
            yield
        except ContractLogicError as exc:
            revert_data = _hex_data(exc.data)
            reason = decode_revert_reason(revert_data) or str(exc.message or "")
            raise CallReverted(method, to, reason, "0x" + revert_data.hex()) from None
        except Web3RPCError as exc:
            code: int | None = None
            error = exc.rpc_response.get("error") if exc.rpc_response else None
            if isinstance(error, dict):
                raw_code = error.get("code")
                code = raw_code if isinstance(raw_code, int) else None
            # Providers echo the request URL (and so its key) in some error messages.
            raise RpcError(method, code, self._scrubbed(str(exc.message))) from None
        except (aiohttp.ClientError, TimeoutError, TimeExhausted) as exc:
            reason = self._scrubbed(f"{type(exc).__name__}: {exc}")
            raise RpcUnavailable(method, self._endpoint, reason) from None
        except (Web3Exception, OSError) as exc:
            reason = self._scrubbed(f"{type(exc).__name__}: {exc}")
            raise RpcUnavailable(method, self._endpoint, reason) from None

    async def chain_id(self) -> ChainId:
        """eth_chainId.

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        async with self._translated("eth_chainId"):
            return ChainId(int(await self._w3.eth.chain_id))

    async def block_number(self) -> BlockNumber:
        """eth_blockNumber: the latest block.

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        async with self._translated("eth_blockNumber"):
            return BlockNumber(int(await self._w3.eth.block_number))

    async def block_timestamp(self, block: BlockNumber | None = None) -> int:
        """The unix timestamp of a block (the latest by default).

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        async with self._translated("eth_getBlockByNumber"):
            found = await self._w3.eth.get_block("latest" if block is None else block)
            return int(found["timestamp"])

    async def next_base_fee_wei(self) -> int:
        """The base fee of the next block: the pending block's, else eth_feeHistory's last entry.

        The pending block comes first because a forked node answers eth_feeHistory for
        its fork block from the origin node, missing its own next-block settings.

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        async with self._translated("eth_getBlockByNumber"):
            pending = await self._w3.eth.get_block("pending")
        base_fee = pending.get("baseFeePerGas")
        if base_fee is not None:
            return int(base_fee)
        async with self._translated("eth_feeHistory"):
            history = await self._w3.eth.fee_history(1, "latest")
            return int(history["baseFeePerGas"][-1])

    async def call(self, request: CallRequest, block: BlockNumber | None = None) -> bytes:
        """eth_call at a block (the latest by default); the raw return data.

        Raises:
            CallReverted: the call reverted.
            RpcError, RpcUnavailable: the node failed.
        """
        async with self._translated("eth_call", request.to):
            result = await self._w3.eth.call(
                cast(Any, _tx_params(request)),
                "latest" if block is None else block,
                ccip_read_enabled=False,
            )
            return bytes(result)

    async def estimate_gas(self, request: CallRequest, block: BlockNumber | None = None) -> int:
        """eth_estimateGas of a call from its sender.

        Raises:
            CallReverted: the call reverts.
            RpcError, RpcUnavailable: the node failed.
        """
        async with self._translated("eth_estimateGas", request.to):
            return int(await self._w3.eth.estimate_gas(cast(Any, _tx_params(request)), block))

    async def simulate(
        self, requests: Sequence[CallRequest], block: BlockNumber | None = None
    ) -> tuple[SimulatedCall, ...]:
        """eth_simulateV1: run calls in order on top of a block, each seeing the previous.

        Raises:
            RpcError: the node does not support eth_simulateV1 or refused the bundle.
            RpcUnavailable: the node failed.
        """
        calls = []
        for request in requests:
            params = {"to": request.to, "input": "0x" + request.data.hex()}
            if request.sender is not None:
                params["from"] = request.sender
            if request.value_wei:
                params["value"] = hex(request.value_wei)
            calls.append(params)
        payload = {"blockStateCalls": [{"calls": calls}], "validation": False}
        tag = "latest" if block is None else hex(block)
        async with self._translated("eth_simulateV1"):
            response = await self._w3.provider.make_request(
                RPCEndpoint("eth_simulateV1"), [payload, tag]
            )
        error = response.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = str(error.get("message") if isinstance(error, dict) else error)
            raise RpcError("eth_simulateV1", code if isinstance(code, int) else None, message)
        blocks = cast(list[dict[str, Any]], response.get("result") or [])
        outcomes: list[SimulatedCall] = []
        for result in blocks[0]["calls"] if blocks else []:
            return_data = _hex_data(result.get("returnData"))
            success = int(result.get("status", "0x0"), 16) == 1
            reason = ""
            if not success:
                call_error = result.get("error") or {}
                reason = decode_revert_reason(return_data) or decode_revert_reason(
                    _hex_data(call_error.get("data"))
                )
                reason = reason or str(call_error.get("message", ""))
            outcomes.append(
                SimulatedCall(success, int(result.get("gasUsed", "0x0"), 16), return_data, reason)
            )
        return tuple(outcomes)

    async def nonce(self, address: Address, pending: bool = True) -> int:
        """eth_getTransactionCount, counting pending transactions by default.

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        async with self._translated("eth_getTransactionCount"):
            return int(
                await self._w3.eth.get_transaction_count(
                    ChecksumAddress(HexAddress(HexStr(address))), "pending" if pending else "latest"
                )
            )

    async def balance_wei(self, address: Address, block: BlockNumber | None = None) -> int:
        """eth_getBalance of the native coin.

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        async with self._translated("eth_getBalance"):
            return int(
                await self._w3.eth.get_balance(
                    ChecksumAddress(HexAddress(HexStr(address))),
                    "latest" if block is None else block,
                )
            )

    async def send_raw_transaction(self, raw_transaction: bytes) -> TxHash:
        """eth_sendRawTransaction of a signed transaction; its hash.

        Raises:
            RpcError: the node refused it (nonce too low, underpriced, ...).
            RpcUnavailable: the node failed; the transaction may or may not have been received.
        """
        async with self._translated("eth_sendRawTransaction"):
            tx_hash = await self._w3.eth.send_raw_transaction(raw_transaction)
            return TxHash("0x" + bytes(tx_hash).hex())

    async def is_known(self, tx_hash: TxHash) -> bool:
        """eth_getTransactionByHash: whether the node knows the transaction (pending or mined).

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        async with self._translated("eth_getTransactionByHash"):
            response = await self._w3.provider.make_request(
                RPCEndpoint("eth_getTransactionByHash"), [tx_hash]
            )
        error = response.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = str(error.get("message") if isinstance(error, dict) else error)
            raise RpcError(
                "eth_getTransactionByHash", code if isinstance(code, int) else None, message
            )
        return response.get("result") is not None

    async def receipt(self, tx_hash: TxHash) -> Receipt | None:
        """eth_getTransactionReceipt, or None while the transaction is not mined.

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        async with self._translated("eth_getTransactionReceipt"):
            try:
                found = await self._w3.eth.get_transaction_receipt(HexBytes(tx_hash))
            except TransactionNotFound:
                return None
        logs = tuple(
            TxLog(
                to_address(log["address"]),
                tuple(bytes(topic) for topic in log["topics"]),
                bytes(log["data"]),
                int(log["logIndex"]),
            )
            for log in found["logs"]
        )
        return Receipt(
            tx_hash=tx_hash,
            block_number=BlockNumber(int(found["blockNumber"])),
            block_hash="0x" + bytes(found["blockHash"]).hex(),
            success=int(found["status"]) == 1,
            gas_used=int(found["gasUsed"]),
            effective_gas_price_wei=int(found["effectiveGasPrice"]),
            logs=logs,
        )

    async def wait_for_receipt(
        self, tx_hash: TxHash, timeout_seconds: float = 60.0, poll_seconds: float = 0.2
    ) -> Receipt:
        """Poll for a receipt until it appears or the timeout passes.

        Raises:
            RpcUnavailable: no receipt within timeout_seconds (the transaction may still land).
            RpcError: the node failed.
        """
        loop = asyncio.get_running_loop()
        give_up_at = loop.time() + timeout_seconds
        while True:
            found = await self.receipt(tx_hash)
            if found is not None:
                return found
            if loop.time() >= give_up_at:
                raise RpcUnavailable(
                    "eth_getTransactionReceipt", self._endpoint, f"no receipt for {tx_hash}"
                )
            await asyncio.sleep(poll_seconds)

    async def rpc(self, method: str, params: Sequence[object]) -> object:
        """A raw JSON-RPC request for node-specific methods (used by tests and tooling).

        Raises:
            RpcError, RpcUnavailable: the node failed.
        """
        async with self._translated(method):
            response = await self._w3.provider.make_request(RPCEndpoint(method), list(params))
        error = response.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = str(error.get("message") if isinstance(error, dict) else error)
            raise RpcError(method, code if isinstance(code, int) else None, message)
        return response.get("result")
