"""OkxGateway against the scripted server: fire-and-forget commands answered by events, as the OMS expects."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from athena.config.models import OkxConfig
from athena.core.bus import EventBus
from athena.core.clock import LiveClock
from athena.core.events import (
    AccountUpdate,
    ConnectionEvent,
    ErrorEvent,
    Event,
    OrderReport,
    OrderSubmitted,
    PositionSource,
    PositionUpdate,
    ReportSource,
)
from athena.gateways.okx.gateway import OkxGateway
from athena.gateways.okx.rest import OkxRest
from athena.model.enums import Channel, ConnectionStatus, OrderState, OrderType, Side
from athena.model.orders import AlgoOrder, Order
from tests.conftest import load_fixture
from tests.gateways.okx.servers import OkxTestServer, body_response, dumps, ok
from tests.gateways.okx.test_ws_base import until

SECRET = "FAKESECRETgw0123456789abcdef01234"
KEY = "FAKEKEY-gw-2222-known"
PASSPHRASE = "FakeGwPassphrase!7"
INST = "BTC-USDT-SWAP"
WS_FAST = {"backoff_initial_s": 0.01, "backoff_max_s": 0.05}


@pytest.fixture
async def server() -> AsyncIterator[OkxTestServer]:
    s = OkxTestServer(secret=SECRET)
    await s.start()
    yield s
    await s.stop()


class Rig:
    def __init__(self, server: OkxTestServer, **kw: Any) -> None:
        self.config = OkxConfig(endpoint=server.url, api_key=KEY, api_secret=SECRET, api_passphrase=PASSPHRASE)
        self.bus = EventBus()
        self.events: list[Event] = []
        self.bus.tap(self.events.append)
        rest = OkxRest(self.config, timeout_s=0.3, backoff_s=0.01, exp_window_ms=300, resolve_margin_ms=50)
        self.gw = OkxGateway(self.config, self.bus, LiveClock(), inst_ids=[INST], rest=rest, ws_options=WS_FAST,
                             ready_timeout_s=2.0, **kw)  # fmt: skip

    def of(self, cls: type) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    def reports(self, source: ReportSource) -> list[OrderReport]:
        return [e for e in self.of(OrderReport) if e.source is source]


@pytest.fixture
async def rig(server: OkxTestServer) -> AsyncIterator[Rig]:
    r = Rig(server)
    assert await r.gw.astart()
    yield r
    await r.gw.astop()


def limit_order(cl: str = "athena7") -> Order:
    return Order(cl, INST, Side.BUY, OrderType.LIMIT, size_lots=7, price_ticks=601237)


async def test_start_fetches_specs_and_connects_every_socket_with_private_channels(server, rig):
    spec = rig.gw.instruments()[INST]
    assert (spec.inst_id_code, str(spec.tick_sz), str(spec.lot_sz), str(spec.ct_val)) == (10459, "0.1", "0.01", "0.01")
    ups = {e.channel for e in rig.of(ConnectionEvent) if e.status is ConnectionStatus.UP}
    assert ups == {"okx.public", "okx.private", "okx.business.private"}
    await until(lambda: len(server.ws["private"].subscribes) == 3)
    assert server.ws["private"].subscribes == [
        {"channel": "orders", "instType": "SWAP"}, {"channel": "positions", "instType": "SWAP"},
        {"channel": "account", "ccy": "USDT"},
    ]  # fmt: skip
    assert server.ws["business"].subscribes == [{"channel": "orders-algo", "instType": "SWAP"}]
    assert [m["op"] for m in server.ws["business"].received][:1] == ["login"]


async def test_submit_returns_at_once_and_the_ack_arrives_as_an_order_report(server, rig):
    assert rig.gw.submit_order(limit_order()) is None
    # ORDER_SUBMITTED is published inside the call; the exchange's answer only later
    assert [type(e) for e in rig.events if not isinstance(e, ConnectionEvent)] == [OrderSubmitted]
    await until(lambda: len(rig.reports(ReportSource.ACK)) == 1)
    (ack,) = rig.reports(ReportSource.ACK)
    placed = server.orders["athena7"]
    assert (ack.cl_ord_id, ack.ord_id, ack.s_code, ack.state) == ("athena7", placed["ordId"], "0", None)
    body = json.loads(next(r[3] for r in server.requests if r[0] == "POST"))
    assert body == {"instId": INST, "tdMode": "cross", "side": "buy", "ordType": "limit", "sz": "0.07",
                    "clOrdId": "athena7", "px": "60123.7"}  # fmt: skip


async def test_refused_placement_is_an_ack_with_okx_scode(server, rig):
    fail = load_fixture("ws_op_order_fail_51008_2025.json")

    async def refuse(request: web.Request, body: bytes) -> web.Response:
        return body_response({"code": "1", "msg": "All operations failed", "data": fail["data"]})

    server.rest_handlers[("POST", "/api/v5/trade/order")] = refuse
    rig.gw.submit_order(limit_order("athena8"))
    await until(lambda: len(rig.reports(ReportSource.ACK)) == 1)
    (ack,) = rig.reports(ReportSource.ACK)
    assert (ack.cl_ord_id, ack.s_code) == ("athena8", "51008")
    assert ack.s_msg == "Order failed. Insufficient USDT balance in account."


async def test_timed_out_placement_is_answered_from_the_cl_ord_id_query_and_sent_once(server, rig):
    server.place_script = ["late"]
    rig.gw.submit_order(limit_order("athena9"))
    await until(lambda: len(rig.reports(ReportSource.QUERY)) == 1)
    (r,) = rig.reports(ReportSource.QUERY)
    assert (r.cl_ord_id, r.state, r.size_lots, r.price_ticks, r.req_id) == ("athena9", OrderState.LIVE, 7, 601237, "")
    assert (server.place_requests, len(server.orders)) == (1, 1)


async def test_unknown_order_status_is_a_51603_query_report_ending_the_answer(rig):
    rig.gw.request_order_status("req1", INST, "nosuch1", None)
    await until(lambda: len(rig.reports(ReportSource.QUERY)) == 1)
    (r,) = rig.reports(ReportSource.QUERY)
    assert (r.req_id, r.snapshot_end, r.s_code, r.cl_ord_id) == ("req1", True, "51603", "nosuch1")


async def test_positions_answer_carries_req_id_snapshot_end_and_watermark(server, rig):
    async def positions(request: web.Request, body: bytes) -> web.Response:
        return ok(load_fixture("ws_positions.json")["data"])

    server.rest_handlers[("GET", "/api/v5/account/positions")] = positions
    rig.gw.request_positions("pos1", INST)
    await until(lambda: len(rig.of(PositionUpdate)) == 1)
    (p,) = rig.of(PositionUpdate)
    assert (p.req_id, p.snapshot_end, p.lots, p.watermark) == ("pos1", True, 100, 186646171)
    assert p.source is PositionSource.EXCHANGE


async def test_flat_account_is_one_flat_position_event(server, rig):
    async def none(request: web.Request, body: bytes) -> web.Response:
        return ok([])

    server.rest_handlers[("GET", "/api/v5/account/positions")] = none
    rig.gw.request_positions("pos2", INST)
    await until(lambda: len(rig.of(PositionUpdate)) == 1)
    (p,) = rig.of(PositionUpdate)
    assert (p.inst_id, p.lots, p.req_id, p.snapshot_end, p.watermark) == (INST, 0, "pos2", True, None)


async def test_balance_answer_and_failed_request_is_an_error_from_the_request_id(server, rig):
    rig.gw.request_balance("bal1")  # no balance endpoint on the server yet: HTTP 404
    await until(lambda: len(rig.of(ErrorEvent)) == 1)
    (err,) = rig.of(ErrorEvent)
    assert (err.source, err.code) == ("bal1", "404")

    async def balance(request: web.Request, body: bytes) -> web.Response:
        return ok(load_fixture("ws_account_2025.json")["data"])

    server.rest_handlers[("GET", "/api/v5/account/balance")] = balance
    rig.gw.request_balance("bal2")
    await until(lambda: len(rig.of(AccountUpdate)) == 1)
    (a,) = rig.of(AccountUpdate)
    assert (a.req_id, a.equity) == ("bal2", 100.52768569797846)


async def test_open_orders_empty_answer_is_one_marked_report(server, rig):
    async def none(request: web.Request, body: bytes) -> web.Response:
        return ok([])

    server.rest_handlers[("GET", "/api/v5/trade/orders-pending")] = none
    rig.gw.request_open_orders("open1", INST)
    await until(lambda: len(rig.reports(ReportSource.QUERY)) == 1)
    (r,) = rig.reports(ReportSource.QUERY)
    assert (r.req_id, r.snapshot_end, r.cl_ord_id, r.ord_id) == ("open1", True, "", "")


async def test_fills_answer_is_oldest_first_with_each_fill_priced(server, rig):
    def fill(tid: str, px: str, sz: str) -> dict[str, str]:
        return {"instId": INST, "tradeId": tid, "ordId": "55", "clOrdId": "athena7", "side": "buy", "fillPx": px,
                "fillSz": sz, "execType": "M", "fee": "0.001", "fillTime": "1700000000000"}  # fmt: skip

    async def fills(request: web.Request, body: bytes) -> web.Response:
        assert request.query["ordId"] == "55"
        return ok([fill("12", "60000.2", "0.03"), fill("11", "60000.1", "0.04")])  # newest first, as OKX

    server.rest_handlers[("GET", "/api/v5/trade/fills")] = fills
    rig.gw.request_fills("f1", INST, "55")
    await until(lambda: len(rig.reports(ReportSource.QUERY)) == 2)
    a, b = rig.reports(ReportSource.QUERY)
    assert [(r.trade_id, r.fill_ticks, r.fill_lots, r.snapshot_end) for r in (a, b)] == [
        (11, 600001, 4, False), (12, 600002, 3, True),
    ]  # fmt: skip


async def test_cancel_refused_is_an_ack_with_51400(server, rig):
    async def refuse(request: web.Request, body: bytes) -> web.Response:
        item = load_fixture("ws_op_cancel_fail_51400_2025.json")["data"][0]
        return body_response({"code": "1", "msg": "All operations failed", "data": [item]})

    server.rest_handlers[("POST", "/api/v5/trade/cancel-order")] = refuse
    rig.gw.cancel_order(INST, "athena7", "2510789768709120")
    await until(lambda: len(rig.reports(ReportSource.ACK)) == 1)
    (ack,) = rig.reports(ReportSource.ACK)
    assert (ack.s_code, ack.ord_id, ack.cl_ord_id) == ("51400", "2510789768709120", "athena7")
    assert json.loads(server.requests[-1][3]) == {"instId": INST, "ordId": "2510789768709120"}


async def test_algo_stop_ack_is_an_algo_report(server, rig):
    answer = load_fixture("rest_place_algo_order_ok.json")

    async def algo(request: web.Request, body: bytes) -> web.Response:
        return ok(answer["data"])

    server.rest_handlers[("POST", "/api/v5/trade/order-algo")] = algo
    rig.gw.place_algo_order(AlgoOrder("stop1", INST, Side.SELL, size_lots=7, trigger_ticks=590000))
    await until(lambda: len(rig.reports(ReportSource.ACK)) == 1)
    (ack,) = rig.reports(ReportSource.ACK)
    assert (ack.ord_type, ack.ord_id, ack.s_code) == (None, "2896574163517353984", "0")
    assert (ack.price_ticks, ack.size_lots) == (590000, 7)
    sent = json.loads(next(r[3] for r in server.requests if r[1] == "/api/v5/trade/order-algo"))
    assert (sent["slTriggerPx"], sent["sz"], sent["reduceOnly"], sent["algoClOrdId"]) == (
        "59000",
        "0.07",
        True,
        "stop1",
    )


async def test_market_subscriptions_go_to_the_public_and_business_sockets(server, rig):
    rig.gw.subscribe(INST, [Channel.TRADES, Channel.BOOKS, Channel.CANDLES, Channel.SESSIONS])
    await until(lambda: len(server.ws["public"].subscribes) == 2 and len(server.ws["business"].subscribes) == 2)
    assert server.ws["public"].subscribes == [
        {"channel": "trades", "instId": INST},
        {"channel": "books", "instId": INST},
    ]
    assert server.ws["business"].subscribes[-1] == {"channel": "candle1m", "instId": INST}


async def test_ws_order_transport_places_over_the_private_socket(server):
    async def on_op(ws: web.WebSocketResponse, msg: dict[str, Any]) -> None:
        await ws.send_str(dumps({**load_fixture("ws_op_order_ok.json"), "id": msg["id"]}))

    server.ws["private"].on_op = on_op
    r = Rig(server, order_transport="ws")
    assert await r.gw.astart()
    try:
        r.gw.submit_order(limit_order("abcABC123"))
        await until(lambda: len(r.reports(ReportSource.ACK)) == 1)
    finally:
        await r.gw.astop()
    (ack,) = r.reports(ReportSource.ACK)
    assert (ack.ord_id, ack.s_code) == ("393513242072608785", "0")
    assert server.place_requests == 0
    op = next(m for m in server.ws["private"].received if m.get("op") == "order")
    assert op["args"][0]["instIdCode"] == 10459 and "expTime" in op


async def test_commands_after_stop_are_refused_with_an_error(rig):
    rig.gw.stop()
    rig.gw.submit_order(limit_order("late1"))
    (err,) = rig.of(ErrorEvent)
    assert (err.code, err.message) == ("gateway_stopped", "order late1 refused: the gateway was stopped")
    assert not rig.of(OrderSubmitted)


async def test_repr_of_gateway_and_config_hides_secrets(rig):
    text = repr(rig.gw) + repr(rig.config) + str(rig.config) + repr(rig.gw.rest)
    for secret in (SECRET, KEY, PASSPHRASE):
        assert secret not in text
    assert "signed=True" in repr(rig.gw)
