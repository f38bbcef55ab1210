// SPDX-License-Identifier: MIT
// A hostile ERC-20 for tests: decimals() answers a uint256 chosen at deployment (255, or
// far above what a uint8 holds), symbol() answers a bytes32 (as MKR does) and name() a
// string of bytes that are not UTF-8. Balances and transfers follow ERC-20, and an
// owner can mint up to 2**256 - 1 in total, so a transfer of that much is possible.
pragma solidity ^0.8.20;

contract GarbageMetadataToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    uint256 public immutable decimals;
    bytes32 public immutable symbol;
    address public immutable owner;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    constructor(uint256 decimals_, bytes32 symbol_) {
        decimals = decimals_;
        symbol = symbol_;
        owner = msg.sender;
    }

    function name() external pure returns (string memory) {
        bytes memory raw = hex"fffec328a0a1e228a100f0288cbc";
        return string(raw);
    }

    function mint(address to, uint256 amount) external {
        require(msg.sender == owner, "GarbageMetadataToken: caller is not the owner");
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external returns (bool) {
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
        return true;
    }

    function transfer(address to, uint256 amount) external returns (bool) {
        _move(msg.sender, to, amount);
        return true;
    }

    function transferFrom(address from, address to, uint256 amount) external returns (bool) {
        uint256 allowed = allowance[from][msg.sender];
        if (allowed != type(uint256).max) {
            require(allowed >= amount, "GarbageMetadataToken: allowance");
            allowance[from][msg.sender] = allowed - amount;
        }
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        require(balanceOf[from] >= amount, "GarbageMetadataToken: balance");
        balanceOf[from] -= amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
