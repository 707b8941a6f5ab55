from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from athena.book.l2 import L2Book
from athena.catalog import meta
from athena.catalog.importers.tardis import import_tardis
from athena.catalog.reader import Catalog
from athena.catalog.stream import merge_windows, sources_for
from athena.core.bus import EventBus
from athena.core.clock import SimClock
from athena.core.events import EventType
from athena.errors import CatalogError
from athena.model.enums import Channel
from athena.sim.replay import Replay

# 2024-03-01T23:59:59Z in µs; midnight (a date= boundary) is one second later.
T = 1_709_337_599_000_000
H = "exchange,symbol,timestamp,local_timestamp"

BOOK = f"""{H},is_snapshot,side,price,amount
test-ex,FOO-PERP,{T},{T + 100},true,bid,99.5,2
test-ex,FOO-PERP,{T},{T + 100},true,bid,99.25,1.5
test-ex,FOO-PERP,{T},{T + 100},true,ask,100.0,3
test-ex,FOO-PERP,{T},{T + 100},true,ask,100.75,0.125
test-ex,FOO-PERP,{T + 500_000},{T + 500_100},false,bid,99.5,0
test-ex,FOO-PERP,{T + 500_000},{T + 500_100},false,ask,99.75,1
test-ex,FOO-PERP,{T + 500_000},{T + 500_200},false,ask,100.75,0.25
test-ex,FOO-PERP,{T + 1_200_000},{T + 1_200_100},false,ask,100,0
test-ex,FOO-PERP,{T + 1_200_000},{T + 1_200_100},false,bid,99.5,0.5
"""
TRADES = f"""{H},id,side,price,amount
test-ex,FOO-PERP,{T + 100_000},{T + 100_500},101,buy,100.0,0.5
test-ex,FOO-PERP,{T + 200_000},{T + 200_500},102,sell,99.5,1.25
test-ex,FOO-PERP,{T + 300_000},{T + 300_500},103,unknown,99.5,1
"""
QUOTES = f"""{H},ask_amount,ask_price,bid_price,bid_amount
test-ex,FOO-PERP,{T},{T + 100},3,100.0,99.5,2
test-ex,FOO-PERP,{T + 600_000},{T + 600_100},,,99.25,1.5
"""
TICKER = f"""{H},funding_timestamp,funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price
test-ex,FOO-PERP,{T},{T + 10_000},{T + 1_000_000},0.0001,,,,,99.75
test-ex,FOO-PERP,{T + 500_000},{T + 510_000},{T + 1_000_000},0.0001,,,,,99.8
test-ex,FOO-PERP,{T + 1_500_000},{T + 1_510_000},{T + 28_801_000_000},0.00012,0.00015,,,,
"""


def _write(tmp: Path, name: str, text: str, gz: bool = False) -> Path:
    p = tmp / name
    if gz:
        p.write_bytes(gzip.compress(text.encode()))
    else:
        p.write_text(text)
    return p


@pytest.fixture
def imported(tmp_path: Path):
    files = [
        _write(tmp_path, "test-ex_incremental_book_L2_FOO-PERP.csv.gz", BOOK, gz=True),
        _write(tmp_path, "test-ex_trades_FOO-PERP.csv", TRADES),
        _write(tmp_path, "test-ex_quotes_FOO-PERP.csv", QUOTES),
        _write(tmp_path, "test-ex_derivative_ticker_FOO-PERP.csv", TICKER),
    ]
    root = tmp_path / "cat"
    # chunk_lines=3: messages straddle chunk boundaries, which must not split them
    reports = import_tardis(files, root, chunk_lines=3)
    return root, reports


def _rows(root: Path, channel: Channel) -> pl.DataFrame:
    return Catalog(root).scan("test-ex", channel, "FOO-PERP").collect()


def test_book_rows_grouped_into_messages_with_checkpoint_at_the_new_day(imported):
    root, _ = imported
    b = _rows(root, Channel.BOOKS)
    ns = 1000
    # 2 snapshot bids + 2 asks, then two updates on 03-01; on 03-02 a checkpoint of the book
    # (bid 99.25; asks 99.75, 100, 100.75) then the last update.
    assert b["msg_id"].to_list() == [1, 1, 1, 1, 2, 2, 3, 4, 4, 4, 4, 5, 5]
    assert b["action"].to_list() == [1, 1, 1, 1, 0, 0, 0, 2, 2, 2, 2, 0, 0]
    assert b["side"].to_list() == [0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 0]
    assert b["price"].to_list() == [9950, 9925, 10000, 10075, 9950, 9975, 10075,
                                    9925, 9975, 10000, 10075, 10000, 9950]  # fmt: skip
    assert b["size"].to_list() == [2000, 1500, 3000, 125, 0, 1000, 250, 1500, 1000, 3000, 250, 0, 500]
    assert b["last_in_msg"].to_list() == [False, False, False, True, False, True, True,
                                          False, False, False, True, False, True]  # fmt: skip
    assert b["ts_event"].to_list()[:4] == [T * ns] * 4
    assert b["ts_recv"].to_list()[6] == (T + 500_200) * ns
    # The checkpoint: the last exchange time of the book, received with the day's first message.
    assert b["ts_event"].to_list()[7:11] == [(T + 500_000) * ns] * 4
    assert b["ts_recv"].to_list()[7:13] == [(T + 1_200_100) * ns] * 6
    assert b["seq_id"].null_count() == 13 and b["checksum"].null_count() == 13
    cat = Catalog(root)
    assert [d.isoformat() for d in cat.dates("test-ex", Channel.BOOKS, "FOO-PERP")] == ["2024-03-01", "2024-03-02"]


def test_trades_quotes_and_derivative_ticker_rows(imported):
    root, reports = imported
    (rep,) = reports
    t = _rows(root, Channel.TRADES)
    assert t.select("trade_id", "price", "size", "side").rows() == [(101, 10000, 500, 0), (102, 9950, 1250, 1)]
    assert t["ts_recv"].to_list() == [(T + 100_500) * 1000, (T + 200_500) * 1000]
    q = _rows(root, Channel.BBO)
    assert q.select("bid_price", "bid_size", "ask_price", "ask_size").rows() == [(9950, 2000, 10000, 3000)]
    mk = _rows(root, Channel.MARK_PRICE)
    assert mk["mark_price"].to_list() == [9975, 9980]
    f = _rows(root, Channel.FUNDING)  # the repeated (rate, time, forecast) row is not written twice
    assert f.select("funding_rate", "next_funding_rate", "funding_time").rows() == [
        (0.0001, None, (T + 1_000_000) * 1000),
        (0.00012, 0.00015, (T + 28_801_000_000) * 1000),
    ]
    assert rep.skipped == {
        "trades with side 'unknown' (no aggressor side to store)": 1,
        "quotes with an empty side": 1,
        "derivative_ticker rows with no mark_price (no mark_price row)": 1,
    }
    assert rep.total_rows(Channel.BOOKS) == 13 and rep.checkpoints == 1


def test_decimals_are_the_most_seen_and_stored_in_meta(imported):
    root, _ = imported
    m = meta.read_instruments(root, "test-ex")["FOO-PERP"]
    # prices: 99.25 / 100.75 -> 2 decimals ("100.0" counts 0); sizes: 0.125 -> 3
    assert (m.price_decimals, m.size_decimals, m.spec) == (2, 3, None)
    # smallest receive-minus-exchange delta of 2024-03-01 is 100 µs: shifted up to the 1 ms base
    shift = meta.read_clock_shifts(root, "test-ex")["2024-03-01"]
    assert (shift.min_delta_ns, shift.shift_ns) == (100_000, 900_000)


def test_a_bad_value_names_file_line_and_column_and_writes_nothing(tmp_path: Path):
    bad = BOOK.replace("99.25,1.5", "99.2.5,1.5")
    p = _write(tmp_path, "book.csv", bad)
    with pytest.raises(CatalogError, match=r"book\.csv: line 3, column 'price': '99\.2\.5' is not a plain decimal"):
        import_tardis([p], tmp_path / "cat")
    assert not (tmp_path / "cat" / "test-ex").exists()


def test_not_a_tardis_header(tmp_path: Path):
    p = _write(tmp_path, "x.csv", "a,b,c\n1,2,3\n")
    with pytest.raises(CatalogError, match=r"x\.csv: line 1: header 'a,b,c' is not a Tardis"):
        import_tardis([p], tmp_path / "cat")


def test_stand_in_spec_for_binance_btcusdt(tmp_path: Path):
    text = TRADES.replace("test-ex,FOO-PERP", "binance-futures,BTCUSDT")
    import_tardis([_write(tmp_path, "t.csv", text)], tmp_path / "cat")
    m = meta.read_instruments(tmp_path / "cat", "binance-futures")["BTCUSDT"]
    assert m.spec is not None and str(m.spec.tick_sz) == "0.1" and str(m.spec.lot_sz) == "0.001"
    assert (m.price_decimals, m.size_decimals) == (8, 3)  # wide enough for Binance's 8-decimal mark price
    t = Catalog(tmp_path / "cat").scan("binance-futures", Channel.TRADES, "BTCUSDT").collect()
    assert t["price"].to_list() == [10_000_000_000, 9_950_000_000]


def test_real_binance_file_replays_never_crossed_with_the_slow_clock_measured(real_data: Path, tmp_path: Path):
    tardis = real_data / "tardis"
    files = [tardis / "binance-futures_incremental_book_L2_BTCUSDT_2024-07-18.csv.gz",
             tardis / "binance-futures_trades_BTCUSDT_2024-07-18.csv.gz"]  # fmt: skip
    root = tmp_path / "cat"
    (rep,) = import_tardis(files, root)
    # SOURCES.md: 402,592 book rows (2,005 snapshot + 400,587 diff), 10,701 trades; the
    # checkpoint opening 2024-07-19 adds one copy of the book.
    assert rep.total_rows(Channel.TRADES) == 10_701
    assert rep.checkpoints == 1 and rep.total_rows(Channel.BOOKS) > 402_592
    shifts = meta.read_clock_shifts(root, "binance-futures")
    assert sorted(shifts) == ["2024-07-18", "2024-07-19"]
    assert all(s.shift_ns > 1_400_000_000 for s in shifts.values())  # the collector ran ~1.5 s slow

    cat = Catalog(root)
    sources, specs = sources_for(cat, "binance-futures", ["BTCUSDT"], [Channel.TRADES, Channel.BOOKS], None, None)
    clock = SimClock(0)
    bus = EventBus(clock.now_ns)
    seen = {"messages": 0, "crossed": 0}

    def on_book(ev) -> None:  # type: ignore[no-untyped-def]
        seen["messages"] += 1
        if not ev.book.best_bid < ev.book.best_ask:
            seen["crossed"] += 1

    bus.subscribe(EventType.BOOK_EVENT, on_book)
    spec = specs["BTCUSDT"]
    stats = Replay(clock, bus, [L2Book(spec)], [None], exchange_books=[L2Book(spec)]).run(merge_windows(sources), 0)
    # 9,016 diff messages + the snapshot (SOURCES.md); the checkpoint is never dispatched
    assert seen == {"messages": 9_017, "crossed": 0}
    assert stats.trades == 10_701
