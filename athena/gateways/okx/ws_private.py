"""OKX private WebSocket: login, order / position / account pushes, and trading ops.

Owns: ``OkxPrivateWsGateway`` — the login after every (re)connect (``auth.ws_login_request`` with
the injected ms time source) before any subscription; the private channels (``orders``,
``positions``, ``account`` on /private; ``orders-algo`` on /business, as a second instance);
pushes mapped to ORDER_REPORT (source PUSH) / POSITION_UPDATE (source EXCHANGE, watermark = the
record's last tradeId) / ACCOUNT_UPDATE; and the WebSocket trading ops (``order``,
``cancel-order``, ``amend-order``, ``batch-*``), each with a unique request id matched to its
answer through a pending-futures table, a timeout, and the instrument named by ``instIdCode``
(OKX's rule since 2026). A refused login (wrong key, passphrase, signature: 6000x/6002x/60032)
is fatal: one ERROR event that says what to fix, and no reconnect storm.
Never: decides what an op answer means for an order (the gateway maps it, the OMS judges it),
retries an op, or logs the login frame or a credential.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any, Final

import msgspec
from websockets.asyncio.client import ClientConnection

from athena.core.events import Event, ReportSource
from athena.errors import GatewayError
from athena.gateways.okx.auth import OkxCredentials, ws_login_request
from athena.gateways.okx.mapping import account_update, algo_report, order_report, position_update
from athena.gateways.okx.parsers import (
    AccountPush,
    AlgoOrdersPush,
    OkxParseError,
    OpResponse,
    OrdersPush,
    PositionsPush,
    WsError,
    WsLogin,
    WsMessage,
    parse_ws,
)
from athena.gateways.okx.ratelimit import Endpoint, RateLimiter
from athena.gateways.okx.rest import OkxOutcomeUnknown, OkxTimeout
from athena.gateways.okx.ws_base import WsBaseGateway, WsFatalError
from athena.model.instrument import InstrumentSpec

__all__ = ["LOGIN_FATAL_CODES", "OkxPrivateWsGateway"]

log = logging.getLogger(__name__)

# Login refusals a reconnect cannot fix (reference §2.2): bad timestamp format, bad key, bad
# signature, login failed, wrong passphrase, key doesn't exist. 60006 (timestamp expired) is not
# here: a slow first attempt can cause it, and the next login carries a new timestamp.
LOGIN_FATAL_CODES: Final = frozenset({"60004", "60005", "60007", "60009", "60024", "60032"})

_OP_ENDPOINTS: Final[dict[str, Endpoint]] = {
    "order": Endpoint.PLACE_ORDER,
    "cancel-order": Endpoint.CANCEL_ORDER,
    "amend-order": Endpoint.AMEND_ORDER,
    "batch-orders": Endpoint.BATCH_ORDERS,
    "batch-cancel-orders": Endpoint.CANCEL_BATCH,
    "batch-amend-orders": Endpoint.AMEND_BATCH,
}
_ENCODE: Final = msgspec.json.Encoder()


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


class OkxPrivateWsGateway(WsBaseGateway):
    """One logged-in private (or business) socket of one API key."""

    def __init__(
        self,
        url: str,
        credentials: OkxCredentials,
        specs: Mapping[str, InstrumentSpec],
        *,
        publish: Callable[[Event], None],
        now_ns: Callable[[], int],
        now_ms: Callable[[], int] | None = None,
        name: str = "okx.private",
        login_timeout_s: float = 10.0,
        op_timeout_s: float = 5.0,
        limiter: RateLimiter | None = None,
        account_ccy: str = "USDT",
        id_prefix: str = "ath",
        **kw: Any,
    ) -> None:
        super().__init__(url, name=name, publish=publish, now_ns=now_ns, **kw)
        self._credentials = credentials
        self.specs = specs
        self._now_ms = now_ms or _wall_ms
        self.login_timeout_s = login_timeout_s
        self.op_timeout_s = op_timeout_s
        self.limiter = limiter
        self.account_ccy = account_ccy
        self._id_prefix = id_prefix
        self._op_seq = 0
        self._pending: dict[str, asyncio.Future[OpResponse]] = {}
        self.logins = 0

    # -- login ----------------------------------------------------------------------------------

    async def _on_open(self, ws: ClientConnection) -> None:
        request = ws_login_request(self._credentials, now_ms=self._now_ms())
        await ws.send(_ENCODE.encode(request).decode())
        del request  # holds the passphrase: not kept beyond the send
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.login_timeout_s
        while True:
            remaining = deadline - loop.time()
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=max(remaining, 0.0))
            except TimeoutError:
                raise GatewayError(
                    f"{self.name}: OKX did not answer the login within {self.login_timeout_s:g} s"
                ) from None
            try:
                msg = parse_ws(frame)
            except OkxParseError:
                continue
            if isinstance(msg, WsLogin):
                if msg.code in ("0", ""):
                    self.logins += 1
                    return
                raise self._login_error(str(msg.code), msg.msg)
            if isinstance(msg, WsError):
                raise self._login_error(str(msg.code), msg.msg)

    def _login_error(self, code: str, text: str) -> GatewayError:
        what = f"{self.name}: OKX refused the login at {self.url}: {text or 'no reason given'} (code {code})"
        if code in LOGIN_FATAL_CODES:
            return WsFatalError(
                f"{what}. Check OKX_API_KEY, OKX_API_SECRET and OKX_API_PASSPHRASE, and that the key was "
                f"created for this environment (demo keys work only with the demo endpoint); not reconnecting"
            )
        return GatewayError(f"{what}; retrying with backoff")

    # -- channels -------------------------------------------------------------------------------

    async def subscribe_orders(self, inst_type: str = "SWAP") -> None:
        await self.subscribe([{"channel": "orders", "instType": inst_type}])

    async def subscribe_positions(self, inst_type: str = "SWAP") -> None:
        await self.subscribe([{"channel": "positions", "instType": inst_type}])

    async def subscribe_account(self) -> None:
        await self.subscribe([{"channel": "account", "ccy": self.account_ccy}])

    async def subscribe_algo_orders(self, inst_type: str = "SWAP") -> None:
        """``orders-algo`` lives on the business socket: call on the business instance."""
        await self.subscribe([{"channel": "orders-algo", "instType": inst_type}])

    # -- trading ops ----------------------------------------------------------------------------

    async def request(
        self, op: str, args: list[dict[str, Any]], *, exp_time_ms: int | None = None, key: str = ""
    ) -> OpResponse:
        """Send one trading op and wait for its answer (matched by request id).

        Raises ``GatewayError`` when not connected (nothing was sent), ``OkxTimeout`` when no
        answer came within ``op_timeout_s`` and ``OkxOutcomeUnknown`` when the connection dropped
        first (in both the op may or may not have been done)."""
        if self.limiter is not None:
            endpoint = _OP_ENDPOINTS.get(op)
            if endpoint is not None:
                await self.limiter.acquire(endpoint, key, len(args) if op.startswith("batch") else 1)
        self._op_seq += 1
        rid = f"{self._id_prefix}{self._op_seq}"
        fut: asyncio.Future[OpResponse] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        msg: dict[str, Any] = {"id": rid, "op": op, "args": args}
        if exp_time_ms is not None:
            msg["expTime"] = str(exp_time_ms)
        try:
            await self.send(msg)
            return await asyncio.wait_for(fut, self.op_timeout_s)
        except TimeoutError:
            raise OkxTimeout(f"{self.name}: no answer to {op} {rid} within {self.op_timeout_s:g} s") from None
        finally:
            self._pending.pop(rid, None)

    async def place(self, args: dict[str, Any], *, exp_time_ms: int | None = None, key: str = "") -> OpResponse:
        return await self.request("order", [args], exp_time_ms=exp_time_ms, key=key)

    async def cancel(self, args: dict[str, Any], *, key: str = "") -> OpResponse:
        return await self.request("cancel-order", [args], key=key)

    async def amend(self, args: dict[str, Any], *, exp_time_ms: int | None = None, key: str = "") -> OpResponse:
        return await self.request("amend-order", [args], exp_time_ms=exp_time_ms, key=key)

    async def batch_place(self, args: list[dict[str, Any]], *, exp_time_ms: int | None = None) -> OpResponse:
        return await self.request("batch-orders", args, exp_time_ms=exp_time_ms)

    async def batch_cancel(self, args: list[dict[str, Any]]) -> OpResponse:
        return await self.request("batch-cancel-orders", args)

    async def batch_amend(self, args: list[dict[str, Any]]) -> OpResponse:
        return await self.request("batch-amend-orders", args)

    def _on_down(self, reason: str) -> None:
        for rid, fut in list(self._pending.items()):
            if not fut.done():
                fut.set_exception(
                    OkxOutcomeUnknown(f"{self.name}: connection lost before the answer to {rid} ({reason})")
                )
        self._pending.clear()

    # -- pushes ---------------------------------------------------------------------------------

    def _spec(self, inst_id: str) -> InstrumentSpec | None:
        spec = self.specs.get(inst_id)
        if spec is None:
            self._throttle.log(
                logging.WARNING, f"nospec:{inst_id}", "%s: no instrument spec for %s", self.name, inst_id
            )
        return spec

    def _on_message(self, msg: WsMessage) -> None:
        t = type(msg)
        if t is OpResponse:
            fut = self._pending.get(msg.id)  # type: ignore[union-attr]
            if fut is not None and not fut.done():
                fut.set_result(msg)  # type: ignore[arg-type]
            else:
                log.info("%s: answer to op %s arrived after its request gave up", self.name, msg.id)  # type: ignore[union-attr]
            return
        now = self._now_ns()
        if t is OrdersPush:
            for o in msg.data:  # type: ignore[union-attr]
                spec = self._spec(o.inst_id)
                if spec is not None:
                    self._publish(order_report(spec, o, ReportSource.PUSH, now))
        elif t is PositionsPush:
            for p in msg.data:  # type: ignore[union-attr]
                spec = self._spec(p.inst_id)
                if spec is not None:
                    self._publish(position_update(spec, p, now))
        elif t is AccountPush:
            for a in msg.data:  # type: ignore[union-attr]
                self._publish(account_update(a, now, ccy=self.account_ccy))
        elif t is AlgoOrdersPush:
            for a in msg.data:  # type: ignore[union-attr]
                spec = self._spec(a.inst_id)
                if spec is not None:
                    self._publish(algo_report(spec, a, ReportSource.PUSH, now))
