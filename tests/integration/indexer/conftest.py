"""A bare Anvil for the indexer's integration tests, with WETH9, two OZ tokens and Uniswap V2.

Session-scoped: one node on a free 127.0.0.1 port, stopped at the end; each test runs
between `evm_snapshot` and `evm_revert`, so tests do not see each other's transactions.
"""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
from indexer_testchain import ANVIL, OZ, V2_FACTORY, V2_ROUTER, WETH9, World, _deploy, free_port
from web3 import Web3


@pytest.fixture(scope="session")
def bare_anvil_url() -> Iterator[str]:
    """A fresh Anvil on a free local port, stopped at the end of the session."""
    port = free_port()
    proc = subprocess.Popen(
        [str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--silent", "--chain-id", "31337"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError("anvil did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def bare_world_session(bare_anvil_url: str) -> World:
    """Deploy WETH9, two tokens and Uniswap V2 with three funded pairs."""
    w3 = Web3(Web3.HTTPProvider(bare_anvil_url))
    accounts: list[str] = list(w3.eth.accounts)
    deployer, w1, w2, outsider = accounts[0], accounts[1], accounts[2], accounts[3]
    weth = _deploy(w3, WETH9, deployer)
    tka = _deploy(w3, OZ, deployer, "Token A", "TKA")
    tkb = _deploy(w3, OZ, deployer, "Token B", "TKB")
    factory = _deploy(w3, V2_FACTORY, deployer, deployer)
    router = _deploy(w3, V2_ROUTER, deployer, factory.address, weth.address)
    big = 10**30
    for token in (tka, tkb):
        for holder in (deployer, w1, w2, outsider):
            token.functions.mint(holder, big).transact({"from": deployer})
        for holder in (deployer, w1, w2):
            token.functions.approve(router.address, 2**256 - 1).transact({"from": holder})
    deadline = 2**40
    router.functions.addLiquidity(
        tka.address, tkb.address, 10**24, 2 * 10**24, 0, 0, deployer, deadline
    ).transact({"from": deployer})
    router.functions.addLiquidityETH(tka.address, 10**24, 0, 0, deployer, deadline).transact(
        {"from": deployer, "value": 500 * 10**18}
    )
    router.functions.addLiquidityETH(tkb.address, 10**24, 0, 0, deployer, deadline).transact(
        {"from": deployer, "value": 250 * 10**18}
    )
    world = World(
        url=bare_anvil_url,
        w3=w3,
        deployer=deployer,
        wallets=(w1, w2),
        outsider=outsider,
        weth=weth,
        tka=tka,
        tkb=tkb,
        factory=factory,
        router=router,
        pair_ab=w3.eth.contract(),  # placeholder, replaced below
        pair_aw=w3.eth.contract(),
        pair_bw=w3.eth.contract(),
    )
    world.pair_ab = world.pair_contract(factory.functions.getPair(tka.address, tkb.address).call())
    world.pair_aw = world.pair_contract(factory.functions.getPair(tka.address, weth.address).call())
    world.pair_bw = world.pair_contract(factory.functions.getPair(tkb.address, weth.address).call())
    return world


@pytest.fixture
def bare_world(bare_world_session: World) -> Iterator[World]:
    """The session's world, reverted to its deployed state after the test."""
    snapshot = bare_world_session.w3.provider.make_request("evm_snapshot", [])["result"]
    try:
        yield bare_world_session
    finally:
        bare_world_session.w3.provider.make_request("evm_revert", [snapshot])
