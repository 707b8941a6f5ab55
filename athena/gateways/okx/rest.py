"""OKX v5 REST client: one persistent aiohttp session, typed answers, typed errors, safe retries.

Owns: ``OkxRest`` (aka ``OkxRestGateway``) — signing (``auth.rest_headers``), the demo header,
rate limiting per endpoint (``ratelimit``), the ``{code,msg,data}`` envelope and per-item
``sCode/sMsg`` turned into typed records or typed ``OkxApiError`` subclasses, timeouts, retries
where they are safe, the server-clock offset (error bound = half the round trip), and the one
placement rule of DESIGN.md §7: a placement carries ``expTime``; when its outcome is unknown
(timeout, dropped connection, 50004) it is resolved by a clOrdId query made only once server time
is past expTime + the offset's error bound + a margin, and re-sent under the same clOrdId only if
the order is still absent.
Never: retries a placement blindly, logs or raises with a header or credential in it, maps
anything to core events (the gateway does), or reads the wall clock except through ``now_ms``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar
from urllib.parse import urlencode

import aiohttp
import msgspec
from yarl import URL

from athena.config.models import OkxConfig
from athena.errors import GatewayError, OkxApiError
from athena.gateways.okx.auth import OkxCredentials, rest_headers
from athena.gateways.okx.parsers import (
    AccountConfig,
    AccountData,
    AlgoOrder,
    AlgoOrderResult,
    BookData,
    ClosePositionResult,
    Fill,
    FundingRate,
    Instrument,
    Leverage,
    OkxParseError,
    Order,
    OrderResult,
    Position,
    RestKind,
    RestResponse,
    Ticker,
    parse_rest,
)
from athena.gateways.okx.ratelimit import Endpoint, RateLimiter

__all__ = [
    "AuthError",
    "ClockOffset",
    "DuplicateClOrdId",
    "EndpointTimeout",
    "InstrumentNotFound",
    "InsufficientMargin",
    "OkxOutcomeUnknown",
    "OkxRest",
    "OkxRestGateway",
    "OkxTimeout",
    "OrderNotFound",
    "ParamError",
    "Placement",
    "RateLimited",
    "ServiceUnavailable",
    "api_error",
    "credentials_from_config",
]

log = logging.getLogger(__name__)
T = TypeVar("T")


# -- typed errors --------------------------------------------------------------------------------


class RateLimited(OkxApiError):
    """50011 (HTTP 429) / 50061: too many requests; nothing was done."""


class AuthError(OkxApiError):
    """50101-50114 (HTTP 401): the key, signature, timestamp or environment is wrong."""


class ParamError(OkxApiError):
    """51000 and other request-content errors (51020 min size, 51121 lot multiple, ...)."""


class InsufficientMargin(OkxApiError):
    """51008 / 51131: the account cannot carry the order."""


class OrderNotFound(OkxApiError):
    """51603 (query), 51400 (cancel), 51503 (amend): no such pending order."""


class InstrumentNotFound(OkxApiError):
    """51001: no such instrument."""


class DuplicateClOrdId(OkxApiError):
    """51016: a pending order already uses this clOrdId."""


class ServiceUnavailable(OkxApiError):
    """50001 / 50013 / 50026 / HTTP 5xx: OKX is busy or down; safe to retry a read."""


class EndpointTimeout(OkxApiError):
    """50004: OKX's own endpoint timed out — the outcome of a write is unknown; query it."""


class OkxOutcomeUnknown(GatewayError):
    """A write was sent and no answer came (timeout, dropped connection): it may or may not
    have been done. A placement in this state is resolved by a clOrdId query, never re-sent blindly."""


class OkxTimeout(OkxOutcomeUnknown):
    """No answer within the request timeout."""


_ERROR_CLASSES: Final[dict[str, type[OkxApiError]]] = {
    "50011": RateLimited,
    "50061": RateLimited,
    "50001": ServiceUnavailable,
    "50013": ServiceUnavailable,
    "50026": ServiceUnavailable,
    "50004": EndpointTimeout,
    "51000": ParamError,
    "51020": ParamError,
    "51121": ParamError,
    "51008": InsufficientMargin,
    "51131": InsufficientMargin,
    "51603": OrderNotFound,
    "51400": OrderNotFound,
    "51503": OrderNotFound,
    "51001": InstrumentNotFound,
    "51016": DuplicateClOrdId,
    **{str(code): AuthError for code in range(50100, 50115)},
}
_RETRYABLE_READ: Final = frozenset({"50001", "50013", "50026", "50004"})


def api_error(code: str, msg: str, http_status: int | None = None) -> OkxApiError:
    """The typed error for OKX's ``code`` (``OkxApiError`` itself for codes without a class)."""
    cls = _ERROR_CLASSES.get(code)
    if cls is None:
        if http_status == 429:
            cls = RateLimited
        elif http_status == 401:
            cls = AuthError
        elif http_status is not None and http_status >= 500:
            cls = ServiceUnavailable
        else:
            cls = OkxApiError
    return cls(code, msg, http_status=http_status)


def credentials_from_config(config: OkxConfig) -> OkxCredentials | None:
    """The API key of ``config``, or None when any of its three parts is missing."""
    if not config.has_credentials:
        return None
    assert config.api_key is not None and config.api_secret is not None and config.api_passphrase is not None
    return OkxCredentials(api_key=config.api_key, secret_key=config.api_secret, passphrase=config.api_passphrase)


# -- results -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ClockOffset:
    """server time ≈ local time + ``offset_ms``, within ± ``error_ms`` (half the round trip of
    the time request that measured it)."""

    offset_ms: int
    error_ms: int


@dataclass(frozen=True, slots=True)
class Placement:
    """How a placement ended: ``result`` is the accepting ack (of the first send or of a re-send
    under the same clOrdId), or ``order`` is the order a clOrdId query found after an unknown
    outcome (the first send had landed). ``sends`` counts the placement requests sent."""

    result: OrderResult | None
    order: Order | None
    sends: int


_UNSYNCED: Final = ClockOffset(0, 1_000)  # before sync_clock(): assume the local clock, ±1 s


def _wall_ms() -> int:
    return time.time_ns() // 1_000_000


_ENCODE: Final = msgspec.json.Encoder()


class OkxRest:
    """REST access to OKX for one API key. Async methods; create and use on one event loop."""

    def __init__(
        self,
        config: OkxConfig,
        credentials: OkxCredentials | None = None,
        session: aiohttp.ClientSession | None = None,
        *,
        now_ms: Callable[[], int] | None = None,
        limiter: RateLimiter | None = None,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_s: float = 0.25,
        backoff_max_s: float = 5.0,
        exp_window_ms: int = 5_000,
        resolve_margin_ms: int = 500,
        max_resends: int = 1,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self.base_url = config.rest_url.rstrip("/")
        self.demo = config.simulated_trading
        self._credentials = credentials if credentials is not None else credentials_from_config(config)
        self._session = session
        self._own_session = session is None
        self._now_ms = now_ms or _wall_ms
        self.limiter = limiter or RateLimiter()
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.backoff_max_s = backoff_max_s
        self.exp_window_ms = exp_window_ms
        self.resolve_margin_ms = resolve_margin_ms
        self.max_resends = max_resends
        self._rng = rng or random.Random(0x0C5)
        self._sleep = sleep or asyncio.sleep
        self.clock = _UNSYNCED

    def __repr__(self) -> str:
        # Never the credentials: only where it talks to and whether it can sign.
        return f"OkxRest({self.base_url!r}, demo={self.demo}, signed={self._credentials is not None})"

    # -- session and clock --------------------------------------------------------------------

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_s))
            self._own_session = True
        return self._session

    async def close(self) -> None:
        """Close the session if this client created it."""
        if self._session is not None and self._own_session and not self._session.closed:
            await self._session.close()

    def server_now_ms(self) -> int:
        """Best estimate of OKX's clock (local clock + measured offset)."""
        return self._now_ms() + self.clock.offset_ms

    async def sync_clock(self) -> ClockOffset:
        """Measure the server-clock offset with ``GET /public/time``: offset = server ts − the
        midpoint of the request, error bound = half the round trip (rounded up)."""
        t0 = self._now_ms()
        data = await self._call("GET", "/api/v5/public/time", RestKind.TIME, endpoint=Endpoint.TIME)
        t1 = self._now_ms()
        server = int(data[0].ts)
        self.clock = ClockOffset(server - (t0 + t1) // 2, (t1 - t0 + 1) // 2)
        return self.clock

    async def server_time(self) -> int:
        """OKX's clock in ms (one request)."""
        data = await self._call("GET", "/api/v5/public/time", RestKind.TIME, endpoint=Endpoint.TIME)
        return int(data[0].ts)

    # -- the request core -----------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter in [base/2, base], base = backoff_s × 2^attempt."""
        base = min(self.backoff_max_s, self.backoff_s * (1 << min(attempt, 16)))
        return base * (0.5 + 0.5 * self._rng.random())

    async def _send(
        self, method: str, path_qs: str, body: bytes, private: bool, exp_time_ms: int | None
    ) -> tuple[int, bytes]:
        headers: dict[str, str]
        if private:
            if self._credentials is None:
                raise AuthError(
                    "50103", "no OKX API key configured; set OKX_API_KEY, OKX_API_SECRET and OKX_API_PASSPHRASE"
                )
            headers = rest_headers(
                self._credentials, method, path_qs, body, now_ms=self.server_now_ms(), demo=self.demo
            )
        else:
            headers = {"Content-Type": "application/json"}
            if self.demo:
                headers["x-simulated-trading"] = "1"
        if exp_time_ms is not None:
            headers["expTime"] = str(exp_time_ms)
        session = self._get_session()
        url = URL(self.base_url + path_qs, encoded=True)  # encoded: the signed path is sent byte for byte
        async with session.request(
            method, url, data=body or None, headers=headers, timeout=aiohttp.ClientTimeout(total=self.timeout_s)
        ) as resp:
            return resp.status, await resp.read()

    async def _call(
        self,
        method: str,
        path: str,
        kind: RestKind,
        *,
        endpoint: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        private: bool = False,
        key: str = "",
        n: int = 1,
        exp_time_ms: int | None = None,
    ) -> list[Any]:
        """One request with OKX's rules applied; returns the ``data`` records.

        Reads (GET) are retried with backoff on timeouts, connection errors, HTTP 5xx and OKX's
        busy codes. Any request answered with 50011 / HTTP 429 was refused before being done and
        is retried after a backoff. A write that gets no answer raises ``OkxOutcomeUnknown``.
        A non-zero envelope ``code`` whose items carry ``sCode`` returns the items (the caller
        reads each ``sCode``); any other non-zero code raises its typed ``OkxApiError``."""
        if params:
            query = urlencode({k: v for k, v in params.items() if v is not None and v != ""})
            path_qs = f"{path}?{query}" if query else path
        else:
            path_qs = path
        raw_body = _ENCODE.encode(body) if body is not None else b""
        read = method == "GET"
        attempt = 0
        while True:
            await self.limiter.acquire(endpoint, key, n)
            try:
                status, raw = await self._send(method, path_qs, raw_body, private, exp_time_ms)
            except (TimeoutError, aiohttp.ClientError) as err:
                what = "timed out" if isinstance(err, TimeoutError) else f"failed ({type(err).__name__})"
                if read and attempt < self.max_retries:
                    await self._sleep(self._backoff(attempt))
                    attempt += 1
                    continue
                cls = OkxTimeout if isinstance(err, TimeoutError) else OkxOutcomeUnknown
                raise cls(f"OKX {method} {path} {what} after {attempt + 1} attempt(s); outcome unknown") from None
            try:
                resp = parse_rest(kind, raw)
            except OkxParseError:
                if status >= 500 or status == 429:
                    resp = RestResponse(code="50011" if status == 429 else "50001", msg=f"HTTP {status}")
                else:
                    raise
            code = str(resp.code)
            if code == "0":
                return resp.data
            if code in ("50011", "50061") or status == 429:
                if attempt < self.max_retries:
                    delay = self._backoff(attempt)
                    log.warning("OKX %s %s rate-limited (%s); retrying in %.2f s", method, path, code, delay)
                    await self._sleep(delay)
                    attempt += 1
                    continue
                raise api_error(code, resp.msg, status)
            if read and (code in _RETRYABLE_READ or status >= 500) and attempt < self.max_retries:
                await self._sleep(self._backoff(attempt))
                attempt += 1
                continue
            if resp.data and any(getattr(item, "s_code", "") for item in resp.data):
                return resp.data  # per-item results (code 1 / 2): the caller reads each sCode
            if not read and code == "50004":
                raise EndpointTimeout(code, resp.msg, http_status=status)
            raise api_error(code, resp.msg, status)

    @staticmethod
    def _single(items: list[T]) -> T:
        """The one item of a single-order answer, or its typed error when OKX refused it."""
        if not items:
            raise OkxApiError("1", "OKX answered with no result item")
        item = items[0]
        s_code = getattr(item, "s_code", "0") or "0"
        if s_code != "0":
            err = api_error(s_code, getattr(item, "s_msg", ""))
            err.item = item  # type: ignore[attr-defined]  # ordId / clOrdId of the refused order
            raise err
        return item

    # -- public ---------------------------------------------------------------------------------

    async def instruments(self, inst_type: str = "SWAP", inst_id: str | None = None) -> list[Instrument]:
        return await self._call(
            "GET",
            "/api/v5/public/instruments",
            RestKind.INSTRUMENTS,
            endpoint=Endpoint.INSTRUMENTS,
            params={"instType": inst_type, "instId": inst_id},
        )

    async def ticker(self, inst_id: str) -> Ticker:
        data = await self._call(
            "GET", "/api/v5/market/ticker", RestKind.TICKER, endpoint=Endpoint.TICKER, params={"instId": inst_id}
        )
        return self._first(data, f"ticker {inst_id}")

    async def books(self, inst_id: str, sz: int = 400) -> BookData:
        data = await self._call(
            "GET",
            "/api/v5/market/books",
            RestKind.BOOKS,
            endpoint=Endpoint.BOOKS,
            params={"instId": inst_id, "sz": str(sz)},
        )
        return self._first(data, f"books {inst_id}")

    async def funding_rate(self, inst_id: str) -> FundingRate:
        data = await self._call(
            "GET",
            "/api/v5/public/funding-rate",
            RestKind.FUNDING_RATE,
            endpoint=Endpoint.FUNDING_RATE,
            params={"instId": inst_id},
        )
        return self._first(data, f"funding rate {inst_id}")

    @staticmethod
    def _first(data: list[T], what: str) -> T:
        if not data:
            raise OkxApiError("1", f"OKX returned no record for {what}")
        return data[0]

    # -- trading --------------------------------------------------------------------------------

    async def place_order(self, args: dict[str, Any], *, exp_time_ms: int | None = None) -> OrderResult:
        """Place one order; returns its accepted item or raises the typed refusal (``err.item``
        holds OKX's item). Raises ``OkxOutcomeUnknown``/``EndpointTimeout`` when the outcome is
        unknown — use ``place_order_safely`` unless you resolve that yourself."""
        items = await self._call(
            "POST",
            "/api/v5/trade/order",
            RestKind.PLACE_ORDER,
            endpoint=Endpoint.PLACE_ORDER,
            key=str(args.get("instId", "")),
            body=args,
            private=True,
            exp_time_ms=exp_time_ms,
        )
        return self._single(items)

    async def place_order_safely(self, args: dict[str, Any]) -> Placement:
        """Place one order under DESIGN.md §7: every send carries ``expTime``; an unknown outcome
        is resolved by ``resolve_placement`` (a clOrdId query after expTime + error bound +
        margin) and the order is re-sent under the same clOrdId only when it is still absent, at
        most ``max_resends`` times. Raises the typed refusal, ``OrderNotFound`` when every send
        was lost, or ``OkxOutcomeUnknown`` when even the query could not answer."""
        inst_id = str(args["instId"])
        cl_ord_id = str(args["clOrdId"])
        sends = 0
        while True:
            exp = self.server_now_ms() + self.exp_window_ms
            sends += 1
            try:
                return Placement(await self.place_order(args, exp_time_ms=exp), None, sends)
            except (OkxOutcomeUnknown, EndpointTimeout) as err:
                log.warning("%s %s: placement outcome unknown (%s); resolving by clOrdId", inst_id, cl_ord_id, err)
            found = await self.resolve_placement(inst_id, cl_ord_id, exp)
            if found is not None:
                return Placement(None, found, sends)
            if sends > self.max_resends:
                raise OrderNotFound(
                    "51603",
                    f"order {cl_ord_id} is absent after {sends} placement(s) whose answers were lost",
                )
            log.warning("%s %s: the lost placement never landed; re-sending under the same clOrdId", inst_id, cl_ord_id)

    async def resolve_placement(self, inst_id: str, cl_ord_id: str, exp_time_ms: int) -> Order | None:
        """The order a placement with ``expTime`` = ``exp_time_ms`` created, or None when it has
        none. Waits first until server time is past expTime + error bound + margin: before that
        the request may still land (a clOrdId is unique only among pending orders, so an early
        "absent" could be followed by the order appearing and filling)."""
        deadline = exp_time_ms + self.clock.error_ms + self.resolve_margin_ms
        while True:
            now = self.server_now_ms()
            if now > deadline:
                break
            await self._sleep((deadline - now + 1) / 1000)
        try:
            return await self.order(inst_id, cl_ord_id=cl_ord_id)
        except OrderNotFound:
            return None

    async def batch_orders(self, args: list[dict[str, Any]], *, exp_time_ms: int | None = None) -> list[OrderResult]:
        """Up to 20 orders; one result item per order (read each ``s_code``)."""
        return await self._call(
            "POST",
            "/api/v5/trade/batch-orders",
            RestKind.PLACE_ORDER,
            endpoint=Endpoint.BATCH_ORDERS,
            key=str(args[0].get("instId", "")) if args else "",
            n=len(args),
            body=args,
            private=True,
            exp_time_ms=exp_time_ms,
        )

    async def cancel_order(
        self, inst_id: str, *, ord_id: str | None = None, cl_ord_id: str | None = None
    ) -> OrderResult:
        body: dict[str, Any] = {"instId": inst_id}
        if ord_id:
            body["ordId"] = ord_id
        else:
            body["clOrdId"] = cl_ord_id
        items = await self._call(
            "POST",
            "/api/v5/trade/cancel-order",
            RestKind.CANCEL_ORDER,
            endpoint=Endpoint.CANCEL_ORDER,
            key=inst_id,
            body=body,
            private=True,
        )
        return self._single(items)

    async def cancel_batch(self, args: list[dict[str, Any]]) -> list[OrderResult]:
        return await self._call(
            "POST",
            "/api/v5/trade/cancel-batch-orders",
            RestKind.CANCEL_ORDER,
            endpoint=Endpoint.CANCEL_BATCH,
            key=str(args[0].get("instId", "")) if args else "",
            n=len(args),
            body=args,
            private=True,
        )

    async def amend_order(self, args: dict[str, Any], *, exp_time_ms: int | None = None) -> OrderResult:
        items = await self._call(
            "POST",
            "/api/v5/trade/amend-order",
            RestKind.AMEND_ORDER,
            endpoint=Endpoint.AMEND_ORDER,
            key=str(args.get("instId", "")),
            body=args,
            private=True,
            exp_time_ms=exp_time_ms,
        )
        return self._single(items)

    async def amend_batch(self, args: list[dict[str, Any]]) -> list[OrderResult]:
        return await self._call(
            "POST",
            "/api/v5/trade/amend-batch-orders",
            RestKind.AMEND_ORDER,
            endpoint=Endpoint.AMEND_BATCH,
            key=str(args[0].get("instId", "")) if args else "",
            n=len(args),
            body=args,
            private=True,
        )

    async def order(self, inst_id: str, *, ord_id: str | None = None, cl_ord_id: str | None = None) -> Order:
        """One order's full record; raises ``OrderNotFound`` (51603) when OKX has none."""
        data = await self._call(
            "GET",
            "/api/v5/trade/order",
            RestKind.ORDER,
            endpoint=Endpoint.ORDER_STATUS,
            key=inst_id,
            params={"instId": inst_id, "ordId": ord_id, "clOrdId": None if ord_id else cl_ord_id},
            private=True,
        )
        if not data:
            raise OrderNotFound("51603", "Order does not exist")
        return data[0]

    async def orders_pending(self, inst_type: str = "SWAP", inst_id: str | None = None) -> list[Order]:
        """Every live / partially filled order, newest first (follows OKX's 100-record pages)."""
        out: list[Order] = []
        after: str | None = None
        while True:
            page: list[Order] = await self._call(
                "GET",
                "/api/v5/trade/orders-pending",
                RestKind.ORDERS_PENDING,
                endpoint=Endpoint.ORDERS_PENDING,
                params={"instType": inst_type, "instId": inst_id, "after": after, "limit": "100"},
                private=True,
            )
            out.extend(page)
            if len(page) < 100:
                return out
            after = page[-1].ord_id

    async def fills(self, inst_id: str | None = None, ord_id: str | None = None, inst_type: str = "SWAP") -> list[Fill]:
        """Fills of the last 3 days (one page of 100, newest first)."""
        return await self._call(
            "GET",
            "/api/v5/trade/fills",
            RestKind.FILLS,
            endpoint=Endpoint.FILLS,
            params={"instType": inst_type, "instId": inst_id, "ordId": ord_id, "limit": "100"},
            private=True,
        )

    async def place_algo_order(self, args: dict[str, Any]) -> AlgoOrderResult:
        items = await self._call(
            "POST",
            "/api/v5/trade/order-algo",
            RestKind.PLACE_ALGO_ORDER,
            endpoint=Endpoint.ALGO_ORDER,
            key=str(args.get("instId", "")),
            body=args,
            private=True,
        )
        return self._single(items)

    async def cancel_algos(self, args: list[dict[str, Any]]) -> list[AlgoOrderResult]:
        return await self._call(
            "POST",
            "/api/v5/trade/cancel-algos",
            RestKind.CANCEL_ALGOS,
            endpoint=Endpoint.CANCEL_ALGOS,
            key=str(args[0].get("instId", "")) if args else "",
            body=args,
            private=True,
        )

    async def algo_orders_pending(self, ord_type: str = "conditional", inst_id: str | None = None) -> list[AlgoOrder]:
        return await self._call(
            "GET",
            "/api/v5/trade/orders-algo-pending",
            RestKind.ALGO_ORDERS_PENDING,
            endpoint=Endpoint.ALGO_PENDING,
            params={"ordType": ord_type, "instId": inst_id},
            private=True,
        )

    async def close_position(
        self, inst_id: str, *, mgn_mode: str = "cross", cl_ord_id: str = "", auto_cxl: bool = True
    ) -> ClosePositionResult:
        body: dict[str, Any] = {"instId": inst_id, "mgnMode": mgn_mode, "autoCxl": auto_cxl}
        if cl_ord_id:
            body["clOrdId"] = cl_ord_id
        data = await self._call(
            "POST",
            "/api/v5/trade/close-position",
            RestKind.CLOSE_POSITION,
            endpoint=Endpoint.CLOSE_POSITION,
            key=inst_id,
            body=body,
            private=True,
        )
        return self._first(data, f"close-position {inst_id}")

    # -- account --------------------------------------------------------------------------------

    async def balance(self, ccy: str | None = None) -> AccountData:
        data = await self._call(
            "GET",
            "/api/v5/account/balance",
            RestKind.ACCOUNT_BALANCE,
            endpoint=Endpoint.BALANCE,
            params={"ccy": ccy},
            private=True,
        )
        return self._first(data, "account balance")

    async def positions(self, inst_type: str = "SWAP", inst_id: str | None = None) -> list[Position]:
        return await self._call(
            "GET",
            "/api/v5/account/positions",
            RestKind.POSITIONS,
            endpoint=Endpoint.POSITIONS,
            params={"instType": inst_type, "instId": inst_id},
            private=True,
        )

    async def set_leverage(self, inst_id: str, lever: int | str, mgn_mode: str = "cross") -> Leverage:
        data = await self._call(
            "POST",
            "/api/v5/account/set-leverage",
            RestKind.SET_LEVERAGE,
            endpoint=Endpoint.SET_LEVERAGE,
            body={"instId": inst_id, "lever": str(lever), "mgnMode": mgn_mode},
            private=True,
        )
        return self._first(data, f"set-leverage {inst_id}")

    async def account_config(self) -> AccountConfig:
        data = await self._call(
            "GET", "/api/v5/account/config", RestKind.ACCOUNT_CONFIG, endpoint=Endpoint.ACCOUNT_CONFIG, private=True
        )
        return self._first(data, "account config")


OkxRestGateway = OkxRest  # the name DESIGN.md §7 uses
