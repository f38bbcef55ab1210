"""Lot-engine throughput: 1,000,000 generated events (20 assets, 5 wallets; buys, sells,
transfers, a few sends) replayed under fifo, hifo and uk. Prints events/s and peak memory;
asserts only correctness-level facts (never timings).

The events are generated once per module (and that time is printed on its own); the
figures time `replay(events, policy)` only: ordering, matching and building every frozen
result value (disposals, pieces, removals, holdings, totals). Events/s are given against
wall time and against the process's CPU time (on a shared machine the CPU figure is the
steadier one)."""

from __future__ import annotations

import gc
import os
import random
import resource
import time
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from ledger.engine import Action, Jurisdiction, LotEvent, LotMethod, Policy, replay

EVENTS = int(os.environ.get("HARVESTD_BENCH_EVENTS", "1000000"))
ASSETS = [f"TOKEN{i:02d}" for i in range(20)]
WALLETS = [f"wallet{i}" for i in range(5)]
START = datetime(2020, 1, 1, tzinfo=UTC)


def generate_events(count: int, seed: int = 7) -> list[LotEvent]:
    """A valid stream: ~45% buys, ~35% sells, ~15% transfers, ~5% non-taxable sends.

    Buys are 1e-6 to 1 token (18 decimals); sells, transfers and sends up to 2 tokens, so
    each takes about two lots, as a real wallet's trades do."""
    rng = random.Random(seed)
    held: dict[tuple[str, str], int] = {}
    prices = {asset: rng.randint(1_000, 100_000) for asset in ASSETS}
    events: list[LotEvent] = []
    moment = START
    step = timedelta(seconds=97)
    for index in range(count):
        moment += step
        asset = rng.choice(ASSETS)
        wallet = rng.choice(WALLETS)
        prices[asset] = max(100, prices[asset] + rng.randint(-500, 500))
        have = held.get((wallet, asset), 0)
        roll = rng.random()
        event_id = f"e{index}"
        if roll < 0.45 or have == 0:
            amount = rng.randint(1, 10**6) * 10**12
            value = Decimal(prices[asset] * (amount // 10**12)).scaleb(-6)
            events.append(
                LotEvent(event_id, moment, Action.ACQUIRE, asset, amount, wallet, value, Decimal("1.25"))
            )
            held[(wallet, asset)] = have + amount
        elif roll < 0.80:
            amount = min(have, rng.randint(1, 2 * 10**18))
            value = Decimal(prices[asset] * amount).scaleb(-18)
            events.append(
                LotEvent(event_id, moment, Action.DISPOSE, asset, amount, wallet, value, Decimal("0.75"))
            )
            held[(wallet, asset)] = have - amount
        elif roll < 0.95:
            amount = min(have, rng.randint(1, 2 * 10**18))
            to_wallet = rng.choice([w for w in WALLETS if w != wallet])
            events.append(
                LotEvent(event_id, moment, Action.TRANSFER, asset, amount, wallet, to_wallet=to_wallet)
            )
            held[(wallet, asset)] = have - amount
            held[(to_wallet, asset)] = held.get((to_wallet, asset), 0) + amount
        else:
            amount = min(have, rng.randint(1, 10**18))
            events.append(LotEvent(event_id, moment, Action.WITHDRAW, asset, amount, wallet))
            held[(wallet, asset)] = have - amount
    return events


def _bare_loop_rate(events: list[LotEvent]) -> float:
    """How fast this machine runs a trivial Python loop over the events (a yardstick)."""
    started = time.process_time()
    held: dict[tuple[str, str], int] = {}
    for event in events:
        key = (event.wallet, event.asset)
        held[key] = held.get(key, 0) + event.amount_raw
    return len(events) / (time.process_time() - started)


@pytest.fixture(scope="module")
def events() -> list[LotEvent]:
    before_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, started_cpu = time.perf_counter(), time.process_time()
    generated = generate_events(EVENTS)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    after_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"\nengine input: {len(generated):,} events generated in {elapsed:.2f} s wall "
        f"({cpu:.2f} s CPU), not part of any replay figure; process peak RSS "
        f"{after_mb:,.0f} MB (+{after_mb - before_mb:,.0f} MB for the events)"
    )
    return generated


@pytest.mark.parametrize(
    ("label", "policy"),
    [
        ("fifo", Policy(Jurisdiction.US, LotMethod.FIFO)),
        ("hifo", Policy(Jurisdiction.US, LotMethod.HIFO)),
        ("uk", Policy(Jurisdiction.UK)),
    ],
)
def test_engine_throughput(events: list[LotEvent], label: str, policy: Policy) -> None:
    gc.collect()
    baseline_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    started, started_cpu = time.perf_counter(), time.process_time()
    result = replay(events, policy)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    disposals = len(result.disposals)
    del result
    gc.collect()
    tracemalloc.start()
    result = replay(events[: len(events) // 10], policy)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(
        f"\nengine[{label}]: replay of {len(events):,} events in {elapsed:.2f} s wall = "
        f"{len(events) / elapsed:,.0f} events/s ({len(events) / cpu:,.0f} events/s of CPU "
        f"time); {disposals:,} disposals; process peak RSS {rss_mb:,.0f} MB "
        f"(+{rss_mb - baseline_mb:,.0f} MB over the peak before this replay, which already "
        f"held the generated events); replay peak for {len(events) // 10:,} events "
        f"{peak / 2**20:,.0f} MB (tracemalloc); machine: a bare loop over the events runs "
        f"at {_bare_loop_rate(events):,.0f} events/s"
    )
    assert result.disposals
