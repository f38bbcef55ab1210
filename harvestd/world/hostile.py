"""Hostile and odd tokens in a running world, and the movements they make to the owner.

`deploy_hostile(chain, manifest)` deploys, from the `outsider` account (so the world's own
deterministic addresses never move):

- `FeeOnTransferToken` (1 % of every transfer goes to a collector; both moves logged),
- `RebasingToken` (balances are shares x index; `rebase` moves them with no `Transfer`),
- `BadMetadataToken` (`decimals()`, `symbol()`, `name()` revert),
- `GarbageMetadataToken` twice (`decimals()` = 255, and one far beyond a uint8; a bytes32
  symbol; a name that is not UTF-8),
- `SpamAirdropper` (fake `Transfer` logs to the owner, a malformed Transfer log, no
  `balanceOf`).

`play_hostile_history(chain, manifest, tokens)` then makes each of them touch the owner's
wallets (`main`, `cold`) and returns a `HostileHistory`: per step, the transaction and
what the chain says really moved (balances read before and after), so tests compare the
ledger against the chain, not against what the logs claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from harvestd.world.artifacts import load_artifact
from harvestd.world.chain import RpcRefused, WorldChain
from harvestd.world.deploy import MAX_UINT256, call_data
from harvestd.world.manifest import Manifest
from ledger.ids import Address, BlockNumber, TxHash

FEE_BPS: Final = 100
"""The fee-on-transfer token keeps 1 % of every transfer."""
REBASE_INDEX: Final = 11 * 10**17
"""The rebasing token's index after the rebase (1.1: every balance grows by 10 %)."""
HUGE_DECIMALS: Final = 2**200
"""What the second garbage token answers to `decimals()`."""
GARBAGE_SYMBOL: Final = bytes.fromhex("ff00c328") + b"\x00" * 28
"""The garbage tokens' bytes32 symbol: not UTF-8, NUL-padded."""
SPAM_AMOUNT_RAW: Final = 10**24
FAKE_SENDER: Final = Address("0xd8dA6BF26964aF9D7eEd9e03E53415D37aA96045")
"""The sender the spam airdrop claims (an address nobody here controls)."""
ONE: Final = 10**18


@dataclass(frozen=True, slots=True)
class HostileTokens:
    """Where the hostile contracts were deployed."""

    fee_on_transfer: Address
    fee_collector: Address
    rebasing: Address
    bad_metadata: Address
    garbage_metadata: Address
    """decimals() = 255."""
    garbage_huge_decimals: Address
    """decimals() = `HUGE_DECIMALS`."""
    spam: Address

    @property
    def all(self) -> tuple[Address, ...]:
        """Every hostile contract address."""
        return (
            self.fee_on_transfer,
            self.rebasing,
            self.bad_metadata,
            self.garbage_metadata,
            self.garbage_huge_decimals,
            self.spam,
        )


@dataclass(frozen=True, slots=True)
class Movement:
    """One transfer a step made, as the chain settled it."""

    step: str
    tx_hash: TxHash
    block_number: BlockNumber
    token: Address
    sender: Address
    recipient: Address
    amount_sent_raw: int
    """What the sender asked to transfer (and lost)."""
    amount_received_raw: int
    """The recipient's `balanceOf` change (0 where the contract has no balances)."""


@dataclass(frozen=True, slots=True)
class HostileHistory:
    """What `play_hostile_history` did, in order."""

    tokens: HostileTokens
    first_block: BlockNumber
    last_block: BlockNumber
    movements: tuple[Movement, ...]
    steps: Mapping[str, TxHash]
    """Every transaction by step name (movements, the rebase, the spam)."""
    rebase_block: BlockNumber

    def movement(self, step: str) -> Movement:
        """The movement made by `step`.

        Raises:
            KeyError: no movement has that step name.
        """
        for found in self.movements:
            if found.step == step:
                return found
        raise KeyError(step)


def deploy_hostile(chain: WorldChain, manifest: Manifest) -> HostileTokens:
    """Deploy every hostile contract from the `outsider` account.

    Raises:
        ToolingMissing, ContractCompileFailed: our contracts cannot be compiled.
        TransactionFailed: a deployment reverted.
    """
    outsider = manifest.account("outsider").address
    collector = manifest.account("trader").address
    fot = chain.deploy(
        "hostile: fee-on-transfer",
        outsider,
        load_artifact("FeeOnTransferToken"),
        "Fee Token",
        "FEE",
        FEE_BPS,
        collector,
    )
    rebasing = chain.deploy(
        "hostile: rebasing", outsider, load_artifact("RebasingToken"), "Rebase Token", "REB"
    )
    bad = chain.deploy("hostile: bad metadata", outsider, load_artifact("BadMetadataToken"))
    garbage_artifact = load_artifact("GarbageMetadataToken")
    garbage = chain.deploy(
        "hostile: garbage metadata", outsider, garbage_artifact, 255, GARBAGE_SYMBOL
    )
    huge = chain.deploy(
        "hostile: huge decimals", outsider, garbage_artifact, HUGE_DECIMALS, GARBAGE_SYMBOL
    )
    spam = chain.deploy("hostile: spam", outsider, load_artifact("SpamAirdropper"))
    return HostileTokens(fot, collector, rebasing, bad, garbage, huge, spam)


def balance_of(chain: WorldChain, token: Address, holder: Address) -> int:
    """`balanceOf(holder)` of an ERC-20 at the latest block (0 when the call reverts).

    Raises:
        Nothing: a refused call (a revert, no such function) reads as 0.
    """
    calldata = "0x70a08231" + holder[2:].lower().rjust(64, "0")
    try:
        (result,) = chain.call_many([(token, calldata)])
    except RpcRefused:  # a contract without balanceOf reverts: it holds no balances
        return 0
    return int.from_bytes(result[:32], "big") if result else 0


def play_hostile_history(
    chain: WorldChain, manifest: Manifest, tokens: HostileTokens
) -> HostileHistory:
    """Make every hostile token touch the owner's wallets; return what really moved.

    Steps (main, cold: the owner's wallets; outsider: a stranger who deployed them):

    - `fee_receive`: outsider sends main 1000 FEE (main receives 990);
    - `fee_send`: main sends outsider 100 FEE (outsider receives 99);
    - `fee_own_transfer`: main sends cold 50 FEE (cold receives 49.5; 0.5 to the collector);
    - `rebase_mint`: main is minted 500 REB, then `rebase` (no log to main) to 1.1;
    - `bad_receive`: main is minted 123456 raw units of the token without metadata;
    - `max_receive`: outsider sends main 2**256 - 1 of the garbage token;
    - `zero_receive`: outsider sends main 0 of the garbage token;
    - `zero_send`: main sends cold 0 of the garbage token;
    - `max_own_transfer`: main sends cold 2**256 - 1 of the garbage token;
    - `huge_receive`: main is minted 7 raw units of the huge-decimals token;
    - `spam_airdrop`: fake Transfer logs from `FAKE_SENDER` to main and cold;
    - `spam_malformed`: a Transfer-topic log to main whose data is 5 bytes.

    Raises:
        TransactionFailed: a step reverted.
    """
    main = manifest.account("main").address
    cold = manifest.account("cold").address
    outsider = manifest.account("outsider").address
    fee = chain.contract(load_artifact("FeeOnTransferToken"), tokens.fee_on_transfer)
    reb = chain.contract(load_artifact("RebasingToken"), tokens.rebasing)
    bad = chain.contract(load_artifact("BadMetadataToken"), tokens.bad_metadata)
    garbage_artifact = load_artifact("GarbageMetadataToken")
    garbage = chain.contract(garbage_artifact, tokens.garbage_metadata)
    huge = chain.contract(garbage_artifact, tokens.garbage_huge_decimals)
    spam = chain.contract(load_artifact("SpamAirdropper"), tokens.spam)

    movements: list[Movement] = []
    steps: dict[str, TxHash] = {}
    first_block = BlockNumber(int(chain.w3.eth.block_number) + 1)

    def run(step: str, sender: Address, to: Address, calldata: str) -> tuple[TxHash, int]:
        receipt = chain.transact(f"hostile: {step}", sender, to, calldata)
        tx_hash = TxHash(receipt["transactionHash"].to_0x_hex())
        steps[step] = tx_hash
        return tx_hash, int(receipt["blockNumber"])

    def move(step: str, token: Address, sender: Address, recipient: Address, amount: int) -> None:
        contract = chain.contract(
            garbage_artifact if token == tokens.garbage_metadata else load_artifact("TestToken"),
            token,
        )
        before = balance_of(chain, token, recipient)
        tx_hash, block = run(
            step, sender, token, call_data(contract, "transfer", recipient, amount)
        )
        received = balance_of(chain, token, recipient) - before
        movements.append(
            Movement(step, tx_hash, BlockNumber(block), token, sender, recipient, amount, received)
        )

    def mint(step: str, contract_token: Address, recipient: Address, amount: int) -> None:
        contract = {
            tokens.fee_on_transfer: fee,
            tokens.rebasing: reb,
            tokens.bad_metadata: bad,
            tokens.garbage_metadata: garbage,
            tokens.garbage_huge_decimals: huge,
        }[contract_token]
        before = balance_of(chain, contract_token, recipient)
        tx_hash, block = run(
            step, outsider, contract_token, call_data(contract, "mint", recipient, amount)
        )
        received = balance_of(chain, contract_token, recipient) - before
        movements.append(
            Movement(
                step,
                tx_hash,
                BlockNumber(block),
                contract_token,
                Address("0x0000000000000000000000000000000000000000"),
                recipient,
                amount,
                received,
            )
        )

    run("fee_mint", outsider, tokens.fee_on_transfer, call_data(fee, "mint", outsider, 10**6 * ONE))
    move("fee_receive", tokens.fee_on_transfer, outsider, main, 1000 * ONE)
    move("fee_send", tokens.fee_on_transfer, main, outsider, 100 * ONE)
    move("fee_own_transfer", tokens.fee_on_transfer, main, cold, 50 * ONE)
    mint("rebase_mint", tokens.rebasing, main, 500 * ONE)
    _, rebase_block = run(
        "rebase", outsider, tokens.rebasing, call_data(reb, "rebase", REBASE_INDEX)
    )
    mint("bad_receive", tokens.bad_metadata, main, 123_456)
    run(
        "max_mint",
        outsider,
        tokens.garbage_metadata,
        call_data(garbage, "mint", outsider, MAX_UINT256),
    )
    move("max_receive", tokens.garbage_metadata, outsider, main, MAX_UINT256)
    move("zero_receive", tokens.garbage_metadata, outsider, main, 0)
    move("zero_send", tokens.garbage_metadata, main, cold, 0)
    move("max_own_transfer", tokens.garbage_metadata, main, cold, MAX_UINT256)
    mint("huge_receive", tokens.garbage_huge_decimals, main, 7)
    run(
        "spam_airdrop",
        outsider,
        tokens.spam,
        call_data(spam, "airdrop", FAKE_SENDER, [main, cold], SPAM_AMOUNT_RAW),
    )
    run("spam_malformed", outsider, tokens.spam, call_data(spam, "emitMalformed", outsider, main))
    return HostileHistory(
        tokens=tokens,
        first_block=first_block,
        last_block=BlockNumber(int(chain.w3.eth.block_number)),
        movements=tuple(movements),
        steps=steps,
        rebase_block=BlockNumber(rebase_block),
    )
