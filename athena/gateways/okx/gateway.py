"""OkxGateway: the live BaseGateway — OKX REST + public, private and business WebSockets.

Owns: composing ``OkxRest`` and the WebSocket gateways for one ``OkxConfig`` (production, demo,
or a local OKX-compatible server such as ``athena sim-server``: its ws URLs are
``ws://HOST:PORT/ws/v5/{public,private,business}``); fetching the instrument specs at start; the
core's command port, sync and fire-and-forget: each command publishes ORDER_SUBMITTED (new orders)
and schedules one task on the loop that sends it and publishes what OKX answered —
ORDER_REPORT (ACK) for place / cancel / amend / algo / close-position, ORDER_REPORT (QUERY),
POSITION_UPDATE or ACCOUNT_UPDATE carrying ``req_id`` and ``snapshot_end`` for requests — and an
ERROR event whose ``source`` is the request id (or the clOrdId) when a request failed.
Prices and sizes go out formatted exactly from ticks/lots (``InstrumentSpec``).
Never: waits for an answer inside a command, decides about orders (the OMS does), re-sends a
placement blindly (``OkxRest.place_order_safely`` follows DESIGN.md §7), or shows a credential
in a repr, a log line or an event.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any, Final, Protocol

from athena.config.models import OkxConfig
from athena.core.events import (
    ErrorEvent,
    Event,
    OrderReport,
    OrderSubmitted,
    PositionSource,
    PositionUpdate,
    ReportSource,
)
from athena.errors import GatewayError, InstrumentError, OkxApiError
from athena.gateways.base import BaseGateway
from athena.gateways.okx.auth import OkxCredentials
from athena.gateways.okx.mapping import (
    account_update,
    algo_ack,
    algo_args,
    amend_args,
    cancel_args,
    fill_report,
    order_ack,
    order_args,
    order_report,
    position_update,
)
from athena.gateways.okx.parsers import OpResponse, OrderResult
from athena.gateways.okx.rest import (
    InstrumentNotFound,
    OkxOutcomeUnknown,
    OkxRest,
    OrderNotFound,
    Placement,
    api_error,
    credentials_from_config,
)
from athena.gateways.okx.ws_private import OkxPrivateWsGateway
from athena.gateways.okx.ws_public import OkxPublicWsGateway
from athena.model.enums import Channel
from athena.model.instrument import InstrumentSpec
from athena.model.orders import AlgoOrder, Order

__all__ = ["OkxGateway"]

log = logging.getLogger(__name__)

SOURCE: Final = "OkxGateway"


class _Bus(Protocol):
    def publish(self, event: Event) -> None: ...


class _Clock(Protocol):
    def now_ns(self) -> int: ...


class OkxGateway(BaseGateway):
    """Live OKX behind the core's command port.

    ``order_transport`` "rest" (default) places, cancels and amends over REST (``expTime``
    header, clOrdId resolution); "ws" uses the private socket's ops when it is connected (REST
    when it is not, and REST for resolving an unknown outcome). ``ws_options`` are passed to every
    WebSocket gateway (ping interval, watchdog, backoff — tests shorten them)."""

    def __init__(
        self,
        config: OkxConfig,
        bus: _Bus,
        clock: _Clock,
        *,
        inst_ids: Sequence[str] = (),
        credentials: OkxCredentials | None = None,
        rest: OkxRest | None = None,
        td_mode: str = "cross",
        order_transport: str = "rest",
        candle_bar: str = "1m",
        book_channel: str = "books",
        ws_options: Mapping[str, Any] | None = None,
        now_ms: Callable[[], int] | None = None,
        ready_timeout_s: float = 10.0,
    ) -> None:
        if order_transport not in ("rest", "ws"):
            raise ValueError(f"order_transport must be 'rest' or 'ws', got {order_transport!r}")
        self.config = config
        self.bus = bus
        self.clock = clock
        self.inst_ids = tuple(inst_ids)
        self._credentials = credentials if credentials is not None else credentials_from_config(config)
        self.rest = rest or OkxRest(config, self._credentials, now_ms=now_ms)
        self.td_mode = td_mode
        self.order_transport = order_transport
        self.candle_bar = candle_bar
        self.book_channel = book_channel
        self._ws_options = dict(ws_options or {})
        self._now_ms = now_ms
        self.ready_timeout_s = ready_timeout_s
        self._specs: dict[str, InstrumentSpec] = {}
        self.public: OkxPublicWsGateway | None = None
        self.business: OkxPublicWsGateway | None = None
        self.private: OkxPrivateWsGateway | None = None
        self.private_business: OkxPrivateWsGateway | None = None
        self._wanted: dict[str, tuple[Channel, ...]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._start_lock = asyncio.Lock()
        self._started = False
        self._stopped = False

    def __repr__(self) -> str:
        return (
            f"OkxGateway(endpoint={self.config.endpoint!r}, demo={self.config.simulated_trading}, "
            f"signed={self._credentials is not None}, instruments={len(self._specs)})"
        )

    # -- lifecycle ------------------------------------------------------------------------------

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def start(self) -> None:
        """Schedule ``astart`` on the running loop (fire and forget; idempotent)."""
        self._stopped = False
        self._spawn(self.astart(), SOURCE)

    async def astart(self) -> bool:
        """Sync the clock, fetch instrument specs, connect the sockets and subscribe. Returns True
        when every socket is up within ``ready_timeout_s``."""
        self._get_loop()
        async with self._start_lock:
            if self._started:
                return True
            self._stopped = False
            try:
                await self.rest.sync_clock()
            except Exception as err:
                log.warning("OKX server time unavailable (%s); expTime uses the local clock ±1 s", err)
            records = await self.rest.instruments("SWAP")
            for rec in records:
                if self.inst_ids and rec.inst_id not in self.inst_ids:
                    continue
                self._specs[rec.inst_id] = InstrumentSpec.from_okx(
                    {k: v for k, v in _okx_record(rec).items() if v not in (None, "")}
                )
            missing = [i for i in self.inst_ids if i not in self._specs]
            if missing:
                self._error(SOURCE, f"OKX does not list {', '.join(missing)} as SWAP instruments", "no_instrument")
            now_ns = self.clock.now_ns
            publish = self.bus.publish
            self.public = OkxPublicWsGateway(
                self.config.ws_public_url, self._specs, publish=publish, now_ns=now_ns, **self._ws_options
            )
            sockets: list[Any] = [self.public]
            if self._credentials is not None:
                kw = {"limiter": self.rest.limiter, "now_ms": self._now_ms, **self._ws_options}
                self.private = OkxPrivateWsGateway(
                    self.config.ws_private_url, self._credentials, self._specs, publish=publish, now_ns=now_ns, **kw
                )
                self.private_business = OkxPrivateWsGateway(
                    self.config.ws_business_url,
                    self._credentials,
                    self._specs,
                    publish=publish,
                    now_ns=now_ns,
                    name="okx.business.private",
                    **kw,
                )
                await self.private.subscribe_orders()
                await self.private.subscribe_positions()
                await self.private.subscribe_account()
                await self.private_business.subscribe_algo_orders()
                sockets += [self.private, self.private_business]
            self._started = True
            await self._apply_subscriptions()
            if self.business is not None:
                sockets.append(self.business)
            for s in sockets:
                await s.start()
            ready = await asyncio.gather(*(s.wait_ready(self.ready_timeout_s) for s in sockets))
            return all(ready)

    def stop(self) -> None:
        """Refuse commands from now on and close everything (scheduled on the loop)."""
        self._stopped = True
        loop = self._get_loop()
        task = loop.create_task(self.astop())
        self._keep(task)

    async def astop(self) -> None:
        """Cancel command tasks, close every socket and the REST session."""
        self._stopped = True
        current = asyncio.current_task()
        tasks = [t for t in self._tasks if t is not current and not t.done()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for s in (self.public, self.business, self.private, self.private_business):
            if s is not None:
                await s.stop()
        await self.rest.close()
        self._started = False

    def instruments(self) -> dict[str, InstrumentSpec]:
        return dict(self._specs)

    # -- market data ----------------------------------------------------------------------------

    def subscribe(self, inst_id: str, channels: Sequence[Channel]) -> None:
        self._wanted[inst_id] = tuple(channels)
        if self._started:
            self._spawn(self._apply_subscriptions(), SOURCE)

    def _channel_names(self, channels: Sequence[Channel]) -> tuple[list[str], list[str]]:
        public: list[str] = []
        business: list[str] = []
        for ch in channels:
            if ch is Channel.TRADES:
                public.append("trades")
            elif ch is Channel.BOOKS:
                public.append(self.book_channel)
            elif ch is Channel.BBO:
                public.append("bbo-tbt")
            elif ch is Channel.TICKERS:
                public.append("tickers")
            elif ch is Channel.MARK_PRICE:
                public.append("mark-price")
            elif ch is Channel.FUNDING:
                public.append("funding-rate")
            elif ch is Channel.CANDLES:
                business.append(f"candle{self.candle_bar}")
            # SESSIONS: the CONNECTION events are the sessions; nothing to subscribe
        return public, business

    async def _apply_subscriptions(self) -> None:
        assert self.public is not None
        for inst_id, channels in self._wanted.items():
            public, business = self._channel_names(channels)
            if public:
                await self.public.subscribe([{"channel": c, "instId": inst_id} for c in public])
            if business:
                if self.business is None:
                    self.business = OkxPublicWsGateway(
                        self.config.ws_business_url,
                        self._specs,
                        publish=self.bus.publish,
                        now_ns=self.clock.now_ns,
                        name="okx.business",
                        **self._ws_options,
                    )
                    if self.public._run_task is not None:  # already running: start the late one too
                        await self.business.start()
                await self.business.subscribe([{"channel": c, "instId": inst_id} for c in business])

    # -- task plumbing --------------------------------------------------------------------------

    def _keep(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _spawn(self, coro: Coroutine[Any, Any, Any], source: str) -> None:
        self._keep(self._get_loop().create_task(self._guard(coro, source)))

    async def _guard(self, coro: Coroutine[Any, Any, Any], source: str) -> None:
        try:
            await coro
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a failed request is answered by an ERROR whose source is its id
            code = getattr(err, "code", "") or type(err).__name__
            log.warning("OKX request %s failed: %s", source, err)
            self._error(source, f"OKX request {source} failed: {err}", str(code))

    def _error(self, source: str, message: str, code: str = "") -> None:
        now = self.clock.now_ns()
        self.bus.publish(ErrorEvent(source, message, now, now, code=code))

    def _refuse_stopped(self, what: str) -> bool:
        if not self._stopped:
            return False
        self._error(SOURCE, f"{what} refused: the gateway was stopped", "gateway_stopped")
        return True

    def _spec(self, inst_id: str) -> InstrumentSpec:
        spec = self._specs.get(inst_id)
        if spec is None:
            raise InstrumentNotFound("51001", f"Instrument ID {inst_id} is not among the gateway's instruments")
        return spec

    def _ack(self, inst_id: str, cl_ord_id: str, ord_id: str, err: OkxApiError, req_id: str = "") -> None:
        """A refused command as the exchange's ack: OKX's sCode/sMsg on ORDER_REPORT (ACK)."""
        item = getattr(err, "item", None)
        now = self.clock.now_ns()
        self.bus.publish(
            OrderReport(
                inst_id=inst_id,
                cl_ord_id=(getattr(item, "cl_ord_id", "") or cl_ord_id),
                ord_id=(getattr(item, "ord_id", "") or ord_id),
                state=None,
                source=ReportSource.ACK,
                ts_event=now,
                ts_recv=now,
                s_code=err.code,
                s_msg=err.msg,
                req_id=req_id,
            )
        )

    # -- commands -------------------------------------------------------------------------------

    def submit_order(self, order: Order) -> None:
        if self._refuse_stopped(f"order {order.cl_ord_id}"):
            return
        now = self.clock.now_ns()
        self.bus.publish(OrderSubmitted(order.inst_id, order.cl_ord_id, now, now))
        sent = copy.copy(order)  # the OMS keeps mutating its own Order while this one travels
        self._spawn(self._place(sent), order.cl_ord_id)

    async def _place(self, order: Order) -> None:
        try:
            spec = self._spec(order.inst_id)
            placement = await self._place_ws(spec, order) if self._ws_orders() else None
            if placement is None:
                placement = await self.rest.place_order_safely(order_args(spec, order, self.td_mode))
        except OkxApiError as err:
            self._ack(order.inst_id, order.cl_ord_id, "", err)
            return
        except InstrumentError as err:
            self._ack(order.inst_id, order.cl_ord_id, "", api_error("51000", str(err)))
            return
        except OkxOutcomeUnknown as err:
            # The OMS's TTL query by clOrdId settles it; nothing is re-sent from here.
            self._error(order.cl_ord_id, f"{order.inst_id} {order.cl_ord_id}: {err}", "placement_unknown")
            return
        now = self.clock.now_ns()
        if placement.result is not None:
            self.bus.publish(order_ack(order.inst_id, placement.result, now, cl_ord_id=order.cl_ord_id))
        elif placement.order is not None:
            self.bus.publish(order_report(spec, placement.order, ReportSource.QUERY, now))

    def _ws_orders(self) -> bool:
        return self.order_transport == "ws" and self.private is not None and self.private.connected

    async def _place_ws(self, spec: InstrumentSpec, order: Order) -> Placement | None:
        """Place over the private socket; None when it could not even send (REST takes over)."""
        assert self.private is not None
        exp = self.rest.server_now_ms() + self.rest.exp_window_ms
        try:
            resp = await self.private.place(
                order_args(spec, order, self.td_mode, ws=True), exp_time_ms=exp, key=spec.inst_id
            )
        except OkxOutcomeUnknown:
            found = await self.rest.resolve_placement(spec.inst_id, order.cl_ord_id, exp)
            if found is not None:
                return Placement(None, found, 1)
            return None  # never landed: REST sends it again under the same clOrdId
        except GatewayError:
            return None
        return Placement(_op_item(resp), None, 1)

    def cancel_order(self, inst_id: str, cl_ord_id: str, ord_id: str | None = None) -> None:
        if self._refuse_stopped(f"cancel {cl_ord_id}"):
            return
        self._spawn(self._cancel(inst_id, cl_ord_id, ord_id), cl_ord_id)

    async def _cancel(self, inst_id: str, cl_ord_id: str, ord_id: str | None) -> None:
        try:
            spec = self._spec(inst_id)
            if self._ws_orders():
                assert self.private is not None
                res = _op_item(await self.private.cancel(cancel_args(spec, cl_ord_id, ord_id, ws=True), key=inst_id))
            else:
                res = await self.rest.cancel_order(inst_id, ord_id=ord_id, cl_ord_id=cl_ord_id)
        except OkxApiError as err:
            self._ack(inst_id, cl_ord_id, ord_id or "", err)
            return
        self.bus.publish(order_ack(inst_id, res, self.clock.now_ns(), cl_ord_id=cl_ord_id, ord_id=ord_id or ""))

    def amend_order(
        self,
        inst_id: str,
        cl_ord_id: str,
        ord_id: str | None = None,
        *,
        new_price_ticks: int | None = None,
        new_size_lots: int | None = None,
        req_id: str = "",
    ) -> None:
        if self._refuse_stopped(f"amend {cl_ord_id}"):
            return
        self._spawn(self._amend(inst_id, cl_ord_id, ord_id, new_price_ticks, new_size_lots, req_id), cl_ord_id)

    async def _amend(
        self,
        inst_id: str,
        cl_ord_id: str,
        ord_id: str | None,
        new_price_ticks: int | None,
        new_size_lots: int | None,
        req_id: str,
    ) -> None:
        try:
            spec = self._spec(inst_id)
            ws = self._ws_orders()
            args = amend_args(
                spec,
                cl_ord_id,
                ord_id,
                new_price_ticks=new_price_ticks,
                new_size_lots=new_size_lots,
                req_id=req_id,
                ws=ws,
            )
            if ws:
                assert self.private is not None
                res = _op_item(await self.private.amend(args, key=inst_id))
            else:
                res = await self.rest.amend_order(args)
        except OkxApiError as err:
            self._ack(inst_id, cl_ord_id, ord_id or "", err, req_id)
            return
        self.bus.publish(
            order_ack(inst_id, res, self.clock.now_ns(), cl_ord_id=cl_ord_id, ord_id=ord_id or "", req_id=req_id)
        )

    def place_algo_order(self, algo: AlgoOrder) -> None:
        if self._refuse_stopped(f"algo {algo.algo_cl_ord_id}"):
            return
        now = self.clock.now_ns()
        self.bus.publish(OrderSubmitted(algo.inst_id, algo.algo_cl_ord_id, now, now))
        self._spawn(self._place_algo(copy.copy(algo)), algo.algo_cl_ord_id)

    async def _place_algo(self, algo: AlgoOrder) -> None:
        try:
            res = await self.rest.place_algo_order(algo_args(self._spec(algo.inst_id), algo, self.td_mode))
        except OkxApiError as err:
            self.bus.publish(
                algo_ack(algo, getattr(err, "item", None), self.clock.now_ns(), s_code=err.code, s_msg=err.msg)
            )
            return
        self.bus.publish(algo_ack(algo, res, self.clock.now_ns()))

    def cancel_algo_order(self, inst_id: str, algo_id: str | None, algo_cl_ord_id: str | None) -> None:
        if self._refuse_stopped(f"cancel algo {algo_cl_ord_id or algo_id}"):
            return
        self._spawn(self._cancel_algo(inst_id, algo_id, algo_cl_ord_id), algo_cl_ord_id or algo_id or SOURCE)

    async def _cancel_algo(self, inst_id: str, algo_id: str | None, algo_cl_ord_id: str | None) -> None:
        arg: dict[str, Any] = {"instId": inst_id}
        if algo_id:
            arg["algoId"] = algo_id
        else:
            arg["algoClOrdId"] = algo_cl_ord_id
        try:
            items = await self.rest.cancel_algos([arg])
            s_code, s_msg = (items[0].s_code or "0", items[0].s_msg) if items else ("0", "")
        except OkxApiError as err:
            s_code, s_msg = err.code, err.msg
        now = self.clock.now_ns()
        self.bus.publish(
            OrderReport(
                inst_id=inst_id,
                cl_ord_id=algo_cl_ord_id or "",
                ord_id=algo_id or "",
                state=None,
                source=ReportSource.ACK,
                ts_event=now,
                ts_recv=now,
                ord_type=None,
                s_code=s_code,
                s_msg=s_msg,
            )
        )

    def close_position(self, inst_id: str, cl_ord_id: str, *, auto_cxl: bool = True) -> None:
        if self._refuse_stopped(f"close-position {cl_ord_id}"):
            return
        now = self.clock.now_ns()
        self.bus.publish(OrderSubmitted(inst_id, cl_ord_id, now, now))
        self._spawn(self._close_position(inst_id, cl_ord_id, auto_cxl), cl_ord_id)

    async def _close_position(self, inst_id: str, cl_ord_id: str, auto_cxl: bool) -> None:
        try:
            res = await self.rest.close_position(inst_id, mgn_mode=self.td_mode, cl_ord_id=cl_ord_id, auto_cxl=auto_cxl)
        except OkxApiError as err:
            self._ack(inst_id, cl_ord_id, "", err)
            return
        now = self.clock.now_ns()
        self.bus.publish(order_ack(inst_id, OrderResult(s_code="0", cl_ord_id=res.cl_ord_id), now, cl_ord_id=cl_ord_id))

    # -- requests -------------------------------------------------------------------------------

    def request_positions(self, req_id: str, inst_id: str | None = None) -> None:
        if self._refuse_stopped(f"positions {req_id}"):
            return
        self._spawn(self._positions(req_id, inst_id), req_id)

    async def _positions(self, req_id: str, inst_id: str | None) -> None:
        records = [p for p in await self.rest.positions("SWAP", inst_id) if p.inst_id in self._specs]
        now = self.clock.now_ns()
        if not records:  # OKX returns no record for a flat instrument: one flat event ends the answer
            self.bus.publish(
                PositionUpdate(
                    inst_id or "", 0, 0.0, PositionSource.EXCHANGE, now, now, req_id=req_id, snapshot_end=True
                )
            )
            return
        last = len(records) - 1
        for i, p in enumerate(records):
            self.bus.publish(position_update(self._specs[p.inst_id], p, now, req_id=req_id, snapshot_end=i == last))

    def request_balance(self, req_id: str) -> None:
        if self._refuse_stopped(f"balance {req_id}"):
            return
        self._spawn(self._balance(req_id), req_id)

    async def _balance(self, req_id: str) -> None:
        acct = await self.rest.balance()
        self.bus.publish(account_update(acct, self.clock.now_ns(), req_id=req_id))

    def request_open_orders(self, req_id: str, inst_id: str | None = None) -> None:
        if self._refuse_stopped(f"orders-pending {req_id}"):
            return
        self._spawn(self._open_orders(req_id, inst_id), req_id)

    async def _open_orders(self, req_id: str, inst_id: str | None) -> None:
        records = [o for o in await self.rest.orders_pending("SWAP", inst_id) if o.inst_id in self._specs]
        now = self.clock.now_ns()
        if not records:
            self.bus.publish(_empty_answer(inst_id or "", req_id, now))
            return
        last = len(records) - 1
        for i, o in enumerate(records):
            self.bus.publish(
                order_report(self._specs[o.inst_id], o, ReportSource.QUERY, now, req_id=req_id, snapshot_end=i == last)
            )

    def request_order_status(self, req_id: str, inst_id: str, cl_ord_id: str | None, ord_id: str | None) -> None:
        if self._refuse_stopped(f"order status {req_id}"):
            return
        self._spawn(self._order_status(req_id, inst_id, cl_ord_id, ord_id), req_id)

    async def _order_status(self, req_id: str, inst_id: str, cl_ord_id: str | None, ord_id: str | None) -> None:
        spec = self._spec(inst_id)
        try:
            o = await self.rest.order(inst_id, ord_id=ord_id, cl_ord_id=cl_ord_id)
        except OrderNotFound as err:
            now = self.clock.now_ns()
            self.bus.publish(
                OrderReport(
                    inst_id=inst_id,
                    cl_ord_id=cl_ord_id or "",
                    ord_id=ord_id or "",
                    state=None,
                    source=ReportSource.QUERY,
                    ts_event=now,
                    ts_recv=now,
                    s_code="51603",
                    s_msg=err.msg,
                    req_id=req_id,
                    snapshot_end=True,
                )
            )
            return
        self.bus.publish(
            order_report(spec, o, ReportSource.QUERY, self.clock.now_ns(), req_id=req_id, snapshot_end=True)
        )

    def request_fills(self, req_id: str, inst_id: str, ord_id: str | None = None) -> None:
        if self._refuse_stopped(f"fills {req_id}"):
            return
        self._spawn(self._fills(req_id, inst_id, ord_id), req_id)

    async def _fills(self, req_id: str, inst_id: str, ord_id: str | None) -> None:
        spec = self._spec(inst_id)
        rows = await self.rest.fills(inst_id, ord_id)
        rows.sort(key=lambda f: int(f.trade_id))  # OKX lists newest first; the OMS prices oldest first
        now = self.clock.now_ns()
        if not rows:
            self.bus.publish(_empty_answer(inst_id, req_id, now, ord_id=ord_id or ""))
            return
        last = len(rows) - 1
        for i, f in enumerate(rows):
            self.bus.publish(fill_report(spec, f, now, req_id=req_id, snapshot_end=i == last))


def _empty_answer(inst_id: str, req_id: str, now: int, *, ord_id: str = "") -> OrderReport:
    """An empty snapshot is one report with no order in it, marked as the end."""
    return OrderReport(
        inst_id=inst_id,
        cl_ord_id="",
        ord_id=ord_id,
        state=None,
        source=ReportSource.QUERY,
        ts_event=now,
        ts_recv=now,
        req_id=req_id,
        snapshot_end=True,
    )


def _op_item(resp: OpResponse) -> OrderResult:
    """The single item of a WS op answer, or its typed error (request-format errors have no item)."""
    if not resp.data:
        raise api_error(str(resp.code), resp.msg or "OKX answered the op with no result item")
    item = resp.data[0]
    if (item.s_code or "0") != "0":
        err = api_error(item.s_code, item.s_msg)
        err.item = item  # type: ignore[attr-defined]
        raise err
    return item


def _okx_record(rec: Any) -> dict[str, Any]:
    """A parsed Instrument back to OKX's camelCase keys (what ``InstrumentSpec.from_okx`` reads)."""
    return {
        "instId": rec.inst_id,
        "instType": rec.inst_type,
        "instIdCode": rec.inst_id_code,
        "tickSz": rec.tick_sz,
        "lotSz": rec.lot_sz,
        "minSz": rec.min_sz,
        "ctVal": rec.ct_val,
        "ctMult": rec.ct_mult,
        "ctType": rec.ct_type,
        "settleCcy": rec.settle_ccy,
        "quoteCcy": rec.quote_ccy,
        "maxLmtSz": rec.max_lmt_sz,
        "maxMktSz": rec.max_mkt_sz,
        "state": rec.state,
    }
