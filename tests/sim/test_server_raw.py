"""The emulator's wire, checked by raw clients written from okx-v5-reference.md alone.

No Athena client code here: requests are signed with hmac/base64 as the reference's §2 says, frames
are plain JSON, shapes are compared with the real OKX payloads in ../shared/fixtures/okx. Only the
server is started through Athena (and ``okx_checksum`` is used to check the crc32 mode, as the
brief of the emulator asks).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from athena.book.l2 import okx_checksum
from tests.app.tiny_catalog import make_tiny_catalog
from tests.conftest import load_fixture
from tests.sim.test_server import Rig, running

INST = "BTC-USDT-SWAP"


# -- a raw OKX client, from the reference ---------------------------------------------------------


def iso_now(offset_s: float = 0.0) -> str:
    t = time.time() + offset_s
    return datetime.fromtimestamp(t, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{int(t * 1000) % 1000:03d}Z"


def sign(secret: str, msg: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), msg.encode(), hashlib.sha256).digest()).decode()


def headers(rig: Rig, method: str, path: str, body: str = "", **override: str) -> dict[str, str]:
    ts = override.pop("ts", iso_now())
    h = {
        "OK-ACCESS-KEY": rig.creds.api_key,
        "OK-ACCESS-SIGN": sign(rig.creds.secret_key, ts + method + path + body),
        "OK-ACCESS-TIMESTAMP": ts,
        "OK-ACCESS-PASSPHRASE": rig.creds.passphrase,
        "Content-Type": "application/json",
    }
    h.update(override)
    return {k: v for k, v in h.items() if v != "<drop>"}


async def call(s: aiohttp.ClientSession, rig: Rig, method: str, path: str, body: Any = None,
               **override: str) -> tuple[int, Any]:
    text = "" if body is None else json.dumps(body)
    async with s.request(method, rig.url + path, data=text or None, headers=headers(rig, method, path, text,
                                                                                      **override)) as r:
        return r.status, json.loads(await r.text())


def login_frame(rig: Rig, *, secret: str | None = None, key: str | None = None, passphrase: str | None = None,
                ts: str | None = None) -> str:
    ts = ts or str(int(time.time()))
    return json.dumps({"op": "login", "args": [{
        "apiKey": key or rig.creds.api_key, "passphrase": passphrase or rig.creds.passphrase, "timestamp": ts,
        "sign": sign(secret or rig.creds.secret_key, ts + "GET" + "/users/self/verify")}]})


async def frames_until(ws: Any, pred: Any, timeout: float = 3.0) -> Any:
    async def loop() -> Any:
        while True:
            raw = await ws.recv()
            obj = raw if raw == "pong" else json.loads(raw)
            if pred(obj):
                return obj

    return await asyncio.wait_for(loop(), timeout)


def push_of(name: str) -> Any:
    return lambda f: isinstance(f, dict) and f.get("arg", {}).get("channel") == name and "data" in f


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_catalog(tmp_path_factory.mktemp("raw"), seconds=40)


# -- REST shapes against real payloads ------------------------------------------------------------


async def test_place_order_envelope_has_the_keys_of_the_real_okx_answer(catalog: Path):
    real = load_fixture("rest_place_order_ok.json")
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        st, body = await call(s, rig, "POST", "/api/v5/trade/order", {
            "instId": INST, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "40000.1", "sz": "0.01",
            "clOrdId": "athena0001", "tag": "t1"})
    assert st == 200
    assert list(body) == list(real) == ["code", "data", "inTime", "msg", "outTime"]
    assert sorted(body["data"][0]) == sorted(real["data"][0])
    item = body["data"][0]
    assert (body["code"], body["msg"], item["sCode"], item["sMsg"], item["clOrdId"], item["tag"]) == (
        "0", "", "0", "Order placed", "athena0001", "t1")
    assert re.fullmatch(r"\d{16}", body["inTime"]) and re.fullmatch(r"\d{16}", body["outTime"])  # µs
    assert int(body["inTime"]) <= int(body["outTime"])
    assert re.fullmatch(r"\d{13}", item["ts"]) and re.fullmatch(r"\d+", item["ordId"])


async def test_instruments_record_carries_every_key_of_the_real_record_in_alphabetical_order(catalog: Path):
    real = load_fixture("rest_instruments_swap.json")["data"][0]
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s, \
            s.get(rig.url + "/api/v5/public/instruments?instType=SWAP") as r:
        body = await r.json()
    (inst,) = body["data"]
    assert set(real) <= set(inst)
    assert list(inst) == sorted(inst)
    assert (inst["instId"], inst["instIdCode"], inst["tickSz"], inst["lotSz"], inst["minSz"], inst["ctVal"],
            inst["ctType"], inst["settleCcy"], inst["state"]) == (
        INST, 10459, "0.1", "0.01", "0.01", "0.01", "linear", "USDT", "live")
    assert inst["futureSettlement"] is False and inst["tradeQuoteCcyList"] == []


async def test_orders_pending_and_balance_records_carry_the_keys_of_the_real_ones(catalog: Path):
    pending_real = load_fixture("rest_orders_pending.json")["data"][0]
    bal_real = load_fixture("rest_account_balance.json")["data"][0]
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        await call(s, rig, "POST", "/api/v5/trade/order", {
            "instId": INST, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "40000", "sz": "0.5"})
        _, pending = await call(s, rig, "GET", "/api/v5/trade/orders-pending?instType=SWAP")
        _, bal = await call(s, rig, "GET", "/api/v5/account/balance")
    (o,) = pending["data"]
    assert set(pending_real) <= set(o)
    assert (o["state"], o["px"], o["sz"], o["accFillSz"], o["avgPx"], o["fillSz"], o["ordType"]) == (
        "live", "40000", "0.5", "0", "", "0", "limit")
    b = bal["data"][0]
    assert set(bal_real) <= set(b) and set(bal_real["details"][0]) <= set(b["details"][0])
    d = b["details"][0]
    # 0.5 contracts x 0.01 BTC x 40000 = 200 USDT notional; leverage 3 -> 66.67 frozen
    assert d["ccy"] == "USDT" and float(d["cashBal"]) == 10000.0
    assert float(d["ordFrozen"]) == pytest.approx(200 / 3)
    assert float(d["availBal"]) == pytest.approx(10000 - 200 / 3)


# -- authentication -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"OK-ACCESS-SIGN": "AAAAbadsignature="}, "50113"),
        ({"ts": iso_now(-120)}, "50102"),
        ({"OK-ACCESS-PASSPHRASE": "wrongpass"}, "50105"),
        ({"OK-ACCESS-KEY": "<drop>"}, "50103"),
        ({"OK-ACCESS-PASSPHRASE": "<drop>"}, "50104"),
        ({"OK-ACCESS-SIGN": "<drop>"}, "50106"),
        ({"OK-ACCESS-TIMESTAMP": "<drop>"}, "50107"),
        ({"ts": "yesterday"}, "50112"),
    ],
)
async def test_signature_failures_are_answered_401_with_okx_codes(catalog: Path, override: dict[str, str],
                                                                  code: str):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        st, body = await call(s, rig, "GET", "/api/v5/account/balance", **override)
    assert st == 401
    assert list(body) == ["msg", "code"] and body["code"] == code  # no "data", like OKX's 401 capture


async def test_unknown_key_gets_the_real_401_body_and_unknown_path_the_real_404_body(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        st, body = await call(s, rig, "GET", "/api/v5/account/balance", **{"OK-ACCESS-KEY": "nokey"})
        assert (st, body) == (401, load_fixture("rest_error_invalid_access_key_http401.json"))
        async with s.get(rig.url + "/api/v5/no/such/path") as r:
            assert r.status == 404
            assert json.loads(await r.text()) == load_fixture("rest_error_not_found_http404.json")


async def test_signature_covers_the_query_string(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        path = "/api/v5/account/positions?instId=" + INST
        h = headers(rig, "GET", "/api/v5/account/positions")  # signed without the query
        async with s.get(rig.url + path, headers=h) as r:
            assert r.status == 401 and (await r.json())["code"] == "50113"
        st, body = await call(s, rig, "GET", path)
        assert (st, body["code"], body["data"]) == (200, "0", [])


# -- invalid requests -----------------------------------------------------------------------------


async def test_invalid_rest_requests_get_okx_errors_and_the_server_keeps_serving(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        _, missing = await call(s, rig, "POST", "/api/v5/trade/order",
                                {"instId": INST, "tdMode": "cross", "ordType": "limit", "px": "1", "sz": "1"})
        _, bad_inst = await call(s, rig, "POST", "/api/v5/trade/order",
                                 {"instId": "NOPE-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "market",
                                  "sz": "1"})
        _, bad_side = await call(s, rig, "POST", "/api/v5/trade/order",
                                 {"instId": INST, "tdMode": "cross", "side": "up", "ordType": "market", "sz": "1"})
        path = "/api/v5/trade/order"
        bad_json = "{not json"
        async with s.post(rig.url + path, data=bad_json, headers=headers(rig, "POST", path, bad_json)) as r:
            bad = (r.status, await r.json())
        _, no_type = await call(s, rig, "GET", "/api/v5/public/instruments")
        async with s.get(rig.url + "/api/v5/public/time") as r:
            alive = await r.json()
    assert (missing["code"], missing["msg"], missing["data"]) == ("50014", "Parameter side can not be empty.", [])
    assert (bad_inst["code"], bad_inst["msg"]) == (
        "51001", "Instrument ID, Instrument ID code, or Spread ID doesn't exist.")  # reference §6.1
    assert (bad_side["code"], bad_side["msg"]) == ("51000", "Parameter side error")
    assert bad[0] == 400 and bad[1]["code"] == "50002"
    assert no_type["code"] == "50014"
    assert alive["code"] == "0" and abs(int(alive["data"][0]["ts"]) - time.time() * 1000) < 5000


async def test_invalid_ws_requests_get_okx_error_events(catalog: Path):
    async with running(catalog, speed=0.001) as rig:
        async with connect(rig.ws + "/public") as ws:
            await ws.send("{nope")
            e1 = await frames_until(ws, lambda f: f.get("event") == "error")
            await ws.send(json.dumps({"op": "dance", "args": []}))
            e2 = await frames_until(ws, lambda f: f.get("event") == "error")
            await ws.send(json.dumps({"id": "7", "op": "subscribe", "args": [{"channel": "candle1m", "instId": INST}]}))
            e3 = await frames_until(ws, lambda f: f.get("event") == "error")
            await ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": "NOPE-SWAP"}]}))
            e4 = await frames_until(ws, lambda f: f.get("event") == "error")
            await ws.send("ping")
            assert await frames_until(ws, lambda f: f == "pong") == "pong"
        async with connect(rig.ws + "/private") as ws:
            await ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "SWAP"}]}))
            e5 = await frames_until(ws, lambda f: f.get("event") == "error")
    assert e1["code"] == "60012" and re.fullmatch(r"[0-9a-f]{8}", e1["connId"])
    assert e2["code"] == "60019"
    real = load_fixture("ws_error_subscribe.json")
    assert list(e3) == ["id", *real] and e3["code"] == "60018" and e3["id"] == "7"
    assert e3["msg"].startswith("Wrong URL or channel:candle1m")
    assert e4["code"] == "60018"
    assert e5["code"] == "60011"


# -- WebSocket: subscribe, login, books ------------------------------------------------------------


async def test_subscribe_ack_has_the_real_shape_one_per_arg(catalog: Path):
    real = load_fixture("ws_subscribe_ack.json")
    async with running(catalog, speed=0.001) as rig, connect(rig.ws + "/public") as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "books5", "instId": INST},
                                                               {"channel": "trades", "instId": INST}]}))
        a1 = await frames_until(ws, lambda f: f.get("event") == "subscribe")
        a2 = await frames_until(ws, lambda f: f.get("event") == "subscribe")
    assert list(a1) == list(real)
    assert a1["arg"] == {"channel": "books5", "instId": INST} and a2["arg"] == {"channel": "trades", "instId": INST}
    assert a1["connId"] == a2["connId"] and re.fullmatch(r"[0-9a-f]{8}", a1["connId"])


async def test_login_ok_and_each_login_failure_code(catalog: Path):
    async with running(catalog, speed=0.001) as rig:
        results = []
        for kw in ({}, {"key": "nokey"}, {"passphrase": "wrong"}, {"secret": "F" * 32},
                   {"ts": str(int(time.time()) - 120)}):
            async with connect(rig.ws + "/private") as ws:
                await ws.send(login_frame(rig, **kw))
                f = await frames_until(ws, lambda f: f.get("event") in ("login", "error"))
                results.append((f["event"], f["code"]))
                if not kw:
                    assert list(f) == ["event", "code", "msg", "connId"] and f["msg"] == ""
    assert results == [("login", "0"), ("error", "60032"), ("error", "60024"), ("error", "60007"),
                       ("error", "60006")]


async def test_books_crc32_checksums_reproduce_and_seq_ids_chain(catalog: Path):
    async with running(catalog, speed=40, checksum="crc32") as rig, connect(rig.ws + "/public") as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": INST}]}))
        snap = await frames_until(ws, push_of("books"))
        assert snap["action"] == "snapshot" and snap["data"][0]["prevSeqId"] == -1
        d = snap["data"][0]
        bids = {p: s for p, s, _, _ in d["bids"]}
        asks = {p: s for p, s, _, _ in d["asks"]}

        def check(data: dict[str, Any]) -> None:
            b = sorted(bids.items(), key=lambda kv: -float(kv[0]))
            a = sorted(asks.items(), key=lambda kv: float(kv[0]))
            assert okx_checksum(b, a) == data["checksum"] != 0

        check(d)
        last = d["seqId"]
        for _ in range(30):
            u = await frames_until(ws, push_of("books"))
            assert u["action"] == "update"
            data = u["data"][0]
            assert data["prevSeqId"] == last and data["seqId"] != last
            last = data["seqId"]
            for side, book in (("bids", bids), ("asks", asks)):
                for p, s, _, _ in data[side]:
                    if s == "0":
                        book.pop(p, None)
                    else:
                        book[p] = s
            check(data)


async def test_books_checksum_is_zero_by_default(catalog: Path):
    async with running(catalog, speed=40, checksum="zero") as rig, connect(rig.ws + "/public") as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": INST}]}))
        frames = [await frames_until(ws, push_of("books")) for _ in range(5)]
    assert [f["data"][0]["checksum"] for f in frames] == [0] * 5
    assert set(frames[1]["data"][0]) == {"asks", "bids", "ts", "checksum", "prevSeqId", "seqId"}


async def test_books_keepalive_repeats_the_last_seq_id_with_empty_sides(tmp_path: Path):
    short = make_tiny_catalog(tmp_path, seconds=2)
    async with running(short, speed=50, loop=False, book_keepalive_s=0.3) as rig, \
            connect(rig.ws + "/public") as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": INST}]}))
        f = await frames_until(ws, lambda f: push_of("books")(f) and f["data"][0]["bids"] == []
                               and f["data"][0]["asks"] == [])
    d = f["data"][0]
    assert d["seqId"] == d["prevSeqId"] == rig.server.insts[INST].seq


async def test_idle_socket_is_closed_and_ping_keeps_it_open(catalog: Path):
    async with running(catalog, speed=0.001, idle_timeout_s=0.4) as rig, \
            connect(rig.ws + "/public") as idle, connect(rig.ws + "/public") as busy:
        t0 = time.monotonic()
        for _ in range(8):
            await busy.send("ping")
            assert await frames_until(busy, lambda f: f == "pong") == "pong"
            await asyncio.sleep(0.1)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(idle.recv(), 2)
        assert idle.close_code == 4004 and time.monotonic() - t0 < 3


# -- trading over WS: ack, pushes, positions and balance ------------------------------------------


async def test_ws_order_acks_then_pushes_live_and_filled_with_consistent_fee_position_and_balance(catalog: Path):
    async with running(catalog, speed=0.001) as rig, connect(rig.ws + "/private") as ws:
        await asyncio.sleep(0.2)
        await ws.send(login_frame(rig))
        await frames_until(ws, lambda f: f.get("event") == "login")
        await ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "orders", "instType": "SWAP"},
                                                               {"channel": "positions", "instType": "SWAP"},
                                                               {"channel": "account"}]}))
        count = await frames_until(ws, lambda f: f.get("event") == "channel-conn-count")
        assert list(count) == list(load_fixture("ws_channel_conn_count.json"))
        await ws.send(json.dumps({"id": "1512", "op": "order", "args": [{
            "instIdCode": 10459, "tdMode": "cross", "side": "buy", "ordType": "market", "sz": "0.07",
            "clOrdId": "athenaMkt1"}]}))
        ack = await frames_until(ws, lambda f: f.get("op") == "order")
        pushes = []
        while not pushes or pushes[-1]["state"] != "filled":
            pushes.append((await frames_until(ws, push_of("orders")))["data"][0])
        pos = (await frames_until(ws, lambda f: push_of("positions")(f) and f["data"]))["data"][0]
        acct = (await frames_until(ws, push_of("account")))["data"][0]
    assert (ack["id"], ack["code"], ack["msg"]) == ("1512", "0", "")
    (item,) = ack["data"]
    assert (item["sCode"], item["clOrdId"]) == ("0", "athenaMkt1") and item["ordId"]
    assert int(ack["inTime"]) <= int(ack["outTime"])
    assert pushes[0]["state"] == "live" and pushes[0]["accFillSz"] == "0"
    fills = [p for p in pushes if p["fillSz"] != "0"]
    assert fills and all(p["ordId"] == item["ordId"] and p["execType"] == "T" for p in fills)
    assert pushes[-1]["accFillSz"] == "0.07"
    notional = sum(float(p["fillPx"]) * float(p["fillSz"]) * 0.01 for p in fills)
    fee = float(pushes[-1]["fee"])
    assert fee < 0 and fee == pytest.approx(-notional * 0.0005)  # taker 0.05 %, negative = paid
    assert float(pushes[-1]["avgPx"]) == pytest.approx(notional / 0.07 / 0.01)
    assert sum(float(p["fillFee"]) for p in fills) == pytest.approx(fee)
    assert pos["pos"] == "0.07" and float(pos["avgPx"]) == pytest.approx(float(pushes[-1]["avgPx"]))
    assert pos["posSide"] == "net" and pos["mgnMode"] == "cross"
    detail = acct["details"][0]
    assert float(detail["cashBal"]) == pytest.approx(10000 + fee)  # opening: no realized PnL, only the fee


async def test_ws_order_with_instid_and_a_batch_with_per_item_results(catalog: Path):
    async with running(catalog, speed=0.001) as rig, connect(rig.ws + "/private") as ws:
        await asyncio.sleep(0.2)
        await ws.send(login_frame(rig))
        await frames_until(ws, lambda f: f.get("event") == "login")
        await ws.send(json.dumps({"id": "a1", "op": "order", "args": [{
            "instId": INST, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "40000", "sz": "0.01"}]}))
        single = await frames_until(ws, lambda f: f.get("id") == "a1")
        await ws.send(json.dumps({"id": "a2", "op": "batch-orders", "args": [
            {"instIdCode": 10459, "tdMode": "cross", "side": "sell", "ordType": "post_only", "px": "50000",
             "sz": "0.01", "clOrdId": "b1"},
            {"instIdCode": 99, "tdMode": "cross", "side": "sell", "ordType": "limit", "px": "50000", "sz": "0.01"},
        ]}))
        batch = await frames_until(ws, lambda f: f.get("id") == "a2")
        await ws.send(json.dumps({"id": "a3", "op": "cancel-order", "args": [{"instIdCode": 10459,
                                                                             "clOrdId": "b1"}]}))
        cancel = await frames_until(ws, lambda f: f.get("id") == "a3")
        await ws.send(json.dumps({"id": "a4", "op": "amend-order", "args": [{"instIdCode": 10459,
                                                                            "ordId": single["data"][0]["ordId"],
                                                                            "newSz": "0.02", "reqId": "q1"}]}))
        amend = await frames_until(ws, lambda f: f.get("id") == "a4")
        await ws.send(json.dumps({"id": "a5", "op": "order", "args": "nope"}))
        invalid = await frames_until(ws, lambda f: f.get("id") == "a5")
    assert single["code"] == "0" and single["data"][0]["sCode"] == "0"
    assert batch["code"] == "2" and [i["sCode"] for i in batch["data"]] == ["0", "51001"]
    assert (cancel["code"], cancel["data"][0]["clOrdId"], cancel["data"][0]["sCode"]) == ("0", "b1", "0")
    assert (amend["code"], amend["data"][0]["reqId"]) == ("0", "q1")
    assert (invalid["code"], invalid["msg"], invalid["data"]) == ("60013", "Invalid args", [])
