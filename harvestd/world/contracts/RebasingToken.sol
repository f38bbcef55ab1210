// SPDX-License-Identifier: MIT
// A hostile ERC-20 for tests: balances are shares times a global index, and `rebase`
// changes the index, so every holder's balance moves without a single `Transfer` log
// (like stETH or AMPL). Only a `Rebased` event says that it happened.
pragma solidity ^0.8.20;

contract RebasingToken {
    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);
    event Rebased(uint256 oldIndex, uint256 newIndex);

    uint256 private constant ONE = 1e18;
    string public name;
    string public symbol;
    uint8 public constant decimals = 18;
    address public immutable owner;
    uint256 public index = ONE;
    uint256 public totalShares;
    mapping(address => uint256) public sharesOf;
    mapping(address => mapping(address => uint256)) public allowance;

    constructor(string memory name_, string memory symbol_) {
        name = name_;
        symbol = symbol_;
        owner = msg.sender;
    }

    function balanceOf(address account) public view returns (uint256) {
        return (sharesOf[account] * index) / ONE;
    }

    function totalSupply() external view returns (uint256) {
        return (totalShares * index) / ONE;
    }

    function mint(address to, uint256 amount) external {
        require(msg.sender == owner, "RebasingToken: caller is not the owner");
        uint256 shares = (amount * ONE) / index;
        sharesOf[to] += shares;
        totalShares += shares;
        emit Transfer(address(0), to, amount);
    }

    /// Set the index (1e18 = 1.0): every balance scales by newIndex / oldIndex, silently.
    function rebase(uint256 newIndex) external {
        require(msg.sender == owner, "RebasingToken: caller is not the owner");
        require(newIndex > 0, "RebasingToken: zero index");
        emit Rebased(index, newIndex);
        index = newIndex;
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
            require(allowed >= amount, "RebasingToken: allowance");
            allowance[from][msg.sender] = allowed - amount;
        }
        _move(from, to, amount);
        return true;
    }

    function _move(address from, address to, uint256 amount) private {
        uint256 shares = (amount * ONE) / index;
        require(sharesOf[from] >= shares, "RebasingToken: balance");
        sharesOf[from] -= shares;
        sharesOf[to] += shares;
        emit Transfer(from, to, amount);
    }
}
