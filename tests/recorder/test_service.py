"""recorder/service.py without a network: real OKX frames fed through a RecordingSocket become exact catalog
rows and session rows; the backlog policy drops journal lines first, then rows, says so, and never blocks."""

from __future__ import annotations

import asyncio
import copy
import json
import logging
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from athena.catalog.reader import Catalog
from athena.core.events import ConnectionEvent
from athena.errors import ConfigError
from athena.model.enums import Channel, ConnectionStatus
from athena.model.instrument import BTC_USDT_SWAP, InstrumentSpec
from recorder.journal import journal_files, read_journal
from recorder.service import Recorder, RecorderSettings, okx_subscription, parse_channels
from recorder.status import RecorderStats, StatusDisplay, format_line
from tests.conftest import load_fixture
from tests.recorder.test_e2e_emulator import rebuild_books, rows

BTC_SPOT = InstrumentSpec("BTC-USDT", tick_sz=Decimal("0.1"), lot_sz=Decimal("0.00000001"),
                          min_sz=Decimal("0.00001"), inst_type="SPOT")  # fmt: skip
LTC_SWAP = InstrumentSpec("LTC-USDT-SWAP", tick_sz=Decimal("0.01"), lot_sz=Decimal("1"), min_sz=Decimal("1"))
LTC_USDC = InstrumentSpec("LTC-USDC", tick_sz=Decimal("0.01"), lot_sz=Decimal("0.000001"),
                          min_sz=Decimal("0.000001"), inst_type="SPOT")  # fmt: skip
SPECS = {s.inst_id: s for s in (BTC_SPOT, BTC_USDT_SWAP, LTC_SWAP, LTC_USDC)}
SNAPSHOT_CHECKSUM = 47640993  # ws_books_snapshot.json's own checksum
UPDATE_CHECKSUM = -652563973  # ws_books_update.json's, on the snapshot + update
T0 = 1_786_540_400_000_000_000  # 2026-08-12T11:13:20Z
DAY = 86_400_000_000_000


class Clock:
    """A settable receive clock."""

    def __init__(self, t: int = T0) -> None:
        self.t = t

    def __call__(self) -> int:
        return self.t


def recorder(root: Path, insts: tuple[str, ...], clock: Clock, **kw: Any) -> Recorder:
    s = RecorderSettings(insts, (Channel.TRADES, Channel.BOOKS), root, "ws://127.0.0.1:1/ws/v5/public",
                         "ws://127.0.0.1:1/ws/v5/business", **kw)  # fmt: skip
    rec = Recorder(s, SPECS, now_ns=clock)
    rec.open()
    return rec


def frame(name: str) -> str:
    return json.dumps(load_fixture(name), separators=(",", ":"))


def test_book_frames_become_exact_rows_with_a_checkpoint_after_each_snapshot(tmp_path: Path):
    clock = Clock()
    rec = recorder(tmp_path, ("BTC-USDT",), clock)
    sock = rec.add_socket("public")
    snap, upd = frame("ws_books_snapshot.json"), frame("ws_books_update.json")
    clock.t = T0 + 1_000_000
    sock.feed(snap)
    clock.t = T0 + 2_000_000
    sock.feed(upd)
    rec.close()

    b = rows(tmp_path, Channel.BOOKS, "BTC-USDT")
    s = load_fixture("ws_books_snapshot.json")["data"][0]
    u = load_fixture("ws_books_update.json")["data"][0]
    n_snap, n_upd = len(s["bids"]) + len(s["asks"]), len(u["bids"]) + len(u["asks"])
    assert b["msg_id"] == [1] * n_snap + [2] * n_snap + [3] * n_upd
    assert b["action"] == [1] * n_snap + [2] * n_snap + [0] * n_upd  # snapshot, its checkpoint, the update
    # bids first (as the gateway lists them), then asks; prices × 10, sizes × 10^8, exactly
    nb = len(s["bids"])
    assert (b["side"][nb], b["price"][nb], b["size"][nb]) == (1, 302435, 144679000)  # ["30243.5", "1.44679"]
    assert b["price"][0] == int(Decimal(s["bids"][0][0]) * 10) and b["size"][0] == int(Decimal(s["bids"][0][1]) * 10**8)
    last = n_snap * 2 + n_upd - 1
    assert b["checksum"][n_snap - 1] == SNAPSHOT_CHECKSUM and b["checksum"][last] == UPDATE_CHECKSUM
    assert b["checksum"].count(None) == len(b["checksum"]) - 3
    assert "seqId" not in u and (b["seq_id"][last], b["prev_seq_id"][last]) == (None, None)  # as sent: none
    assert set(b["ts_recv"][:2 * n_snap]) == {T0 + 1_000_000} and set(b["ts_recv"][2 * n_snap:]) == {T0 + 2_000_000}
    assert b["ts_event"][last] == int(u["ts"]) * 1_000_000
    _, seen = rebuild_books(tmp_path, "BTC-USDT")  # both checksums reproduce from the stored integers
    assert seen == {"snapshot": 1, "checkpoint": 1, "update": 1, "checksums": 2}
    # the journal holds both frames byte for byte, stamped with their receive times
    lines = [ln for p in journal_files(tmp_path) for ln in read_journal(p)]
    assert [(ln.ts_recv, ln.conn, ln.raw) for ln in lines] == [(T0 + 1_000_000, "public-0", snap),
                                                              (T0 + 2_000_000, "public-0", upd)]


def test_a_new_utc_day_opens_with_a_checkpoint_of_the_book_before_the_update(tmp_path: Path):
    clock = Clock()
    midnight = (T0 // DAY + 1) * DAY
    rec = recorder(tmp_path, ("BTC-USDT",), clock)
    sock = rec.add_socket("public")
    clock.t = midnight - 100_000_000
    sock.feed(frame("ws_books_snapshot.json"))
    clock.t = midnight + 100_000_000
    sock.feed(frame("ws_books_update.json"))
    rec.close()

    cat = Catalog(tmp_path)
    days = [d.isoformat() for d in cat.dates("okx", Channel.BOOKS, "BTC-USDT")]
    assert days == ["2026-08-12", "2026-08-13"]
    b = rows(tmp_path, Channel.BOOKS, "BTC-USDT")
    n_snap = len(load_fixture("ws_books_snapshot.json")["data"][0]["bids"]) + len(
        load_fixture("ws_books_snapshot.json")["data"][0]["asks"])
    day2 = [i for i, t in enumerate(b["ts_recv"]) if t >= midnight]
    # the new partition starts with a checkpoint (msg 3) of the snapshot's book, stamped with the update's
    # receive time, then the update (msg 4)
    assert [b["action"][i] for i in day2][:n_snap] == [2] * n_snap
    assert [b["msg_id"][i] for i in day2] == [3] * n_snap + [4] * (len(day2) - n_snap)
    assert b["checksum"][day2[n_snap - 1]] == SNAPSHOT_CHECKSUM
    assert rebuild_books(tmp_path, "BTC-USDT")[1]["checkpoint"] == 2


def test_trades_tickers_candles_funding_and_bbo_become_exact_rows(tmp_path: Path):
    clock = Clock()
    rec = recorder(tmp_path, ("BTC-USDT-SWAP", "LTC-USDT-SWAP", "LTC-USDC"), clock)
    pub, biz = rec.add_socket("public"), rec.add_socket("business")
    for f in ("ws_trades_swap_2026.json", "ws_tickers_swap_2026.json", "ws_funding_rate.json", "ws_bbo_tbt.json"):
        clock.t += 1_000
        pub.feed(frame(f))
    clock.t += 1_000
    biz.feed(frame("ws_candle1m_swap_2026.json"))
    rec.close()

    t = rows(tmp_path, Channel.TRADES, "BTC-USDT-SWAP")
    assert t == {"ts_event": [1786540436090 * 10**6], "ts_recv": [T0 + 1_000], "trade_id": [2832749645],
                 "price": [639134], "size": [3495], "side": [1]}  # fmt: skip
    k = rows(tmp_path, Channel.TICKERS, "BTC-USDT-SWAP")
    assert (k["last_price"], k["last_size"], k["ask_price"], k["ask_size"], k["bid_size"]) == (
        [639210], [40], [639211], [187175], [77930])
    assert (k["vol_24h"], k["vol_ccy_24h"], k["high_24h"], k["low_24h"]) == ([7399887.86], [73998.8786], [644660],
                                                                              [631627])  # fmt: skip
    f = rows(tmp_path, Channel.FUNDING, "LTC-USDT-SWAP")
    assert f == {"ts_event": [1765201461438 * 10**6], "ts_recv": [T0 + 3_000], "funding_rate": [0.0001],
                 "next_funding_rate": [None], "funding_time": [1765209600000 * 10**6],
                 "next_funding_time": [1765238400000 * 10**6]}  # fmt: skip
    q = rows(tmp_path, Channel.BBO, "LTC-USDC")
    assert (q["bid_price"], q["bid_size"], q["ask_price"], q["ask_size"], q["seq_id"]) == (
        [8380], [11933170], [8381], [11931750], [378617009])
    c = rows(tmp_path, Channel.CANDLES, "BTC-USDT-SWAP")
    assert (c["bar"], c["open"], c["high"], c["close"], c["volume"], c["confirm"]) == (
        ["1m"], [639130], [639518], [639518], [1803.61], [False])
    assert rec.stats.channels[Channel.TRADES].lag_ns == T0 + 1_000 - 1786540436090 * 10**6


def test_connection_events_and_subscribe_acks_become_session_rows_for_every_instrument(tmp_path: Path):
    clock = Clock()
    rec = recorder(tmp_path, ("BTC-USDT-SWAP", "LTC-USDT-SWAP"), clock)
    sock = rec.add_socket("public")
    sock.feed(frame("ws_subscribe_ack_2026.json"))  # books5 of BTC-USDT-SWAP
    sock.connects = 1
    rec.on_connection(sock, ConnectionEvent(ConnectionStatus.UP, "okx.public", "connected (connection 1)", T0, T0))
    rec.on_connection(sock, ConnectionEvent(ConnectionStatus.DOWN, "okx.public", "closed by the server", T0 + 5,
                                            T0 + 5))  # fmt: skip
    sock.connects = 2
    rec.on_connection(sock, ConnectionEvent(ConnectionStatus.UP, "okx.public", "connected (connection 2)", T0 + 9,
                                            T0 + 9))  # fmt: skip
    sock.recv_ns = T0 + 20
    rec.on_connection(sock, ConnectionEvent(ConnectionStatus.GAP, "books:LTC-USDT-SWAP", "prevSeqId 7 != 6", T0 + 21,
                                            T0 + 21))  # fmt: skip
    rec.close()

    btc = rows(tmp_path, Channel.SESSIONS, "BTC-USDT-SWAP")
    ltc = rows(tmp_path, Channel.SESSIONS, "LTC-USDT-SWAP")
    assert btc["kind"] == ["restart", "subscribe", "connect", "disconnect", "reconnect"]
    assert ltc["kind"] == ["restart", "connect", "disconnect", "reconnect", "seq_gap"]
    assert btc["channel"] == [None, None, None, None, None]  # books5 is not a catalog channel; the link is
    assert (ltc["ts_recv"][-1], ltc["channel"][-1], ltc["detail"][-1]) == (T0 + 20, "books", "prevSeqId 7 != 6")
    assert btc["detail"][3] == "public: closed by the server"
    assert rec.stats.reconnects == 1 and rec.stats.seq_gaps == 1


async def test_a_bad_checksum_writes_no_row_for_that_message_and_the_resync_starts_from_a_snapshot(tmp_path: Path):
    clock = Clock()
    rec = recorder(tmp_path, ("BTC-USDT",), clock)
    sock = rec.add_socket("public")
    snap, upd = load_fixture("ws_books_snapshot.json"), load_fixture("ws_books_update.json")
    bad = copy.deepcopy(upd)
    bad["data"][0]["checksum"] = 12345
    for i, f in enumerate((snap, bad, upd, snap, upd)):  # the update after the failure is stale: skipped
        clock.t = T0 + i * 1_000_000
        sock.feed(json.dumps(f))
    await asyncio.sleep(0)  # the gateway's resubscribe task (not connected: it sends nothing)
    rec.close()

    b = rows(tmp_path, Channel.BOOKS, "BTC-USDT")
    msgs = sorted(set(zip(b["msg_id"], b["action"], b["ts_recv"], strict=True)))
    assert msgs == [(1, 1, T0), (2, 2, T0), (3, 1, T0 + 3_000_000), (4, 2, T0 + 3_000_000),
                    (5, 0, T0 + 4_000_000)]  # fmt: skip
    s = rows(tmp_path, Channel.SESSIONS, "BTC-USDT")
    assert s["kind"] == ["restart", "checksum_fail", "resync"]
    assert s["ts_recv"][1:] == [T0 + 1_000_000, T0 + 3_000_000] and "expected 12345" in s["detail"][1]
    assert rebuild_books(tmp_path, "BTC-USDT")[1] == {"snapshot": 2, "checkpoint": 2, "update": 1, "checksums": 3}


def test_msg_id_continues_above_the_catalog_after_a_restart(tmp_path: Path):
    clock = Clock()
    for run in range(2):
        rec = recorder(tmp_path, ("BTC-USDT",), clock)
        sock = rec.add_socket("public")
        for f in ("ws_books_snapshot.json", "ws_books_update.json"):
            clock.t += 1_000_000
            sock.feed(frame(f))
        rec.close()
        assert rec.report.sessions == {"restart": 1} and run in (0, 1)
    b = rows(tmp_path, Channel.BOOKS, "BTC-USDT")
    assert sorted(set(b["msg_id"])) == [1, 2, 3, 4, 5, 6] and b["msg_id"] == sorted(b["msg_id"])
    assert rows(tmp_path, Channel.SESSIONS, "BTC-USDT")["kind"] == ["restart", "restart"]
    assert [p.name for p in journal_files(tmp_path)] == ["public-1.jsonl", "public-2.jsonl"]


async def test_the_backlog_policy_drops_journal_lines_first_then_rows_and_resyncs_after(tmp_path: Path):
    clock = Clock()
    rec = recorder(tmp_path, ("BTC-USDT",), clock, max_row_backlog=100, max_journal_backlog_bytes=1_000)
    sock = rec.add_socket("public")
    sock.feed(frame("ws_books_snapshot.json"))
    steps = [(0, 0), (2_000, 10), (0, 60), (0, 150), (0, 40), (0, 10)]
    seen = []
    for i, (jb, r) in enumerate(steps):
        clock.t = T0 + (i + 1) * 1_000_000_000
        rec.apply_backlog_policy(jb, r)
        seen.append((rec.journal_dropping, rec.rows_dropping))
    # past the journal budget (or half the row budget) journal lines go first; rows only past the row budget;
    # each stops below half of its threshold
    assert seen == [(False, False), (True, False), (True, False), (True, True), (True, False), (False, False)]
    book = sock.book("BTC-USDT")
    assert book is not None and not book.synced  # rows were dropped: the book waits for a fresh snapshot
    assert ("books", "BTC-USDT") in sock._resyncing
    await asyncio.sleep(0)
    rec.close()
    s = rows(tmp_path, Channel.SESSIONS, "BTC-USDT")
    gaps = [(e, r, d) for k, e, r, d in zip(s["kind"], s["ts_event"], s["ts_recv"], s["detail"], strict=True)
            if k == "gap"]  # fmt: skip
    assert [d.split(":")[0] for _, _, d in gaps] == ["journal", "rows", "rows", "journal"]
    assert "dropping raw journal" in gaps[0][2] and "dropping catalog rows" in gaps[1][2]
    assert "disk caught up" in gaps[2][2] and "disk caught up" in gaps[3][2]
    # a caught-up row spans the drop: ts_event when it started, ts_recv when it ended
    assert (gaps[2][0], gaps[2][1]) == (T0 + 4 * 10**9, T0 + 5 * 10**9)
    assert (gaps[3][0], gaps[3][1]) == (T0 + 2 * 10**9, T0 + 6 * 10**9)


def test_a_stuck_disk_never_blocks_the_loop_and_the_excess_is_dropped_and_counted(tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch):
    clock = Clock()
    rec = recorder(tmp_path, ("BTC-USDT-SWAP",), clock, max_row_backlog=40)
    sock = rec.add_socket("public")
    release = threading.Event()
    writer = rec._catalog.writer  # type: ignore[union-attr]
    real_write = writer.write

    def stuck_write(*a: Any, **kw: Any) -> Any:
        release.wait(10)
        return real_write(*a, **kw)

    monkeypatch.setattr(writer, "write", stuck_write)
    trade = load_fixture("ws_trades_swap_2026.json")
    worst = 0.0
    for i in range(200):
        trade["data"][0]["tradeId"] = str(1000 + i)
        clock.t = T0 + i * 1_000_000
        sock.feed(json.dumps(trade))
        t0 = time.perf_counter()
        rec.handoff()  # what the loop does every 0.1 s
        worst = max(worst, time.perf_counter() - t0)
    assert worst < 0.05  # the disk is stuck, the loop is not
    assert rec.rows_dropping and rec.stats.rows_dropped > 100 and rec.stats.journal_dropped > 100
    release.set()
    report = rec.close()
    t = rows(tmp_path, Channel.TRADES, "BTC-USDT-SWAP")
    kept = len(t["trade_id"])
    assert kept + report.rows_dropped == 200 and t["trade_id"] == sorted(t["trade_id"])
    lines = [ln for p in journal_files(tmp_path) for ln in read_journal(p)]
    assert len(lines) + report.journal_dropped == 200
    kinds = rows(tmp_path, Channel.SESSIONS, "BTC-USDT-SWAP")["kind"]
    assert kinds == ["restart", "gap", "gap"]  # journal drop started, row drop started (both still on at close)


def test_channels_parse_by_catalog_name_and_map_to_their_okx_socket():
    assert parse_channels(["trades", "books", "candles", "trades"]) == (Channel.TRADES, Channel.BOOKS,
                                                                        Channel.CANDLES)  # fmt: skip
    assert okx_subscription(Channel.CANDLES) == ("business", "candle1m")
    assert okx_subscription(Channel.FUNDING) == ("public", "funding-rate")
    assert okx_subscription(Channel.BBO) == ("public", "bbo-tbt")
    with pytest.raises(ConfigError, match=r"unknown channel 'sessions'.*trades, books"):
        parse_channels(["sessions"])
    with pytest.raises(ConfigError, match="crash-loss bound"):
        RecorderSettings(("BTC-USDT-SWAP",), (Channel.TRADES,), Path("x"), "ws://a", "ws://b",
                         handoff_interval_s=0.5, fsync_interval_s=0.6)  # fmt: skip


def test_the_status_line_shows_rates_lag_gaps_bytes_and_drops_and_logs_periodically(caplog: pytest.LogCaptureFixture):
    stats = RecorderStats(bytes_written=lambda: 3 * 2**20)
    display = StatusDisplay(stats, live=False, log_every_s=2.0)
    trades = stats.channels[Channel.TRADES]
    trades.messages, trades.lag_ns = 50, 12_000_000
    stats.channels[Channel.BOOKS].messages = 200
    first = display.tick(1.0)
    assert first.msgs_per_s == {Channel.TRADES: 50.0, Channel.BOOKS: 200.0} and first.lag_ms[Channel.TRADES] == 12.0
    trades.messages = 80
    stats.seq_gaps, stats.checksum_failures, stats.journal_dropped = 1, 2, 7
    with caplog.at_level(logging.INFO, logger="recorder.status"):
        second = display.tick(1.0)  # 2 s since the last log line: one now, over both seconds
    assert second.msgs_per_s[Channel.TRADES] == 30.0 and second.msgs_per_s[Channel.BOOKS] == 0.0
    line = format_line(second)
    assert line.startswith("trades 30/s lag 12 ms | books 0/s")
    assert "280 msgs, gaps 3" in line and "written 3.0 MiB" in line and "DROPPED 7 journal lines / 0 rows" in line
    logged = [r.getMessage() for r in caplog.records]
    assert logged == ["record: trades 40/s lag 12 ms | books 100/s lag 0 ms || 280 msgs, gaps 3, resyncs 0, "
                      "reconnects 0, written 3.0 MiB, DROPPED 7 journal lines / 0 rows (disk too slow)"]
