"""The indexer's exceptions.

    HarvestdError (ledger.errors)
    └── IndexerError              anything the indexer raises on purpose
        ├── RpcError              the node answered a JSON-RPC error (method, code, message)
        │   └── RangeTooLarge     "too many results" / "block range too large": split the range
        ├── RpcTimeout            no answer within the timeout, retries exhausted
        ├── RpcUnavailable        transport failure or HTTP error status, retries exhausted
        ├── MalformedResponse     the node answered something that is not what the method returns
        ├── InconsistentRead      two reads of one block disagree on its hash (a reorg mid-read)
        └── DecodeError           one log does not decode as the event its topic names

Only `indexer.rpc` sees aiohttp; it translates every transport problem into these. URLs in
messages are always redacted (`indexer.rpc.redact_url`).
"""

from __future__ import annotations

from ledger.errors import HarvestdError


class IndexerError(HarvestdError):
    """The indexer could not read, decode or book something."""


class RpcError(IndexerError):
    """The node answered a JSON-RPC error object."""

    def __init__(self, method: str, code: int, message: str) -> None:
        self.method = method
        self.code = code
        self.message = message
        super().__init__(f"{method} failed with JSON-RPC error {code}: {message}")


class RangeTooLarge(RpcError):
    """The node refused a ranged query (eth_getLogs, trace_filter) as too large."""


class RpcTimeout(IndexerError):
    """The node did not answer within the timeout, on every attempt."""

    def __init__(self, method: str, timeout_seconds: float, attempts: int) -> None:
        self.method = method
        self.timeout_seconds = timeout_seconds
        self.attempts = attempts
        super().__init__(
            f"{method} timed out after {timeout_seconds}s on each of {attempts} attempt(s)"
        )


class RpcUnavailable(IndexerError):
    """The endpoint could not be reached or kept answering with an HTTP error."""

    def __init__(
        self, method: str, url: str, status: int | None, reason: str, attempts: int
    ) -> None:
        self.method = method
        self.url = url
        self.status = status
        self.reason = reason
        self.attempts = attempts
        where = f"HTTP {status}" if status is not None else "transport error"
        super().__init__(
            f"{method} at {url} failed ({where}: {reason}) after {attempts} attempt(s)"
        )


class MalformedResponse(IndexerError):
    """A JSON-RPC result does not have the shape the method promises."""

    def __init__(self, method: str, reason: str) -> None:
        self.method = method
        self.reason = reason
        super().__init__(f"{method} returned a malformed result: {reason}")


class InvalidTokenMetadata(IndexerError):
    """A token answered a metadata call with a value the standard rules out (e.g. a
    `decimals()` beyond ERC-20's uint8), so nothing can be priced or scaled with it."""

    def __init__(self, token: str, field: str, value: int, expected: str) -> None:
        self.token = token
        self.field = field
        self.value = value
        self.expected = expected
        shown = str(value) if value.bit_length() <= 64 else f"a {value.bit_length()}-bit number"
        super().__init__(f"token {token}: {field}() returned {shown}, expected {expected}")


class DecodeError(IndexerError):
    """One log could not be decoded as the event its first topic names."""

    def __init__(self, event: str, tx_hash: str, log_index: int, address: str, reason: str) -> None:
        self.event = event
        self.tx_hash = tx_hash
        self.log_index = log_index
        self.address = address
        self.reason = reason
        super().__init__(
            f"cannot decode {event} log {log_index} of tx {tx_hash} from {address}: {reason}"
        )


class InconsistentRead(IndexerError):
    """Two answers about one block disagree on its hash: the chain reorganised mid-read.

    The gathered range must be discarded and read again (wave 2 may roll back first).
    """

    def __init__(self, block_number: int, seen_hash: str, header_hash: str) -> None:
        self.block_number = block_number
        self.seen_hash = seen_hash
        self.header_hash = header_hash
        super().__init__(
            f"block {block_number} read as {seen_hash} in a receipt/log but {header_hash} "
            "in its header: the chain reorganised while the range was read"
        )
