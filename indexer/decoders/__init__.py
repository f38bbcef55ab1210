"""Event decoders, one module per protocol: ERC-20, WETH, Uniswap V2, Uniswap V3.

Each decoder takes a `RawLog` and returns a frozen value or raises `DecodeError` naming the
log; callers collect the error for that one log and go on.
"""
