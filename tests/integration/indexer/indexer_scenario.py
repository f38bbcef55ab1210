"""A scripted history for the owned wallets W1, W2 on the test world, and its ground truth."""

from __future__ import annotations

from dataclasses import dataclass, field

from indexer_testchain import World

ETH = 10**18
DEADLINE = 2**40


@dataclass
class Scenario:
    """The block range the history occupies and the tx hashes of each step."""

    from_block: int
    to_block: int
    steps: dict[str, str] = field(default_factory=dict)


def run_scenario(world: World) -> Scenario:
    """Make one of each kind of movement; return the tx hash per step name."""
    w3 = world.w3
    w1, w2 = world.wallets
    out = world.outsider
    r = world.router.functions
    start = w3.eth.block_number + 1
    s: dict[str, str] = {}
    s["receive_eth"] = world.send_eth(out, w1, 5 * ETH)
    s["receive_tka"] = world.send(world.tka.functions.transfer(w1, 1000 * ETH), out)
    s["own_transfer"] = world.send(world.tka.functions.transfer(w2, 100 * ETH), w1)
    s["wrap"] = world.send(world.weth.functions.deposit(), w1, value=2 * ETH)
    s["unwrap"] = world.send(world.weth.functions.withdraw(ETH), w1)
    a, b, weth = world.tka.address, world.tkb.address, world.weth.address
    s["swap_a_b"] = world.send(r.swapExactTokensForTokens(10 * ETH, 0, [a, b], w1, DEADLINE), w1)
    s["swap_eth_a"] = world.send(r.swapExactETHForTokens(0, [weth, a], w1, DEADLINE), w1, value=ETH)
    s["swap_b_eth"] = world.send(r.swapExactTokensForETH(10 * ETH, 0, [b, weth], w1, DEADLINE), w1)
    s["multihop_a_b"] = world.send(
        r.swapExactTokensForTokens(7 * ETH, 0, [a, weth, b], w2, DEADLINE), w2
    )
    s["send_tkb"] = world.send(world.tkb.functions.transfer(out, 50 * ETH), w1)
    s["send_eth"] = world.send_eth(w2, out, ETH)
    s["cross_wallet_swap"] = world.send(
        r.swapExactTokensForTokens(3 * ETH, 0, [a, b], w2, DEADLINE), w1
    )
    s["refund_swap"] = world.send(
        r.swapETHForExactTokens(10 * ETH, [weth, a], w1, DEADLINE), w1, value=ETH
    )
    reverted = r.swapExactTokensForTokens(ETH, 2**200, [a, b], w1, DEADLINE).transact(
        {"from": w1, "gas": 300_000}
    )
    receipt = w3.eth.wait_for_transaction_receipt(reverted)
    assert receipt["status"] == 0
    s["reverted"] = "0x" + bytes(reverted).hex()
    s["zero_value_call"] = world.send(world.tka.functions.approve(out, 1), w2)
    return Scenario(start, w3.eth.block_number, s)
