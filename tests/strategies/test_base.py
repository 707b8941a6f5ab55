from __future__ import annotations

import pytest

from athena.book.l2 import L2Book
from athena.core.bus import EventBus
from athena.core.clock import SimClock, TimerFired
from athena.core.events import EventType, OrderUpdate, TickEvent
from athena.errors import ConfigError
from athena.model.enums import OrderType, Side
from athena.model.instrument import BTC_USDT_SWAP
from athena.model.orders import Order
from athena.strategies.base import BaseStrategy, StrategyContext, registered, strategy_class


class FakeOms:
    def __init__(self) -> None:
        self.submits: list[tuple] = []
        self.cancels: list[str] = []

    def submit_order(self, strategy_id, inst_id, side, ord_type, size_lots, price_ticks=None, **kw) -> Order:
        self.submits.append((strategy_id, inst_id, side, ord_type, size_lots, price_ticks, kw))
        return Order(f"c{len(self.submits)}", inst_id, side, ord_type, size_lots, price_ticks, strategy_id=strategy_id)

    def cancel_order(self, cl_ord_id: str) -> bool:
        self.cancels.append(cl_ord_id)
        return True


def context() -> StrategyContext:
    clock = SimClock(0)
    return StrategyContext(clock=clock, bus=EventBus(clock.now_ns), oms=FakeOms(),  # type: ignore[arg-type]
                           instruments={BTC_USDT_SWAP.inst_id: BTC_USDT_SWAP},
                           books={BTC_USDT_SWAP.inst_id: L2Book(BTC_USDT_SWAP)})


class TickOnly(BaseStrategy):
    name = "tick_only_test"

    def __init__(self, ctx, strategy_id=None, config=None):
        super().__init__(ctx, strategy_id, config)
        self.ticks: list[int] = []
        self.updates: list[str] = []
        self.timers: list[TimerFired] = []

    def on_tick(self, event: TickEvent) -> None:
        self.ticks.append(event.ticks)

    def on_order_update(self, event: OrderUpdate) -> None:
        self.updates.append(event.order.cl_ord_id)

    def on_timer(self, fired: TimerFired) -> None:
        self.timers.append(fired)


def test_only_overridden_handlers_are_subscribed_and_stop_unsubscribes_them():
    ctx = context()
    s = TickOnly(ctx, "s1")
    s.start()
    assert ctx.bus.subscribers(EventType.BOOK_EVENT) == ()
    assert len(ctx.bus.subscribers(EventType.TICK)) == 1
    ctx.bus.publish(TickEvent("BTC-USDT-SWAP", 1, 600000, 1, Side.BUY, 0, 0))
    assert s.ticks == [600000]
    s.stop()
    assert ctx.bus.subscribers(EventType.TICK) == ()


def test_order_events_reach_only_the_strategy_that_owns_the_order():
    ctx = context()
    a, b = TickOnly(ctx, "a"), TickOnly(ctx, "b")
    a.start()
    b.start()
    mine = Order("x1", "BTC-USDT-SWAP", Side.BUY, OrderType.LIMIT, 1, 1, strategy_id="b")
    ctx.bus.publish(OrderUpdate(mine, 0, 0))
    assert (a.updates, b.updates) == ([], ["x1"])


def test_buy_and_sell_go_through_the_oms_with_the_strategy_id():
    ctx = context()
    s = TickOnly(ctx, "s1")
    s.buy("BTC-USDT-SWAP", 100, 600000, ord_type=OrderType.POST_ONLY, tag="entry")
    s.sell("BTC-USDT-SWAP", 100, None, ord_type=OrderType.MARKET, reduce_only=True)
    subs = ctx.oms.submits  # type: ignore[attr-defined]
    assert subs[0][:6] == ("s1", "BTC-USDT-SWAP", Side.BUY, OrderType.POST_ONLY, 100, 600000)
    assert subs[1][:6] == ("s1", "BTC-USDT-SWAP", Side.SELL, OrderType.MARKET, 100, None)
    assert subs[1][6]["reduce_only"] is True


def test_timers_are_scoped_to_the_strategy_and_report_their_own_name():
    ctx = context()
    s = TickOnly(ctx, "s1")
    s.set_timer("requote", interval_ns=10)
    ctx.clock.run_due(25)  # type: ignore[attr-defined]
    assert s.timers == [TimerFired("requote", 10), TimerFired("requote", 20)]
    assert ctx.clock.has_timer("s1:requote")  # type: ignore[attr-defined]


def test_registry_finds_the_built_in_strategies_and_names_the_known_ones_on_a_typo():
    assert {"maker", "scalper_v1"} <= set(registered())
    assert strategy_class("maker").name == "maker"
    with pytest.raises(ConfigError, match=r"unknown strategy 'scalpr'.*scalper_v1"):
        strategy_class("scalpr")
