"""Strategy benchmarks (run by `make bench`; they print figures and time nothing in CI).

1. Lot-choice quality: on generated US instances of up to 200 lots over 1-5 assets, the
   least-tax optimiser against the exact optimum of the same continuous problem, solved
   with HiGHS as one LP per linear piece of the year's tax (the tax is linear on each of
   five closed regions of (short, long) that cover the plane, so the least of the five
   LP optima is the exact optimum); and against HIFO and FIFO on the same sales.
2. Scan speed: one full scan (gather from in-memory sources, plan, quote, decide) over
   100,000 open lots across 50 assets and 5 wallets.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import highspy
import numpy as np

from ledger.events import NATIVE_ASSET
from ledger.ids import Address
from strategy.lotchoice import SaleRequest, choose_lots
from strategy.policy import HarvestPolicy, RebalanceMode, RebalancePolicy, StrategyPolicy
from strategy.quotes import GasPrice, Quote
from strategy.scan import ScanResult, scan
from strategy.tax import tax_for_year
from strategy.values import (
    Asset,
    AssetTarget,
    Jurisdiction,
    LotId,
    LotMethod,
    OpenLot,
    PortfolioSnapshot,
    Price,
    Targets,
    TaxRates,
    TaxYearState,
    Term,
    rules_for,
    term_of,
)

NOW = datetime(2026, 6, 15, 12, 0, tzinfo=UTC)
US = rules_for(Jurisdiction.US)
WALLETS = [Address(f"0x{w:040x}") for w in range(1, 6)]


def _asset(index: int) -> Address:
    return Address(f"0x{index + 0x100:040x}")


def _instance(rng: random.Random, lots_n: int) -> tuple[list[SaleRequest], TaxRates, TaxYearState]:
    assets_n = rng.randint(1, min(5, lots_n))
    sales: list[SaleRequest] = []
    for a in range(assets_n):
        asset = _asset(a)
        price = Decimal(rng.randint(5, 5000))
        lots: list[OpenLot] = []
        for i in range(lots_n // assets_n):
            amount = rng.randint(1, 10_000) * 10**14
            unit_cost = price * Decimal(rng.randint(55, 145)) / 100
            at = NOW - timedelta(days=rng.randint(1, 1100))
            wallet = rng.choice(WALLETS)
            cost = (unit_cost * amount / 10**18).quantize(Decimal("0.01"))
            lots.append(OpenLot(LotId(f"{a}-{i}"), asset, wallet, amount, cost, at, at))
        held = sum(x.amount_raw for x in lots)
        q = held * rng.randint(5, 95) // 100
        sales.append(SaleRequest(asset, q, price * q / 10**18, tuple(lots)))
    short_rate = Decimal(rng.choice(["0.24", "0.32", "0.37"]))
    rates = TaxRates(
        short_term_rate=short_rate,
        long_term_rate=Decimal(rng.choice(["0.15", "0.20"])),
        ordinary_income_rate=short_rate,
        loss_limit_usd=Decimal(3000),
        carry_forward_value_rate=Decimal(rng.choice(["0", "0.10", "0.20"])),
    )
    scale = sum((s.proceeds_usd for s in sales), Decimal(0))
    state = TaxYearState(
        2026,
        (scale * Decimal(rng.randint(-60, 60)) / 100).quantize(Decimal(1)),
        (scale * Decimal(rng.randint(-60, 60)) / 100).quantize(Decimal(1)),
    )
    return sales, rates, state


def _exact_optimum(sales: list[SaleRequest], rates: TaxRates, state: TaxYearState) -> float:
    """The least tax effect over divisible lots, by one HiGHS LP per linear piece."""
    cols: list[tuple[int, float, float, bool]] = []
    for index, sale in enumerate(sales):
        unit = sale.proceeds_usd / sale.amount_raw
        for x in sale.lots:
            gain = float(unit * x.amount_raw - x.cost_usd)
            short = term_of(x.holding_period_start, NOW, US) is Term.SHORT
            cols.append((index, float(x.amount_raw) / 1e18, gain, short))
    n = len(cols)
    g_s = np.array([g if s else 0.0 for _, _, g, s in cols])
    g_l = np.array([0.0 if s else g for _, _, g, s in cols])
    s0, l0 = float(state.base_short_usd), float(state.base_long_usd)
    rs, rl, ro = (
        float(r) for r in (rates.short_term_rate, rates.long_term_rate, rates.ordinary_income_rate)
    )
    c, limit = float(rates.carry_forward_value_rate), float(rates.loss_limit_usd)
    inf = highspy.kHighsInf
    # (short coefficient, long coefficient, constant, [(a_s, a_l, lower, upper)] on (S, L))
    pieces = [
        (rs, rl, 0.0, [(1, 0, 0.0, inf), (0, 1, 0.0, inf)]),
        (rs, rs, 0.0, [(1, 0, 0.0, inf), (0, 1, -inf, 0.0), (1, 1, 0.0, inf)]),
        (rl, rl, 0.0, [(1, 0, -inf, 0.0), (0, 1, 0.0, inf), (1, 1, 0.0, inf)]),
        (ro, ro, 0.0, [(1, 1, -limit, 0.0)]),
        (c, c, (c - ro) * limit, [(1, 1, -inf, -limit)]),
    ]
    best = float("inf")
    for c_s, c_l, const, region in pieces:
        rows: list[np.ndarray] = []
        lower: list[float] = []
        upper: list[float] = []
        for index, sale in enumerate(sales):
            rows.append(np.array([a if i == index else 0.0 for i, a, _, _ in cols]))
            want = float(sale.amount_raw) / 1e18
            lower.append(want)
            upper.append(want)
        for a_s, a_l, lo, hi in region:
            rows.append(a_s * g_s + a_l * g_l)
            base = a_s * s0 + a_l * l0
            lower.append(lo - base if lo != -inf else -inf)
            upper.append(hi - base if hi != inf else inf)
        matrix = np.array(rows)
        lp = highspy.HighsLp()
        lp.num_col_ = n
        lp.num_row_ = len(rows)
        lp.col_cost_ = c_s * g_s + c_l * g_l
        lp.col_lower_ = np.zeros(n)
        lp.col_upper_ = np.ones(n)
        lp.row_lower_ = np.array(lower)
        lp.row_upper_ = np.array(upper)
        lp.a_matrix_.format_ = highspy.MatrixFormat.kRowwise
        starts, indices, values = [0], [], []
        for row in matrix:
            nz = np.nonzero(row)[0]
            indices.extend(int(i) for i in nz)
            values.extend(float(v) for v in row[nz])
            starts.append(len(indices))
        lp.a_matrix_.start_ = np.array(starts, dtype=np.int32)
        lp.a_matrix_.index_ = np.array(indices, dtype=np.int32)
        lp.a_matrix_.value_ = np.array(values)
        solver = highspy.Highs()
        solver.setOptionValue("output_flag", False)
        solver.passModel(lp)
        solver.run()
        if solver.getModelStatus() == highspy.HighsModelStatus.kOptimal:
            value = solver.getInfo().objective_function_value + c_s * s0 + c_l * l0 + const
            best = min(best, value)
    return best - float(tax_for_year(rates, state.base_short_usd, state.base_long_usd))


def test_lot_choice_quality_against_the_exact_optimum_and_hifo() -> None:
    rng = random.Random(20260615)
    gaps: list[float] = []
    vs_hifo: list[float] = []
    vs_fifo: list[float] = []
    worse_than_hifo = 0
    beats_hifo = 0
    seconds = 0.0
    for case in range(300):
        lots_n = rng.choice([5, 20, 50, 100, 200])
        sales, rates, state = _instance(rng, lots_n)
        started = time.perf_counter()
        mine = choose_lots(LotMethod.MIN_TAX, sales, US, rates, state, NOW).tax_effect_usd
        seconds += time.perf_counter() - started
        hifo = choose_lots(LotMethod.HIFO, sales, US, rates, state, NOW).tax_effect_usd
        fifo = choose_lots(LotMethod.FIFO, sales, US, rates, state, NOW).tax_effect_usd
        exact = _exact_optimum(sales, rates, state)
        gaps.append((float(mine) - exact) / max(abs(exact), 1.0))
        vs_hifo.append(float(hifo - mine))
        vs_fifo.append(float(fifo - mine))
        if mine > hifo + Decimal("0.01"):
            worse_than_hifo += 1
        if mine < hifo - Decimal("0.01"):
            beats_hifo += 1
        del case
    within = sum(1 for g in gaps if g <= 0.01) / len(gaps)
    print()
    print(f"lot_choice_instances={len(gaps)} max_lots=200")
    print(f"lot_choice_share_within_1pct_of_exact={within:.1%}")
    print(f"lot_choice_worst_gap_vs_exact={max(gaps):.2e}")
    print(f"lot_choice_worse_than_hifo={worse_than_hifo} better_than_hifo={beats_hifo}")
    print(f"lot_choice_mean_saving_vs_hifo_usd={sum(vs_hifo) / len(vs_hifo):.2f}")
    print(f"lot_choice_mean_saving_vs_fifo_usd={sum(vs_fifo) / len(vs_fifo):.2f}")
    print(f"lot_choice_mean_seconds={seconds / len(gaps):.5f}")
    assert within == 1.0
    assert worse_than_hifo == 0


@dataclass
class _Quotes:
    prices: dict[Address, Decimal]
    decimals: dict[Address, int]

    async def quote(self, sell_asset: Address, buy_asset: Address, amount_raw: int) -> Quote:
        value = Decimal(amount_raw).scaleb(-self.decimals[sell_asset]) * self.prices[sell_asset]
        out = (value * Decimal("0.997") / self.prices[buy_asset]).scaleb(self.decimals[buy_asset])
        return Quote(int(out), 150_000, Decimal(30), Decimal(5))


@dataclass
class _Gas:
    async def gas_price(self) -> GasPrice:
        return GasPrice(10 * 10**9, 10**9, Decimal(2500))


@dataclass
class _Portfolio:
    value: PortfolioSnapshot

    async def snapshot(self) -> PortfolioSnapshot:
        return self.value


def _big_portfolio(lots_n: int, assets_n: int) -> tuple[PortfolioSnapshot, StrategyPolicy]:
    rng = random.Random(7)
    assets = [_asset(a) for a in range(assets_n)]
    cash = assets[0]
    described = {a: Asset(a, f"T{i}", 18) for i, a in enumerate(assets)}
    described[NATIVE_ASSET] = Asset(NATIVE_ASSET, "ETH", 18)
    prices = {a: Decimal(rng.randint(1, 5000)) for a in assets}
    prices[cash] = Decimal(1)
    prices[NATIVE_ASSET] = Decimal(2500)
    lots: list[OpenLot] = []
    per_asset = lots_n // assets_n
    for index, asset in enumerate(assets):
        # every other asset is overweight, the rest underweight: a few breach their bands
        drift = Decimal(1) + (Decimal(index % 7) - 3) / 8
        unit_value = Decimal(100_000) * drift / per_asset
        for i in range(per_asset):
            amount = int(unit_value / prices[asset] * Decimal(rng.randint(50, 150)) / 100 * 10**18)
            cost = (unit_value * Decimal(rng.randint(60, 140)) / 100).quantize(Decimal("0.01"))
            at = NOW - timedelta(days=rng.randint(1, 1100))
            lots.append(
                OpenLot(LotId(f"{index}-{i}"), asset, rng.choice(WALLETS), amount, cost, at, at)
            )
    weight = Decimal(1) / assets_n
    targets = Targets(tuple(AssetTarget(a, weight, None, Decimal("0.25")) for a in assets))
    snapshot = PortfolioSnapshot(
        taken_at=NOW,
        assets=described,
        prices={a: Price(a, p, NOW) for a, p in prices.items()},
        lots=tuple(lots),
        year=TaxYearState(2026, Decimal(25000), Decimal(10000)),
    )
    policy = StrategyPolicy(
        rules=US,
        rates=TaxRates(
            Decimal("0.37"), Decimal("0.20"), Decimal("0.37"), Decimal(3000), Decimal("0.10")
        ),
        targets=targets,
        harvest=HarvestPolicy(True, Decimal(50), Decimal(10), Decimal("0.5"), cash),
        rebalance=RebalancePolicy(
            True, RebalanceMode.AUTO, Decimal("0.001"), Decimal(100), Decimal(20)
        ),
    )
    return snapshot, policy


def _calibration_ms() -> float:
    """How fast this interpreter is right now: the machine is shared, so say it."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        sum(range(10**6))
        best = min(best, time.perf_counter() - started)
    return best * 1000


def test_one_scan_over_100k_lots_and_50_assets() -> None:
    snapshot, policy = _big_portfolio(100_000, 50)
    quotes = _Quotes(
        {a: p.unit_price_usd for a, p in snapshot.prices.items()},
        {a: d.decimals for a, d in snapshot.assets.items()},
    )

    async def timed_scans() -> tuple[list[tuple[float, float]], ScanResult]:
        # One event loop for all runs, as in the daemon: asyncio.run per scan would also
        # time CPython 3.11's repr of the finished task (its result) on loop shutdown.
        timings: list[tuple[float, float]] = []
        last = None
        for _ in range(5):
            started, started_cpu = time.perf_counter(), time.process_time()
            last = await scan(_Portfolio(snapshot), quotes, _Gas(), policy)
            timings.append((time.perf_counter() - started, time.process_time() - started_cpu))
        assert last is not None
        return timings, last

    timings, result = asyncio.run(timed_scans())
    wall = sorted(t for t, _ in timings)
    cpu = sorted(c for _, c in timings)
    assert result is not None
    print()
    print(f"scan_lots={len(snapshot.lots)} scan_assets=50 scan_wallets={len(WALLETS)}")
    print(
        f"scan_breaches={len(result.breaches)} scan_proposals={len(result.proposals)} scan_no_trades={len(result.no_trades)}"
    )
    print(
        f"python_calibration_ms={_calibration_ms():.1f} (sum(range(10**6)); ~12-15 on an idle laptop)"
    )
    print(f"scan_wall_seconds_best={wall[0]:.3f} median={wall[2]:.3f} worst={wall[-1]:.3f}")
    print(f"scan_cpu_seconds_best={cpu[0]:.3f} median={cpu[2]:.3f} worst={cpu[-1]:.3f}")
    assert result.breaches
    assert result.proposals
