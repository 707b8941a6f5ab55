"""athena/sim/server_faults.py: the fault script and its bookkeeping; and every fault kind, seen by a
raw client of the running emulator (aiohttp / websockets, frames decoded by hand)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from websockets.asyncio.client import connect

from athena.book.l2 import okx_checksum
from athena.sim.server_faults import (
    Fault,
    FaultKind,
    FaultScriptError,
    FaultState,
    PrivateAction,
    RestFault,
    load_fault_file,
    parse_faults,
)
from tests.app.tiny_catalog import make_tiny_catalog
from tests.sim.test_server import Rig, rest, running
from tests.sim.test_server_raw import frames_until, login_frame, push_of

INST = "BTC-USDT-SWAP"
S = 1_000_000_000


# -- the script -----------------------------------------------------------------------------------


def test_script_entries_become_faults_with_defaults_filled_in():
    faults = parse_faults([
        {"at_s": 2, "kind": "drop_ws", "params": {"socket": "private"}},
        {"after_msgs": 10, "kind": "rate_limit"},
        {"at_s": 0, "kind": "ghost_order", "params": {"instId": INST, "side": "buy", "px": 42000, "sz": "0.01"}},
    ])
    assert faults == [
        Fault(FaultKind.DROP_WS, {"socket": "private"}, 2.0, None),
        Fault(FaultKind.RATE_LIMIT, {"count": 1}, None, 10),
        Fault(FaultKind.GHOST_ORDER, {"instId": INST, "side": "buy", "px": "42000", "sz": "0.01",
                                      "clOrdId": "ghost1"}, 0.0, None),
    ]


@pytest.mark.parametrize(
    ("entry", "says"),
    [
        ({"at_s": 1, "kind": "explode"}, "kind 'explode' is not one of"),
        ({"at_s": 1, "after_msgs": 2, "kind": "drop_ws"}, "exactly one of at_s"),
        ({"kind": "drop_ws"}, "exactly one of at_s"),
        ({"at_s": 1, "kind": "silence"}, "needs param 'seconds'"),
        ({"at_s": 1, "kind": "drop_ws", "params": {"socket": "moon"}}, "socket 'moon'"),
        ({"at_s": 1, "kind": "server_error", "params": {"status": 404}}, "not a 5xx"),
        ({"at_s": -1, "kind": "drop_ws"}, "expected seconds >= 0"),
        ({"at_s": 1, "kind": "rate_limit", "params": {"count": "two"}}, "expected a int"),
        ({"at_s": 1, "kind": "rate_limit", "params": {"cnt": 2}}, "not ['cnt']"),
    ],
)
def test_bad_entries_are_refused_naming_the_entry_and_the_problem(entry: dict[str, Any], says: str):
    with pytest.raises(FaultScriptError) as e:
        parse_faults([{"at_s": 0, "kind": "notice"}, entry], "plan.json")
    assert str(e.value).startswith("plan.json, fault #2: ") and says in str(e.value)


def test_fault_file_with_bad_json_names_the_line(tmp_path: Path):
    p = tmp_path / "faults.json"
    p.write_text('[\n  {"at_s": 1, "kind": "drop_ws"},\n  oops\n]')
    with pytest.raises(FaultScriptError, match=r"faults.json, line 3: not valid JSON"):
        load_fault_file(p)


# -- the bookkeeping ------------------------------------------------------------------------------


def test_timed_fault_fires_once_its_seconds_have_passed_since_arming():
    st = FaultState()
    st.arm(parse_faults([{"at_s": 2, "kind": "rate_limit", "params": {"count": 2}}]), now_ns=10 * S, msgs=0)
    assert st.fire_due(11 * S, 0) == [] and st.rest_fault() is None
    assert st.next_due_ns() == 12 * S
    st.fire_due(12 * S, 0)
    assert [st.rest_fault(), st.rest_fault(), st.rest_fault()] == [
        RestFault(429, "50011", "Too Many Requests"), RestFault(429, "50011", "Too Many Requests"), None]


def test_message_counted_fault_fires_after_that_many_messages_since_arming():
    st = FaultState()
    st.arm(parse_faults([{"after_msgs": 5, "kind": "drop_ws"}]), now_ns=0, msgs=100)
    assert st.fire_due(0, 104) == []
    (f,) = st.fire_due(0, 105)
    assert f.kind is FaultKind.DROP_WS  # an action: the server carries it out


def test_private_counters_are_consumed_one_message_at_a_time():
    st = FaultState()
    st.arm(parse_faults([{"at_s": 0, "kind": "delay_private", "params": {"ms": 50, "count": 2}},
                         {"at_s": 0, "kind": "duplicate_private"}]), 0, 0)
    st.fire_due(0, 0)
    assert [st.private_action() for _ in range(3)] == [
        PrivateAction(50.0, True, False), PrivateAction(50.0, False, False), PrivateAction()]


def test_lost_acks_and_book_faults_match_their_channel_and_instrument():
    st = FaultState()
    st.arm(parse_faults([{"at_s": 0, "kind": "lose_ack", "params": {"via": "ws"}},
                         {"at_s": 0, "kind": "skip_seq", "params": {"instId": "ETH-USDT-SWAP"}},
                         {"at_s": 0, "kind": "corrupt_book"}]), 0, 0)
    st.fire_due(0, 0)
    assert st.take_lose_ack("rest") is False and st.take_lose_ack("ws") is True and st.take_lose_ack("ws") is False
    assert st.take_book_fault(INST) is FaultKind.CORRUPT_BOOK
    assert st.take_book_fault(INST) is None
    assert st.take_book_fault("ETH-USDT-SWAP") is FaultKind.SKIP_SEQ


def test_silence_covers_its_sockets_for_its_seconds():
    st = FaultState()
    st.arm(parse_faults([{"at_s": 0, "kind": "silence", "params": {"seconds": 3, "socket": "public"}}]), 0, 0)
    st.fire_due(5 * S, 0)
    assert st.silenced("public", 7 * S) and not st.silenced("private", 7 * S) and not st.silenced("public", 8 * S)


# -- every kind, seen by a raw client -------------------------------------------------------------


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_catalog(tmp_path_factory.mktemp("faults"), seconds=40)


async def inject(s: aiohttp.ClientSession, rig: Rig, *faults: dict[str, Any]) -> None:
    async with s.post(rig.url + "/admin/faults", json=list(faults)) as r:
        assert r.status == 200, await r.text()


async def private_ws(rig: Rig, *channels: dict[str, Any]) -> Any:
    ws = await connect(rig.ws + "/private")
    await ws.send(login_frame(rig))
    await frames_until(ws, lambda f: f.get("event") == "login")
    if channels:
        await ws.send(json.dumps({"op": "subscribe", "args": list(channels)}))
        for _ in channels:
            await frames_until(ws, lambda f: f.get("event") == "subscribe")
    return ws


LIMIT = {"instIdCode": 10459, "tdMode": "cross", "side": "buy", "ordType": "limit", "px": "40000", "sz": "0.01"}
ORDERS = {"channel": "orders", "instType": "SWAP"}


async def test_rate_limit_and_server_error_answer_the_next_rest_calls(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await inject(s, rig, {"at_s": 0, "kind": "rate_limit", "params": {"count": 2}},
                     {"at_s": 0, "kind": "server_error", "params": {"count": 1, "status": 503}})
        seen = []
        for _ in range(4):
            async with s.get(rig.url + "/api/v5/public/time") as r:
                seen.append((r.status, json.loads(await r.text()).get("code")))
    assert seen == [(429, "50011"), (429, "50011"), (503, "50001"), (200, "0")]


async def test_drop_ws_kills_the_connection_without_a_close_frame(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s, \
            s.ws_connect(rig.ws + "/public") as ws:
        await ws.send_str("ping")
        assert (await ws.receive()).data == "pong"
        await inject(s, rig, {"at_s": 0, "kind": "drop_ws", "params": {"socket": "public"}})
        msg = await asyncio.wait_for(ws.receive(), 2)
        assert msg.type in (aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE)
        assert ws.close_code in (None, 1006)  # not a clean close


async def test_silence_withholds_pongs_until_it_ends(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s, \
            connect(rig.ws + "/public") as ws:
        await inject(s, rig, {"at_s": 0, "kind": "silence", "params": {"seconds": 0.6, "socket": "public"}})
        await ws.send("ping")
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(ws.recv(), 0.4)
        await asyncio.sleep(0.3)
        await ws.send("ping")
        assert await asyncio.wait_for(ws.recv(), 1) == "pong"


async def test_notice_64008_reaches_the_chosen_socket(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s, \
            connect(rig.ws + "/business") as ws:
        await inject(s, rig, {"at_s": 0, "kind": "notice", "params": {"socket": "business"}})
        f = await frames_until(ws, lambda f: f.get("event") == "notice")
    assert f["code"] == "64008" and "service upgrade" in f["msg"]


async def test_lost_ws_ack_order_lands_and_pushes_but_its_answer_never_comes(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        ws = await private_ws(rig, ORDERS)
        await inject(s, rig, {"at_s": 0, "kind": "lose_ack", "params": {"via": "ws"}})
        await ws.send(json.dumps({"id": "9", "op": "order", "args": [{**LIMIT, "clOrdId": "lost1"}]}))
        live = await frames_until(ws, push_of("orders"))
        with pytest.raises(TimeoutError):
            await frames_until(ws, lambda f: f.get("id") == "9", timeout=0.4)
        await ws.close()
        _, pending = await rest(s, rig, "GET", "/api/v5/trade/orders-pending")
    assert live["data"][0]["clOrdId"] == "lost1" and live["data"][0]["state"] == "live"
    assert [o["clOrdId"] for o in pending["data"]] == ["lost1"]


async def test_lost_rest_ack_drops_the_response_after_the_order_landed(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        await inject(s, rig, {"at_s": 0, "kind": "lose_ack", "params": {"via": "rest"}})
        with pytest.raises(aiohttp.ClientError):
            await rest(s, rig, "POST", "/api/v5/trade/order", {**LIMIT, "instId": INST, "clOrdId": "lost2"})
        _, status = await rest(s, rig, "GET", f"/api/v5/trade/order?instId={INST}&clOrdId=lost2")
    assert status["code"] == "0" and status["data"][0]["state"] == "live"


async def test_delay_duplicate_and_reorder_of_private_messages(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        ws = await private_ws(rig, ORDERS)

        def mine(f: Any) -> bool:  # op answers and orders pushes (not channel-conn-count)
            return isinstance(f, dict) and ("id" in f or push_of("orders")(f))

        # delay: the op answer comes >= 300 ms after the request
        await inject(s, rig, {"at_s": 0, "kind": "delay_private", "params": {"ms": 300, "count": 1}})
        t0 = time.monotonic()
        await ws.send(json.dumps({"id": "d1", "op": "order", "args": [{**LIMIT, "clOrdId": "dly1"}]}))
        delayed = [await frames_until(ws, mine) for _ in range(2)]
        waited = time.monotonic() - t0
        # duplicate: the next private message (the op answer) comes twice
        await inject(s, rig, {"at_s": 0, "kind": "duplicate_private"})
        await ws.send(json.dumps({"id": "d2", "op": "order", "args": [{**LIMIT, "clOrdId": "dup1"}]}))
        seq = [await frames_until(ws, mine) for _ in range(3)]
        # reorder: the answer is overtaken by the live push that followed it
        await inject(s, rig, {"at_s": 0, "kind": "reorder_private"})
        await ws.send(json.dumps({"id": "d3", "op": "order", "args": [{**LIMIT, "clOrdId": "ro1"}]}))
        order = [await frames_until(ws, mine) for _ in range(2)]
        await ws.close()
    # the answer comes >= 300 ms late, overtaken by its live push (which was not delayed)
    assert [f.get("id") or f["data"][0]["clOrdId"] for f in delayed] == ["dly1", "d1"] and waited >= 0.3
    assert [f.get("id") or f["data"][0]["clOrdId"] for f in seq] == ["d2", "d2", "dup1"]
    assert seq[0] == seq[1]
    assert [f.get("id") or f["data"][0]["clOrdId"] for f in order] == ["ro1", "d3"]


async def test_ghost_order_is_pushed_and_listed_though_nobody_placed_it(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        ws = await private_ws(rig, ORDERS)
        await inject(s, rig, {"at_s": 0, "kind": "ghost_order",
                              "params": {"instId": INST, "side": "sell", "px": "45000", "sz": "0.02"}})
        push = (await frames_until(ws, push_of("orders")))["data"][0]
        await ws.close()
        _, pending = await rest(s, rig, "GET", "/api/v5/trade/orders-pending")
    assert (push["clOrdId"], push["side"], push["px"], push["sz"], push["state"]) == (
        "ghost1", "sell", "45000", "0.02", "live")
    assert [o["ordId"] for o in pending["data"]] == [push["ordId"]]


async def test_shift_position_moves_the_position_with_no_fill(catalog: Path):
    async with running(catalog, speed=0.001) as rig, aiohttp.ClientSession() as s:
        await asyncio.sleep(0.2)
        await inject(s, rig, {"at_s": 0, "kind": "shift_position", "params": {"instId": INST, "sz": "-0.05"}})
        _, pos = await rest(s, rig, "GET", "/api/v5/account/positions")
        _, fills = await rest(s, rig, "GET", "/api/v5/trade/fills")
    assert [p["pos"] for p in pos["data"]] == ["-0.05"] and fills["data"] == []


async def books_after_fault(rig: Rig, s: aiohttp.ClientSession, kind: str) -> list[dict[str, Any]]:
    """Subscribe to books, inject ``kind`` and return the snapshot and the next 4 updates' data."""
    async with connect(rig.ws + "/public") as ws:
        await ws.send(json.dumps({"op": "subscribe", "args": [{"channel": "books", "instId": INST}]}))
        out = [(await frames_until(ws, push_of("books")))["data"][0]]
        await inject(s, rig, {"after_msgs": 0, "kind": kind, "params": {"instId": INST}})
        for _ in range(4):
            out.append((await frames_until(ws, push_of("books")))["data"][0])
    return out


def replay_checks(frames: list[dict[str, Any]]) -> list[bool]:
    """Apply frames to a string book as the reference says; per update: does the checksum match?"""
    bids = {p: q for p, q, _, _ in frames[0]["bids"]}
    asks = {p: q for p, q, _, _ in frames[0]["asks"]}
    ok = []
    for d in frames[1:]:
        for side, book in (("bids", bids), ("asks", asks)):
            for p, q, _, _ in d[side]:
                if q == "0":
                    book.pop(p, None)
                else:
                    book[p] = q
        b = sorted(bids.items(), key=lambda kv: -float(kv[0]))
        a = sorted(asks.items(), key=lambda kv: float(kv[0]))
        ok.append(okx_checksum(b, a) == d["checksum"])
    return ok


async def test_corrupt_checksum_breaks_exactly_one_update_checksum(catalog: Path):
    async with running(catalog, speed=30, checksum="crc32") as rig, aiohttp.ClientSession() as s:
        frames = await books_after_fault(rig, s, "corrupt_checksum")
    assert replay_checks(frames) == [False, True, True, True]


async def test_corrupt_book_data_makes_the_client_book_drift(catalog: Path):
    async with running(catalog, speed=30, checksum="crc32") as rig, aiohttp.ClientSession() as s:
        frames = await books_after_fault(rig, s, "corrupt_book")
    checks = replay_checks(frames)
    assert checks[0] is False  # the corrupted size: the sent checksum is the true book's
    assert [d["prevSeqId"] for d in frames[2:]] == [d["seqId"] for d in frames[1:-1]]  # the chain holds


async def test_skip_seq_leaves_a_gap_in_the_prev_seq_id_chain(catalog: Path):
    async with running(catalog, speed=30, checksum="zero") as rig, aiohttp.ClientSession() as s:
        frames = await books_after_fault(rig, s, "skip_seq")
    gaps = [d["prevSeqId"] != prev["seqId"] for prev, d in itertools.pairwise(frames)]
    assert gaps == [True, False, False, False]


async def test_faults_from_the_script_fire_after_their_messages_and_show_in_admin_state(catalog: Path):
    faults = parse_faults([{"after_msgs": 3, "kind": "rate_limit"}, {"at_s": 60, "kind": "drop_ws"}])
    async with running(catalog, speed=20, faults=faults) as rig, aiohttp.ClientSession() as s:
        deadline = time.monotonic() + 3
        while rig.server.msgs < 4 and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        async with s.get(rig.url + "/admin/state") as r:
            state = await r.json()
        async with s.get(rig.url + "/api/v5/public/time") as r:
            status = r.status
        async with s.post(rig.url + "/admin/faults", data="{oops") as r:
            bad = (r.status, await r.json())
    assert status == 429
    assert state["faults"]["pending"]["rate_limit"] == 1
    assert [f["kind"] for f in state["faults"]["armed"]] == ["drop_ws"]
    assert bad[0] == 400 and "not valid JSON" in bad[1]["error"]


def test_simgateway_fault_names_are_accepted_as_their_wire_equivalents():
    from athena.sim.server_faults import FaultKind, parse_faults

    faults = parse_faults([
        {"at_s": 0, "kind": "duplicate_fill"},
        {"at_s": 0, "kind": "delay_responses", "params": {"ms": 5}},
        {"at_s": 0, "kind": "reorder_response"},
    ])
    assert [f.kind for f in faults] == [FaultKind.DUPLICATE_PRIVATE, FaultKind.DELAY_PRIVATE,
                                        FaultKind.REORDER_PRIVATE]
