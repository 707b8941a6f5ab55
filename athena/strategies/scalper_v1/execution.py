"""ScalperV1's maker execution: where a post-only entry is priced and when it is chased.

Owns: ``ExecutionAlgo`` — the aggressive-maker price of an entry (inside the spread, never
crossing), the paper-trading mid price, and the chase rule (cancel and re-post when the touch
moved away, never before the order's minimum life).
Never: sends or cancels anything (it answers questions; the strategy acts), reads a clock, or
touches position state. Prices are int ticks; every rule is integer arithmetic.

Aggressive maker, a buy (a sell mirrors it):
    price = min(bid + inside, ask − keep)  and never below bid
with ``inside = floor(aggressive_maker_spread_ticks)`` (a tick cannot be split) and
``keep = max(1, ceil(aggressive_maker_price_offset))`` — the ticks kept from the opposite touch,
at least one so a post-only buy is at most ``best_ask − 1``. bid 100 / ask 110 → 102;
ask 102 → 101; ask 101 → 100 (joins the bid).
Paper trading: a buy at floor(mid), a sell at ceil(mid) (rounded away from crossing).
Chase: the order is at least ``min_order_life_seconds`` old and |touch − price| ÷ price is more
than ``min_chasing_distance_pct`` (touch = best bid for a buy, best ask for a sell).
"""

from __future__ import annotations

import math

from athena.core.ports import NO_ASK, NO_BID
from athena.model.enums import Side
from athena.strategies.scalper_v1.config import ExecutionConfig, exact_ratio, seconds_to_ns

__all__ = ["ExecutionAlgo"]


class ExecutionAlgo:
    __slots__ = ("_chase_den", "_chase_num", "inside_ticks", "keep_ticks", "min_life_ns", "paper")

    def __init__(self, cfg: ExecutionConfig) -> None:
        self.inside_ticks = int(cfg.aggressive_maker_spread_ticks)
        self.keep_ticks = max(1, math.ceil(cfg.aggressive_maker_price_offset))
        self.paper = cfg.is_paper_trading
        self.min_life_ns = seconds_to_ns(cfg.min_order_life_seconds)
        self._chase_num, self._chase_den = exact_ratio(cfg.min_chasing_distance_pct)

    def entry_price(self, side: Side, bid: int, ask: int) -> int | None:
        """The post-only price of an entry on ``side``; None when the book is one-sided or crossed."""
        if bid == NO_BID or ask == NO_ASK or ask <= bid:
            return None
        if self.paper:
            total = bid + ask
            return total // 2 if side is Side.BUY else -((-total) // 2)
        if side is Side.BUY:
            px = min(bid + self.inside_ticks, ask - self.keep_ticks)
            return px if px > bid else bid
        px = max(ask - self.inside_ticks, bid + self.keep_ticks)
        return px if px < ask else ask

    def should_chase(
        self, side: Side, price_ticks: int, sent_ns: int, now_ns: int, bid: int, ask: int
    ) -> bool:
        """Cancel-and-re-post the order on ``side`` at ``price_ticks`` sent at ``sent_ns``?"""
        if now_ns - sent_ns < self.min_life_ns:
            return False  # the no-cancel buffer
        touch = bid if side is Side.BUY else ask
        if touch in (NO_BID, NO_ASK) or price_ticks <= 0:
            return False
        moved = touch - price_ticks
        if moved < 0:
            moved = -moved
        # moved / price > num / den, in integers
        return moved * self._chase_den > self._chase_num * price_ticks
