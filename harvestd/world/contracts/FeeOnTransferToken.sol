// SPDX-License-Identifier: MIT
// A hostile ERC-20 for tests: every transfer keeps a fee (in basis points) and sends it to
// a collector (or burns it when the collector is the zero address). Both movements are
// logged honestly, so the recipient's `Transfer` shows what it really received.
pragma solidity ^0.8.20;

import "@openzeppelin/contracts/token/ERC20/ERC20.sol";

contract FeeOnTransferToken is ERC20 {
    uint256 public immutable feeBps;
    address public immutable feeCollector;
    address public immutable owner;

    constructor(string memory name_, string memory symbol_, uint256 feeBps_, address collector_)
        ERC20(name_, symbol_)
    {
        require(feeBps_ <= 10000, "FeeOnTransferToken: fee above 100%");
        feeBps = feeBps_;
        feeCollector = collector_;
        owner = msg.sender;
    }

    function mint(address to, uint256 amount) external {
        require(msg.sender == owner, "FeeOnTransferToken: caller is not the owner");
        _mint(to, amount);
    }

    function _transfer(address from, address to, uint256 amount) internal override {
        uint256 fee = (amount * feeBps) / 10000;
        super._transfer(from, to, amount - fee);
        if (fee > 0) {
            if (feeCollector == address(0)) {
                _burn(from, fee);
            } else {
                super._transfer(from, feeCollector, fee);
            }
        }
    }
}
