"""OkxRest against a scripted server: typed errors, safe retries, and placements never duplicated."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from athena.config.models import OkxConfig
from athena.errors import OkxApiError
from athena.gateways.okx.auth import OkxCredentials
from athena.gateways.okx.rest import (
    AuthError,
    InsufficientMargin,
    OkxRest,
    OkxTimeout,
    OrderNotFound,
    ParamError,
    RateLimited,
    api_error,
)
from tests.conftest import load_fixture
from tests.gateways.okx.servers import OkxTestServer, body_response, ok

SECRET = "FAKESECRET0123456789abcdef0123456"
KEY = "FAKEKEY-rest-1111"
PASSPHRASE = "FakePass!rest"
CREDS = OkxCredentials(api_key=KEY, secret_key=SECRET, passphrase=PASSPHRASE)
ORDER = {"instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit", "sz": "0.01",
         "px": "60000.1", "clOrdId": "athena0001"}  # fmt: skip


@pytest.fixture
async def server() -> AsyncIterator[OkxTestServer]:
    s = OkxTestServer(secret=SECRET)
    await s.start()
    yield s
    await s.stop()


@pytest.fixture
async def rest(server: OkxTestServer) -> AsyncIterator[OkxRest]:
    r = OkxRest(OkxConfig(endpoint=server.url), CREDS, timeout_s=0.3, backoff_s=0.01, exp_window_ms=300,
                resolve_margin_ms=50)  # fmt: skip
    yield r
    await r.close()


def fixture_handler(name: str, status: int) -> object:
    async def handler(request: web.Request, body: bytes) -> web.Response:
        return body_response(load_fixture(name), status=status)

    return handler


@pytest.mark.parametrize(
    ("fixture", "status", "cls", "code"),
    [
        ("rest_error_invalid_access_key_http401.json", 401, AuthError, "50111"),
        ("rest_error_rate_limit.json", 429, RateLimited, "50011"),
        ("rest_error_not_found_http404.json", 404, OkxApiError, "404"),
    ],
)
async def test_envelope_errors_raise_typed_errors(server, rest, fixture, status, cls, code):
    server.rest_handlers[("GET", "/api/v5/account/balance")] = fixture_handler(fixture, status)
    rest.max_retries = 0
    with pytest.raises(cls) as info:
        await rest.balance()
    assert (info.value.code, info.value.http_status) == (code, status)


async def test_rejected_placement_item_raises_its_scode_with_the_item(server, rest):
    server.rest_handlers[("POST", "/api/v5/trade/order")] = fixture_handler("rest_place_order_rejected.json", 200)
    with pytest.raises(OkxApiError) as info:
        await rest.place_order(ORDER)
    assert info.value.code == "54109"
    assert info.value.msg.startswith("You haven't activated trading for this pair.")
    assert info.value.item.cl_ord_id == "Ousdcnotactive1"  # type: ignore[attr-defined]


def test_okx_codes_choose_their_error_class():
    assert type(api_error("51008", "Insufficient USDT balance")) is InsufficientMargin
    assert type(api_error("51000", "Parameter sz error")) is ParamError
    assert type(api_error("51603", "Order does not exist")) is OrderNotFound
    assert type(api_error("51400", "Cancellation failed")) is OrderNotFound
    assert type(api_error("50113", "Invalid Sign", 401)) is AuthError
    assert type(api_error("99999", "?", 429)) is RateLimited
    assert type(api_error("54109", "not activated")) is OkxApiError


async def test_unknown_order_query_raises_order_not_found(rest):
    with pytest.raises(OrderNotFound) as info:
        await rest.order("BTC-USDT-SWAP", cl_ord_id="nosuch1")
    assert info.value.code == "51603"


async def test_rate_limit_backs_off_then_succeeds(server, rest):
    calls = []

    async def limited_twice(request: web.Request, body: bytes) -> web.Response:
        calls.append(1)
        if len(calls) <= 2:
            return body_response(load_fixture("rest_error_rate_limit.json"), status=429)
        return ok([{"totalEq": "1000", "details": [{"ccy": "USDT", "eq": "1000", "cashBal": "990", "availEq": "900"}]}])

    server.rest_handlers[("GET", "/api/v5/account/balance")] = limited_twice
    acct = await rest.balance()
    assert len(calls) == 3
    assert acct.details[0].avail_eq == "900"


async def test_rate_limited_placement_is_retried_because_okx_did_nothing(server, rest):
    server.place_script = []
    calls = []
    place = server.rest_handlers[("POST", "/api/v5/trade/order")]

    async def limited_once(request: web.Request, body: bytes) -> web.Response:
        calls.append(1)
        if len(calls) == 1:
            return body_response({"msg": "Too Many Requests", "code": "50011"}, status=429)
        return await place(request, body)

    server.rest_handlers[("POST", "/api/v5/trade/order")] = limited_once
    res = await rest.place_order(ORDER)
    assert (res.s_code, res.cl_ord_id, len(server.orders)) == ("0", "athena0001", 1)


async def test_get_is_retried_after_a_timeout(server, rest):
    import asyncio

    calls = []

    async def slow_once(request: web.Request, body: bytes) -> web.Response:
        calls.append(1)
        if len(calls) == 1:
            await asyncio.sleep(0.6)
        return ok([{"ts": "1700000000000"}])

    server.rest_handlers[("GET", "/api/v5/public/time")] = slow_once
    assert await rest.server_time() == 1700000000000
    assert len(calls) == 2


async def test_placement_without_answer_raises_outcome_unknown_not_a_retry(server, rest):
    server.place_script = ["late"]
    with pytest.raises(OkxTimeout):
        await rest.place_order(ORDER)
    assert server.place_requests == 1


async def test_timed_out_placement_is_resolved_by_cl_ord_id_query_not_duplicated(server, rest):
    await rest.sync_clock()
    server.place_script = ["late"]  # placed at once, answer after the client gave up
    p = await rest.place_order_safely(ORDER)
    assert p.result is None and p.order is not None
    assert (p.order.cl_ord_id, p.order.state, p.sends) == ("athena0001", "live", 1)
    assert (server.place_requests, len(server.orders)) == (1, 1)
    post = next(r for r in server.requests if r[0] == "POST")
    query = next(r for r in server.requests if r[0] == "GET" and r[1].startswith("/api/v5/trade/order"))
    exp = int(post[2]["expTime"])
    # The client waited until its estimate of server time passed expTime + error bound + margin;
    # the estimate is off by at most the bound, so on the server's own clock the query arrived
    # past expTime by at least the margin: the lost request could no longer have landed.
    assert query[4] > exp + rest.resolve_margin_ms
    assert query[1] == "/api/v5/trade/order?instId=BTC-USDT-SWAP&clOrdId=athena0001"


async def test_lost_placement_is_resent_under_the_same_cl_ord_id_only_when_absent(server, rest):
    await rest.sync_clock()
    server.place_script = ["lost", "ok"]  # the first is held past its expTime and discarded
    p = await rest.place_order_safely(ORDER)
    assert p.result is not None and p.result.s_code == "0"
    assert (p.sends, server.place_requests, len(server.orders)) == (2, 2, 1)
    posts = [json.loads(r[3])["clOrdId"] for r in server.requests if r[0] == "POST"]
    assert posts == ["athena0001", "athena0001"]


async def test_placement_still_absent_after_every_resend_is_order_not_found(server, rest):
    await rest.sync_clock()
    server.place_script = ["lost", "lost"]
    with pytest.raises(OrderNotFound):
        await rest.place_order_safely(ORDER)
    assert (server.place_requests, len(server.orders)) == (2, 0)


async def test_private_requests_are_signed_and_carry_exp_time_on_placement(server, rest):
    # server.secret is set: a wrong signature would be answered 401 / 50113
    res = await rest.place_order(ORDER, exp_time_ms=1_900_000_000_000)
    assert res.s_code == "0"
    method, path, headers, body, _ = server.requests[-1]
    assert (method, path, headers["expTime"], headers["OK-ACCESS-KEY"]) == (
        "POST", "/api/v5/trade/order", "1900000000000", KEY,
    )  # fmt: skip
    assert json.loads(body) == ORDER
    assert "x-simulated-trading" not in headers  # a local URL is no OKX demo


async def test_wrong_secret_is_refused_as_auth_error(server):
    bad = OkxCredentials(api_key=KEY, secret_key="WRONG" + SECRET, passphrase=PASSPHRASE)
    r = OkxRest(OkxConfig(endpoint=server.url), bad, timeout_s=0.5)
    try:
        with pytest.raises(AuthError) as info:
            await r.balance()
    finally:
        await r.close()
    assert (info.value.code, info.value.http_status) == ("50113", 401)


async def test_demo_adds_the_simulated_trading_header(server):
    r = OkxRest(OkxConfig(endpoint="demo"), CREDS, timeout_s=0.5)
    r.base_url = server.url  # the demo host, redirected to the local server
    try:
        await r.server_time()
        await r.instruments()
    finally:
        await r.close()
    assert [h.get("x-simulated-trading") for _, _, h, _, _ in server.requests] == ["1", "1"]


async def test_clock_offset_is_measured_with_half_round_trip_bound(server, rest):
    server.clock_offset_ms = 5_000
    c = await rest.sync_clock()
    assert 0 <= c.error_ms <= 300
    assert abs(c.offset_ms - 5_000) <= c.error_ms + 1
    assert abs(rest.server_now_ms() - server.server_ms()) <= c.error_ms + 2


def test_repr_hides_credentials():
    r = OkxRest(OkxConfig(endpoint="http://127.0.0.1:1", api_key=KEY, api_secret=SECRET, api_passphrase=PASSPHRASE))
    text = repr(r) + str(r.__dict__.get("_credentials"))
    assert KEY not in text and SECRET not in text and PASSPHRASE not in text
    assert "signed=True" in repr(r)
