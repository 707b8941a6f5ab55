"""End to end: OkxGateway + the real OMS (composed by athena/app/live.py's LiveSession) against `athena sim-server`.

The emulator runs in-process on 127.0.0.1 port 0 over a tiny catalog with real CRC32 book checksums;
the gateway is pointed at its URL with the credentials it accepts. Everything the core learns comes
through the wire: public books and trades, login, orders placed / amended / canceled over REST and
over the private WebSocket, fills pushed on the ``orders`` channel, positions and balance answers.
Then each fault of the emulator that concerns a client is injected through ``/admin/faults`` and the
client's recovery is checked (reconnect + resubscribe, resync from a fresh snapshot, lost acks
resolved by clOrdId, backoff on 50011, ghost orders canceled at sync).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from athena.app.live import OPERATOR, LiveSession
from athena.book.l2 import L2Book
from athena.config.models import AthenaConfig, CapitalConfig, OkxConfig
from athena.core.bus import Priority
from athena.core.events import (
    AccountUpdate,
    ConnectionEvent,
    ErrorEvent,
    Event,
    EventType,
    OrderCancelled,
    OrderFilled,
    OrderReport,
    PositionUpdate,
    ReportSource,
)
from athena.gateways.okx.gateway import OkxGateway
from athena.gateways.okx.rest import OkxRest
from athena.model.enums import ConnectionStatus, Liquidity, OrderState, OrderType, Side
from athena.model.instrument import BTC_USDT_SWAP
from athena.model.orders import Order
from athena.oms.orders import OrderManager
from tests.app.tiny_catalog import make_tiny_catalog
from tests.sim.test_server import Rig, rest, running

INST = "BTC-USDT-SWAP"
SPEC = BTC_USDT_SWAP
S = OrderState
FAST_WS = {"backoff_initial_s": 0.02, "backoff_max_s": 0.1}
TAKER_FEE = 0.0005  # the emulator's default taker rate (regular tier)
INITIAL = 10_000.0  # the emulator account's initial balance (SimExchangeConfig default)


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_catalog(tmp_path_factory.mktemp("e2e"), seconds=60)


class Client:
    """A LiveSession without a strategy against the emulator, and every event it saw."""

    def __init__(self, rig: Rig, session: LiveSession) -> None:
        self.rig = rig
        self.session = session
        self.events: list[Event] = []
        self.counts: dict[EventType, int] = {}
        self.verified = 0  # book messages whose non-zero checksum the local book checked

    @property
    def gw(self) -> OkxGateway:
        assert self.session.gateway is not None
        return self.session.gateway

    @property
    def oms(self) -> OrderManager:
        assert self.session.oms is not None
        return self.session.oms

    @property
    def book(self) -> L2Book:
        return self.session.books[INST]

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    def connections(self, status: ConnectionStatus, channel: str | None = None) -> list[ConnectionEvent]:
        return [e for e in self.of(ConnectionEvent) if e.status is status and (channel is None or e.channel == channel)]

    def fills_of(self, o: Order) -> list[OrderFilled]:
        return [e for e in self.of(OrderFilled) if e.order is o]

    def submit(self, side: Side, lots: int, ticks: int | None = None, ord_type: OrderType = OrderType.LIMIT) -> Order:
        return self.oms.submit_order(OPERATOR, INST, side, ord_type, lots, ticks)

    async def until(self, pred: Callable[[], bool], timeout: float = 4.0, what: str = "condition") -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not pred():
            if loop.time() > deadline:
                raise AssertionError(f"timed out waiting for {what}")
            await asyncio.sleep(0.01)

    async def synced_with_exchange(self) -> None:
        """Wait until the local book has applied the exchange's latest message, then compare them whole."""
        st = self.rig.server.insts[INST]
        await self.until(lambda: self.book.synced and self.book.seq_id == st.seq, what="the book to catch up")
        ex = st.market.book
        assert self.book.bids == ex.bids and self.book.asks == ex.asks

    async def inject(self, *faults: dict[str, Any]) -> None:
        async with aiohttp.ClientSession() as s, s.post(self.rig.url + "/admin/faults", json=list(faults)) as r:
            assert r.status == 200, await r.text()

    async def rest(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        async with aiohttp.ClientSession() as s:
            _, out = await rest(s, self.rig, method, path, body)
        return out


@contextlib.asynccontextmanager
async def client(catalog: Path, monkeypatch: pytest.MonkeyPatch, *, speed: float = 20.0,
                 transport: str = "rest", ws: dict[str, Any] | None = None,
                 **server: Any) -> AsyncIterator[Client]:
    async with running(catalog, speed=speed, checksum="crc32", **server) as rig:
        okx = OkxConfig(endpoint=rig.url, api_key=rig.creds.api_key, api_secret=rig.creds.secret_key,
                        api_passphrase=rig.creds.passphrase)
        config = AthenaConfig(okx=okx, symbols=[INST], capital=CapitalConfig(total_usdt=INITIAL))
        restc = OkxRest(okx, rig.okx_creds, timeout_s=2.0, backoff_s=0.05, exp_window_ms=300, resolve_margin_ms=50)
        session = LiveSession(
            config, None, status_interval_s=60.0, ready_timeout_s=5.0,
            gateway_options={"order_transport": transport, "rest": restc, "ws_options": {**FAST_WS, **(ws or {})}},
            oms_options={"order_ttl_s": 0.5, "kill_retry_s": 0.3},
        )
        c = Client(rig, session)
        real_verify = L2Book._verify

        def counting_verify(book: L2Book, checksum: int | None, what: str, seq_id: int | None) -> None:
            real_verify(book, checksum, what, seq_id)  # raises on a mismatch: counted only when it matched
            if checksum:
                c.verified += 1

        monkeypatch.setattr(L2Book, "_verify", counting_verify)

        def record(ev: Event) -> None:
            c.counts[ev.type] = c.counts.get(ev.type, 0) + 1
            if ev.type not in (EventType.BOOK_EVENT, EventType.TICK):  # a BookEvent is valid only in dispatch
                c.events.append(ev)

        for et in EventType:
            session.bus.subscribe(et, record, Priority.OBSERVER)
        await asyncio.wait_for(session.astart(), 10)
        try:
            yield c
        finally:
            await asyncio.wait_for(session.astop(), 10)


# -- the whole flow -------------------------------------------------------------------------------


async def test_public_books_are_checksum_verified_and_trades_arrive_on_logged_in_sockets(catalog, monkeypatch):
    async with client(catalog, monkeypatch) as c:
        await c.until(lambda: c.counts.get(EventType.BOOK_EVENT, 0) >= 40 and c.counts.get(EventType.TICK, 0) >= 5,
                      what="40 book events and 5 trades")
        await c.synced_with_exchange()
        books = c.counts[EventType.BOOK_EVENT]
        assert c.verified >= books  # every book message (snapshot included) passed its CRC32 check
        assert not c.connections(ConnectionStatus.CHECKSUM_FAILED) and not c.connections(ConnectionStatus.GAP)
        ups = {e.channel for e in c.connections(ConnectionStatus.UP)}
        assert ups == {"okx.public", "okx.private", "okx.business.private"}
        assert c.gw.private is not None and c.gw.private.logins == 1
        assert c.gw.private_business is not None and c.gw.private_business.logins == 1
        # the instrument came from the emulator's /public/instruments: BTC-USDT-SWAP's real figures
        spec = c.gw.instruments()[INST]
        assert (str(spec.tick_sz), str(spec.lot_sz), str(spec.ct_val)) == ("0.1", "0.01", "0.01")


@pytest.mark.parametrize("transport", ["rest", "ws"])
async def test_place_amend_cancel_then_fills_positions_and_balance_agree(catalog, monkeypatch, transport):
    async with client(catalog, monkeypatch, speed=0.001, transport=transport) as c:
        assert c.gw.private is not None
        ops_before = c.gw.private._op_seq
        bid = c.book.best_bid
        # 1. a resting limit buy 50 ticks under the touch, then amended 10 ticks lower, then canceled
        o = c.submit(Side.BUY, 100, bid - 50)
        await c.until(lambda: o.state is S.LIVE, what="the order to be live")
        pending = (await c.rest("GET", f"/api/v5/trade/order?instId={INST}&clOrdId={o.cl_ord_id}"))["data"][0]
        assert (pending["px"], pending["sz"], pending["state"]) == (SPEC.format_price(bid - 50), "1", "live")
        assert c.oms.amend_order(o.cl_ord_id, new_price_ticks=bid - 60)
        await c.until(lambda: o.price_ticks == bid - 60, what="the amend")
        amended = (await c.rest("GET", f"/api/v5/trade/order?instId={INST}&ordId={o.ord_id}"))["data"][0]
        assert amended["px"] == SPEC.format_price(bid - 60)
        assert c.oms.cancel_order(o.cl_ord_id)
        await c.until(lambda: o.state is S.CANCELED, what="the cancel")
        assert [e.order for e in c.of(OrderCancelled)] == [o]
        gone = (await c.rest("GET", f"/api/v5/trade/order?instId={INST}&ordId={o.ord_id}"))["data"][0]
        assert gone["state"] == "canceled"
        # 2. a market buy of 1 contract fills against the book: ORDER_FILLED from the orders-channel pushes
        buy = c.submit(Side.BUY, 100, ord_type=OrderType.MARKET)
        await c.until(lambda: buy.state is S.FILLED, what="the market buy to fill")
        buy_fills = [e.fill for e in c.fills_of(buy)]
        assert sum(f.lots for f in buy_fills) == 100
        assert all(f.liquidity is Liquidity.TAKER for f in buy_fills)
        ex_fills = {int(f["tradeId"]): f for f in c.rig.server.fills}
        for f in buy_fills:
            row = ex_fills[f.trade_id]
            assert (SPEC.format_price(f.ticks), SPEC.format_size(f.lots)) == (row["fillPx"], row["fillSz"])
            # taker fee = -(px x contracts x ctVal) x 0.05 %, OKX's sign
            assert f.fee == pytest.approx(-SPEC.ticks_to_float(f.ticks) * SPEC.lots_to_contracts(f.lots) * 0.01
                                          * TAKER_FEE, abs=1e-9)
        pushes = [r for r in c.of(OrderReport) if r.cl_ord_id == buy.cl_ord_id and r.fill_lots]
        assert pushes and {r.source for r in pushes} == {ReportSource.PUSH}
        # positions answered: 100 lots long, watermark = the newest trade id of our fills
        c.oms._gw.request_positions("pos1", INST)
        await c.until(lambda: any(e.req_id == "pos1" for e in c.of(PositionUpdate)), what="the positions answer")
        (pos,) = [e for e in c.of(PositionUpdate) if e.req_id == "pos1"]
        assert (pos.lots, pos.snapshot_end, pos.watermark) == (100, True, max(f.trade_id for f in buy_fills))
        # 3. sell it back: flat, and the balance is the initial one plus realized PnL plus fees
        sell = c.submit(Side.SELL, 100, ord_type=OrderType.MARKET)
        await c.until(lambda: sell.state is S.FILLED, what="the market sell to fill")
        fills = buy_fills + [e.fill for e in c.fills_of(sell)]
        c.oms._gw.request_positions("pos2", INST)
        c.oms._gw.request_balance("bal1")
        await c.until(lambda: any(e.req_id == "bal1" for e in c.of(AccountUpdate))
                      and any(e.req_id == "pos2" for e in c.of(PositionUpdate)), what="positions and balance")
        (flat,) = [e for e in c.of(PositionUpdate) if e.req_id == "pos2"]
        assert (flat.lots, flat.snapshot_end) == (0, True)
        (acct,) = [e for e in c.of(AccountUpdate) if e.req_id == "bal1"]
        realized = math.fsum(f.fill_pnl for f in fills)
        fees = math.fsum(f.fee for f in fills)
        assert fees < 0 and acct.equity == pytest.approx(INITIAL + realized + fees, abs=1e-6)
        assert acct.balance == pytest.approx(acct.equity, abs=1e-6)  # flat: nothing unrealized
        assert c.session.positions is not None and c.session.positions.lots(INST) == 0
        # the commands went over the transport asked for: 5 WS ops, or none
        assert c.gw.private._op_seq - ops_before == (5 if transport == "ws" else 0)


# -- faults -----------------------------------------------------------------------------------------


async def test_drop_ws_reconnects_logs_in_again_resubscribes_and_resyncs_the_book(catalog, monkeypatch):
    async with client(catalog, monkeypatch) as c:
        await c.until(lambda: c.book.synced)
        await c.inject({"at_s": 0, "kind": "drop_ws", "params": {"socket": "any"}})
        await c.until(lambda: len(c.connections(ConnectionStatus.UP, "okx.public")) == 2
                      and len(c.connections(ConnectionStatus.UP, "okx.private")) == 2,
                      what="both sockets to reconnect")
        assert c.connections(ConnectionStatus.DOWN, "okx.public")
        await c.until(lambda: bool(c.connections(ConnectionStatus.RESYNCED, f"books:{INST}")), what="a resync")
        await c.synced_with_exchange()
        assert c.gw.private is not None and c.gw.private.logins == 2
        # the orders channel was subscribed again: a new order's live push reaches the OMS
        o = c.submit(Side.BUY, 100, c.book.best_bid - 40)
        await c.until(lambda: any(r.cl_ord_id == o.cl_ord_id and r.source is ReportSource.PUSH
                                  for r in c.of(OrderReport)), what="the live push after the reconnect")
        assert o.state is S.LIVE


@pytest.mark.parametrize(("kind", "status"), [("corrupt_checksum", ConnectionStatus.CHECKSUM_FAILED),
                                              ("skip_seq", ConnectionStatus.GAP)])
async def test_a_broken_book_message_is_detected_and_resynced_from_a_fresh_snapshot(catalog, monkeypatch, kind,
                                                                                    status):
    async with client(catalog, monkeypatch) as c:
        await c.until(lambda: c.book.synced)
        await c.inject({"after_msgs": 0, "kind": kind, "params": {"instId": INST}})
        await c.until(lambda: bool(c.connections(ConnectionStatus.RESYNCED)), what="the resync")
        (bad,) = c.connections(status)
        assert bad.channel == f"books:{INST}"
        assert c.gw.public is not None and c.gw.public.resyncs == 1
        assert len(c.connections(ConnectionStatus.UP, "okx.public")) == 1  # resubscribed, not reconnected
        await c.synced_with_exchange()


async def test_lost_rest_ack_is_resolved_by_the_cl_ord_id_query_and_sent_once(catalog, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, "athena.gateways.okx.rest")
    async with client(catalog, monkeypatch, speed=0.001) as c:
        await c.inject({"at_s": 0, "kind": "lose_ack", "params": {"via": "rest"}})
        o = c.submit(Side.BUY, 100, c.book.best_bid - 30)
        await c.until(lambda: any(r.cl_ord_id == o.cl_ord_id and r.source is ReportSource.QUERY
                                  for r in c.of(OrderReport)), what="the clOrdId query's answer")
        assert o.state is S.LIVE and o.ord_id
        listed = (await c.rest("GET", f"/api/v5/trade/orders-pending?instId={INST}"))["data"]
        assert [x["clOrdId"] for x in listed] == [o.cl_ord_id]  # landed once, never re-sent
        assert "placement outcome unknown" in caplog.text


async def test_lost_ws_ack_the_push_makes_it_live_and_the_cl_ord_id_query_confirms_it(catalog, monkeypatch):
    async with client(catalog, monkeypatch, speed=0.001, transport="ws") as c:
        assert c.gw.private is not None
        c.gw.private.op_timeout_s = 0.3  # the op gives up soon; the placement is then resolved by clOrdId
        await c.inject({"at_s": 0, "kind": "lose_ack", "params": {"via": "ws"}})
        o = c.submit(Side.SELL, 100, c.book.best_ask + 30)
        await c.until(lambda: any(r.cl_ord_id == o.cl_ord_id and r.source is ReportSource.QUERY
                                  for r in c.of(OrderReport)), what="the clOrdId query's answer")
        sources = [r.source for r in c.of(OrderReport) if r.cl_ord_id == o.cl_ord_id]
        assert ReportSource.ACK not in sources and sources[0] is ReportSource.PUSH
        assert o.state is S.LIVE
        listed = (await c.rest("GET", f"/api/v5/trade/orders-pending?instId={INST}"))["data"]
        assert [x["clOrdId"] for x in listed] == [o.cl_ord_id]


async def test_rate_limited_rest_calls_back_off_and_then_succeed(catalog, monkeypatch, caplog):
    caplog.set_level(logging.WARNING, "athena.gateways.okx.rest")
    async with client(catalog, monkeypatch, speed=0.001) as c:
        await c.inject({"at_s": 0, "kind": "rate_limit", "params": {"count": 2}})
        o = c.submit(Side.BUY, 100, c.book.best_bid - 30)
        await c.until(lambda: o.state is S.LIVE, what="the order after two 50011 answers")
        retries = [r for r in caplog.records if "rate-limited (50011)" in r.getMessage()]
        assert len(retries) == 2
        applied = c.rig.server.faults.applied
        assert sum("answered 429 50011" in a for a in applied) == 2


async def test_ghost_order_is_canceled_at_the_open_orders_sync(catalog, monkeypatch):
    async with client(catalog, monkeypatch, speed=0.001) as c:
        await c.inject({"at_s": 0, "kind": "ghost_order",
                        "params": {"instId": INST, "side": "sell", "px": "45000", "sz": "0.02"}})
        await c.until(lambda: any(e.code == "unknown_order" for e in c.of(ErrorEvent)), what="the ghost's push")
        c.oms.sync_open_orders("sync1")
        await c.until(lambda: any(e.code == "ghost_order" for e in c.of(ErrorEvent)), what="the ghost at sync")
        (ghost,) = c.oms.ghosts
        assert (ghost.cl_ord_id, ghost.side, ghost.price_ticks, ghost.size_lots) == ("ghost1", Side.SELL, 450_000, 2)
        listed: list[Any] = []

        async def gone() -> bool:
            listed[:] = (await c.rest("GET", f"/api/v5/trade/orders-pending?instId={INST}"))["data"]
            return not listed

        for _ in range(50):
            if await gone():
                break
            await asyncio.sleep(0.05)
        assert listed == []
        canceled = (await c.rest("GET", f"/api/v5/trade/order?instId={INST}&ordId={ghost.ord_id}"))["data"][0]
        assert canceled["state"] == "canceled"


async def test_silence_trips_the_watchdog_which_reconnects_and_resyncs(catalog, monkeypatch):
    # watchdog 0.5 s, then a 0.25-0.5 s backoff: the new connection opens after the 0.6 s of silence
    ws = {"ping_interval_s": 0.2, "watchdog_s": 0.5, "backoff_initial_s": 0.5, "backoff_max_s": 1.0}
    async with client(catalog, monkeypatch, ws=ws) as c:
        await c.until(lambda: c.book.synced)
        await c.inject({"at_s": 0, "kind": "silence", "params": {"seconds": 0.6, "socket": "public"}})
        await c.until(lambda: len(c.connections(ConnectionStatus.UP, "okx.public")) >= 2, what="the reconnect")
        down = c.connections(ConnectionStatus.DOWN, "okx.public")
        assert down and "watchdog" in down[0].detail
        await c.until(lambda: bool(c.connections(ConnectionStatus.RESYNCED, f"books:{INST}")), what="a resync")
        await c.synced_with_exchange()
        assert len(c.connections(ConnectionStatus.UP, "okx.private")) == 1  # only the silenced socket


async def test_a_snapshot_lost_after_a_reconnect_is_asked_for_again(catalog, monkeypatch):
    ws = {"ping_interval_s": 0.2, "watchdog_s": 0.5, "backoff_initial_s": 0.02}
    async with client(catalog, monkeypatch, ws=ws) as c:
        await c.until(lambda: c.book.synced)
        # 1 s of silence: the watchdog reconnects inside it and the new subscription's snapshot is lost;
        # updates flow again afterwards, so only asking again brings the book back
        await c.inject({"at_s": 0, "kind": "silence", "params": {"seconds": 1.0, "socket": "public"}})
        await c.until(lambda: len(c.connections(ConnectionStatus.UP, "okx.public")) >= 2, what="the reconnect")
        await c.until(lambda: c.book.synced, timeout=2.5, what="a fresh snapshot after the silence")


async def test_a_busy_public_socket_is_not_closed_as_idle(catalog, monkeypatch):
    # OKX closes a socket only when nothing was exchanged for 30 s (§1.2), and the client pings only
    # after N s without a received frame: a streaming socket must not be closed as idle
    async with client(catalog, monkeypatch, idle_timeout_s=0.5) as c:
        await c.until(lambda: c.counts.get(EventType.BOOK_EVENT, 0) >= 10)
        await asyncio.sleep(1.2)  # books stream the whole time: the socket is not idle
        assert not c.connections(ConnectionStatus.DOWN, "okx.public")
        assert c.gw.public is not None and c.gw.public.connects == 1


class _BusySocket:
    """A WebSocket with a frame always buffered: ``recv`` completes at once, like a busy books stream."""

    def __init__(self) -> None:
        self.closed = False

    async def recv(self) -> str:
        if self.closed:
            raise ConnectionError("closed by the test")
        return "pong"

    async def send(self, text: str) -> None:
        return None

    async def close(self) -> None:
        self.closed = True


async def test_stop_returns_promptly_while_frames_keep_arriving(monkeypatch):
    # CPython 3.11's wait_for swallows a cancellation that lands when recv() has already completed:
    # with a frame always buffered, stop() still ends the receive loop (it checks its flag per frame)
    from athena.gateways.okx import ws_base

    sock = _BusySocket()

    async def connect(*args: Any, **kw: Any) -> _BusySocket:
        return sock

    monkeypatch.setattr(ws_base, "connect", connect)
    gw = ws_base.WsBaseGateway("ws://127.0.0.1:9/ws/v5/public", name="busy", publish=lambda e: None,
                               now_ns=lambda: 0)
    await gw.start()
    assert await gw.wait_ready(1.0)
    stopping = asyncio.ensure_future(gw.stop())
    done, _ = await asyncio.wait({stopping}, timeout=0.5)
    sock.closed = True  # end the loop either way, so the test never hangs
    await asyncio.wait_for(stopping, 2.0)
    assert done
