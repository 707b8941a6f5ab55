"""ScalperV1 driven through the EventBus with a SimClock, a real L2Book and a fake OMS.

The fake OMS records submits and cancels and never answers by itself: each test pushes the
fills, cancels and rejections it wants, in the order the real OMS would publish them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from athena.book.l2 import L2Book
from athena.core.bus import EventBus
from athena.core.clock import SimClock
from athena.core.events import (
    BookEvent,
    OrderCancelled,
    OrderFilled,
    OrderUpdate,
    PositionSource,
    PositionUpdate,
    TickEvent,
)
from athena.core.ports import ASK, BID, ListLevels
from athena.errors import ConfigError
from athena.model.enums import Liquidity, OrderState, OrderType, RejectReason, Side
from athena.model.instrument import BTC_USDT_SWAP as SPEC
from athena.model.orders import Fill, Order
from athena.strategies.base import StrategyContext, strategy_class
from athena.strategies.scalper_v1.config import OmsSettings
from athena.strategies.scalper_v1.strategy import ScalperV1

INST = SPEC.inst_id
SEC = 1_000_000_000
T0 = 1_700_000_000 * SEC
PX = 500_000  # 50 000.0 USDT; 1 lot there is 5 USDT, min_flow_usdt 5000 is 1000 lots
BID0, ASK0 = 499_990, 500_010  # spread 20 ticks = 0.004 % of mid: passes the 0.05 % filter


@dataclass
class Submit:
    order: Order
    stop_ticks: int | None


class FakeOms:
    """OrderManager's command surface: records, answers nothing; the test publishes outcomes."""

    def __init__(self, clock: SimClock, bus: EventBus) -> None:
        self.clock = clock
        self.bus = bus
        self.submits: list[Submit] = []
        self.cancels: list[str] = []
        self.orders: dict[str, Order] = {}
        self._n = 0
        self._trade = 0
        self.refuse_next = False

    def submit_order(
        self,
        strategy_id: str,
        inst_id: str,
        side: Side,
        ord_type: OrderType,
        size_lots: int,
        price_ticks: int | None = None,
        reduce_only: bool = False,
        tag: str = "",
        stop_ticks: int | None = None,
    ) -> Order:
        self._n += 1
        now = self.clock.now_ns()
        o = Order(f"c{self._n}", inst_id, side, ord_type, size_lots, price_ticks, reduce_only, strategy_id,
                  str(tag), ts_created=now, ts_last=now)
        self.orders[o.cl_ord_id] = o
        self.submits.append(Submit(o, stop_ticks))
        if self.refuse_next:  # the real OMS publishes its refusal; inside a dispatch it is queued
            self.refuse_next = False
            o.transition(OrderState.REJECTED)
            self.bus.publish(OrderUpdate(o, now, now, reason=RejectReason.NO_CAPITAL))
        else:
            o.transition(OrderState.SUBMITTED)
        return o

    def cancel_order(self, cl_ord_id: str) -> bool:
        self.cancels.append(cl_ord_id)
        o = self.orders[cl_ord_id]
        if o.state.is_terminal:
            return False
        o.transition(OrderState.PENDING_CANCEL)
        return True

    # -- what the test makes the exchange say ---------------------------------------------------------

    def ack(self, o: Order) -> None:
        o.transition(OrderState.LIVE)
        now = self.clock.now_ns()
        self.bus.publish(OrderUpdate(o, now, now))

    def fill(self, o: Order, ticks: int | None = None, lots: int | None = None) -> None:
        lots = o.remaining_lots if lots is None else lots
        ticks = o.price_ticks if ticks is None else ticks
        assert ticks is not None
        o.filled_lots += lots
        o.transition(OrderState.FILLED if o.remaining_lots == 0 else OrderState.PARTIALLY_FILLED)
        self._trade += 1
        now = self.clock.now_ns()
        liq = Liquidity.TAKER if o.ord_type is OrderType.MARKET else Liquidity.MAKER
        f = Fill(self._trade, o.cl_ord_id, f"o{self._trade}", o.inst_id, o.side, ticks, lots, 0.0, liq, now,
                 o.strategy_id)
        self.bus.publish(OrderFilled(o, f, now, now))

    def confirm_cancel(self, o: Order) -> None:
        o.transition(OrderState.CANCELED)
        now = self.clock.now_ns()
        self.bus.publish(OrderCancelled(o, now, now))


class Rig:
    def __init__(self, **config: Any) -> None:
        self.clock = SimClock(T0)
        self.bus = EventBus(now=self.clock.now_ns)
        self.book = L2Book(SPEC)
        self.set_book(BID0, ASK0)
        self.oms = FakeOms(self.clock, self.bus)
        ctx = StrategyContext(self.clock, self.bus, self.oms, {INST: SPEC}, {INST: self.book})  # type: ignore[arg-type]
        self.s = ScalperV1(ctx, config=config)
        self.s.start()
        self._trade = 0

    def at(self, t_ns: int) -> None:
        self.clock.advance_to(t_ns)

    def set_book(self, bid: int, ask: int) -> None:
        b = self.book
        b.clear()
        b.set_level(BID, bid, 1000)
        b.set_level(ASK, ask, 1000)

    def book_msg(self, t_ns: int, bid: int, ask: int) -> None:
        self.at(t_ns)
        self.set_book(bid, ask)
        self.bus.publish(BookEvent(INST, self.book, ListLevels([BID, ASK], [bid, ask], [1000, 1000]), False, t_ns,
                                   t_ns))

    def trade(self, t_ns: int, ticks: int, lots: int, side: Side) -> None:
        self.at(t_ns)
        self._trade += 1
        self.bus.publish(TickEvent(INST, self._trade, ticks, lots, side, t_ns, t_ns))

    def burst(self, t_ns: int, side: Side = Side.BUY, lots: int = 1000, against: int = 200, px: int = PX) -> None:
        """A crafted burst: ``against`` lots the other way, then ``lots`` our way, 1 ms apart (5.0x)."""
        self.trade(t_ns, px, against, side.opposite)
        self.trade(t_ns + 1_000_000, px, lots, side)

    @property
    def submits(self) -> list[Submit]:
        return self.oms.submits

    def last(self) -> Order:
        return self.oms.submits[-1].order


# -- wiring -------------------------------------------------------------------------------------------------


def test_registered_under_its_name():
    assert strategy_class("scalper_v1") is ScalperV1


def test_oms_settings_are_exposed_for_the_oms_to_read():
    r = Rig(order_ttl_s=10, sync_interval_s=15, stop_loss_pct=0.004)
    assert r.s.oms_settings() == OmsSettings(order_ttl_s=10.0, position_sync_s=15.0, stop_loss_pct=0.004)


def test_unknown_instrument_is_a_config_error():
    with pytest.raises(ConfigError) as exc:
        Rig(inst_id="ETH-USDT-SWAP")
    assert "strategies.scalper_v1.inst_id = 'ETH-USDT-SWAP'" in str(exc.value)


def test_order_size_must_be_a_lot_multiple():
    with pytest.raises(ConfigError) as exc:
        Rig(order_size=0.005)
    assert "order_size = 0.005" in str(exc.value) and "lotSz 0.01" in str(exc.value)


# -- the original's "safe price definition", as tests ------------------------------------------------


def test_first_event_ever_a_fill_does_not_crash_and_books_the_position():
    r = Rig()
    o = Order("x1", INST, Side.BUY, OrderType.LIMIT, 100, PX, strategy_id="scalper_v1", state=OrderState.LIVE)
    r.oms.orders["x1"] = o
    r.oms.fill(o)
    assert r.bus.errors == 0
    assert r.s.current_price is None
    assert r.s.state.local_pos_size == 100 and r.s.state.entry_price == PX
    assert r.submits == []  # return 0 at the fill price: no exit


def test_first_event_ever_a_book_does_not_crash_and_sends_nothing():
    r = Rig()
    r.book_msg(T0 + SEC, BID0, ASK0)
    assert r.bus.errors == 0 and r.submits == [] and r.oms.cancels == []


# -- entries --------------------------------------------------------------------------------------------------


def test_entry_fires_at_5x_not_at_4_9x_as_a_post_only_with_a_stop_distance():
    r = Rig()
    r.trade(T0, PX, 200, Side.SELL)  # 1000 USDT: below min flow
    r.trade(T0 + 1, PX, 980, Side.BUY)  # 4.9x, 5900 USDT
    assert r.submits == []
    r.trade(T0 + 2, PX, 20, Side.BUY)  # 5.0x
    assert len(r.submits) == 1
    o, stop = r.last(), r.submits[-1].stop_ticks
    assert (o.side, o.ord_type, o.size_lots, o.price_ticks) == (Side.BUY, OrderType.POST_ONLY, 100, BID0 + 2)
    assert o.tag == "entry" and not o.reduce_only and o.strategy_id == "scalper_v1"
    assert stop == 2500  # ceil(499 992 × 0.005) = ceil(2499.96)


def test_short_entry_mirrors_from_the_ask():
    r = Rig()
    r.burst(T0, Side.SELL)
    o = r.last()
    assert (o.side, o.ord_type, o.price_ticks) == (Side.SELL, OrderType.POST_ONLY, ASK0 - 2)
    assert r.submits[-1].stop_ticks == 2501  # ceil(500 008 × 0.005) = ceil(2500.04)


def test_no_entry_below_min_flow():
    r = Rig()
    r.trade(T0, PX, 999, Side.BUY)  # 4995 USDT, no sells at all
    assert r.submits == []
    r.trade(T0 + 1, PX, 1, Side.BUY)
    assert len(r.submits) == 1


def test_no_long_against_a_bear_trend():
    r = Rig()
    r.trade(T0, PX, 200, Side.SELL)
    r.trade(T0 + 1, PX - 1000, 1010, Side.BUY)  # 5.04x, but price below the EMA
    assert r.s.signal.trend.value == "bear"
    assert r.submits == []


def test_spread_filter_blocks_a_wide_book():
    r = Rig()
    r.set_book(499_874, 500_126)  # 252 / 500 000 = 0.0504 % > 0.05 %
    r.burst(T0)
    assert r.submits == []
    r.set_book(499_875, 500_125)  # 0.05 %: passes
    r.trade(T0 + 2_000_000, PX, 1, Side.BUY)
    assert len(r.submits) == 1 and r.last().price_ticks == 499_877


def test_paper_trading_posts_at_the_mid():
    r = Rig(execution={"is_paper_trading": True})
    r.burst(T0)
    assert r.last().price_ticks == 500_000


def test_submit_alone_changes_no_position_only_the_fill_does():
    r = Rig()
    r.burst(T0)
    assert r.s.state.local_pos_size == 0 and r.s.state.entry_price is None
    r.oms.ack(r.last())
    assert r.s.state.local_pos_size == 0
    r.oms.fill(r.last(), lots=40)
    assert r.s.state.local_pos_size == 40
    r.oms.fill(r.last())
    assert r.s.state.local_pos_size == 100 and r.s.state.entry_price == BID0 + 2


def test_one_way_valve_no_second_entry_while_an_order_works_or_a_position_is_open():
    r = Rig()
    r.burst(T0)
    r.burst(T0 + SEC)
    assert len(r.submits) == 1
    r.oms.fill(r.last())
    r.burst(T0 + 2 * SEC)
    assert len(r.submits) == 1


def test_a_refused_entry_reopens_the_valve_after_the_reject_backoff():
    r = Rig()
    r.oms.refuse_next = True
    r.burst(T0)
    assert len(r.submits) == 1 and r.last().state is OrderState.REJECTED
    assert r.s.state.maker_order_id is None
    r.trade(T0 + 2_000_000, PX, 1, Side.BUY)  # within reject_backoff_s (1 s): no new attempt
    assert len(r.submits) == 1
    r.trade(T0 + 1_000_000_000 + 2_000_000, PX, 1, Side.BUY)
    assert len(r.submits) == 2 and r.last().state is OrderState.SUBMITTED


def test_an_exchange_cancel_of_the_entry_reopens_the_valve_without_a_repost():
    r = Rig()
    r.burst(T0)
    r.oms.ack(r.last())
    r.oms.confirm_cancel(r.last())  # e.g. a post-only that would have crossed (cancelSource 31)
    assert len(r.submits) == 1 and r.s.state.valve_open()
    r.trade(T0 + 2_000_000, PX, 1, Side.BUY)
    assert len(r.submits) == 2


# -- chasing ------------------------------------------------------------------------------------------------------


def test_chase_respects_the_order_life_and_the_distance_then_reposts():
    r = Rig()
    r.burst(T0)
    first = r.last()
    sent = first.ts_created
    assert first.price_ticks == 499_992  # 0.05 % of it is 249.996 ticks
    r.oms.ack(first)
    r.book_msg(sent + 2 * SEC - 1, 500_300, 500_320)  # 308 ticks away, but 1 ns short of 2 s old
    assert r.oms.cancels == []
    r.book_msg(sent + 2 * SEC, 500_200, 500_220)  # 2 s old, 208 ticks: too close
    assert r.oms.cancels == []
    r.book_msg(sent + 2 * SEC + 1, 500_242, 500_262)  # 250 ticks: 250/499 992 = 0.050001 % > 0.05 %
    assert r.oms.cancels == [first.cl_ord_id]
    r.book_msg(sent + 2 * SEC + 2, 500_400, 500_420)  # cancel in flight: not sent again
    assert r.oms.cancels == [first.cl_ord_id] and len(r.submits) == 1
    r.oms.confirm_cancel(first)
    assert len(r.submits) == 2
    again = r.last()
    assert (again.side, again.price_ticks, again.tag) == (Side.BUY, 500_402, "entry")
    assert r.s.state.maker_order_id == again.cl_ord_id


def test_no_repost_when_the_signal_died_during_the_chase():
    r = Rig()
    r.burst(T0)
    r.oms.ack(r.last())
    r.book_msg(T0 + 6 * SEC, 500_300, 500_320)  # chase; the 5 s window has emptied
    assert len(r.oms.cancels) == 1
    r.oms.confirm_cancel(r.last())
    assert len(r.submits) == 1 and r.s.state.valve_open()


def test_a_refused_cancel_lets_the_chase_try_again():
    r = Rig()
    r.burst(T0)
    o = r.last()
    r.oms.ack(o)
    r.book_msg(T0 + 3 * SEC, 500_300, 500_320)
    assert r.oms.cancels == [o.cl_ord_id]
    o.transition(OrderState.LIVE)  # the OMS's record after the exchange refused the cancel
    r.bus.publish(OrderUpdate(o, T0 + 3 * SEC, T0 + 3 * SEC))
    r.book_msg(T0 + 4 * SEC, 500_300, 500_320)
    assert r.oms.cancels == [o.cl_ord_id, o.cl_ord_id]


# -- exits, lock, cooldown, anomaly -------------------------------------------------------------------------------


def enter_long(r: Rig, t_ns: int) -> Order:
    r.burst(t_ns)
    o = r.last()
    r.oms.ack(o)
    r.oms.fill(o)
    return o


def test_trailing_exit_is_a_reduce_only_market_order_tagged_exit():
    r = Rig()
    enter_long(r, T0)  # entry 499 992
    r.trade(T0 + SEC, 500_600, 1, Side.BUY)
    r.trade(T0 + SEC + 1, 500_340, 1, Side.SELL)  # back 260 ticks ≥ 249.996
    o = r.last()
    assert (o.side, o.ord_type, o.size_lots, o.price_ticks) == (Side.SELL, OrderType.MARKET, 100, None)
    assert o.reduce_only and o.tag == "exit" and r.submits[-1].stop_ticks is None
    r.trade(T0 + SEC + 2, 500_300, 1, Side.SELL)
    assert len(r.submits) == 2  # one exit at a time


def test_a_refused_exit_is_sent_again_on_the_next_trade():
    r = Rig()
    enter_long(r, T0)
    r.trade(T0 + SEC, 500_600, 1, Side.BUY)
    r.oms.refuse_next = True
    r.trade(T0 + SEC + 1, 500_340, 1, Side.SELL)
    assert r.last().state is OrderState.REJECTED and r.s.state.exit_order_id is None
    r.trade(T0 + SEC + 2, 500_330, 1, Side.SELL)
    assert len(r.submits) == 3 and r.last().tag == "exit" and r.last().state is OrderState.SUBMITTED


def test_exit_cancels_a_partially_filled_entry():
    r = Rig()
    r.burst(T0)
    entry = r.last()
    r.oms.ack(entry)
    r.oms.fill(entry, lots=60)
    r.trade(T0 + SEC, 500_600, 1, Side.BUY)
    r.trade(T0 + SEC + 1, 500_300, 1, Side.SELL)
    assert r.oms.cancels == [entry.cl_ord_id]
    assert r.last().size_lots == 60 and r.last().tag == "exit"
    r.oms.confirm_cancel(entry)
    assert len(r.submits) == 2  # a cancel for leaving is not a chase: no re-post


def test_post_exit_lock_of_10_s():
    r = Rig()
    enter_long(r, T0)
    r.trade(T0 + SEC, 500_600, 1, Side.BUY)
    r.trade(T0 + SEC + 1, 500_340, 1, Side.SELL)
    r.at(T0 + 2 * SEC)
    r.oms.fill(r.last(), ticks=500_340)  # exit fill at T0 + 2 s
    assert r.s.state.local_pos_size == 0 and r.s.state.last_exit_time == T0 + 2 * SEC
    r.burst(T0 + 11 * SEC, px=501_000)  # above the EMA the exit path left behind: trend not bear
    r.trade(T0 + 12 * SEC - 1, 501_000, 1, Side.BUY)
    assert len(r.submits) == 2
    r.trade(T0 + 12 * SEC, 501_000, 1, Side.BUY)
    assert len(r.submits) == 3 and r.last().tag == "entry"


def test_cooldown_seconds_delays_the_next_entry_past_the_lock():
    r = Rig(cooldown_seconds=30)
    enter_long(r, T0)
    r.trade(T0 + SEC, 500_600, 1, Side.BUY)
    r.trade(T0 + SEC + 1, 500_340, 1, Side.SELL)
    r.at(T0 + 2 * SEC)
    r.oms.fill(r.last(), ticks=500_340)
    r.burst(T0 + 31 * SEC, px=501_000)
    r.trade(T0 + 32 * SEC - 1, 501_000, 1, Side.BUY)
    assert len(r.submits) == 2
    r.trade(T0 + 32 * SEC, 501_000, 1, Side.BUY)
    assert len(r.submits) == 3


def test_anomalous_fill_flattens_the_whole_position():
    r = Rig()
    entry = enter_long(r, T0)
    # a second 4-contract fill nobody expected (e.g. a chase that lost the race): 500 lots > 400
    stray = Order("x9", INST, Side.BUY, OrderType.LIMIT, 400, PX, strategy_id="scalper_v1", state=OrderState.LIVE)
    r.oms.orders["x9"] = stray
    r.oms.fill(stray)
    o = r.last()
    assert o is not entry
    assert (o.side, o.ord_type, o.size_lots, o.reduce_only, o.tag) == (Side.SELL, OrderType.MARKET, 500, True,
                                                                       "flatten")
    r.trade(T0 + SEC, PX, 1, Side.BUY)
    assert len(r.submits) == 2  # no second flatten while one works
    r.oms.fill(o, ticks=PX)
    assert r.s.state.local_pos_size == 0 and r.s.state.valve_open()


def test_position_report_beyond_the_limit_flattens_without_touching_our_state():
    r = Rig()
    r.bus.publish(PositionUpdate(INST, -450, 50_000.0, PositionSource.EXCHANGE, T0, T0))
    o = r.last()
    assert (o.side, o.size_lots, o.reduce_only, o.tag) == (Side.BUY, 450, True, "flatten")
    assert r.s.state.local_pos_size == 0
    r.bus.publish(PositionUpdate(INST, 400, 50_000.0, PositionSource.EXCHANGE, T0, T0))
    assert len(r.submits) == 1


# -- integration -----------------------------------------------------------------------------------------------------


def test_burst_enters_then_the_trailing_stop_exits_on_the_crafted_path():
    r = Rig()
    # quiet tape, 1 lot a print, just under 500 000: 100 USDT of flow, no entry
    for i in range(20):
        r.trade(T0 + i * 100_000_000, PX - (i % 3), 1, Side.BUY if i % 2 else Side.SELL)
    assert r.submits == [] and r.s.signal.trend.value == "bear"
    # the burst: 300 lots sold, then buyers take 1600 lots in four prints within 400 ms
    t = T0 + 3 * SEC
    r.trade(t, PX, 300, Side.SELL)
    for k in range(4):
        r.trade(t + (k + 1) * 100_000_000, PX, 400, Side.BUY)
        assert len(r.submits) == (1 if k == 3 else 0)  # 1210/310 = 3.9x after three prints, 5.2x after four
    assert r.s.signal.trend.value == "bull"
    entry = r.last()
    assert (entry.side, entry.price_ticks, entry.tag) == (Side.BUY, 499_992, "entry")
    r.oms.ack(entry)
    r.at(t + SEC)
    r.oms.fill(entry)
    st = r.s.state
    assert st.local_pos_size == 100 and st.entry_price == 499_992 and st.entry_time == t + SEC
    # +0.1 % of 499 992 is 499.992 ticks: 500 491 is short of it, 500 492 arms
    path = [(500_200, False, False), (500_491, False, False), (500_492, True, False), (500_700, True, False),
            (500_451, True, False),  # back 249 ticks < 249.996 (0.05 % of the entry)
            (500_450, True, True)]  # back 250 ticks: exit
    for i, (px, armed, exits) in enumerate(path):
        r.trade(t + 2 * SEC + i * SEC, px, 2, Side.BUY)
        assert st.trailing_armed is armed
        assert (r.last().tag == "exit") is exits
    assert st.highest_pnl_pct == pytest.approx(708 / 499_992)
    exit_order = r.last()
    assert (exit_order.side, exit_order.size_lots, exit_order.reduce_only) == (Side.SELL, 100, True)
    r.oms.fill(exit_order, ticks=500_450)
    assert st.local_pos_size == 0 and st.last_exit_time == r.clock.now_ns()
    assert len(r.submits) == 2 and r.bus.errors == 0
