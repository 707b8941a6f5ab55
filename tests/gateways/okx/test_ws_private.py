"""Private socket: login first, clear fatal login errors, ops matched by id, pushes mapped, no secrets logged."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from athena.core.events import AccountUpdate, ErrorEvent, Event, OrderReport, PositionUpdate, ReportSource
from athena.gateways.okx.auth import OkxCredentials
from athena.gateways.okx.mapping import order_args
from athena.gateways.okx.rest import OkxOutcomeUnknown, OkxTimeout
from athena.gateways.okx.ws_private import OkxPrivateWsGateway
from athena.model.enums import OrderState, OrderType, Side
from athena.model.instrument import BTC_USDT_SWAP
from athena.model.orders import Order
from tests.conftest import load_fixture
from tests.gateways.okx.servers import OkxTestServer, dumps
from tests.gateways.okx.test_ws_base import until

DOC_SECRET = "22582BD0CFF14C41EDBF1AB98506286D"  # OKX docs' sample secret (reference §2.2 vector)
KEY = "FAKEKEY-ws-0000-known"
PASSPHRASE = "FakeWsPassphrase!9"
SPECS = {"BTC-USDT-SWAP": BTC_USDT_SWAP}
SIGN = "+LdIr8lkkvhr5hoA3g9TMC0+uQJ849ftAcocA/ouu4M="
# Fragments too: a log line that truncates a frame in the middle still must not show either end of it.
SECRET_BITS = (DOC_SECRET, PASSPHRASE, KEY, KEY[:10], SIGN[:10], SIGN[-10:])


@pytest.fixture
async def server() -> AsyncIterator[OkxTestServer]:
    s = OkxTestServer()
    await s.start()
    yield s
    await s.stop()


def make(server: OkxTestServer, events: list[Event], **kw: Any) -> OkxPrivateWsGateway:
    creds = OkxCredentials(api_key=KEY, secret_key=DOC_SECRET, passphrase=PASSPHRASE)
    opts: dict[str, Any] = {"backoff_initial_s": 0.01, "backoff_max_s": 0.05, "op_timeout_s": 1.0}
    opts.update(kw)
    return OkxPrivateWsGateway(
        f"ws://127.0.0.1:{server.port}/ws/v5/private",
        creds,
        SPECS,
        publish=events.append,
        now_ns=lambda: 5,
        now_ms=lambda: 1538054050000,
        **opts,
    )


async def test_login_is_signed_with_the_injected_time_and_precedes_subscriptions(server):
    events: list[Event] = []
    gw = make(server, events)
    await gw.subscribe_orders()
    await gw.subscribe_positions()
    await gw.start()
    assert await gw.wait_ready(2)
    await until(lambda: len(server.ws["private"].subscribes) == 2)
    await gw.stop()
    received = server.ws["private"].received
    assert [m["op"] for m in received] == ["login", "subscribe"]
    assert received[0]["args"] == [
        {"apiKey": KEY, "passphrase": PASSPHRASE, "timestamp": "1538054050",
         "sign": SIGN},
    ]  # fmt: skip
    assert received[1]["args"] == [
        {"channel": "orders", "instType": "SWAP"},
        {"channel": "positions", "instType": "SWAP"},
    ]


async def test_login_failure_is_one_clear_error_and_no_reconnect_storm(server, caplog):
    caplog.set_level(logging.DEBUG)
    server.ws["private"].login_frame = load_fixture("ws_error_login.json")
    events: list[Event] = []
    gw = make(server, events)
    await gw.start()
    assert await gw.wait_ready(2) is False
    await asyncio.sleep(0.3)  # with a 10 ms backoff a storm would make dozens of attempts here
    await gw.stop()
    assert (server.ws["private"].connects, gw.attempts, len(server.ws["private"].logins)) == (1, 1, 1)
    errors = [e for e in events if isinstance(e, ErrorEvent)]
    assert len(errors) == 1
    assert errors[0].code == "login_failed"
    assert "API key doesn't exist (code 60032)" in errors[0].message
    assert "OKX_API_KEY" in errors[0].message
    for secret in SECRET_BITS:
        assert secret not in caplog.text


async def test_secrets_never_reach_the_logs_on_a_successful_login(server, caplog):
    caplog.set_level(logging.DEBUG)
    events: list[Event] = []
    gw = make(server, events)
    await gw.subscribe_account()
    await gw.start()
    assert await gw.wait_ready(2)
    await gw.stop()
    assert gw.logins == 1
    for secret in SECRET_BITS:
        assert secret not in caplog.text
        assert secret not in repr(gw)


async def test_ops_are_matched_to_answers_by_id_even_out_of_order(server):
    held: list[tuple[web.WebSocketResponse, dict[str, Any]]] = []
    ok = load_fixture("ws_op_order_ok.json")
    fail = load_fixture("ws_op_order_fail.json")

    async def on_op(ws: web.WebSocketResponse, msg: dict[str, Any]) -> None:
        held.append((ws, msg))
        if len(held) == 2:  # answer the second first
            (ws1, m1), (ws2, m2) = held
            await ws2.send_str(dumps({**fail, "id": m2["id"]}))
            await ws1.send_str(dumps({**ok, "id": m1["id"]}))

    server.ws["private"].on_op = on_op
    events: list[Event] = []
    gw = make(server, events)
    await gw.start()
    assert await gw.wait_ready(2)
    a = Order("abcABC123", "BTC-USDT-SWAP", Side.BUY, OrderType.LIMIT, size_lots=1, price_ticks=600001)
    b = Order("abcABC125", "BTC-USDT-SWAP", Side.BUY, OrderType.LIMIT, size_lots=1, price_ticks=600002)
    ra, rb = await asyncio.gather(
        gw.place(order_args(BTC_USDT_SWAP, a, ws=True), exp_time_ms=1538054055000),
        gw.place(order_args(BTC_USDT_SWAP, b, ws=True)),
    )
    await gw.stop()
    assert (ra.data[0].s_code, ra.data[0].ord_id) == ("0", "393513242072608785")
    assert (rb.code, rb.data[0].s_code, rb.data[0].s_msg) == ("1", "51016", "Duplicated client order ID")
    sent = [m for _, m in held]
    assert [m["id"] for m in sent] == ["ath1", "ath2"]
    assert sent[0]["args"][0]["instIdCode"] == 10459 and "instId" not in sent[0]["args"][0]
    assert (sent[0]["op"], sent[0]["expTime"], sent[0]["args"][0]["px"]) == ("order", "1538054055000", "60000.1")
    assert gw._pending == {}


async def test_unanswered_op_times_out(server):
    async def silent(ws: web.WebSocketResponse, msg: dict[str, Any]) -> None:
        return None

    server.ws["private"].on_op = silent
    gw = make(server, [], op_timeout_s=0.1)
    await gw.start()
    assert await gw.wait_ready(2)
    try:
        with pytest.raises(OkxTimeout):
            await gw.cancel({"instIdCode": 10459, "ordId": "1"})
    finally:
        await gw.stop()
    assert gw._pending == {}


async def test_op_pending_when_the_connection_drops_has_an_unknown_outcome(server):
    async def drop(ws: web.WebSocketResponse, msg: dict[str, Any]) -> None:
        await ws.close()

    server.ws["private"].on_op = drop
    gw = make(server, [])
    await gw.start()
    assert await gw.wait_ready(2)
    try:
        with pytest.raises(OkxOutcomeUnknown):
            await gw.amend({"instIdCode": 10459, "ordId": "1", "newSz": "0.02"})
    finally:
        await gw.stop()


async def test_pushes_become_reports_positions_and_account_updates(server):
    pushes = {
        "orders": load_fixture("ws_orders_swap_fill.json"),
        "positions": load_fixture("ws_positions.json"),
        "account": load_fixture("ws_account_2025.json"),
    }

    async def on_subscribe(ws: web.WebSocketResponse, arg: dict[str, Any]) -> None:
        await ws.send_str(dumps(pushes[arg["channel"]]))

    server.ws["private"].on_subscribe = on_subscribe
    events: list[Event] = []
    gw = make(server, events)
    await gw.subscribe_orders()
    await gw.subscribe_positions()
    await gw.subscribe_account()
    await gw.start()
    try:
        await until(lambda: sum(isinstance(e, (OrderReport, PositionUpdate, AccountUpdate)) for e in events) == 3)
    finally:
        await gw.stop()
    (r,) = [e for e in events if isinstance(e, OrderReport)]
    (p,) = [e for e in events if isinstance(e, PositionUpdate)]
    (a,) = [e for e in events if isinstance(e, AccountUpdate)]
    assert (r.source, r.state, r.acc_fill_lots, r.fill_ticks, r.acc_fee) == (
        ReportSource.PUSH, OrderState.FILLED, 3, 1036989, -0.021776769,
    )  # fmt: skip
    assert (p.lots, p.watermark, p.ts_recv) == (100, 186646171, 5)
    assert a.equity == 100.52768569797846


async def test_reconnect_logs_in_again_before_resubscribing(server):
    gw = make(server, [])
    await gw.subscribe_orders()
    await gw.start()
    assert await gw.wait_ready(2)
    await until(lambda: len(server.ws["private"].subscribes) == 1)
    await server.ws["private"].drop()
    await until(lambda: len(server.ws["private"].subscribes) == 2)
    await gw.stop()
    assert [m["op"] for m in server.ws["private"].received] == ["login", "subscribe", "login", "subscribe"]
    assert (gw.logins, server.ws["private"].connects) == (2, 2)
