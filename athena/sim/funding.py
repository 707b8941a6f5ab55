"""Funding of perpetual swaps in the simulated exchange: when it settles, which rate, how much.

Owns: ``FundingSchedule`` (settlement times: every 8 h at 00:00/08:00/16:00 UTC by default; OKX
may set 4 h or 2 h), ``FundingRates`` (the rate in force for a settlement: the last one published
before that ``fundingTime``, else a configured constant) and ``funding_payment`` (okx-v5-reference
§8: payment = contracts × ctVal × mark price × rate; a positive rate makes longs pay shorts).
Never: reads the clock (times are passed in), or touches balances (the exchange books payments).
"""

from __future__ import annotations

from dataclasses import dataclass

from athena.model.instrument import InstrumentSpec

__all__ = ["HOUR_NS", "FundingRates", "FundingSchedule", "funding_payment"]

HOUR_NS: int = 3_600_000_000_000


@dataclass(frozen=True, slots=True)
class FundingSchedule:
    """Settlements at ``offset_ns + k × interval_ns`` since the epoch (UTC)."""

    interval_ns: int = 8 * HOUR_NS
    offset_ns: int = 0

    def __post_init__(self) -> None:
        if self.interval_ns <= 0:
            raise ValueError(f"funding interval must be positive, got {self.interval_ns} ns")

    def next_after(self, t_ns: int) -> int:
        """The first settlement strictly after ``t_ns``: a position opened at a settlement instant
        did not hold through it."""
        k = (t_ns - self.offset_ns) // self.interval_ns + 1
        return self.offset_ns + k * self.interval_ns

    def describe(self) -> str:
        return f"funding every {self.interval_ns / HOUR_NS:g} h (offset {self.offset_ns} ns from 00:00 UTC)"


class FundingRates:
    """The published rates per ``fundingTime``; a rate published at or after its fundingTime is
    ignored (it cannot have been in force for that settlement)."""

    __slots__ = ("_rates", "default_rate")

    def __init__(self, default_rate: float = 0.0) -> None:
        self.default_rate = default_rate
        self._rates: dict[int, float] = {}

    def publish(self, rate: float, funding_time_ns: int, now_ns: int) -> None:
        if now_ns < funding_time_ns:
            self._rates[funding_time_ns] = rate

    def rate_for(self, funding_time_ns: int) -> float:
        """The rate for that settlement (the last published before it, else the default); forgets
        rates of this and earlier settlements."""
        rate = self._rates.get(funding_time_ns, self.default_rate)
        for t in [t for t in self._rates if t <= funding_time_ns]:
            del self._rates[t]
        return rate


def funding_payment(spec: InstrumentSpec, position_lots: int, mark_ticks: float, rate: float) -> float:
    """What a position receives at a settlement (OKX sign: negative = paid).

    −(signed contracts × ctVal × mark price × rate): a long pays a positive rate, a short receives it."""
    # lots × ticks first: an exact integer when the mark is whole ticks, one rounding after.
    value = position_lots * mark_ticks * spec.quote_per_tick_lot  # signed position value (quote)
    return -(value * rate)
