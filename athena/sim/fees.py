"""Trading fees of the simulated exchange, with OKX's sign convention.

Owns: ``FeeModel`` — maker and taker rates applied to a fill's notional (linear swap: contracts ×
ctVal × fill price). OKX's sign: a fee is negative when charged and positive when it is a rebate,
so a negative maker rate (a rebate tier) yields a positive fee.
Never: rounds (balances are float, rounded only for display) or knows about positions.
"""

from __future__ import annotations

from athena.model.enums import Liquidity

__all__ = ["OKX_REGULAR_SWAP_MAKER", "OKX_REGULAR_SWAP_TAKER", "FeeModel"]

# OKX regular-user tier (Lv1) for USDT-margined swaps: maker 0.02 %, taker 0.05 %.
OKX_REGULAR_SWAP_MAKER: float = 0.0002
OKX_REGULAR_SWAP_TAKER: float = 0.0005


class FeeModel:
    """fee = −notional × rate (rate = maker or taker); negative = paid, positive = rebate."""

    __slots__ = ("maker", "taker")

    def __init__(self, maker: float = OKX_REGULAR_SWAP_MAKER, taker: float = OKX_REGULAR_SWAP_TAKER) -> None:
        self.maker = maker
        self.taker = taker

    def rate(self, liquidity: Liquidity) -> float:
        return self.maker if liquidity is Liquidity.MAKER else self.taker

    def fee(self, notional: float, liquidity: Liquidity) -> float:
        """OKX-signed fee of one fill of ``notional`` quote currency."""
        return -(notional * self.rate(liquidity))

    def describe(self) -> str:
        return (
            f"fees maker {self.maker * 100:g} % / taker {self.taker * 100:g} % of notional "
            "(contracts × ctVal × fill price); OKX sign: negative = paid"
        )
