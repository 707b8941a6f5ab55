"""ScalperV1: order-flow imbalance scalper — post-only entries, trailing-stop exits.

Owns: the decisions. On each trade: update the signals; with a position, run the trailing stop
(exit reduce-only at market, tag "exit"); flat, enter when the flow window holds at least
``min_flow_usdt``, the imbalance reaches ``imbalance_ratio`` (long when buyers dominate and the
trend is not bear; short mirrored), the spread filter passes and the valve, cooldown and post-exit
lock allow — a post-only order at the ExecutionAlgo's price, tag "entry", with ``stop_ticks`` for
the OMS's protective stop. On each book message: chase the working entry order. On fills: the
position (StateManager) and the anomaly limit (flatten reduce-only at market, tag "flatten").
Never: talks to a gateway, reads the wall clock, or runs the OMS's loops — order TTL queries,
position sync, ghost sweeps and the protective stop are the OMS's (DESIGN.md §1); this strategy
only hands it their settings (``oms_settings()``).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from athena.core.events import BookEvent, OrderCancelled, OrderFilled, OrderUpdate, PositionUpdate, TickEvent
from athena.errors import ConfigError
from athena.model.enums import OrderState, OrderType, Side
from athena.model.orders import Order
from athena.strategies.base import BaseStrategy, StrategyContext, register
from athena.strategies.scalper_v1.config import OmsSettings, ScalperV1Config, exact_ratio
from athena.strategies.scalper_v1.execution import ExecutionAlgo
from athena.strategies.scalper_v1.signal import SignalGenerator
from athena.strategies.scalper_v1.state import StateManager, contracts_to_lots

__all__ = ["ScalperV1", "Tag"]


class Tag(StrEnum):
    """What an order of ScalperV1 is for (the OMS places the protective stop after an "entry")."""

    ENTRY = "entry"
    EXIT = "exit"
    FLATTEN = "flatten"


@register
class ScalperV1(BaseStrategy):
    name = "scalper_v1"

    def __init__(self, ctx: StrategyContext, strategy_id: str | None = None, config: dict[str, Any] | None = None):
        super().__init__(ctx, strategy_id, config)
        cfg = self.cfg = ScalperV1Config.from_dict(self.config)
        spec = ctx.instruments.get(cfg.inst_id)
        if spec is None:
            known = ", ".join(sorted(ctx.instruments)) or "none"
            raise ConfigError(
                f"strategies.scalper_v1.inst_id = {cfg.inst_id!r} — no instrument spec for it; known: {known}"
            )
        lots = contracts_to_lots(cfg.order_size, spec)
        if lots.denominator != 1:
            raise ConfigError(
                f"strategies.scalper_v1.order_size = {cfg.order_size!r} — not a multiple of {cfg.inst_id}'s "
                f"lotSz {spec.lot_sz}"
            )
        self.spec = spec
        self.inst_id = cfg.inst_id
        self.order_lots = int(lots)
        self.signal = SignalGenerator(cfg, spec)
        self.execution = ExecutionAlgo(cfg.execution)
        self.state = StateManager(cfg, spec)
        self._stop_num, self._stop_den = exact_ratio(cfg.stop_loss_pct)
        # Defined before any handler runs: the first event may be a fill or a book, not a trade.
        self.current_price: int | None = None

    def oms_settings(self) -> OmsSettings:
        """Order TTL, position sync interval and stop distance for the OMS (it runs those loops)."""
        return self.cfg.oms_settings()

    def stop_distance(self, entry_ticks: int) -> int:
        """Protective stop distance in whole ticks: ceil(entry × stop_loss_pct), at least 1 (never
        understates the risk the OMS checks)."""
        return max(1, -(-entry_ticks * self._stop_num // self._stop_den))  # integer ceil

    # -- market data --------------------------------------------------------------------------------

    def on_tick(self, event: TickEvent) -> None:
        if event.inst_id != self.inst_id:
            return
        now = self.clock.now_ns()
        price = self.current_price = event.ticks
        self.signal.on_trade(now, price, event.lots, event.side)
        state = self.state
        if state.local_pos_size != 0:
            if state.is_anomalous():
                self._flatten(state.local_pos_size)
            elif state.trailing_exit(price):
                self._exit()
            return
        if state.can_enter(now):
            self._try_enter(now)

    def on_book(self, event: BookEvent) -> None:
        if event.inst_id != self.inst_id:
            return
        state = self.state
        oid = state.maker_order_id
        if oid is None or state.maker_cancel_sent:
            return
        book = event.book
        side, price, sent = state.maker_order_side, state.maker_order_price, state.maker_order_time
        assert side is not None and price is not None and sent is not None
        if self.execution.should_chase(side, price, sent, self.clock.now_ns(), book.best_bid, book.best_ask):
            state.chasing = True
            state.maker_cancel_sent = True
            self.oms.cancel_order(oid)

    # -- order events -------------------------------------------------------------------------------

    def on_fill(self, event: OrderFilled) -> None:
        fill = event.fill
        if fill.inst_id != self.inst_id:
            return
        state = self.state
        state.on_fill(fill.side, fill.ticks, fill.lots, self.clock.now_ns())
        order = event.order
        if order.state.is_terminal:
            self._order_ended(order)
        if state.local_pos_size == 0:
            return
        if state.is_anomalous():
            self._flatten(state.local_pos_size)
            return
        price = self.current_price
        if price is None:
            price = fill.ticks
        if state.trailing_exit(price):
            self._exit()

    def on_order_update(self, event: OrderUpdate) -> None:
        order = event.order
        if order.state.is_terminal:
            if order.state is OrderState.REJECTED and order.cl_ord_id == self.state.maker_order_id:
                self.state.entry_refused(self.clock.now_ns())
            self._order_ended(order)
            return
        state = self.state
        refused = state.maker_cancel_sent and order.state is not OrderState.PENDING_CANCEL
        if refused and order.cl_ord_id == state.maker_order_id:
            # The exchange refused our cancel (the OMS's record is open again): chase afresh later.
            state.maker_cancel_sent = False
            state.chasing = False

    def on_order_cancelled(self, event: OrderCancelled) -> None:
        order = event.order
        state = self.state
        chased = order.cl_ord_id == state.maker_order_id and state.chasing
        self._order_ended(order)
        if chased and order.inst_id == self.inst_id:
            now = self.clock.now_ns()
            if state.can_enter(now):
                self._try_enter(now)  # the re-post, at the touch as it is now

    def on_position(self, event: PositionUpdate) -> None:
        # The OMS's position (its ledger or the exchange's report) beyond the limit: flatten it, even
        # if our own fills do not show it (a lost fill, a double entry). Our state still moves only
        # on fills.
        if event.inst_id == self.inst_id and self.state.is_anomalous(event.lots):
            self._flatten(event.lots)

    # -- actions ------------------------------------------------------------------------------------

    def _try_enter(self, now: int) -> None:
        side = self.signal.entry_side(now)
        if side is None:
            return
        book = self.ctx.books.get(self.inst_id)
        if book is None:
            return
        bid, ask = book.best_bid, book.best_ask
        if not self.signal.spread_ok(bid, ask):
            return
        px = self.execution.entry_price(side, bid, ask)
        if px is None:
            return
        order = self._send(side, self.order_lots, px, OrderType.POST_ONLY, Tag.ENTRY, self.stop_distance(px))
        if order.state is OrderState.REJECTED:  # refused before it was sent (risk, capital): back off
            self.state.entry_refused(now)
        elif not order.state.is_terminal:  # a refusal published synchronously must not close the valve
            self.state.entry_sent(order.cl_ord_id, side, px, now)

    def _exit(self) -> None:
        state = self.state
        if state.exit_order_id is not None:
            return
        self._cancel_entry()
        pos = state.local_pos_size
        side = Side.SELL if pos > 0 else Side.BUY
        order = self._send(side, abs(pos), None, OrderType.MARKET, Tag.EXIT, None, reduce_only=True)
        if not order.state.is_terminal:
            state.exit_sent(order.cl_ord_id)

    def _flatten(self, lots: int) -> None:
        state = self.state
        state.anomaly_reset()
        self._cancel_entry()
        if state.exit_order_id is not None or lots == 0:
            return
        side = Side.SELL if lots > 0 else Side.BUY
        order = self._send(side, abs(lots), None, OrderType.MARKET, Tag.FLATTEN, None, reduce_only=True)
        if not order.state.is_terminal:
            state.exit_sent(order.cl_ord_id)

    def _cancel_entry(self) -> None:
        state = self.state
        state.chasing = False  # no re-post: we are leaving, not following the touch
        oid = state.maker_order_id
        if oid is not None and not state.maker_cancel_sent:
            state.maker_cancel_sent = True
            self.oms.cancel_order(oid)

    def _send(
        self, side: Side, lots: int, px: int | None, ord_type: OrderType, tag: Tag, stop_ticks: int | None,
        *, reduce_only: bool = False,
    ) -> Order:
        return self.oms.submit_order(
            self.strategy_id, self.inst_id, side, ord_type, lots, px,
            reduce_only=reduce_only, tag=tag.value, stop_ticks=stop_ticks,
        )

    def _order_ended(self, order: Order) -> None:
        state = self.state
        if not state.entry_done(order.cl_ord_id):
            state.exit_done(order.cl_ord_id)

