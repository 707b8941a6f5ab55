"""A net-mode position with exact average-cost accounting.

Owns: signed size in lots, the cost basis and realized PnL as exact ``Fraction``s of tick×lot
units (integers until a partial close), fees and funding (floats, quote currency).
Average cost as OKX computes it: adding to a position adds ``ticks × lots`` to the basis; reducing
it realizes ``(exit − average) × closed`` and removes the closed share of the basis at the average;
a fill through zero closes the whole position and opens the rest at the fill price. So a round trip
to flat realizes exactly Σ sells − Σ buys, and a position that should be flat is exactly 0.
Never: rounds, or converts to quote currency except when asked (``spec.pnl_value``).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from athena.model.enums import Side


@dataclass(slots=True)
class Position:
    inst_id: str
    lots: int = 0  # signed: > 0 long, < 0 short
    # Signed basis Σ ticks×lots of the open part (negative when short), and realized PnL, both in
    # tick×lot units: plain ints while they are whole (the common case, and fast), exact
    # Fractions once a partial close leaves a remainder.
    cost: int | Fraction = 0
    realized: int | Fraction = 0
    fees: float = 0.0  # OKX sign: negative = paid
    funding: float = 0.0  # quote currency, received > 0
    last_trade_id: int | None = None

    @property
    def is_flat(self) -> bool:
        return self.lots == 0

    @property
    def avg_ticks(self) -> Fraction | None:
        """Average entry in ticks (exact), None when flat."""
        if self.lots == 0:
            return None
        return Fraction(self.cost) / self.lots

    def apply_fill(self, side: Side, ticks: int, lots: int, fee: float = 0.0) -> int | Fraction:
        """Apply one fill; returns the PnL it realized (tick×lot units)."""
        if lots <= 0:
            raise ValueError(f"fill size must be positive, got {lots}")
        signed = lots if side is Side.BUY else -lots
        self.fees += fee
        pos = self.lots
        if pos == 0 or (pos > 0) == (signed > 0):
            self.lots = pos + signed
            self.cost += ticks * signed
            return 0
        closing = min(lots, abs(pos))
        # The closed share of the basis at the average, exact: cost × closing ÷ |pos|.
        direction = 1 if pos > 0 else -1
        share = self.cost * closing
        if isinstance(share, int) and share % pos == 0:
            basis_closed = share // pos * direction
        else:
            basis_closed = Fraction(share) / pos * direction
        # Long closed by a sell: exit − avg per lot; short closed by a buy: avg − exit.
        pnl = ticks * closing * direction - basis_closed
        self.realized += pnl
        self.cost -= basis_closed
        self.lots = pos + signed
        if self.lots == 0:
            self.cost = 0
        elif (self.lots > 0) != (pos > 0):  # flipped through zero: the rest opens at this price
            self.cost = ticks * self.lots
        elif type(self.cost) is Fraction and self.cost.denominator == 1:
            self.cost = self.cost.numerator  # whole again: back to the fast int
        if type(self.realized) is Fraction and self.realized.denominator == 1:
            self.realized = self.realized.numerator
        return pnl

    def unrealized(self, mark_ticks: int) -> int | Fraction:
        """Open PnL at ``mark_ticks`` in tick×lot units."""
        if self.lots == 0:
            return 0
        return mark_ticks * self.lots - self.cost

    def reset_to(self, lots: int, avg_ticks: Fraction | int | None) -> None:
        """Adopt another truth (the exchange's) for size and average; realized PnL is kept."""
        self.lots = lots
        if lots == 0 or avg_ticks is None:
            self.cost = 0
        else:
            c = Fraction(avg_ticks) * lots
            self.cost = c.numerator if c.denominator == 1 else c
