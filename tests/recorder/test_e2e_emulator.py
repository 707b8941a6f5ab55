"""recorder/service.py end to end: the OKX emulator streams a known catalog slice; the recorder's catalog
equals it (trades row for row, books rebuilt with every checksum reproduced), and the emulator's
dropped connections and corrupted checksum are in ``sessions``, exactly, with consistent books around them.

Also home of the helpers the crash test imports: ``emulator`` (a gated SimServer on 127.0.0.1 port 0:
it streams only once ``gate`` is set, so a recorder can subscribe first), ``rebuild_books`` and ``rows``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from athena.app.sim_server import build_source
from athena.book.l2 import L2Book
from athena.catalog.importers import unit_spec
from athena.catalog.meta import read_instruments
from athena.catalog.reader import Catalog, part_files
from athena.catalog.schema import BookRowAction
from athena.catalog.stream import K_BOOK, KIND_MASK, Window
from athena.core.clock import SimClock
from athena.model.enums import Channel
from athena.model.instrument import BTC_USDT_SWAP
from athena.sim.exchange import SimExchange
from athena.sim.server import BookChecksumMode, Credentials, SimServer, SimServerConfig
from athena.sim.server_faults import Fault, parse_faults
from recorder.journal import journal_files, read_journal
from recorder.service import Recorder, RecorderSettings
from tests.app.tiny_catalog import make_tiny_catalog

INST = BTC_USDT_SWAP.inst_id
FAST_WS = {"backoff_initial_s": 0.05, "backoff_max_s": 0.2, "ping_interval_s": 5.0, "watchdog_s": 10.0}


@contextlib.asynccontextmanager
async def emulator(catalog: Path, gate: threading.Event, *, speed: float, loop: bool = False,
                   faults: list[Fault] | None = None) -> AsyncIterator[SimServer]:
    """A crc32-checksum emulator over ``catalog`` whose driver waits for ``gate`` before streaming."""
    src = build_source(catalog, loop=loop)
    inner = src.windows

    def gated() -> Iterator[Window]:
        gate.wait(15)  # runs in the driver's worker thread, never on the loop
        yield from inner()

    src.windows = gated
    clock = SimClock(0)
    server = SimServer(SimExchange(clock, src.specs), clock, src, Credentials.generate(),
                       SimServerConfig(speed=speed, book_checksum=BookChecksumMode.CRC32), faults)
    await server.start()
    try:
        yield server
    finally:
        gate.set()
        await asyncio.wait_for(server.stop(), 10)


def settings(root: Path, url: str, channels: tuple[Channel, ...], **kw: Any) -> RecorderSettings:
    ws = url.replace("http://", "ws://")
    return RecorderSettings((INST,), channels, root, ws + "/ws/v5/public", ws + "/ws/v5/business",
                            ws_options=FAST_WS, **kw)


async def until(pred: Callable[[], bool], timeout: float = 15.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def subscribed(server: SimServer, n: int) -> bool:
    return sum(len(c.subs) for c in server.conns) >= n


def rows(root: Path, channel: Channel, inst: str = INST, columns: list[str] | None = None) -> dict[str, list[Any]]:
    """Every row of one channel and instrument, in date then part order, as column lists."""
    cat = Catalog(root)
    tables = [pq.read_table(p, columns=columns) for d in cat.dates("okx", channel, inst)
              for p in part_files(cat.date_dir("okx", channel, inst, d))]
    return pa.concat_tables(tables).to_pydict() if tables else {}


def rebuild_books(root: Path, inst: str = INST) -> tuple[L2Book, Counter[str]]:
    """Rebuild the book from the recorded rows with every check on: a snapshot replaces the book,
    an update must continue the seq chain and reproduce its non-zero checksum (L2Book raises
    otherwise), a checkpoint must equal the book. Returns the final book and what was checked."""
    m = read_instruments(root, "okx")[inst]
    book = L2Book(unit_spec(inst, m.price_decimals, m.size_decimals))
    seen: Counter[str] = Counter()
    c = rows(root, Channel.BOOKS, inst)
    i, n = 0, len(c.get("msg_id", []))
    last_msg = 0
    while i < n:
        j = i
        while not c["last_in_msg"][j]:
            j += 1
        msg = c["msg_id"][i]
        assert msg > last_msg, f"msg_id {msg} after {last_msg}"
        last_msg = msg
        bids = [(c["price"][k], c["size"][k]) for k in range(i, j + 1) if c["side"][k] == 0]
        asks = [(c["price"][k], c["size"][k]) for k in range(i, j + 1) if c["side"][k] == 1]
        action, seq, prev, cs = c["action"][i], c["seq_id"][j], c["prev_seq_id"][j], c["checksum"][j]
        if action == BookRowAction.SNAPSHOT:
            book.apply_snapshot(bids, asks, seq_id=seq, checksum=cs)
            seen["snapshot"] += 1
        elif action == BookRowAction.UPDATE:
            book.apply_update(bids, asks, seq_id=seq, prev_seq_id=prev, checksum=cs)
            seen["update"] += 1
        else:
            assert (dict(bids), dict(asks)) == (book.bids, book.asks), f"checkpoint msg_id {msg} differs"
            assert cs == book.checksum()
            seen["checkpoint"] += 1
        if cs and action != BookRowAction.CHECKPOINT:
            seen["checksums"] += 1
        i = j + 1
    return book, seen


def source_trades(catalog: Path) -> list[tuple[int, int, int, int]]:
    """The slice's trade rows (trade id, price, size, side) as stored, by trade id."""
    t = rows(catalog, Channel.TRADES)
    return sorted(zip(t["trade_id"], t["price"], t["size"], t["side"], strict=True))


def replay_order(catalog: Path) -> list[int]:
    """Trade ids in the order the emulator replays them (the catalog's merged stream, §5)."""
    out: list[int] = []
    for w in build_source(catalog).windows():
        out += [w.tid[i] for i in range(len(w.kd)) if w.kd[i] & KIND_MASK < K_BOOK]
    return out


def session_kinds(root: Path) -> list[tuple[str, str]]:
    s = rows(root, Channel.SESSIONS)
    return list(zip(s.get("kind", []), s.get("detail", []), strict=True))


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_catalog(tmp_path_factory.mktemp("recsrc"), seconds=20)


async def record_all(source: Path, root: Path, *, speed: float, channels: tuple[Channel, ...],
                     faults: list[Fault] | None = None) -> tuple[Recorder, SimServer, L2Book]:  # fmt: skip
    """Record the whole slice: subscribe, open the gate, wait for the last book message, stop."""
    gate = threading.Event()
    async with emulator(source, gate, speed=speed, faults=faults) as server:
        rec = Recorder(settings(root, server.url, channels), {INST: BTC_USDT_SWAP})
        stop = asyncio.Event()
        task = asyncio.create_task(rec.run(stop))
        try:
            await until(lambda: subscribed(server, len(channels)), what="the recorder's subscriptions")
            gate.set()
            st = server.insts[INST]
            await until(lambda: server.ended, what="the end of the slice")
            await until(lambda: (b := rec.book(INST)) is not None and b.synced and b.seq_id == st.seq,
                        what="the last book message")  # fmt: skip
            await asyncio.sleep(0.2)  # the last trades and tickers in flight
            final = L2Book(BTC_USDT_SWAP)
            final.apply_snapshot(list(st.market.book.bids.items()), list(st.market.book.asks.items()))
        finally:
            stop.set()
            await asyncio.wait_for(task, 15)
    return rec, server, final


async def test_the_recorded_catalog_equals_the_streamed_slice(source: Path, tmp_path: Path):
    chans = (Channel.TRADES, Channel.BOOKS, Channel.BBO, Channel.TICKERS, Channel.MARK_PRICE, Channel.FUNDING,
             Channel.CANDLES)  # fmt: skip
    rec, _, final = await record_all(source, tmp_path, speed=40, channels=chans)

    # trades: every one of the slice, in order, same id, price, size and side
    t = rows(tmp_path, Channel.TRADES)
    got = list(zip(t["trade_id"], t["price"], t["size"], t["side"], strict=True))
    want = source_trades(source)
    assert len(want) > 100 and sorted(got) == want
    assert t["trade_id"] == replay_order(source)  # and in the order they were streamed

    # books: rebuilt with every check on; every non-zero checksum reproduced; the end equals the emulator's
    book, seen = rebuild_books(tmp_path)
    assert seen["snapshot"] == 1 and seen["checkpoint"] == 1  # one connection: one snapshot, its checkpoint
    assert seen["update"] >= 150 and seen["checksums"] == seen["update"] + seen["snapshot"]
    assert (book.bids, book.asks) == (final.bids, final.asks)

    # the other channels arrived and carry the book's top
    bbo = rows(tmp_path, Channel.BBO)
    assert len(bbo["ts_recv"]) > 50 and all(b < a for b, a in zip(bbo["bid_price"], bbo["ask_price"], strict=True))
    assert rows(tmp_path, Channel.TICKERS)["ts_recv"] and rows(tmp_path, Channel.CANDLES)["bar"][0] == "1m"
    assert rows(tmp_path, Channel.FUNDING)["ts_recv"]

    # sessions: a restart, one connection per socket, a subscribe per channel, the clean stop
    kinds = Counter(k for k, _ in session_kinds(tmp_path))
    assert kinds == Counter({"restart": 1, "connect": 2, "subscribe": 7, "disconnect": 2})
    assert all("stopped" in d for k, d in session_kinds(tmp_path) if k == "disconnect")

    # the raw journal holds every frame, in the importer's line format, fsynced at the stop
    lines = [ln for p in journal_files(tmp_path) for ln in read_journal(p)]
    assert len(lines) == rec.report.frames == rec.stats.frames
    assert {ln.conn for ln in lines} == {"public-1", "business-1"}
    assert len(rec_trade_pushes(lines)) == len(want)  # one push per trade from the emulator
    assert sorted({ln.ts_recv for ln in lines} & set(t["ts_recv"])) == sorted(set(t["ts_recv"]))

    # `athena data ls` reads sessions like any channel
    summary = {(s.channel, s.inst): s.rows for s in Catalog(tmp_path).summary()}
    assert summary[(Channel.SESSIONS, INST)] == 12 and summary[(Channel.TRADES, INST)] == len(want)


def rec_trade_pushes(lines: list[Any]) -> list[Any]:
    return [ln for ln in lines if ln.raw.startswith('{"arg":{"channel":"trades"')]


async def test_dropped_connections_and_a_bad_checksum_are_in_sessions_exactly(source: Path, tmp_path: Path):
    faults = parse_faults([
        {"after_msgs": 60, "kind": "drop_ws", "params": {"socket": "public"}},
        {"after_msgs": 140, "kind": "corrupt_checksum", "params": {"instId": INST}},
        {"after_msgs": 220, "kind": "drop_ws", "params": {"socket": "public"}},
    ], "test")
    rec, server, final = await record_all(source, tmp_path, speed=10, channels=(Channel.TRADES, Channel.BOOKS),
                                          faults=faults)  # fmt: skip
    state = server.faults.snapshot()
    assert state["armed"] == [] and state["pending"]["book"] == []  # all three faults were carried out

    events = [(k, d) for k, d in session_kinds(tmp_path) if k != "subscribe"]
    kinds = [k for k, _ in events]
    stop = [k for k, d in events if k == "disconnect" and "stopped" in d]
    assert stop == ["disconnect"] and kinds[-1] == "disconnect"
    assert Counter(kinds[:-1]) == Counter({"restart": 1, "connect": 1, "disconnect": 2, "reconnect": 2,
                                           "checksum_fail": 1, "resubscribe": 1, "resync": 3})
    # in this order: each drop is followed by its reconnect and a resync; the bad checksum by its resync
    assert kinds[:-1] == ["restart", "connect", "disconnect", "reconnect", "resync", "checksum_fail", "resubscribe",
                          "resync", "disconnect", "reconnect", "resync"]
    assert rec.stats.checksum_failures == 1 and rec.stats.reconnects == 2 and rec.stats.resyncs == 3
    bad = next(d for k, d in events if k == "checksum_fail")
    assert "checksum mismatch" in bad
    s = rows(tmp_path, Channel.SESSIONS)
    assert s["ts_recv"] == sorted(s["ts_recv"])
    assert {c for k, c in zip(s["kind"], s["channel"], strict=True) if k in ("checksum_fail", "resync")} == {"books"}

    # around the incidents the book data is consistent: each resync is a snapshot (+ its checkpoint), the
    # chain is unbroken between them, every checksum reproduces, and the end equals the emulator's book
    book, seen = rebuild_books(tmp_path)
    assert seen["snapshot"] == 4 and seen["checkpoint"] == 4
    assert seen["checksums"] == seen["update"] + seen["snapshot"]
    assert (book.bids, book.asks) == (final.bids, final.asks)
    # trades: what was recorded is the slice's, in order, with the drops' stretches missing
    t = rows(tmp_path, Channel.TRADES)
    got = list(zip(t["trade_id"], t["price"], t["size"], t["side"], strict=True))
    ids = set(t["trade_id"])
    want = source_trades(source)
    assert sorted(got) == [w for w in want if w[0] in ids] and 0 < len(got) < len(want)
    assert t["trade_id"] == [i for i in replay_order(source) if i in ids]
