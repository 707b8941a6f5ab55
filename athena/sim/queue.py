"""Queue position of resting orders: how a level shrink that no trade explains moves us forward.

Owns: the queue models of DESIGN.md §6 (hftbacktest style), each a tiny class with its formula as
its docstring and a ``describe()`` line for the backtest's assumption manifest. A model answers one
question: given ``front`` public lots ahead of our order and ``back`` behind it, and a shrink of
``d`` lots that trades do not explain, how much is still ahead of us?
What every model shares is done once by the exchange, not here: trades at our price consume the
FIFO of public volume and our orders front to back; the size ahead never exceeds the level
(clamp); growth of the level never moves us forward; a trade through our price fills us.
Never: reads the clock, touches orders or the account, or draws random numbers (expected values
only, so runs stay deterministic).
"""

from __future__ import annotations

import math
from typing import Protocol

__all__ = ["LogProbQueue", "PowerProbQueue", "QueueModel", "RiskAverseQueue"]


class QueueModel(Protocol):
    """What the exchange asks of a queue model."""

    name: str

    def after_shrink(self, front: float, back: float, shrink: float) -> float:
        """Size ahead after ``shrink`` lots left the level unexplained by trades (before the clamp)."""
        ...

    def describe(self) -> str: ...


class RiskAverseQueue:
    """Trades at our price advance us: ahead -= traded; ahead = min(ahead, level size); nothing else does."""

    __slots__ = ()
    name = "risk_averse"

    def after_shrink(self, front: float, back: float, shrink: float) -> float:
        return front

    def describe(self) -> str:
        return "queue risk_averse: ahead -= traded at our price; ahead = min(ahead, level); nothing else advances us"


def _prob_advance(front: float, shrink: float, f_front: float, f_back: float) -> float:
    """New ahead after advancing by shrink·(1 − p), p = f(back)/(f(back)+f(front)); never below 0."""
    if front <= 0 or shrink <= 0:
        return front
    total = f_back + f_front
    if total <= 0:
        return front
    advance = shrink * (f_front / total)  # 1 − p = f(front)/(f(back)+f(front))
    return front - advance if advance < front else 0.0


class PowerProbQueue:
    """A shrink d unexplained by trades advances us by d·(1 − p), p = back^n / (back^n + front^n)."""

    __slots__ = ("n",)
    name = "power_prob"

    def __init__(self, n: int = 2) -> None:
        if n < 1:
            raise ValueError(f"PowerProbQueue: n must be a positive integer, got {n}")
        self.n = n

    def _pow(self, x: float) -> float:
        # x^n as repeated multiplication: `**` calls the platform's pow (DESIGN.md §1).
        out = 1.0
        for _ in range(self.n):
            out *= x
        return out

    def after_shrink(self, front: float, back: float, shrink: float) -> float:
        return _prob_advance(front, shrink, self._pow(front), self._pow(back if back > 0 else 0.0))

    def describe(self) -> str:
        return (
            f"queue power_prob n={self.n}: an unexplained shrink d advances us by d·(1-p), "
            f"p = back^{self.n}/(back^{self.n}+front^{self.n}) (expected value; exact arithmetic order, "
            "identical on every machine)"
        )


class LogProbQueue:
    """A shrink d unexplained by trades advances us by d·(1 − p), p = ln(1+back) / (ln(1+back) + ln(1+front))."""

    __slots__ = ()
    name = "log_prob"

    def after_shrink(self, front: float, back: float, shrink: float) -> float:
        return _prob_advance(front, shrink, math.log1p(front), math.log1p(back if back > 0 else 0.0))

    def describe(self) -> str:
        return (
            "queue log_prob: an unexplained shrink d advances us by d·(1-p), "
            "p = ln(1+back)/(ln(1+back)+ln(1+front)) (expected value; uses the platform's log, so "
            "cross-machine identity is not promised)"
        )
