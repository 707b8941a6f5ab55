"""Small scripted OKX-like servers for the gateway tests (aiohttp, 127.0.0.1, port 0).

Owns: ``OkxTestServer`` — REST under ``/api/v5/...`` (a handler per (method, path), defaults for
server time, instruments and a minimal order book-keeping that counts placements) and the three
WebSockets ``/ws/v5/{public,private,business}``, each a ``WsSide`` whose behaviour a test scripts:
answer ``ping`` or go silent, answer the login, what to send after a subscribe ack, how to answer
a trading op, and dropping every open connection.
Never: matches orders or emulates OKX in full (that is athena/sim/server.py), or binds anything
but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSMsgType, web

from athena.gateways.okx.auth import verify_signature

Json = dict[str, Any]
RestHandler = Callable[[web.Request, bytes], Awaitable[web.Response]]


def dumps(obj: Any) -> str:
    """Compact JSON, as OKX writes its frames."""
    return json.dumps(obj, separators=(",", ":"))


def ok(data: list[Any], **extra: Any) -> web.Response:
    return web.Response(text=dumps({"code": "0", "msg": "", "data": data, **extra}), content_type="application/json")


def body_response(obj: Any, status: int = 200) -> web.Response:
    return web.Response(text=dumps(obj), status=status, content_type="application/json")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


BTC_SWAP_RECORD: Json = {
    "instType": "SWAP",
    "instId": "BTC-USDT-SWAP",
    "instIdCode": 10459,
    "uly": "BTC-USDT",
    "instFamily": "BTC-USDT",
    "settleCcy": "USDT",
    "ctVal": "0.01",
    "ctMult": "1",
    "ctValCcy": "BTC",
    "ctType": "linear",
    "tickSz": "0.1",
    "lotSz": "0.01",
    "minSz": "0.01",
    "maxLmtSz": "100000000",
    "maxMktSz": "12000",
    "lever": "100",
    "state": "live",
}


@dataclass
class WsSide:
    """One WebSocket path of the server and its script."""

    name: str
    answer_ping: bool = True
    login_frame: Json | None = field(
        default_factory=lambda: {"event": "login", "code": "0", "msg": "", "connId": "a4d3ae55"}
    )
    on_subscribe: Callable[[web.WebSocketResponse, Json], Awaitable[None]] | None = None
    on_op: Callable[[web.WebSocketResponse, Json], Awaitable[None]] | None = None
    connects: int = 0
    pings: int = 0
    logins: list[Json] = field(default_factory=list)
    received: list[Json] = field(default_factory=list)
    subscribes: list[Json] = field(default_factory=list)
    unsubscribes: list[Json] = field(default_factory=list)
    open: list[web.WebSocketResponse] = field(default_factory=list)

    async def drop(self) -> None:
        """Close every open connection (the client must reconnect)."""
        for ws in list(self.open):
            await ws.close()

    async def send_all(self, obj: Json) -> None:
        for ws in list(self.open):
            await ws.send_str(dumps(obj))


class OkxTestServer:
    """REST + three WebSockets on 127.0.0.1:<free port>."""

    def __init__(self, *, secret: str | None = None) -> None:
        self.secret = secret  # when set, private REST requests must carry a valid OKX signature
        self.app = web.Application()
        self.app.router.add_route("*", "/api/v5/{tail:.*}", self._rest)
        self.app.router.add_get("/ws/v5/{socket}", self._ws)
        self.ws: dict[str, WsSide] = {n: WsSide(n) for n in ("public", "private", "business")}
        self.rest_handlers: dict[tuple[str, str], RestHandler] = {
            ("GET", "/api/v5/public/time"): self._time,
            ("GET", "/api/v5/public/instruments"): self._instruments,
            ("POST", "/api/v5/trade/order"): self._place,
            ("GET", "/api/v5/trade/order"): self._get_order,
        }
        # (method, path with query, headers, body, server time in ms when it arrived)
        self.requests: list[tuple[str, str, dict[str, str], bytes, int]] = []
        self.instruments: list[Json] = [BTC_SWAP_RECORD]
        # placement script, one entry per placement request: "ok" | "late" (recorded, answer after
        # `late_s`) | "lost" (held past its expTime, then discarded unrecorded)
        self.place_script: list[str] = []
        self.late_s = 1.0
        self.place_requests = 0
        self.orders: dict[str, Json] = {}  # by clOrdId: what was really placed
        self.clock_offset_ms = 0
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        for side in self.ws.values():
            await side.drop()
        if self._runner is not None:
            await self._runner.cleanup()

    # -- REST -----------------------------------------------------------------------------------

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append((request.method, request.path_qs, dict(request.headers), body, self.server_ms()))
        if self.secret is not None and "OK-ACCESS-KEY" in request.headers:
            h = request.headers
            if not verify_signature(
                self.secret, h["OK-ACCESS-TIMESTAMP"], request.method, request.path_qs, body, h["OK-ACCESS-SIGN"]
            ):
                return body_response({"msg": "Invalid Sign", "code": "50113"}, status=401)
        handler = self.rest_handlers.get((request.method, request.path))
        if handler is None:
            return body_response(
                {
                    "code": 404,
                    "data": {},
                    "detailMsg": "",
                    "error_code": "404",
                    "error_message": "Not Found",
                    "msg": "Not Found",
                },
                status=404,
            )
        return await handler(request, body)

    def server_ms(self) -> int:
        return now_ms() + self.clock_offset_ms

    async def _time(self, request: web.Request, body: bytes) -> web.Response:
        return ok([{"ts": str(self.server_ms())}])

    async def _instruments(self, request: web.Request, body: bytes) -> web.Response:
        return ok(self.instruments)

    def order_record(self, args: Json, ord_id: str) -> Json:
        return {
            "instType": "SWAP",
            "instId": args["instId"],
            "ordId": ord_id,
            "clOrdId": args.get("clOrdId", ""),
            "px": args.get("px", ""),
            "sz": args["sz"],
            "ordType": args["ordType"],
            "side": args["side"],
            "state": "live",
            "accFillSz": "0",
            "avgPx": "",
            "fee": "0",
            "fillSz": "0",
            "fillPx": "",
            "tradeId": "",
            "cTime": str(self.server_ms()),
            "uTime": str(self.server_ms()),
        }

    async def _place(self, request: web.Request, body: bytes) -> web.Response:
        self.place_requests += 1
        args = json.loads(body)
        mode = self.place_script.pop(0) if self.place_script else "ok"
        exp = int(request.headers.get("expTime", "0") or 0)
        if mode == "lost":
            # OKX held the request past its expTime: it is discarded, never placed.
            await asyncio.sleep(max(0.0, (exp - self.server_ms()) / 1000) + 0.05)
            return body_response({"code": "1", "msg": "", "data": [{"sCode": "51013", "sMsg": "expired"}]})
        cl = args["clOrdId"]
        if cl in self.orders:
            item = {
                "ordId": "",
                "clOrdId": cl,
                "tag": "",
                "ts": str(self.server_ms()),
                "sCode": "51016",
                "sMsg": "Duplicated client order ID",
            }
            return body_response({"code": "1", "msg": "All operations failed", "data": [item]})
        ord_id = str(2_000_000_000_000_000_000 + len(self.orders) + 1)
        self.orders[cl] = self.order_record(args, ord_id)
        if mode == "late":
            await asyncio.sleep(self.late_s)  # the client gave up before this answer
        item = {
            "clOrdId": cl,
            "ordId": ord_id,
            "sCode": "0",
            "sMsg": "Order placed",
            "tag": "",
            "ts": str(self.server_ms()),
        }
        return ok([item], inTime="1", outTime="2")

    async def _get_order(self, request: web.Request, body: bytes) -> web.Response:
        q = request.query
        rec = self.orders.get(q.get("clOrdId", ""))
        if rec is None and q.get("ordId"):
            rec = next((r for r in self.orders.values() if r["ordId"] == q["ordId"]), None)
        if rec is None:
            return body_response({"code": "51603", "msg": "Order does not exist", "data": []})
        return ok([rec])

    # -- WebSockets -----------------------------------------------------------------------------

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        side = self.ws[request.match_info["socket"]]
        ws = web.WebSocketResponse(autoping=True)
        await ws.prepare(request)
        side.connects += 1
        side.open.append(ws)
        try:
            async for m in ws:
                if m.type != WSMsgType.TEXT:
                    continue
                if m.data == "ping":
                    side.pings += 1
                    if side.answer_ping:
                        await ws.send_str("pong")
                    continue
                msg = json.loads(m.data)
                side.received.append(msg)
                await self._on_ws_request(side, ws, msg)
        finally:
            with contextlib.suppress(ValueError):
                side.open.remove(ws)
        return ws

    async def _on_ws_request(self, side: WsSide, ws: web.WebSocketResponse, msg: Json) -> None:
        op = msg.get("op")
        if op == "login":
            side.logins.append(msg)
            if side.login_frame is not None:
                await ws.send_str(dumps(side.login_frame))
        elif op == "subscribe":
            for arg in msg["args"]:
                side.subscribes.append(arg)
                await ws.send_str(dumps({"event": "subscribe", "arg": arg, "connId": "94d38802"}))
                if side.on_subscribe is not None:
                    await side.on_subscribe(ws, arg)
        elif op == "unsubscribe":
            for arg in msg["args"]:
                side.unsubscribes.append(arg)
                await ws.send_str(dumps({"event": "unsubscribe", "arg": arg, "connId": "94d38802"}))
        elif side.on_op is not None:
            await side.on_op(ws, msg)
