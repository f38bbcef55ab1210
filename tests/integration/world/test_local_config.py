"""config/local.yaml (the demo's config) names exactly the deterministic world's addresses:
every token, pricing pool and router the demo uses is the one the world deploys."""

from __future__ import annotations

from pathlib import Path

from harvestd.settings import UniswapV2Pricing, UniswapV3Pricing, load_settings
from harvestd.world import World
from harvestd.world.manifest import Protocol

LOCAL_YAML = Path(__file__).resolve().parents[3] / "config" / "local.yaml"


def test_local_config_matches_the_world_manifest(world: World) -> None:
    settings = load_settings(LOCAL_YAML, environ={})
    manifest = world.manifest
    (chain,) = settings.chains
    assert chain.chain_id == manifest.chain_id
    assert {w.label: w.address for w in chain.wallets} == {
        "main": manifest.account("main").address,
        "cold": manifest.account("cold").address,
    }
    for token in chain.tokens:
        entry = manifest.token(token.symbol)
        assert token.address == entry.address, token.symbol
        assert token.decimals == entry.decimals, token.symbol
        for source in token.pricing:
            if isinstance(source, UniswapV3Pricing):
                pool = manifest.pool(Protocol.UNISWAP_V3, token.symbol, source.quote, 500)
            else:
                assert isinstance(source, UniswapV2Pricing)
                pool = manifest.pool(Protocol.UNISWAP_V2, token.symbol, source.quote)
            assert source.pool == pool.address, (token.symbol, source.kind)
    dex = chain.dex
    assert dex is not None
    contracts = manifest.contracts
    assert dex.weth == contracts.weth
    assert dex.uniswap_v2_router == contracts.v2_router
    assert dex.uniswap_v2_factory == contracts.v2_factory
    assert dex.uniswap_v3_factory == contracts.v3_factory
    assert dex.swap_router == contracts.swap_router
    assert dex.quoter_v2 == contracts.quoter_v2
