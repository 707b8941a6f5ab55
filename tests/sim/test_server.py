"""athena/sim/server.py: the OKX wire emulator over the SimExchange (behaviour seen through Athena's own
helpers; tests/sim/test_server_raw.py checks the wire with clients written from the reference alone).

Also home of the small rig the other emulator tests import: ``running`` (a server over a tiny
catalog on 127.0.0.1 port 0), ``rest`` (a signed REST call) and ``recv_until``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from athena.app.sim_server import build_source
from athena.book.l2 import L2Book
from athena.core.clock import SimClock
from athena.gateways.okx.auth import OkxCredentials, rest_headers, ws_login_request
from athena.model.instrument import BTC_USDT_SWAP
from athena.sim.exchange import SimExchange
from athena.sim.server import BookChecksumMode, Credentials, SimServer, SimServerConfig
from athena.sim.server_faults import Fault
from tests.app.tiny_catalog import make_tiny_catalog

INST = "BTC-USDT-SWAP"


@dataclass
class Rig:
    server: SimServer
    creds: Credentials
    url: str

    @property
    def ws(self) -> str:
        return self.url.replace("http://", "ws://") + "/ws/v5"

    @property
    def okx_creds(self) -> OkxCredentials:
        return OkxCredentials(api_key=self.creds.api_key, secret_key=self.creds.secret_key,
                              passphrase=self.creds.passphrase)


@contextlib.asynccontextmanager
async def running(catalog: Path, *, speed: float = 20.0, checksum: str = "crc32", loop: bool = True,
                  faults: list[Fault] | None = None, **cfg: Any) -> AsyncIterator[Rig]:
    """A SimServer over ``catalog`` on 127.0.0.1 port 0, stopped on exit."""
    src = build_source(catalog, loop=loop)
    clock = SimClock(0)
    ex = SimExchange(clock, src.specs)
    creds = Credentials.generate()
    server = SimServer(ex, clock, src, creds, SimServerConfig(speed=speed, book_checksum=BookChecksumMode(checksum),
                                                              **cfg), faults)
    url = await server.start()
    try:
        yield Rig(server, creds, url)
    finally:
        await asyncio.wait_for(server.stop(), 5)


async def rest(session: aiohttp.ClientSession, rig: Rig, method: str, path: str,
               body: Any = None) -> tuple[int, dict[str, Any]]:
    """A signed REST call; returns (HTTP status, decoded body)."""
    text = "" if body is None else json.dumps(body, separators=(",", ":"))
    headers = rest_headers(rig.okx_creds, method, path, text, now_ms=time.time_ns() // 1_000_000)
    async with session.request(method, rig.url + path, data=text or None, headers=headers) as r:
        return r.status, json.loads(await r.text())


async def recv_until(ws: aiohttp.ClientWebSocketResponse, pred: Callable[[Any], bool],
                     timeout: float = 3.0) -> Any:
    """The first JSON frame satisfying ``pred`` (others are skipped)."""
    async def loop() -> Any:
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"socket ended: {msg.type}")
            if msg.data == "pong":
                if pred("pong"):
                    return "pong"
                continue
            obj = json.loads(msg.data)
            if pred(obj):
                return obj

    return await asyncio.wait_for(loop(), timeout)


async def login(ws: aiohttp.ClientWebSocketResponse, rig: Rig) -> None:
    await ws.send_str(json.dumps(ws_login_request(rig.okx_creds, now_ms=time.time_ns() // 1_000_000)))
    ack = await recv_until(ws, lambda f: f.get("event") in ("login", "error"))
    assert ack["code"] == "0", ack


def channel(name: str) -> Callable[[Any], bool]:
    return lambda f: isinstance(f, dict) and f.get("arg", {}).get("channel") == name and "data" in f


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_catalog(tmp_path_factory.mktemp("simsrv"), seconds=40)


# -- tests ----------------------------------------------------------------------------------------


def test_credentials_repr_hides_the_secret_and_passphrase():
    c = Credentials("k1", "S3CRET", "pass1")
    assert "S3CRET" not in repr(c) and "pass1" not in repr(c)
    assert "k1" in repr(c)


async def test_client_book_built_from_the_books_stream_equals_the_exchange_book(tmp_path: Path):
    short = make_tiny_catalog(tmp_path, seconds=4, msgs_per_s=10)
    async with running(short, speed=40, loop=False) as rig, aiohttp.ClientSession() as s, \
            s.ws_connect(rig.ws + "/public") as ws:
        await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": INST}]}))
        book = L2Book(BTC_USDT_SWAP)
        snap = await recv_until(ws, channel("books"))
        assert snap["action"] == "snapshot"

        def levels(d: dict[str, Any], key: str) -> list[tuple[int, int]]:
            return [(BTC_USDT_SWAP.price_to_ticks(p), BTC_USDT_SWAP.size_to_lots(q)) for p, q, _, _ in d[key]]

        d = snap["data"][0]
        book.apply_snapshot(levels(d, "bids"), levels(d, "asks"), seq_id=d["seqId"], checksum=d["checksum"])
        updates = 0
        while not (rig.server.ended and book.seq_id == rig.server.insts[INST].seq):
            try:
                u = (await recv_until(ws, channel("books"), timeout=0.2))["data"][0]
            except TimeoutError:
                continue  # the driver is finishing its last window
            # raises on a broken seqId chain or a checksum mismatch
            book.apply_update(levels(u, "bids"), levels(u, "asks"), seq_id=u["seqId"], prev_seq_id=u["prevSeqId"],
                              checksum=u["checksum"])
            updates += 1
        ex_book = rig.server.exchange.markets[INST].book
        assert updates > 20
        assert book.bids == ex_book.bids and book.asks == ex_book.asks


async def test_rest_books_and_ticker_show_the_same_touch_as_the_exchange_book(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.3)  # the first message (the snapshot) is applied at once
        async with s.get(rig.url + f"/api/v5/market/books?instId={INST}&sz=5") as r:
            books = (await r.json())["data"][0]
        async with s.get(rig.url + f"/api/v5/market/ticker?instId={INST}") as r:
            tick = (await r.json())["data"][0]
        ex = rig.server.exchange.markets[INST].book
        assert books["bids"][0][0] == BTC_USDT_SWAP.format_price(ex.best_bid) == tick["bidPx"]
        assert books["asks"][0][0] == BTC_USDT_SWAP.format_price(ex.best_ask) == tick["askPx"]
        assert books["seqId"] == rig.server.insts[INST].seq
        assert len(books["bids"]) == 5 and len(books["asks"]) == 5


async def test_candle1m_is_served_on_the_business_socket_from_trades(catalog: Path):
    async with running(catalog, speed=50) as rig, aiohttp.ClientSession() as s, \
            s.ws_connect(rig.ws + "/business") as ws:
        await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "candle1m", "instId": INST}]}))
        row = (await recv_until(ws, channel("candle1m")))["data"][0]
        assert len(row) == 9 and row[8] in ("0", "1")
        assert int(row[0]) % 60_000 == 0
        o, h, lo, c = (float(x) for x in row[1:5])
        assert lo <= min(o, c) <= max(o, c) <= h
        # volCcy (base coin) = contracts x ctVal 0.01
        assert float(row[6]) == pytest.approx(float(row[5]) * 0.01)


async def test_limit_order_rests_amends_and_cancels_over_rest(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        st, body = await rest(s, rig, "POST", "/api/v5/trade/order", {
            "instId": INST, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "40000", "sz": "0.05",
            "clOrdId": "amd1"})
        assert st == 200 and body["code"] == "0", body
        ord_id = body["data"][0]["ordId"]
        _, body = await rest(s, rig, "POST", "/api/v5/trade/amend-order",
                              {"instId": INST, "ordId": ord_id, "newPx": "40000.5", "reqId": "r1"})
        assert body["code"] == "0" and body["data"][0]["reqId"] == "r1", body
        _, body = await rest(s, rig, "GET", f"/api/v5/trade/order?instId={INST}&ordId={ord_id}")
        assert body["data"][0]["px"] == "40000.5" and body["data"][0]["state"] == "live"
        _, body = await rest(s, rig, "POST", "/api/v5/trade/cancel-order", {"instId": INST, "clOrdId": "amd1"})
        assert body["code"] == "0" and body["data"][0]["ordId"] == ord_id
        _, body = await rest(s, rig, "GET", f"/api/v5/trade/order?instId={INST}&ordId={ord_id}")
        assert body["data"][0]["state"] == "canceled" and body["data"][0]["cancelSource"] == "1"
        _, body = await rest(s, rig, "POST", "/api/v5/trade/cancel-order", {"instId": INST, "ordId": ord_id})
        assert body["code"] == "1" and body["data"][0]["sCode"] == "51400"


async def test_batch_with_one_bad_order_is_partially_successful(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        _, body = await rest(s, rig, "POST", "/api/v5/trade/batch-orders", [
            {"instId": INST, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "40000", "sz": "0.01"},
            {"instId": INST, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "40000", "sz": "0.015"},
        ])
        assert body["code"] == "2", body
        assert [i["sCode"] for i in body["data"]] == ["0", "51121"]


async def test_stop_order_is_listed_pending_and_cancelled(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        _, body = await rest(s, rig, "POST", "/api/v5/trade/order-algo", {
            "instId": INST, "tdMode": "cross", "side": "sell", "posSide": "net", "ordType": "conditional",
            "sz": "0.01", "reduceOnly": True, "slTriggerPx": "30000", "slTriggerPxType": "last", "slOrdPx": "-1",
            "algoClOrdId": "athenaSL1"})
        assert body["code"] == "0", body
        algo_id = body["data"][0]["algoId"]
        _, body = await rest(s, rig, "GET", "/api/v5/trade/orders-algo-pending?ordType=conditional")
        assert [(a["algoId"], a["slTriggerPx"], a["state"]) for a in body["data"]] == [(algo_id, "30000", "live")]
        _, body = await rest(s, rig, "POST", "/api/v5/trade/cancel-algos", [{"instId": INST, "algoId": algo_id}])
        assert body["code"] == "0" and body["data"][0]["algoId"] == algo_id
        _, body = await rest(s, rig, "GET", "/api/v5/trade/orders-algo-pending?ordType=conditional")
        assert body["data"] == []


async def test_close_position_flattens_and_positions_then_lists_nothing(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        _, body = await rest(s, rig, "POST", "/api/v5/trade/order", {
            "instId": INST, "tdMode": "cross", "side": "sell", "ordType": "market", "sz": "0.03"})
        assert body["code"] == "0", body
        _, body = await rest(s, rig, "GET", f"/api/v5/account/positions?instId={INST}")
        assert [p["pos"] for p in body["data"]] == ["-0.03"]
        _, body = await rest(s, rig, "POST", "/api/v5/trade/close-position",
                              {"instId": INST, "mgnMode": "cross", "autoCxl": True, "clOrdId": "close1"})
        assert body["code"] == "0" and body["data"][0]["clOrdId"] == "close1", body
        _, body = await rest(s, rig, "GET", "/api/v5/account/positions")
        assert body["data"] == []
        _, body = await rest(s, rig, "POST", "/api/v5/trade/close-position", {"instId": INST, "mgnMode": "cross"})
        assert body["code"] == "51023"


async def test_set_leverage_changes_the_margin_the_account_reserves(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        _, body = await rest(s, rig, "POST", "/api/v5/account/set-leverage",
                              {"instId": INST, "lever": "5", "mgnMode": "cross"})
        assert body["data"] == [{"instId": INST, "lever": "5", "mgnMode": "cross", "posSide": "net"}]
        await rest(s, rig, "POST", "/api/v5/trade/order", {
            "instId": INST, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "40000", "sz": "1"})
        _, body = await rest(s, rig, "GET", "/api/v5/account/balance")
        # 1 contract x 0.01 BTC x 40000 = 400 USDT notional; / 5 = 80 USDT frozen for the order
        assert float(body["data"][0]["details"][0]["ordFrozen"]) == pytest.approx(80.0)
        _, body = await rest(s, rig, "GET", "/api/v5/account/config")
        assert body["data"][0]["posMode"] == "net_mode"


async def test_the_sample_loops_with_an_unbroken_seq_chain(tmp_path: Path):
    short = make_tiny_catalog(tmp_path, seconds=2, msgs_per_s=10)
    async with running(short, speed=20) as rig, aiohttp.ClientSession() as s, \
            s.ws_connect(rig.ws + "/public") as ws:
        await ws.send_str(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": INST}]}))
        snap = (await recv_until(ws, channel("books")))["data"][0]
        last = snap["seqId"]
        deadline = time.monotonic() + 4
        while rig.server.passes < 3 and time.monotonic() < deadline:
            u = (await recv_until(ws, channel("books")))["data"][0]
            assert u["prevSeqId"] == last
            last = u["seqId"]
        assert rig.server.passes >= 3
