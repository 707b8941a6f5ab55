"""The example strategy: a small post-only market maker that exercises the whole order path.

Owns: one quote per side at the touch, re-posted when the touch moves away by more than
``requote_ticks``, inventory kept within ±``max_position_lots`` (the side that would grow it is
not quoted), and a reduce-only exit of the inventory when it reaches the limit.
Never: sends anything but through OrderManager, or decides on fills before the fill event.

It is a test vehicle, not an edge: it shows queue position, maker fees and adverse selection at
work in a report.
"""

from __future__ import annotations

from dataclasses import dataclass

from athena.core.events import BookEvent, OrderCancelled, OrderFilled, OrderUpdate
from athena.core.ports import NO_ASK, NO_BID
from athena.model.enums import OrderState, OrderType, Side
from athena.model.orders import Order
from athena.strategies.base import BaseStrategy, StrategyContext, register


@dataclass(frozen=True, slots=True)
class MakerConfig:
    inst_id: str = "BTC-USDT-SWAP"
    quote_lots: int = 100  # 1 contract of BTC-USDT-SWAP
    max_position_lots: int = 300
    requote_ticks: int = 5
    min_quote_life_ns: int = 1_000_000_000  # never cancel a quote younger than 1 s

    @classmethod
    def from_dict(cls, raw: dict) -> MakerConfig:
        known = {k: v for k, v in raw.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@register
class PostOnlyMaker(BaseStrategy):
    name = "maker"

    def __init__(self, ctx: StrategyContext, strategy_id: str | None = None, config: dict | None = None):
        super().__init__(ctx, strategy_id, config)
        self.cfg = MakerConfig.from_dict(self.config)
        self.position = 0
        self.quotes: dict[Side, Order | None] = {Side.BUY: None, Side.SELL: None}
        self.exit_order: Order | None = None

    def on_book(self, event: BookEvent) -> None:
        if event.inst_id != self.cfg.inst_id:
            return
        book = event.book
        bid, ask = book.best_bid, book.best_ask
        if bid == NO_BID or ask == NO_ASK:
            return
        self._quote(Side.BUY, bid)
        self._quote(Side.SELL, ask)

    def _quote(self, side: Side, touch: int) -> None:
        cfg = self.cfg
        grows = self.position + side.sign * cfg.quote_lots
        allowed = abs(grows) <= cfg.max_position_lots
        order = self.quotes[side]
        if order is not None:
            if order.state.is_terminal:
                self.quotes[side] = order = None
            else:
                stale = abs(order.price_ticks - touch) > cfg.requote_ticks or not allowed  # type: ignore[operator]
                young = self.clock.now_ns() - order.ts_created < cfg.min_quote_life_ns
                if stale and not young and order.state in (OrderState.LIVE, OrderState.PARTIALLY_FILLED):
                    self.cancel(order)
                return
        if allowed:
            send = self.buy if side is Side.BUY else self.sell
            self.quotes[side] = send(cfg.inst_id, cfg.quote_lots, touch, ord_type=OrderType.POST_ONLY, tag="quote")

    def on_fill(self, event: OrderFilled) -> None:
        self.position += event.fill.signed_lots
        cfg = self.cfg
        exiting = self.exit_order is not None and not self.exit_order.state.is_terminal
        if abs(self.position) >= cfg.max_position_lots and not exiting:
            side = self.sell if self.position > 0 else self.buy
            self.exit_order = side(cfg.inst_id, abs(self.position), None, ord_type=OrderType.MARKET,
                                   reduce_only=True, tag="exit")

    def on_order_update(self, event: OrderUpdate) -> None:
        self._forget_if_done(event.order)

    def on_order_cancelled(self, event: OrderCancelled) -> None:
        self._forget_if_done(event.order)

    def _forget_if_done(self, order: Order) -> None:
        if not order.state.is_terminal:
            return
        for side, q in self.quotes.items():
            if q is order:
                self.quotes[side] = None
