// SPDX-License-Identifier: MIT
// A plain ERC-20 with chosen decimals, minted by its owner: the world's USDC-like and
// WBTC-like tokens. Hostile variants (fee-on-transfer, rebasing, ...) live beside it.
pragma solidity ^0.8.20;

import "@openzeppelin/contracts/token/ERC20/ERC20.sol";

contract TestToken is ERC20 {
    uint8 private immutable _tokenDecimals;
    address public immutable owner;

    constructor(string memory name_, string memory symbol_, uint8 decimals_) ERC20(name_, symbol_) {
        _tokenDecimals = decimals_;
        owner = msg.sender;
    }

    function decimals() public view override returns (uint8) {
        return _tokenDecimals;
    }

    function mint(address to, uint256 amount) external {
        require(msg.sender == owner, "TestToken: caller is not the owner");
        _mint(to, amount);
    }
}
