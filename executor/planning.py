"""Planning a trade (the dry-run): quote, route, guard, build and simulate; nothing is sent.

`TradePlanner.plan` gathers (latest block, next base fee, quotes on every route, current
allowances), decides with the pure guards and builders, simulates the exact transactions
from the sender, and returns a `PlannedTrade`: the exact calldata, route, minimum output,
fee caps, deadline and gas estimate. It logs one `trade_planned` event, or one
`trade_refused` event (with the refusal's numbers) before re-raising the refusal.

Simulation: when no approval is missing, each swap is run with eth_call and
eth_estimateGas from the sender; when an approval must come first, the approvals and the
swaps are run in order with eth_simulateV1, so the swap sees the allowance it needs.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

import structlog

from executor.calldata import decode_uint, encode_allowance, encode_approve
from executor.chain import CallRequest, ChainClient
from executor.errors import CallReverted, RpcError, SimulationReverted, TradeRefused
from executor.guards import (
    FeeCaps,
    GuardLimits,
    check_daily_cap,
    check_gas_share,
    check_price_impact,
    check_router_allowed,
    check_tokens_allowed,
    check_trade_cap,
    choose_deadline,
    choose_fee_caps,
    min_out_from_slippage,
    price_impact_bps,
)
from executor.pricing import ReferencePrices
from executor.routes import Chain, Plan, RouteQuote, Split
from executor.routing import TradeRouter, out_per_gas_unit
from executor.transactions import (
    ApprovalMode,
    SwapCall,
    TxPurpose,
    UnsignedTx,
    approval_amount,
    build_approval_tx,
    build_swap_call,
    build_swap_tx,
    gas_limit_from_estimate,
)
from ledger.ids import Address, BlockNumber, ChainId

log = structlog.get_logger(__name__)

APPROVAL_GAS_FALLBACK = 60_000
"""Gas limit of an approval when the node cannot estimate it."""


@dataclass(frozen=True, slots=True)
class TradeRequest:
    """What to trade: sell an exact amount of one token for as much of another as possible."""

    sender: Address
    token_in: Address
    token_out: Address
    amount_in_raw: int
    recipient: Address | None = None
    """Who receives the output; the sender by default."""
    native_in: bool = False
    """Pay with native ETH (token_in must be WETH)."""
    native_out: bool = False
    """Receive native ETH (token_out must be WETH)."""
    proposal_id: str | None = None

    @property
    def receiver(self) -> Address:
        """The address the output goes to."""
        return self.recipient or self.sender


@dataclass(frozen=True, slots=True)
class ExecutorPolicy:
    """The executor's settings: the guard limits plus how routes and approvals are chosen."""

    limits: GuardLimits
    allow_split: bool = False
    allow_chain: bool = True
    """Route through a V2 hop and a V3 hop as two consecutive transactions when that
    nets more after the extra gas."""
    approval_mode: ApprovalMode = ApprovalMode.EXACT


@dataclass(frozen=True, slots=True)
class PlannedSwap:
    """One swap transaction of a plan, with the quote it was built from."""

    quote: RouteQuote
    call: SwapCall
    route_name: str
    tx: UnsignedTx


@dataclass(frozen=True, slots=True)
class PlannedTrade:
    """A trade ready to sign: exact transactions, the numbers behind them, nothing sent."""

    request: TradeRequest
    chain_id: ChainId
    quote_block: BlockNumber
    route_name: str
    swaps: tuple[PlannedSwap, ...]
    approvals: tuple[UnsignedTx, ...]
    quoted_out_raw: int
    min_out_raw: int
    reference_out_raw: int
    price_impact_bps: Decimal
    value_usd: Decimal
    gas_estimate: int
    gas_cost_usd: Decimal
    fees: FeeCaps
    deadline: int
    simulated_with: str
    """`eth_call` (swaps alone) or `eth_simulateV1` (approvals then swaps)."""
    sequential: bool = False
    """The swaps are a chain's legs: each spends what the previous one paid out."""

    @property
    def transactions(self) -> tuple[UnsignedTx, ...]:
        """Every transaction in sending order (approvals first), without nonces."""
        return (*self.approvals, *(swap.tx for swap in self.swaps))


def _parts(plan: Plan) -> tuple[RouteQuote, ...]:
    return plan.parts if isinstance(plan, Split | Chain) else (plan,)


def log_refusal(refusal: TradeRefused, request: TradeRequest, stage: str) -> None:
    """Log a refusal once, with its reason and every number it carries."""
    numbers = {
        key: str(value) if isinstance(value, Decimal) else value
        for key, value in vars(refusal).items()
        if isinstance(value, int | str | Decimal)
    }
    log.warning(
        "trade_refused",
        stage=stage,
        reason=refusal.refusal,
        message=str(refusal),
        proposal_id=request.proposal_id,
        sender=request.sender,
        token_in=request.token_in,
        token_out=request.token_out,
        amount_in_raw=request.amount_in_raw,
        **numbers,
    )


class TradePlanner:
    """Turns a `TradeRequest` into a guarded, simulated `PlannedTrade` (dry-run)."""

    def __init__(
        self,
        chain: ChainClient,
        router: TradeRouter,
        policy: ExecutorPolicy,
        chain_id: ChainId,
    ) -> None:
        self._chain = chain
        self._router = router
        self._policy = policy
        self._chain_id = chain_id

    @property
    def policy(self) -> ExecutorPolicy:
        """The limits and choices this planner applies."""
        return self._policy

    @property
    def router(self) -> TradeRouter:
        """The router used for quotes."""
        return self._router

    async def plan(
        self,
        request: TradeRequest,
        prices: ReferencePrices,
        spent_today_usd: Decimal = Decimal(0),
    ) -> PlannedTrade:
        """Quote, route, guard, build and simulate a trade; log `trade_planned`; send nothing.

        Raises:
            TradeRefused: a guard refused (its subclass says which); logged as `trade_refused`.
            NoRouteFound: no pool route can fill the amount.
            PriceMissing: the pricing source lacks a price the guards need.
            RpcError, RpcUnavailable: the node failed.
        """
        try:
            planned = await self._plan(request, prices, spent_today_usd)
        except TradeRefused as refusal:
            log_refusal(refusal, request, stage="plan")
            raise
        log.info(
            "trade_planned",
            dry_run=True,
            proposal_id=request.proposal_id,
            sender=request.sender,
            token_in=request.token_in,
            token_out=request.token_out,
            amount_in_raw=request.amount_in_raw,
            route=planned.route_name,
            quote_block=planned.quote_block,
            quoted_out_raw=planned.quoted_out_raw,
            min_out_raw=planned.min_out_raw,
            reference_out_raw=planned.reference_out_raw,
            price_impact_bps=str(planned.price_impact_bps.quantize(Decimal("0.01"))),
            value_usd=str(planned.value_usd),
            gas_estimate=planned.gas_estimate,
            gas_cost_usd=str(planned.gas_cost_usd),
            max_fee_per_gas_wei=planned.fees.max_fee_per_gas_wei,
            max_priority_fee_per_gas_wei=planned.fees.max_priority_fee_per_gas_wei,
            base_fee_wei=planned.fees.base_fee_wei,
            deadline=planned.deadline,
            simulated_with=planned.simulated_with,
            transactions=[
                {
                    "purpose": tx.purpose.value,
                    "to": tx.to,
                    "value_wei": tx.value_wei,
                    "gas_limit": tx.gas_limit,
                    "data": "0x" + tx.data.hex(),
                }
                for tx in planned.transactions
            ],
        )
        return planned

    async def _plan(
        self, request: TradeRequest, prices: ReferencePrices, spent_today_usd: Decimal
    ) -> PlannedTrade:
        limits = self._policy.limits
        deployment = self._router.quoter.deployment
        check_tokens_allowed((request.token_in, request.token_out), limits.allowed_tokens)
        value_usd = prices.value_usd(request.token_in, request.amount_in_raw)
        check_trade_cap(value_usd, limits.max_trade_usd)
        check_daily_cap(spent_today_usd, value_usd, limits.max_daily_usd)

        block = await self._chain.block_number()
        base_fee = await self._chain.next_base_fee_wei()
        fees = choose_fee_caps(base_fee, limits.priority_fee_wei, limits.max_fee_per_gas_wei)
        out_per_gas = out_per_gas_unit(prices, fees.expected_gas_price_wei, request.token_out)
        choice = await self._router.route(
            request.token_in,
            request.token_out,
            request.amount_in_raw,
            block,
            out_per_gas,
            allow_split=self._policy.allow_split,
            allow_chain=self._policy.allow_chain,
        )
        sequential = isinstance(choice.best, Chain)
        parts = _parts(choice.best)
        route_name = self._router.describe(choice.best)
        for part in parts:
            check_tokens_allowed(part.route.tokens, limits.allowed_tokens)
        quoted_out = choice.best.amount_out_raw
        reference_out = prices.convert_raw(
            request.amount_in_raw, request.token_in, request.token_out
        )
        check_price_impact(route_name, quoted_out, reference_out, limits.max_price_impact_bps)

        # The next block is stamped at least "now": a chain whose last block is older than the
        # wall clock (an idle dev node) must not get a deadline already in the past.
        now = max(await self._chain.block_timestamp(), int(time.time()))
        deadline = choose_deadline(now, limits.deadline_seconds)
        # A chain's legs hand over through the sender; only its first leg may take native
        # ETH and only its last may pay out native ETH. A split's parts are all alike.
        last = len(parts) - 1
        calls = [
            build_swap_call(
                part.route,
                part.amount_in_raw,
                min_out_from_slippage(part.amount_out_raw, limits.max_slippage_bps),
                request.receiver if not sequential or index == last else request.sender,
                deadline,
                deployment,
                native_in=request.native_in and (not sequential or index == 0),
                native_out=request.native_out and (not sequential or index == last),
            )
            for index, part in enumerate(parts)
        ]
        for call in calls:
            check_router_allowed(call.router, limits.allowed_routers)

        approvals = await self._approvals_needed(request, calls, fees)
        swap_gas, simulated_with = await self._simulate(
            approvals, calls, request.sender, sequential
        )
        swaps = tuple(
            PlannedSwap(
                quote=part,
                call=call,
                route_name=self._router.describe(part),
                tx=build_swap_tx(
                    self._chain_id, request.sender, call, fees, gas_limit_from_estimate(gas)
                ),
            )
            for part, call, gas in zip(parts, calls, swap_gas, strict=True)
        )
        gas_estimate = sum(swap_gas) + sum(tx.gas_limit for tx in approvals)
        gas_cost_usd = prices.gas_cost_usd(gas_estimate * fees.expected_gas_price_wei)
        check_gas_share(gas_cost_usd, value_usd, limits.max_gas_share_bps)
        return PlannedTrade(
            request=request,
            chain_id=self._chain_id,
            quote_block=block,
            route_name=route_name,
            swaps=swaps,
            approvals=approvals,
            quoted_out_raw=quoted_out,
            min_out_raw=calls[-1].min_out_raw if sequential else sum(c.min_out_raw for c in calls),
            sequential=sequential,
            reference_out_raw=reference_out,
            price_impact_bps=price_impact_bps(quoted_out, reference_out),
            value_usd=value_usd,
            gas_estimate=gas_estimate,
            gas_cost_usd=gas_cost_usd,
            fees=fees,
            deadline=deadline,
            simulated_with=simulated_with,
        )

    async def _approvals_needed(
        self, request: TradeRequest, calls: Sequence[SwapCall], fees: FeeCaps
    ) -> tuple[UnsignedTx, ...]:
        approvals: list[UnsignedTx] = []
        for call in calls:
            if call.value_wei:
                continue  # native ETH in: nothing to approve
            token = call.route.token_in
            allowance = decode_uint(
                await self._chain.call(
                    CallRequest(token, encode_allowance(request.sender, call.router))
                )
            )
            if allowance >= call.amount_in_raw:
                continue
            amount = approval_amount(call.amount_in_raw, self._policy.approval_mode)
            approve = CallRequest(token, encode_approve(call.router, amount), request.sender)
            try:
                gas_limit = gas_limit_from_estimate(await self._chain.estimate_gas(approve))
            except CallReverted as exc:
                raise SimulationReverted(token, exc.reason, exc.revert_data) from None
            approvals.append(
                build_approval_tx(
                    self._chain_id,
                    request.sender,
                    token,
                    call.router,
                    amount,
                    fees,
                    gas_limit,
                )
            )
        return tuple(approvals)

    async def _simulate(
        self,
        approvals: Sequence[UnsignedTx],
        calls: Sequence[SwapCall],
        sender: Address,
        sequential: bool,
    ) -> tuple[list[int], str]:
        swap_requests = [CallRequest(c.router, c.data, sender, c.value_wei) for c in calls]
        # A chain's later leg spends what the earlier one pays out: only a bundle sees that.
        if not approvals and not sequential:
            gas: list[int] = []
            for request in swap_requests:
                try:
                    await self._chain.call(request)
                    gas.append(await self._chain.estimate_gas(request))
                except CallReverted as exc:
                    raise SimulationReverted(request.to, exc.reason, exc.revert_data) from None
            return gas, "eth_call"
        bundle = [tx.as_call() for tx in approvals if tx.purpose is TxPurpose.APPROVE]
        bundle += swap_requests
        try:
            outcomes = await self._chain.simulate(bundle)
        except RpcError:
            # No eth_simulateV1 on this node: the swaps are simulated exactly once the
            # approvals have landed, before they are signed (executor.sending).
            return [
                self._router.quoter.gas_model.v2_first_hop * 2 for _ in calls
            ], "pending_approval"
        for request, outcome in zip(bundle, outcomes, strict=True):
            if not outcome.success:
                raise SimulationReverted(
                    request.to, outcome.revert_reason, "0x" + outcome.return_data.hex()
                )
        return [outcome.gas_used for outcome in outcomes[len(approvals) :]], "eth_simulateV1"
