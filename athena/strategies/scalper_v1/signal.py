"""ScalperV1's market signals: trade-price EMA and trend, rolling taker flow and imbalance, large
trades, and the spread filter.

Owns: ``SignalGenerator`` — O(1) (amortised) per trade, no pandas/numpy — and ``Trend``.
Never: reads a clock (the caller passes the time), sends orders, or holds position state.

Determinism (DESIGN.md §1):
- The EMA is float arithmetic with + − × ÷ only. It is seeded by the first trade price
  (EMA_0 = p_0) and then EMA_k = EMA_{k-1} + α·(p_k − EMA_{k-1}), α = 2/(n+1); so the first trade's
  trend is NEUTRAL. Prices are in ticks.
- Flow sums are exact integers: each trade adds ticks × lots (its USDT value is that times the
  spec's ``quote_per_tick_lot``, which is ``spec.notional(ticks, lots)``) to a running buy or sell
  sum and subtracts it again when it leaves the window; no float ever accumulates, so no drift and
  no periodic recompute is needed.
- Thresholds (min flow, large trade, imbalance, spread) are converted once to integer units or
  exact ratios and compared with integer arithmetic: a boundary is exact.
"""

from __future__ import annotations

import math
from collections import deque
from decimal import Decimal
from enum import StrEnum

from athena.core.ports import NO_ASK, NO_BID
from athena.model.enums import Side
from athena.model.instrument import InstrumentSpec
from athena.strategies.scalper_v1.config import ScalperV1Config, exact_ratio, seconds_to_ns

__all__ = ["SignalGenerator", "Trend", "usdt_to_tick_lots"]

_BUY = Side.BUY


class Trend(StrEnum):
    BULL = "bull"  # last trade price above the EMA
    BEAR = "bear"  # below
    NEUTRAL = "neutral"  # equal, or no trade yet


def usdt_to_tick_lots(usdt: float, spec: InstrumentSpec) -> int:
    """The smallest whole number of tick×lot units worth at least ``usdt`` (exact, via Decimal):
    value(x) >= usdt  <=>  x >= this, for any integer x."""
    unit = spec.tick_sz * spec.lot_sz * spec.ct_val * spec.ct_mult
    return math.ceil(Decimal(repr(float(usdt))) / unit)


class SignalGenerator:
    """Feed every trade of the instrument to ``on_trade``; read the signals at any time ``now``.

    The window holds trades seen at ``t`` with ``now - flow_window_ns < t``: a trade leaves it
    exactly ``flow_window_s`` after it was seen."""

    __slots__ = (
        "_alpha",
        "_imb_den",
        "_imb_num",
        "_spread_den",
        "_spread_num",
        "_trades",
        "buy_tl",
        "ema",
        "large_buys",
        "large_sells",
        "large_tl",
        "last_ns",
        "last_price",
        "last_trade_large",
        "min_flow_tl",
        "sell_tl",
        "spec",
        "trades_seen",
        "window_ns",
    )

    def __init__(self, cfg: ScalperV1Config, spec: InstrumentSpec) -> None:
        self.spec = spec
        self._alpha = 2.0 / (cfg.ema_period + 1)
        self.ema: float | None = None
        self.last_price: int | None = None
        self.trades_seen = 0
        self.window_ns = seconds_to_ns(cfg.flow_window_s)
        self.min_flow_tl = usdt_to_tick_lots(cfg.min_flow_usdt, spec)
        self.large_tl = usdt_to_tick_lots(cfg.large_trade_usdt, spec)
        self._imb_num, self._imb_den = exact_ratio(cfg.imbalance_ratio)
        self._spread_num, self._spread_den = exact_ratio(cfg.spread_threshold_pct)
        # (seen at ns, ticks*lots, taker is buyer, large); oldest on the left
        self._trades: deque[tuple[int, int, bool, bool]] = deque()
        self.buy_tl = 0
        self.sell_tl = 0
        self.large_buys = 0
        self.large_sells = 0
        self.last_trade_large = False
        self.last_ns = 0

    # -- input ----------------------------------------------------------------------------------

    def on_trade(self, now_ns: int, ticks: int, lots: int, side: Side) -> None:
        """One public trade; ``side`` is the taker's. ``now_ns`` must not go backwards (a late one
        is taken as the latest time seen, so the window stays ordered)."""
        if now_ns < self.last_ns:
            now_ns = self.last_ns
        else:
            self.last_ns = now_ns
        ema = self.ema
        self.ema = float(ticks) if ema is None else ema + self._alpha * (ticks - ema)
        self.last_price = ticks
        self.trades_seen += 1
        tl = ticks * lots  # both positive in a trade
        large = tl >= self.large_tl
        self.last_trade_large = large
        buy = side is _BUY
        if buy:
            self.buy_tl += tl
            if large:
                self.large_buys += 1
        else:
            self.sell_tl += tl
            if large:
                self.large_sells += 1
        trades = self._trades
        trades.append((now_ns, tl, buy, large))
        if trades[0][0] <= now_ns - self.window_ns:
            self.expire(now_ns)

    def expire(self, now_ns: int) -> None:
        """Drop trades seen at or before ``now_ns - flow_window_ns`` (amortised O(1))."""
        trades = self._trades
        cut = now_ns - self.window_ns
        while trades and trades[0][0] <= cut:
            _, tl, buy, large = trades.popleft()
            if buy:
                self.buy_tl -= tl
                if large:
                    self.large_buys -= 1
            else:
                self.sell_tl -= tl
                if large:
                    self.large_sells -= 1

    # -- signals --------------------------------------------------------------------------------

    @property
    def trend(self) -> Trend:
        ema, price = self.ema, self.last_price
        if ema is None or price is None or price == ema:
            return Trend.NEUTRAL
        return Trend.BULL if price > ema else Trend.BEAR

    @property
    def window_trades(self) -> int:
        return len(self._trades)

    @property
    def flow_tl(self) -> int:
        """Taker volume in the window, in tick×lot units (exact)."""
        return self.buy_tl + self.sell_tl

    @property
    def buy_usdt(self) -> float:
        return self.spec.pnl_value(self.buy_tl)

    @property
    def sell_usdt(self) -> float:
        return self.spec.pnl_value(self.sell_tl)

    @property
    def flow_usdt(self) -> float:
        return self.spec.pnl_value(self.buy_tl + self.sell_tl)

    def flow_ok(self) -> bool:
        """The window's USDT volume is at least ``min_flow_usdt``."""
        return self.buy_tl + self.sell_tl >= self.min_flow_tl

    def imbalance(self, side: Side) -> float:
        """Taker-buy ÷ taker-sell volume for a long (``Side.BUY``), the inverse for a short.

        Division by zero, explicitly: nothing against us and something for us is ``inf``; an empty
        window is 0.0 (no signal either way)."""
        mine, theirs = (self.buy_tl, self.sell_tl) if side is Side.BUY else (self.sell_tl, self.buy_tl)
        if theirs == 0:
            return math.inf if mine > 0 else 0.0
        return mine / theirs

    def imbalance_ok(self, side: Side) -> bool:
        """``imbalance(side) >= imbalance_ratio``, compared exactly: mine·den >= num·theirs."""
        mine, theirs = (self.buy_tl, self.sell_tl) if side is Side.BUY else (self.sell_tl, self.buy_tl)
        if mine == 0:
            return False
        return mine * self._imb_den >= self._imb_num * theirs

    def is_large(self, ticks: int, lots: int) -> bool:
        """A trade worth at least ``large_trade_usdt``."""
        return abs(ticks * lots) >= self.large_tl

    def spread_ok(self, bid: int, ask: int) -> bool:
        """Both sides present, not crossed, and spread ÷ mid <= ``spread_threshold_pct``.

        spread/mid = 2(ask − bid)/(ask + bid), so the test is 2(ask − bid)·den <= num·(ask + bid)."""
        if bid == NO_BID or ask == NO_ASK or ask <= bid:
            return False
        return 2 * (ask - bid) * self._spread_den <= self._spread_num * (ask + bid)

    def entry_side(self, now_ns: int) -> Side | None:
        """The side the flow asks for at ``now_ns``: enough flow, imbalance at or past the ratio, and a
        trend that does not oppose it (long: not BEAR; short: not BULL). The spread is the caller's."""
        self.expire(now_ns)
        if not self.flow_ok():
            return None
        trend = self.trend
        if trend is not Trend.BEAR and self.imbalance_ok(Side.BUY):
            return Side.BUY
        if trend is not Trend.BULL and self.imbalance_ok(Side.SELL):
            return Side.SELL
        return None
