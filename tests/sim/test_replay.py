from __future__ import annotations

from pathlib import Path

import pytest

from athena.book.l2 import L2Book
from athena.catalog.stream import SourceSpec, merge_windows
from athena.core.bus import EventBus
from athena.core.clock import SimClock
from athena.core.events import EventType
from athena.model.enums import Channel
from athena.model.instrument import InstrumentSpec
from athena.sim.replay import Replay
from tests.catalog.test_stream import write_books, write_trades

SPEC = InstrumentSpec(inst_id="T-USDT-SWAP", tick_sz="1", lot_sz="1", min_sz="1")


class FakeMarket:
    """Records the hook calls the loop makes, with the clock time of each."""

    def __init__(self, clock: SimClock, log: list) -> None:
        self.book = L2Book(SPEC)
        # "orders" resting at every price of the data, so the loop calls the level hook for each row
        self.resting = ({999: ["o"], 1000: ["o"]}, {1001: ["o"], 1002: ["o"]})
        self.consumed = ({}, {})
        self.our_best_bid = -1
        self.our_best_ask = 1 << 62
        self.active = True
        self.watch_trades = True
        self.clock = clock
        self.log = log

    def on_book_level(self, side, ticks, old, new, ts_raw):
        self.log.append(("ex_level", self.clock.now_ns(), side, ticks, old, new))

    def on_book_reset(self):
        self.log.append(("ex_reset", self.clock.now_ns()))

    def on_trade(self, ticks, lots, side, trade_id, ts_raw):
        self.log.append(("ex_trade", self.clock.now_ns(), ticks, lots, side, trade_id))

    def on_mark_price(self, ticks):
        pass

    def on_funding_rate(self, rate, t):
        pass


@pytest.fixture
def catalog(tmp_path: Path) -> list[SourceSpec]:
    trades = write_trades(tmp_path / "t.parquet", [
        (150, 210, 7, 1001, 2, 0),  # buyer-taker at 1001, seen 60 ns later
    ])
    books = write_books(tmp_path / "b.parquet", [
        (50, 60, 1, 1, 0, 999, 10, False), (50, 60, 1, 1, 1, 1001, 10, True),
        (100, 130, 2, 0, 0, 1000, 3, False), (100, 130, 2, 0, 1, 1001, 0, False),
        (100, 130, 2, 0, 1, 1002, 4, True),
        (160, 220, 3, 0, 0, 1000, 0, True),
    ])
    return [SourceSpec(Channel.TRADES, 0, (trades,)), SourceSpec(Channel.BOOKS, 0, (books,))]


def build(clock: SimClock, log: list):
    bus = EventBus(clock.now_ns)
    local = L2Book(SPEC)
    market = FakeMarket(clock, log)
    return bus, local, market


@pytest.mark.parametrize("batch_rows", [1, 2, 1000])
def test_both_timelines_in_time_order_exchange_first(catalog, batch_rows):
    clock = SimClock(0)
    log: list = []
    bus, local, market = build(clock, log)

    def on_book(ev):
        bids, asks = ev.book.depth(5)
        changes = [(ev.changes.side(i), ev.changes.ticks(i), ev.changes.lots(i)) for i in range(len(ev.changes))]
        log.append(("book", clock.now_ns(), ev.ts_event, ev.is_snapshot, bids, asks, changes))

    bus.subscribe(EventType.BOOK_EVENT, on_book)
    bus.subscribe(EventType.TICK, lambda e: log.append(("tick", clock.now_ns(), e.ticks, e.lots, e.side.value)))
    replay = Replay(clock, bus, [local], [market])
    stats = replay.run(merge_windows(catalog, batch_rows=batch_rows), start_ns=0)
    assert stats.rows == 7 and stats.trades == 1 and stats.book_messages == 3
    assert log == [
        ("ex_level", 50, 0, 999, 0, 10), ("ex_level", 50, 1, 1001, 0, 10), ("ex_reset", 50),
        ("book", 60, 50, True, [(999, 10)], [(1001, 10)], [(0, 999, 10), (1, 1001, 10)]),
        ("ex_level", 100, 0, 1000, 0, 3), ("ex_level", 100, 1, 1001, 10, 0), ("ex_level", 100, 1, 1002, 0, 4),
        ("book", 130, 100, False, [(1000, 3), (999, 10)], [(1002, 4)], [(0, 1000, 3), (1, 1001, 0), (1, 1002, 4)]),
        ("ex_trade", 150, 1001, 2, 0, 7),
        ("ex_level", 160, 0, 1000, 3, 0),
        ("tick", 210, 1001, 2, "buy"),
        ("book", 220, 160, False, [(999, 10)], [(1002, 4)], [(0, 1000, 0)]),
    ]


def test_heap_item_runs_after_the_exchange_row_and_before_the_local_row_of_its_instant(catalog):
    clock = SimClock(0)
    log: list = []
    bus, local, market = build(clock, log)
    bus.subscribe(EventType.BOOK_EVENT, lambda e: log.append(("book", clock.now_ns())))
    bus.subscribe(EventType.TICK, lambda e: log.append(("tick", clock.now_ns())))
    # 100 is an exchange instant (message 2), 130 its local instant, 210 the trade's local instant
    for t in (100, 130, 210):
        clock.schedule(t, lambda _, t=t: log.append(("heap", clock.now_ns())))
    Replay(clock, bus, [local], [market]).run(merge_windows(catalog, batch_rows=2), start_ns=0)
    names = [(e[0], e[1]) for e in log]
    assert names.index(("ex_level", 100)) < names.index(("heap", 100)) < names.index(("book", 130))
    assert names.index(("heap", 130)) < names.index(("book", 130))
    assert names.index(("heap", 210)) < names.index(("tick", 210))


def test_strategy_never_sees_a_book_before_the_exchange_could_have_produced_it(catalog):
    clock = SimClock(0)
    log: list = []
    bus, local, market = build(clock, log)
    seen = []
    bus.subscribe(EventType.BOOK_EVENT, lambda e: seen.append((clock.now_ns(), e.ts_event)))
    Replay(clock, bus, [local], [market]).run(merge_windows(catalog), start_ns=0)
    assert seen and all(now >= ts_event for now, ts_event in seen)


def test_rows_before_the_start_warm_the_books_without_dispatch(catalog):
    clock = SimClock(200)
    log: list = []
    bus, local, market = build(clock, log)
    seen = []
    bus.subscribe(EventType.BOOK_EVENT, lambda e: seen.append(e.ts_recv))
    stats = Replay(clock, bus, [local], [market]).run(merge_windows(catalog), start_ns=200)
    assert stats.warmup_rows == 5
    assert seen == [220]
    assert local.bids == {999: 10} and local.asks == {1002: 4}
    assert market.book.best_bid == 999 and market.book.best_ask == 1002


def test_end_stops_the_run_and_drains_the_heap_up_to_it(catalog):
    clock = SimClock(0)
    log: list = []
    bus, local, market = build(clock, log)
    clock.schedule(500, lambda _: log.append(("late", clock.now_ns())))
    clock.schedule(140, lambda _: log.append(("due", clock.now_ns())))
    Replay(clock, bus, [local], [market]).run(merge_windows(catalog, end_ns=200), start_ns=0, end_ns=200)
    assert ("due", 140) in log and not any(e[0] == "late" for e in log)
    assert clock.now_ns() == 200
