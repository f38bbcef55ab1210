"""Building the exact transactions of a trade: router swap calldata, approvals, EIP-1559 fields.

Pure: from a quoted route (or split part), a minimum output, a recipient and a deadline
to the router call (`SwapCall`), and from that plus fees, gas and sender to an
`UnsignedTx`. V2 uses Router02's exact-input swaps (ETH in/out variants through WETH);
V3 uses SwapRouter exactInputSingle / exactInput, wrapped in multicall + unwrapWETH9
when the output is native ETH. Approvals are for the exact input amount by default.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum

from executor.calldata import (
    encode_approve,
    encode_v2_swap_exact_eth_for_tokens,
    encode_v2_swap_exact_tokens_for_eth,
    encode_v2_swap_exact_tokens_for_tokens,
    encode_v3_exact_input,
    encode_v3_exact_input_single,
    encode_v3_multicall,
    encode_v3_path,
    encode_v3_unwrap_weth9,
)
from executor.chain import CallRequest
from executor.guards import FeeCaps
from executor.quoting import UniswapDeployment
from executor.routes import PoolKind, Route
from ledger.ids import Address, ChainId

GAS_LIMIT_MARGIN_BPS = 2_000
"""Head-room added on top of eth_estimateGas (20 %): state can shift before inclusion."""


class TxPurpose(StrEnum):
    """Why a transaction of a trade exists."""

    APPROVE = "approve"
    SWAP = "swap"


class ApprovalMode(StrEnum):
    """How much a router is allowed to take."""

    EXACT = "exact"
    """Exactly the trade's input (default: no standing allowance is left behind)."""
    UNLIMITED = "unlimited"


@dataclass(frozen=True, slots=True)
class SwapCall:
    """One router call that swaps: where it goes, its calldata and the ETH it carries."""

    router: Address
    data: bytes
    value_wei: int
    route: Route
    amount_in_raw: int
    min_out_raw: int
    deadline: int
    recipient: Address
    native_in: bool = False
    native_out: bool = False


@dataclass(frozen=True, slots=True)
class UnsignedTx:
    """An EIP-1559 transaction ready to sign once a nonce is assigned."""

    purpose: TxPurpose
    chain_id: ChainId
    sender: Address
    to: Address
    data: bytes
    value_wei: int
    gas_limit: int
    fees: FeeCaps
    nonce: int | None = None

    def with_nonce(self, nonce: int) -> UnsignedTx:
        """The same transaction with its nonce set."""
        return replace(self, nonce=nonce)

    def with_fees(self, fees: FeeCaps) -> UnsignedTx:
        """The same transaction with other fee fields (a replacement, or a refresh)."""
        return replace(self, fees=fees)

    def with_gas_limit(self, gas_limit: int) -> UnsignedTx:
        """The same transaction with another gas limit (after a fresh estimate)."""
        return replace(self, gas_limit=gas_limit)

    def as_call(self) -> CallRequest:
        """The transaction as a message call, for eth_call / eth_estimateGas / simulation."""
        return CallRequest(self.to, self.data, self.sender, self.value_wei)

    @property
    def max_cost_wei(self) -> int:
        """The most this transaction can cost in gas plus the value it carries."""
        return self.gas_limit * self.fees.max_fee_per_gas_wei + self.value_wei


def gas_limit_from_estimate(estimate: int) -> int:
    """The gas limit to sign: the estimate plus the margin, rounded up."""
    return -((-estimate * (10_000 + GAS_LIMIT_MARGIN_BPS)) // 10_000)


def build_swap_call(
    route: Route,
    amount_in_raw: int,
    min_out_raw: int,
    recipient: Address,
    deadline: int,
    deployment: UniswapDeployment,
    native_in: bool = False,
    native_out: bool = False,
) -> SwapCall:
    """The router call that swaps `amount_in_raw` along `route` for at least `min_out_raw`.

    With `native_in` the input is sent as ETH (route must start at WETH); with
    `native_out` the output arrives as ETH (route must end at WETH).

    Raises:
        ValueError: a native flag on a route that does not start/end at WETH, or both set.
    """
    if native_in and route.token_in != deployment.weth:
        raise ValueError(f"native input needs a route from WETH, got {route.token_in}")
    if native_out and route.token_out != deployment.weth:
        raise ValueError(f"native output needs a route to WETH, got {route.token_out}")
    if native_in and native_out:
        raise ValueError("a swap cannot be native on both sides")
    value_wei = amount_in_raw if native_in else 0
    if route.kind is PoolKind.V2:
        router = deployment.v2_router
        path = route.tokens
        if native_in:
            data = encode_v2_swap_exact_eth_for_tokens(min_out_raw, path, recipient, deadline)
        elif native_out:
            data = encode_v2_swap_exact_tokens_for_eth(
                amount_in_raw, min_out_raw, path, recipient, deadline
            )
        else:
            data = encode_v2_swap_exact_tokens_for_tokens(
                amount_in_raw, min_out_raw, path, recipient, deadline
            )
    else:
        router = deployment.v3_router
        # For native output the router keeps the WETH and unwraps it to the recipient.
        swap_recipient = router if native_out else recipient
        if len(route.hops) == 1:
            hop = route.hops[0]
            swap = encode_v3_exact_input_single(
                hop.token_in,
                hop.token_out,
                hop.fee_ppm,
                swap_recipient,
                deadline,
                amount_in_raw,
                min_out_raw,
            )
        else:
            swap = encode_v3_exact_input(
                encode_v3_path(route.tokens, route.fees_ppm),
                swap_recipient,
                deadline,
                amount_in_raw,
                min_out_raw,
            )
        if native_out:
            data = encode_v3_multicall([swap, encode_v3_unwrap_weth9(min_out_raw, recipient)])
        else:
            data = swap
    return SwapCall(
        router,
        data,
        value_wei,
        route,
        amount_in_raw,
        min_out_raw,
        deadline,
        recipient,
        native_in,
        native_out,
    )


def approval_amount(amount_in_raw: int, mode: ApprovalMode) -> int:
    """How much to approve for a trade's input."""
    return amount_in_raw if mode is ApprovalMode.EXACT else 2**256 - 1


def build_approval_tx(
    chain_id: ChainId,
    sender: Address,
    token: Address,
    spender: Address,
    amount_raw: int,
    fees: FeeCaps,
    gas_limit: int,
) -> UnsignedTx:
    """An ERC-20 approve(spender, amount) transaction from the sender."""
    return UnsignedTx(
        purpose=TxPurpose.APPROVE,
        chain_id=chain_id,
        sender=sender,
        to=token,
        data=encode_approve(spender, amount_raw),
        value_wei=0,
        gas_limit=gas_limit,
        fees=fees,
    )


def build_swap_tx(
    chain_id: ChainId, sender: Address, call: SwapCall, fees: FeeCaps, gas_limit: int
) -> UnsignedTx:
    """The swap transaction for a router call."""
    return UnsignedTx(
        purpose=TxPurpose.SWAP,
        chain_id=chain_id,
        sender=sender,
        to=call.router,
        data=call.data,
        value_wei=call.value_wei,
        gas_limit=gas_limit,
        fees=fees,
    )
