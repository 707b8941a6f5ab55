"""Public socket: real book frames feed the L2 book before dispatch; gaps and checksum failures resync."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from athena.core.events import (
    BookEvent,
    CandleEvent,
    ConnectionEvent,
    Event,
    FundingEvent,
    MarkPriceEvent,
    TickerEvent,
    TickEvent,
)
from athena.gateways.okx.ws_public import OkxPublicWsGateway
from athena.model.enums import ConnectionStatus
from athena.model.instrument import BTC_USDT_SWAP, InstrumentSpec
from tests.conftest import load_fixture
from tests.gateways.okx.servers import OkxTestServer, dumps
from tests.gateways.okx.test_ws_base import until

BTC_SPOT = InstrumentSpec("BTC-USDT", tick_sz=Decimal("0.1"), lot_sz=Decimal("0.00000001"),
                          min_sz=Decimal("0.00001"), inst_type="SPOT")  # fmt: skip
LTC_SWAP = InstrumentSpec("LTC-USDT-SWAP", tick_sz=Decimal("0.01"), lot_sz=Decimal("1"), min_sz=Decimal("1"))
SPECS = {"BTC-USDT": BTC_SPOT, "BTC-USDT-SWAP": BTC_USDT_SWAP, "LTC-USDT-SWAP": LTC_SWAP}
BOOKS = {"channel": "books", "instId": "BTC-USDT"}
UPDATE_CHECKSUM = -652563973  # ws_books_update.json's own checksum, reproduced on the snapshot + update


@pytest.fixture
async def server() -> AsyncIterator[OkxTestServer]:
    s = OkxTestServer()
    await s.start()
    yield s
    await s.stop()


class Feed:
    """A public gateway on the test server, recording events (and the book as seen at dispatch)."""

    def __init__(self, server: OkxTestServer, socket: str = "public") -> None:
        self.events: list[Event] = []
        self.seen_checksums: list[int] = []
        self.gw = OkxPublicWsGateway(
            f"ws://127.0.0.1:{server.port}/ws/v5/{socket}",
            SPECS,
            publish=self.publish,
            now_ns=lambda: 99,
            backoff_initial_s=0.01,
            backoff_max_s=0.05,
        )

    def publish(self, ev: Event) -> None:
        self.events.append(ev)
        if isinstance(ev, BookEvent):
            self.seen_checksums.append(ev.book.checksum())  # type: ignore[attr-defined]

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    def kinds(self) -> list[str]:
        out = []
        for e in self.events:
            if isinstance(e, BookEvent):
                out.append("snapshot" if e.is_snapshot else "update")
            elif isinstance(e, ConnectionEvent) and e.channel.startswith("books"):
                out.append(e.status.value)
        return out


def script(rounds: list[list[dict[str, Any]]]) -> Callable[[web.WebSocketResponse, dict[str, Any]], Any]:
    """on_subscribe: the n-th books subscription sends the n-th list of frames."""
    count = [0]

    async def on_subscribe(ws: web.WebSocketResponse, arg: dict[str, Any]) -> None:
        if arg.get("channel") != "books":
            return
        frames = rounds[min(count[0], len(rounds) - 1)]
        count[0] += 1
        for f in frames:
            await ws.send_str(dumps(f))

    return on_subscribe


def frames() -> tuple[dict[str, Any], dict[str, Any]]:
    return load_fixture("ws_books_snapshot.json"), load_fixture("ws_books_update.json")


async def run(feed: Feed, server: OkxTestServer, args: list[dict[str, Any]], done: Callable[[], bool]) -> None:
    await feed.gw.subscribe(args)
    await feed.gw.start()
    try:
        await until(done)
    finally:
        await feed.gw.stop()


async def test_real_snapshot_and_update_update_the_book_before_dispatch(server):
    snap, upd = frames()
    server.ws["public"].on_subscribe = script([[snap, upd]])
    feed = Feed(server)
    await run(feed, server, [BOOKS], lambda: len(feed.of(BookEvent)) == 2)
    s, u = feed.of(BookEvent)
    assert (s.is_snapshot, u.is_snapshot) == (True, False)
    assert len(s.changes) == 800  # 400 bids + 400 asks
    assert len(u.changes) == len(upd["data"][0]["bids"]) + len(upd["data"][0]["asks"])
    # the handler saw each message's own checksum: the book was updated before the event
    assert feed.seen_checksums == [47640993, UPDATE_CHECKSUM]
    assert (s.changes.side(0), s.changes.ticks(0), s.changes.lots(0)) == (0, 302434, 120290)  # 30243.4 x 0.0012029
    assert u.changes.lots(0) == 0  # ["30237.2","0",...] deletes
    assert (s.ts_event, u.ts_event, u.ts_recv) == (1652459225381_000_000, 1652459225453_000_000, 99)
    assert u.book is feed.gw.book("BTC-USDT")


async def test_checksum_mismatch_resubscribes_and_waits_for_a_fresh_snapshot(server):
    snap, upd = frames()
    bad = copy.deepcopy(upd)
    bad["data"][0]["checksum"] = 12345
    later = copy.deepcopy(upd)  # arrives after the failure, before the fresh snapshot: not dispatched
    server.ws["public"].on_subscribe = script([[snap, bad, later], [snap, upd]])
    feed = Feed(server)
    await run(feed, server, [BOOKS], lambda: len(feed.of(BookEvent)) == 3)
    assert feed.kinds() == ["snapshot", "checksum_failed", "resynced", "snapshot", "update"]
    assert server.ws["public"].unsubscribes == [BOOKS]
    assert server.ws["public"].subscribes == [BOOKS, BOOKS]
    assert feed.seen_checksums == [47640993, 47640993, UPDATE_CHECKSUM]
    failed = next(e for e in feed.of(ConnectionEvent) if e.status is ConnectionStatus.CHECKSUM_FAILED)
    assert failed.channel == "books:BTC-USDT" and "expected 12345" in failed.detail
    assert feed.gw.resyncs == 1


async def test_seq_gap_resubscribes_and_waits_for_a_fresh_snapshot(server):
    snap, upd = frames()
    snap["data"][0].update(seqId=100, prevSeqId=-1)
    gap = copy.deepcopy(upd)
    gap["data"][0].update(seqId=102, prevSeqId=101)  # 101 never arrived
    good = copy.deepcopy(upd)
    good["data"][0].update(seqId=101, prevSeqId=100)
    server.ws["public"].on_subscribe = script([[snap, gap], [snap, good]])
    feed = Feed(server)
    await run(feed, server, [BOOKS], lambda: len(feed.of(BookEvent)) == 3)
    assert feed.kinds() == ["snapshot", "gap", "resynced", "snapshot", "update"]
    assert server.ws["public"].unsubscribes == [BOOKS]
    book = feed.gw.book("BTC-USDT")
    assert book is not None and (book.seq_id, book.checksum()) == (101, UPDATE_CHECKSUM)


async def test_reconnect_restarts_books_from_a_snapshot_reported_as_resync(server):
    snap, upd = frames()
    server.ws["public"].on_subscribe = script([[snap, upd]])
    feed = Feed(server)
    await feed.gw.subscribe([BOOKS])
    await feed.gw.start()
    try:
        await until(lambda: len(feed.of(BookEvent)) == 2)
        await server.ws["public"].drop()
        await until(lambda: len(feed.of(BookEvent)) == 4)
    finally:
        await feed.gw.stop()
    statuses = [e.status.value for e in feed.of(ConnectionEvent)]
    assert statuses == ["up", "down", "up", "resynced", "down"]  # the last DOWN is the stop
    assert feed.seen_checksums == [47640993, UPDATE_CHECKSUM, 47640993, UPDATE_CHECKSUM]


async def test_trades_become_ticks_and_large_ones_are_logged(server, caplog):
    caplog.set_level(logging.INFO, logger="athena.gateways.okx.ws_public")
    small = load_fixture("ws_trades.json")  # 0.03 ct x 0.01 x 91467.1 = 27.44 USDT
    large = load_fixture("ws_trades_swap_2026.json")  # 34.95 ct x 0.01 x 63913.4 = 22,337.73 USDT

    async def on_subscribe(ws: web.WebSocketResponse, arg: dict[str, Any]) -> None:
        await ws.send_str(dumps(small))
        await ws.send_str(dumps(large))

    server.ws["public"].on_subscribe = on_subscribe
    feed = Feed(server)
    await run(feed, server, [{"channel": "trades", "instId": "BTC-USDT-SWAP"}], lambda: len(feed.of(TickEvent)) == 2)
    a, b = feed.of(TickEvent)
    assert (a.trade_id, a.ticks, a.lots) == (2005639579, 914671, 3)
    assert (b.trade_id, b.ticks, b.lots) == (2832749645, 639134, 3495)
    large_lines = [r.getMessage() for r in caplog.records if "large trade" in r.getMessage()]
    assert large_lines == ["large trade BTC-USDT-SWAP sell 34.95 x 63913.4 = 22338 USDT (tradeId 2832749645)"]


async def test_tickers_mark_price_and_funding_become_their_events(server):
    mark_rec = {"instId": "BTC-USDT-SWAP", "instType": "SWAP", "markPx": "63920.3", "ts": "1786540471800"}
    mark = {"arg": {"channel": "mark-price", "instId": "BTC-USDT-SWAP"}, "data": [mark_rec]}
    pushes = [load_fixture("ws_tickers_swap_2026.json"), mark, load_fixture("ws_funding_rate.json")]

    async def on_subscribe(ws: web.WebSocketResponse, arg: dict[str, Any]) -> None:
        for p in pushes:
            if p["arg"]["channel"] == arg["channel"]:
                await ws.send_str(dumps(p))

    server.ws["public"].on_subscribe = on_subscribe
    feed = Feed(server)
    args = [{"channel": "tickers", "instId": "BTC-USDT-SWAP"}, {"channel": "mark-price", "instId": "BTC-USDT-SWAP"},
            {"channel": "funding-rate", "instId": "LTC-USDT-SWAP"}]  # fmt: skip
    await run(feed, server, args, lambda: len(feed.events) >= 4)  # UP + three
    (t,), (m,), (f,) = feed.of(TickerEvent), feed.of(MarkPriceEvent), feed.of(FundingEvent)
    assert (t.bid_ticks, t.ask_ticks, t.last_ticks) == (639210, 639211, 639210)
    assert (m.mark_ticks, m.ts_event) == (639203, 1786540471800_000_000)
    assert (f.inst_id, f.rate, f.funding_time) == ("LTC-USDT-SWAP", 0.0001, 1765209600000_000_000)


async def test_candles_on_the_business_socket_at_most_fifty_per_push(server):
    row = load_fixture("ws_candle1m_swap_2026.json")["data"][0]
    rows = []
    for i in range(60):
        r = list(row)
        r[0] = str(1786540440000 + i * 60_000)
        rows.append(r)
    push = {"arg": {"channel": "candle1m", "instId": "BTC-USDT-SWAP"}, "data": rows}

    async def on_subscribe(ws: web.WebSocketResponse, arg: dict[str, Any]) -> None:
        await ws.send_str(json.dumps(push))

    server.ws["business"].on_subscribe = on_subscribe
    feed = Feed(server, socket="business")
    await run(
        feed, server, [{"channel": "candle1m", "instId": "BTC-USDT-SWAP"}], lambda: len(feed.of(CandleEvent)) == 50
    )
    candles = feed.of(CandleEvent)
    assert len(candles) == 50
    assert candles[0].ts_event == (1786540440000 + 10 * 60_000) * 1_000_000  # the newest 50 of 60
    assert (candles[-1].bar, candles[-1].close) == ("1m", 639518)
    assert server.ws["business"].subscribes == [{"channel": "candle1m", "instId": "BTC-USDT-SWAP"}]
