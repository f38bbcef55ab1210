"""`harvestd backfill [--config FILE] [--to-block N]`: index every chain up to its
confirmed head (or block N) into the store, then exit.

Also the settings → indexer wiring shared by `backfill`, `verify`, `lots` and the daemon:

- `plan_for(settings, chain)`: the `indexer.pipeline.ChainPlan` of one configured chain
  (wallets, tokens' decimals, pricing pools: the first source per token is primary; the
  numeraire token is the USD stable; `dex.weth` — or the token named W<native> — is
  the wrapped native coin; the owner's jurisdiction/method/wash sale as the engine's
  `Policy`).
- `backfill_chains(settings, store, to_block, progress)`: every chain concurrently
  (one `TaskGroup`), each with its own checkpoint; returns each chain's last outcome.
- `index_chain_job(settings, chain, store)`: the daemon's `index:<chain_id>` job
  (`harvestd.wiring.IndexJobFactory`): one catch-up run per tick.

Exit status: 0 when every chain reached its target, 1 on an indexer or store error.
Progress: a rich progress bar per chain when stdout is a TTY; `blocks_indexed` log
events either way.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated, Final

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from harvestd.commands.config import load_settings_or_exit, start_logging
from harvestd.daemon import JobContext, JobFunction
from harvestd.logs import get_logger
from harvestd.settings import (
    ChainlinkPricing,
    ChainSettings,
    Settings,
    UniswapV2Pricing,
    UniswapV3Pricing,
)
from indexer.classify import PoolProtocol
from indexer.pipeline import ChainIndexer, ChainPlan, PricingPool, StepOutcome
from indexer.rpc import RpcClient
from ledger.engine import Jurisdiction, LotMethod, Policy, TaxRates
from ledger.errors import HarvestdError
from ledger.ids import Address, ChainId
from ledger.store import Store, WalletRecord, open_store

__all__ = [
    "EXIT_FAILED",
    "backfill_chains",
    "index_chain_job",
    "plan_for",
    "policy_for",
    "register",
]

log = get_logger(__name__)

EXIT_FAILED: Final = 1


POOLING_JURISDICTIONS: Final = frozenset({Jurisdiction.UK, Jurisdiction.CA})


def policy_for(settings: Settings) -> Policy:
    """The lot engine's policy for the owner's settings.

    Raises:
        Nothing.
    """
    owner = settings.owner
    rates = owner.tax_rates
    short = rates.short_term if rates.short_term is not None else rates.flat
    long = rates.long_term if rates.long_term is not None else rates.flat
    jurisdiction = Jurisdiction(owner.jurisdiction.value)
    return Policy(
        jurisdiction=jurisdiction,
        # uk and ca pool each asset and match by their own rules: the engine takes no
        # method there, and the settings document `method` as unused for them.
        method=None if jurisdiction in POOLING_JURISDICTIONS else LotMethod(owner.method.value),
        wash_sale=owner.wash_sale,
        long_term_after_days=owner.long_term_after_days,
        rates=None if short is None or long is None else TaxRates(short, long),
    )


def plan_for(settings: Settings, chain: ChainSettings) -> ChainPlan:
    """The indexing plan of one configured chain.

    Raises:
        Nothing.
    """
    pools: dict[Address, PricingPool] = {}
    for token in chain.tokens:
        first = True
        for source in token.pricing:
            if isinstance(source, ChainlinkPricing):
                log.warning(
                    "pricing_source_unsupported", chain_id=chain.chain_id, token=token.symbol
                )
                continue
            protocol = (
                PoolProtocol.UNISWAP_V2
                if isinstance(source, UniswapV2Pricing)
                else PoolProtocol.UNISWAP_V3
            )
            assert isinstance(source, UniswapV2Pricing | UniswapV3Pricing)
            known = pools.get(source.pool)
            pools[source.pool] = PricingPool(
                source.pool, protocol, first or (known is not None and known.primary)
            )
            first = False
    numeraire = chain.find_token(chain.numeraire)
    wrapped = chain.dex.weth if chain.dex is not None else None
    if wrapped is None:
        named = chain.find_token(f"W{chain.native_symbol}")
        wrapped = named.address if named is not None else None
    return ChainPlan(
        chain_id=ChainId(chain.chain_id),
        name=chain.name,
        native_symbol=chain.native_symbol,
        wallets=tuple(WalletRecord(w.address, w.label) for w in chain.wallets),
        start_block=chain.start_block,
        confirmations=chain.confirmations,
        max_block_range=chain.max_block_range,
        wrapped_native=wrapped,
        usd_stables=frozenset({numeraire.address}) if numeraire is not None else frozenset(),
        decimals={t.address: t.decimals for t in chain.tokens if t.decimals is not None},
        pricing_pools=tuple(pools.values()),
        policy=policy_for(settings),
        max_concurrency=chain.max_concurrency,
    )


async def _backfill_chain(
    settings: Settings,
    chain: ChainSettings,
    store: Store,
    to_block: int | None,
    progress: Progress | None,
) -> StepOutcome:
    plan = plan_for(settings, chain)
    async with RpcClient(
        chain.rpc_url.get_secret_value(), max_concurrency=chain.max_concurrency
    ) as rpc:
        indexer = ChainIndexer(plan, store, rpc)
        task = None
        if progress is not None:
            task = progress.add_task(chain.name, total=None)

        def show(outcome: StepOutcome) -> None:
            if progress is not None and task is not None:
                target = (
                    outcome.head_block if to_block is None else min(to_block, outcome.head_block)
                )
                progress.update(
                    task,
                    total=max(target - plan.start_block + 1, 1),
                    completed=max(outcome.to_block - plan.start_block + 1, 0),
                )

        return await indexer.run(to_block, on_step=show)


async def backfill_chains(
    settings: Settings,
    store: Store,
    to_block: int | None = None,
    *,
    progress: Progress | None = None,
) -> dict[ChainId, StepOutcome]:
    """Index every configured chain up to its confirmed head (or `to_block`), concurrently.

    Raises:
        ExceptionGroup: of IndexerError / StoreError from the chains that failed.
    """
    results: dict[ChainId, StepOutcome] = {}

    async def one(chain: ChainSettings) -> None:
        results[ChainId(chain.chain_id)] = await _backfill_chain(
            settings, chain, store, to_block, progress
        )

    async with asyncio.TaskGroup() as group:
        for chain in settings.chains:
            group.create_task(one(chain))
    return results


def index_chain_job(settings: Settings, chain: ChainSettings, store: Store) -> JobFunction:
    """The daemon's indexing job of one chain: catch up to the confirmed head per tick.

    Raises:
        Nothing (the job raises what `ChainIndexer.run` raises).
    """
    plan = plan_for(settings, chain)
    rpc_url = chain.rpc_url.get_secret_value()

    prepared: ChainIndexer | None = None

    async def run(context: JobContext) -> None:
        nonlocal prepared
        async with RpcClient(rpc_url, max_concurrency=chain.max_concurrency) as rpc:
            if prepared is None:
                # The first tick re-derives whatever a previous process left; later ticks
                # only after booking something (a full replay of the chain's events).
                indexer = ChainIndexer(plan, store, rpc, needs_derive=True)
            else:
                # Trace method, pools, decimals and the learned block span carry over.
                indexer = prepared.on_client(rpc)
            while not context.is_stopping():
                outcome = await indexer.step()
                if outcome.caught_up:
                    break
            await indexer.derive()
            prepared = indexer

    return run


def backfill(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="The YAML settings file (overrides the root option)."),
    ] = None,
    to_block: Annotated[
        int | None, typer.Option("--to-block", min=0, help="Stop at this block (default: head).")
    ] = None,
) -> None:
    """Index every configured chain up to its confirmed head (or --to-block), then exit."""
    settings = load_settings_or_exit(ctx, config)
    start_logging(ctx, settings)
    store = open_store(settings.database.url.get_secret_value())
    try:
        store.upgrade()
        if sys.stdout.isatty():
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
            ) as progress:
                outcomes = asyncio.run(
                    backfill_chains(settings, store, to_block, progress=progress)
                )
        else:
            outcomes = asyncio.run(backfill_chains(settings, store, to_block))
    except* HarvestdError as group:
        for exc in group.exceptions:
            typer.echo(f"harvestd backfill: {exc}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        store.close()
    for chain_id, outcome in sorted(outcomes.items()):
        typer.echo(f"chain {chain_id}: indexed up to block {outcome.to_block}")


def register(app: typer.Typer) -> None:
    """Add `harvestd backfill` to the root app.

    Raises:
        Nothing.
    """
    app.command("backfill")(backfill)
