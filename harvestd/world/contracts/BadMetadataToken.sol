// SPDX-License-Identifier: MIT
// A hostile ERC-20 for tests: transfers work, but decimals(), symbol() and name() revert,
// so nothing can learn its units or its name from the chain.
pragma solidity ^0.8.20;

import "@openzeppelin/contracts/token/ERC20/ERC20.sol";

contract BadMetadataToken is ERC20 {
    address public immutable owner;

    constructor() ERC20("", "") {
        owner = msg.sender;
    }

    function mint(address to, uint256 amount) external {
        require(msg.sender == owner, "BadMetadataToken: caller is not the owner");
        _mint(to, amount);
    }

    function decimals() public pure override returns (uint8) {
        revert("BadMetadataToken: no decimals");
    }

    function symbol() public pure override returns (string memory) {
        revert("BadMetadataToken: no symbol");
    }

    function name() public pure override returns (string memory) {
        revert("BadMetadataToken: no name");
    }
}
