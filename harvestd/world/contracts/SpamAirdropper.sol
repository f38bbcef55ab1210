// SPDX-License-Identifier: MIT
// A hostile contract for tests: it "airdrops" by emitting ERC-20 `Transfer` logs from
// itself to any addresses without holding or moving anything (the spam that fills real
// wallets' histories), and can emit a `Transfer`-topic log whose data is not a uint256.
// It has no balanceOf: calling it reverts, as with much real spam.
pragma solidity ^0.8.20;

contract SpamAirdropper {
    event Transfer(address indexed from, address indexed to, uint256 value);

    bytes32 private constant TRANSFER_TOPIC =
        0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef;

    /// Claim that `from` sent `amount` to every recipient.
    function airdrop(address from, address[] calldata recipients, uint256 amount) external {
        for (uint256 i = 0; i < recipients.length; i++) {
            emit Transfer(from, recipients[i], amount);
        }
    }

    /// A Transfer-topic log to `to` whose data is 5 bytes, not a 32-byte amount.
    function emitMalformed(address from, address to) external {
        bytes32 topic = TRANSFER_TOPIC;
        bytes32 fromTopic = bytes32(uint256(uint160(from)));
        bytes32 toTopic = bytes32(uint256(uint160(to)));
        assembly {
            mstore(0x00, 0x68656c6c6f000000000000000000000000000000000000000000000000000000)
            log3(0x00, 5, topic, fromTopic, toTopic)
        }
    }
}
