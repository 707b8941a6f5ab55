"""``athena sim-server``: the SimExchange behind the real OKX v5 wire protocol, with fault injection.

Owns: the aiohttp application (REST under ``/api/v5``, WebSockets ``/ws/v5/public|private|business``,
the admin API ``/admin/faults`` and ``/admin/state``), OKX's envelopes, error codes and signature
checks (okx-v5-reference §1, §2, §5, §6), the real-time market-data driver, and carrying out the
faults of ``server_faults``. Records and frames are built by ``server_rest`` (pure functions).

The driver replays catalog windows (``merge_windows``) at real speed × ``speed``: each row is
applied to the exchange-side book of its ``SimMarket`` and the market's hooks are called exactly
as the backtest's exchange side does (``on_book_level`` through ``apply_level``, ``on_book_reset``
after a snapshot, ``on_trade``, ``on_mark_price``, ``on_funding_rate``); then the OKX frames are
published. Here the two timelines of DESIGN.md §6 collapse into one: the book clients see is the
book their orders match against. A snapshot in the data (a resync, or the start of the next loop
of the sample) is applied as a diff and published as an ordinary ``books`` update, so the
``seqId``/``prevSeqId`` chain clients see is never broken except by a ``skip_seq`` fault.
Time: the SimClock follows the wall clock (this is an asyncio edge; it may read it), so every
``ts``/``cTime``/``inTime`` is real time and REST timestamps are checked against it; data times
only pace the replay.

Never: serves anything but 127.0.0.1 unless told, logs a secret, or lets one bad request, one slow
client or one failing frame take the server down (a handler error answers 50026 / 63999 and is
logged). Only this module of ``athena/sim`` imports asyncio/aiohttp and ``gateways/okx``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from aiohttp import WSMsgType, web

from athena.catalog.stream import F_EOM, F_SNAP, INST_SHIFT, K_BOOK, K_CHECKPOINT, K_FUNDING, K_MARK, KIND_MASK, Window
from athena.core.clock import SimClock
from athena.core.events import Event, FundingEvent, OrderReport, ReportSource
from athena.core.ports import ASK, BID
from athena.gateways.okx.auth import verify_signature, verify_ws_login
from athena.model.enums import OrderState, OrderType, Side
from athena.model.instrument import InstrumentSpec
from athena.model.orders import AlgoOrder, Order, TriggerPxType
from athena.sim import server_rest as rec
from athena.sim.exchange import SimExchange, SimMarket, SimReject, parse_px_sz
from athena.sim.server_faults import Fault, FaultKind, FaultScriptError, FaultState, parse_faults

log = logging.getLogger(__name__)

__all__ = ["BookChecksumMode", "Credentials", "MarketSource", "SimServer", "SimServerConfig"]

_MS = 1_000_000
_NS = 1_000_000_000


class BookChecksumMode(StrEnum):
    """What the books ``checksum`` field carries: 0 (OKX since 2026-06-23) or the real CRC32."""

    ZERO = "zero"
    CRC32 = "crc32"


@dataclass(frozen=True, slots=True)
class Credentials:
    """The one API key the emulator accepts (test credentials of a local emulator, not OKX's)."""

    api_key: str
    secret_key: str
    passphrase: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(
            api_key=f"sim-{secrets.token_hex(8)}",
            secret_key=secrets.token_hex(16).upper(),
            passphrase=f"Sim{secrets.token_hex(6)}",
        )

    def __repr__(self) -> str:  # still hidden from logs: a repr is what ends up in them
        return f"Credentials(api_key={self.api_key!r}, secret_key='***', passphrase='***')"


@dataclass(frozen=True, slots=True)
class SimServerConfig:
    host: str = "127.0.0.1"
    port: int = 0
    speed: float = 1.0  # data seconds per wall second; 0 = as fast as the loop allows
    book_checksum: BookChecksumMode = BookChecksumMode.ZERO
    idle_timeout_s: float = 30.0  # close a socket when nothing was exchanged for this long (§1.2)
    book_keepalive_s: float = 60.0  # empty books update when the book was unchanged this long (§3.2 rule 4)
    max_skew_s: float = 30.0  # REST / WS login timestamps further off are expired (50102 / 60006)
    rest_rate_limits: bool = True
    tick_s: float = 0.05  # housekeeping period (timers, tickers, keep-alives, idle sockets)
    ticker_interval_s: float = 0.1
    mark_interval_s: float = 1.0  # mark-price from the book when the data has none
    snapshot_depth: int = 400


@dataclass(slots=True)
class MarketSource:
    """What the driver replays: the instruments (index = the catalog's instrument index), a
    factory of time-ordered windows (called again for every loop), and the first row time that
    is served (earlier rows only build the book)."""

    specs: list[InstrumentSpec]
    windows: Callable[[], Iterator[Window]]
    start_ns: int | None = None
    loop: bool = False
    describe: str = ""


# -- WebSocket plumbing -----------------------------------------------------------------------------

_PUBLIC = frozenset({"trades", "books", "books5", "bbo-tbt", "tickers", "funding-rate", "mark-price"})
_PRIVATE = frozenset({"orders", "positions", "account"})
_BUSINESS_PRIVATE = frozenset({"orders-algo"})
_WS_OPS = frozenset(
    {"order", "batch-orders", "cancel-order", "batch-cancel-orders", "amend-order", "batch-amend-orders"}
)


class _Conn:
    """One WebSocket client: its socket kind, login, subscriptions and outgoing queue."""

    __slots__ = ("closing", "conn_id", "held", "kind", "last_recv_ns", "logged_in", "queue", "subs", "synced",
                 "transport", "writer", "ws")

    def __init__(self, ws: web.WebSocketResponse, kind: str, transport: Any) -> None:
        self.ws = ws
        self.kind = kind
        self.transport = transport
        self.conn_id = secrets.token_hex(4)
        self.logged_in = False
        self.subs: dict[str, dict[str, Any]] = {}  # compact JSON of the arg -> the arg as sent
        self.synced: set[str] = set()  # instIds whose books snapshot this client has had
        self.last_recv_ns = time.time_ns()
        self.queue: asyncio.Queue[str | None] = asyncio.Queue()
        self.writer: asyncio.Task[None] | None = None
        self.held: str | None = None  # a private message waiting to be overtaken (reorder fault)
        self.closing = False

    def args_for(self, channel: str, inst_id: str) -> list[dict[str, Any]]:
        """This client's subscriptions that a push of ``channel`` for ``inst_id`` matches."""
        out = []
        for a in self.subs.values():
            if a.get("channel") != channel:
                continue
            want = a.get("instId")
            if want and want != inst_id:
                continue
            if a.get("instType") not in (None, "", "ANY", "SWAP"):
                continue
            out.append(a)
        return out


def _dumps(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


# -- per instrument wire state ---------------------------------------------------------------------


class _Inst:
    """The wire view of one instrument: seqIds, what was last pushed, ticker and candle figures."""

    __slots__ = ("bbo", "candles", "code", "funding_rate", "high", "idx", "last_book_ns", "last_mark_row_ns",
                 "last_mark_sent", "last_mark_sent_ns", "last_sz", "last_ticks", "low", "market", "open",
                 "pending", "pending_snap", "ready", "seq", "spec", "ticker_dirty", "ticker_sent_ns", "top5",
                 "trade_seq", "vol_lots", "vol_quote")

    def __init__(self, idx: int, spec: InstrumentSpec, market: SimMarket, code: int) -> None:
        self.idx = idx
        self.spec = spec
        self.market = market
        self.code = code
        self.seq = 1_000 + 7 * idx
        self.ready = False
        self.pending: list[tuple[int, int, int]] = []  # rows of the book message being read
        self.pending_snap = False
        self.last_book_ns = 0
        self.bbo: tuple[Any, ...] = ()
        self.top5: tuple[Any, ...] = ()
        self.trade_seq = 0
        self.last_ticks: int | None = None
        self.last_sz = 0
        self.open: int | None = None
        self.high: int | None = None
        self.low: int | None = None
        self.vol_lots = 0
        self.vol_quote = 0.0
        self.candles: dict[str, list[Any]] = {}  # bar -> [start_ms, o, h, l, c, lots, quote]
        self.ticker_dirty = False
        self.ticker_sent_ns = 0
        self.funding_rate = 0.0
        self.last_mark_row_ns = 0
        self.last_mark_sent: float | None = None
        self.last_mark_sent_ns = 0

    def next_seq(self) -> tuple[int, int]:
        """(prevSeqId, seqId): steps are not +1 on OKX (§3.2 rule 6), so neither are ours."""
        prev = self.seq
        self.seq = prev + 1 + (prev % 7)
        return prev, self.seq


# -- order views (what the wire says about each order, built from the exchange's reports) --------


class _OrderView:
    __slots__ = ("algo_cl", "algo_id", "c_ms", "fills", "pnl", "report", "tag", "td_mode", "u_ms")

    def __init__(self, report: OrderReport, now_ms: int) -> None:
        self.report = report
        self.c_ms = now_ms
        self.u_ms = now_ms
        self.tag = ""
        self.td_mode = "cross"
        self.algo_id = ""
        self.algo_cl = ""
        self.fills: list[OrderReport] = []
        self.pnl = 0.0


class _AlgoView:
    __slots__ = ("algo_cl", "algo_id", "c_ms", "inst_id", "ord_type", "req", "side", "state", "sz_lots", "tag",
                 "trigger", "u_ms")

    def __init__(self, algo_id: str, algo_cl: str, inst_id: str, side: Side, sz_lots: int, now_ms: int) -> None:
        self.algo_id = algo_id
        self.algo_cl = algo_cl
        self.inst_id = inst_id
        self.side = side
        self.sz_lots = sz_lots
        self.state = "live"
        self.c_ms = now_ms
        self.u_ms = now_ms
        self.ord_type = "conditional"
        self.req: dict[str, Any] = {}
        self.tag = ""
        self.trigger = ""


class _Refuse(Exception):
    """A request-level refusal: OKX code and message (sent as the envelope or an item's sCode)."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(code, msg)
        self.code = code
        self.msg = msg


def _need(arg: dict[str, Any], name: str) -> Any:
    v = arg.get(name)
    if v in (None, ""):
        raise _Refuse("50014", f"Parameter {name} can not be empty.")
    return v


def _param(name: str) -> _Refuse:
    return _Refuse("51000", f"Parameter {name} error")


def _to_units(text: Any, step: Decimal, name: str, lot: bool) -> int:
    """An OKX decimal string -> integer multiples of ``step`` (51121 / 51000 like OKX)."""
    try:
        d = Decimal(str(text))
    except (InvalidOperation, ValueError):
        raise _param(name) from None
    if not d.is_finite() or d <= 0:
        raise _param(name)
    q = d / step
    if q != q.to_integral_value():
        if lot:
            raise _Refuse("51121", "Order quantity must be a multiple of the lot size.")
        raise _param(name)
    return int(q)


def _bool(v: Any) -> bool:
    return v is True or (isinstance(v, str) and v.lower() == "true")


_ORD_TYPES = {
    "market": OrderType.MARKET,
    "optimal_limit_ioc": OrderType.MARKET,  # market-with-IOC on swaps: the sim's market order is IOC already
    "limit": OrderType.LIMIT,
    "post_only": OrderType.POST_ONLY,
    "ioc": OrderType.IOC,
    "fok": OrderType.FOK,
}

# REST limits per 2 s (§6.5) for the endpoints the exchange does not rate-limit itself.
_REST_LIMITS: dict[str, int] = {
    "/api/v5/public/instruments": 20,
    "/api/v5/market/ticker": 20,
    "/api/v5/public/funding-rate": 20,
    "/api/v5/market/books": 40,
    "/api/v5/public/mark-price": 10,
    "/api/v5/public/time": 10,
    "/api/v5/trade/order:GET": 60,
    "/api/v5/trade/orders-pending": 60,
    "/api/v5/trade/fills": 60,
    "/api/v5/trade/orders-algo-pending": 20,
    "/api/v5/account/balance": 10,
    "/api/v5/account/positions": 10,
    "/api/v5/account/set-leverage": 20,
    "/api/v5/account/config": 5,
}


class SimServer:
    """The emulator: ``await start()`` → URL; ``await stop()``. One instance per port."""

    def __init__(
        self,
        exchange: SimExchange,
        clock: SimClock,
        source: MarketSource,
        credentials: Credentials,
        config: SimServerConfig | None = None,
        faults: list[Fault] | None = None,
    ) -> None:
        self.exchange = exchange
        self.clock = clock
        self.source = source
        self.creds = credentials
        self.config = config or SimServerConfig()
        self.faults = FaultState()
        self._initial_faults = list(faults or [])
        self.insts: dict[str, _Inst] = {}
        self.by_idx: list[_Inst] = []
        self.by_code: dict[int, _Inst] = {}
        used = {s.inst_id_code for s in source.specs if s.inst_id_code is not None}
        spare = 90_001
        for i, spec in enumerate(source.specs):
            code = spec.inst_id_code
            if code is None:
                while spare in used:
                    spare += 1
                code = spare
                used.add(code)
            st = _Inst(i, spec, exchange.markets[spec.inst_id], code)
            self.insts[spec.inst_id] = st
            self.by_idx.append(st)
            self.by_code[code] = st
        self.conns: set[_Conn] = set()
        self.orders: dict[str, _OrderView] = {}
        self.orders_by_cl: dict[tuple[str, str], _OrderView] = {}
        self.fills: list[dict[str, Any]] = []
        self.algos: dict[str, _AlgoView] = {}
        self.algos_by_cl: dict[tuple[str, str], _AlgoView] = {}
        self._pending_algo_req: dict[str, Any] | None = None
        self._collect: list[OrderReport] | None = None
        self._out_orders: list[tuple[str, dict[str, Any]]] = []
        self._out_algos: list[tuple[str, dict[str, Any]]] = []
        self._dirty_pos: set[str] = set()
        self._dirty_acct = False
        self._pos_c_ms: dict[str, int] = {}
        self._rest_times: dict[str, list[int]] = {}
        self._tasks: list[asyncio.Task[Any]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""
        self.msgs = 0  # market-data messages replayed (book messages and trades): after_msgs counts these
        self.rows = 0
        self.passes = 0
        self.ended = False
        exchange.emit = self._on_emit

    # -- lifecycle ------------------------------------------------------------------------------

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._guard])
        r = app.router
        for kind in ("public", "private", "business"):
            r.add_get(f"/ws/v5/{kind}", self._ws_handler(kind))
        r.add_post("/admin/faults", self._admin_faults)
        r.add_get("/admin/state", self._admin_state)
        for path, (method, handler, private) in self._routes().items():
            r.add_route(method, path, self._rest(path, method, handler, private))
        return app

    async def start(self) -> str:
        """Bind, start the driver and housekeeping; returns ``http://host:port``."""
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.config.host, self.config.port)
        await site.start()
        server = getattr(site, "_server", None)
        port = server.sockets[0].getsockname()[1] if server and server.sockets else self.config.port
        self.url = f"http://{self.config.host}:{port}"
        self._sync_clock()
        self.faults.arm(self._initial_faults, self.clock.now_ns(), self.msgs)
        self._tasks = [asyncio.create_task(self._drive(), name="sim-server driver"),
                       asyncio.create_task(self._housekeeping(), name="sim-server housekeeping")]
        log.info("sim-server listening on %s (%s)", self.url, self.source.describe or "no description")
        return self.url

    async def stop(self) -> None:
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        for c in list(self.conns):
            c.closing = True
            with contextlib.suppress(Exception):
                await c.ws.close()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- time -----------------------------------------------------------------------------------

    def _sync_clock(self) -> int:
        """Move the SimClock to the wall clock (never back) and run what fell due (funding)."""
        now = time.time_ns()
        clock = self.clock
        if now > clock.now_ns():
            clock.run_due(now)
        return clock.now_ns()

    def _now_ms(self) -> int:
        return self.clock.now_ns() // _MS

    # -- the driver -----------------------------------------------------------------------------

    async def _drive(self) -> None:
        try:
            while True:
                self.passes += 1
                it = self.source.windows()
                wall0: int | None = None
                data0 = 0
                while True:
                    w = await asyncio.to_thread(next, it, None)
                    if w is None:
                        break
                    wall0, data0 = await self._play(w, wall0, data0)
                if not self.source.loop or self.passes > 1_000_000:
                    break
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sim-server: the market-data driver failed; the server keeps answering")
        self.ended = True

    async def _play(self, w: Window, wall0: int | None, data0: int) -> tuple[int | None, int]:
        speed = self.config.speed
        start = self.source.start_ns
        tl, te, tr, kd, tk, lt, tid, aux = w.tl, w.te, w.tr, w.kd, w.tk, w.lt, w.tid, w.aux
        since_yield = 0
        for i in range(len(kd)):
            warm = start is not None and tl[i] < start
            if not warm:
                now = time.time_ns()
                if wall0 is None:
                    wall0, data0 = now, te[i]
                since_yield += 1
                if speed > 0:
                    target = wall0 + int((te[i] - data0) / speed)
                    if target > now + _MS:
                        self._flush_private()
                        await asyncio.sleep((target - now) / _NS)
                        since_yield = 0
                if since_yield >= 256:  # behind schedule or unpaced: let clients in now and then
                    self._flush_private()
                    await asyncio.sleep(0)
                    since_yield = 0
                self._sync_clock()
            try:
                self._row(kd[i], tk[i], lt[i], tid[i], tr[i], aux.get(i, 0.0), warm)
            except Exception:
                log.exception("sim-server: a data row failed (kind %d); skipped", kd[i])
            self.rows += 1
            if not warm:
                self._flush_private()
        return wall0, data0

    def _row(self, k: int, ticks: int, lots: int, tid: int, ts_raw: int, fval: float, warm: bool) -> None:
        st = self.by_idx[k >> INST_SHIFT]
        kk = k & KIND_MASK
        m = st.market
        if K_BOOK <= kk < K_MARK:
            if kk >= K_CHECKPOINT and st.ready:
                return  # a writer's checkpoint of a book we already have: nothing to apply
            if kk & F_SNAP or kk >= K_CHECKPOINT:
                st.pending_snap = True
            st.pending.append((kk & 1, ticks, lots))
            if kk & F_EOM:
                self._book_message(st, ts_raw, warm)
        elif kk < K_BOOK:
            if warm:
                return
            if m.watch_trades:
                m.on_trade(ticks, lots, kk & 1, tid, ts_raw)
            self._trade(st, ticks, lots, Side.BUY if kk & 1 == 0 else Side.SELL, tid)
        elif kk == K_MARK:
            m.on_mark_price(ticks)
            if not warm:
                st.last_mark_row_ns = self.clock.now_ns()
                self._publish_mark(st, float(ticks))
        elif kk == K_FUNDING:
            if warm:
                return
            # The data's fundingTime is in data time; the rate is in force for our next settlement.
            ft = self.exchange.config.funding.next_after(self.clock.now_ns())
            m.on_funding_rate(fval, ft)
            st.funding_rate = fval
            self._publish("public", "funding-rate", st.spec.inst_id, [self._funding_rec(st)])

    def _book_message(self, st: _Inst, ts_raw: int, warm: bool) -> None:
        rows = st.pending
        st.pending = []
        snap = st.pending_snap
        st.pending_snap = False
        m = st.market
        book = m.book
        if snap:  # replace the book: apply only the difference, as OKX's own stream would show it
            new: tuple[dict[int, int], dict[int, int]] = ({}, {})
            for side, t, q in rows:
                if q:
                    new[side][t] = q
            changes: list[tuple[int, int, int]] = []
            for side, cur in ((BID, book.bids), (ASK, book.asks)):
                target = new[side]
                changes.extend((side, t, 0) for t in cur if t not in target)
                changes.extend((side, t, q) for t, q in target.items() if cur.get(t) != q)
            rows = changes
        for side, t, q in rows:
            m.apply_level(side, t, q, ts_raw)
        if snap and m.active:
            m.on_book_reset()
        was_ready = st.ready
        st.ready = True
        if warm:
            return
        self.msgs += 1
        self._fire_msg_faults()
        if was_ready:
            last: dict[tuple[int, int], int] = {}
            for side, t, q in rows:
                last[(side, t)] = q  # a price changed twice in one message: its last size wins
            self._publish_book_update(st, last)
        else:
            st.next_seq()
            for c in self.conns:
                if c.args_for("books", st.spec.inst_id) and st.spec.inst_id not in c.synced:
                    self._send_books_snapshot(c, st)
        self._publish_top(st)

    # -- public pushes --------------------------------------------------------------------------

    def _publish(self, kind: str, channel: str, inst_id: str, data: list[Any], extra: dict[str, Any] | None = None,
                 private: bool = False) -> None:
        for c in self.conns:
            if c.kind != kind:
                continue
            for a in c.args_for(channel, inst_id):
                frame: dict[str, Any] = {"arg": a}
                if extra:
                    frame.update(extra)
                frame["data"] = data
                self._send(c, _dumps(frame), private=private)

    def _send_books_snapshot(self, c: _Conn, st: _Inst) -> None:
        bids, asks = st.market.book.depth(self.config.snapshot_depth)
        data = {
            "asks": rec.levels(st.spec, asks),
            "bids": rec.levels(st.spec, bids),
            "ts": str(self._now_ms()),
            "checksum": self._checksum(st),
            "prevSeqId": -1,
            "seqId": st.seq,
        }
        for a in c.args_for("books", st.spec.inst_id):
            self._send(c, _dumps({"arg": a, "action": "snapshot", "data": [data]}))
        c.synced.add(st.spec.inst_id)
        st.last_book_ns = self.clock.now_ns()

    def _checksum(self, st: _Inst) -> int:
        return st.market.book.checksum() if self.config.book_checksum is BookChecksumMode.CRC32 else 0

    def _publish_book_update(self, st: _Inst, changes: dict[tuple[int, int], int]) -> None:
        prev, seq = st.next_seq()
        st.last_book_ns = self.clock.now_ns()
        fault = self.faults.take_book_fault(st.spec.inst_id) if self.faults.book else None
        if fault is FaultKind.SKIP_SEQ:
            return  # the message is never sent: the next one's prevSeqId names a seqId nobody saw
        spec = st.spec
        bids = sorted(((t, q) for (s, t), q in changes.items() if s == BID), reverse=True)
        asks = sorted((t, q) for (s, t), q in changes.items() if s == ASK)
        b = rec.levels(spec, bids)
        a = rec.levels(spec, asks)
        checksum = self._checksum(st)
        if fault is FaultKind.CORRUPT_CHECKSUM:
            checksum ^= 0x2A  # any other value; in zero mode a non-zero checksum that cannot match
        elif fault is FaultKind.CORRUPT_BOOK:
            side, pairs = (b, bids) if bids else (a, asks)
            if pairs:
                side[0][1] = spec.format_size(pairs[0][1] + 1)
            else:
                t = st.market.book.best_bid
                b.append([spec.format_price(t), spec.format_size(1), "0", "1"])
        data = {"asks": a, "bids": b, "ts": str(self._now_ms()), "checksum": checksum, "prevSeqId": prev,
                "seqId": seq}
        self._push_books(st, data)

    def _push_books(self, st: _Inst, data: dict[str, Any]) -> None:
        inst_id = st.spec.inst_id
        frame_cache: dict[str, str] = {}
        for c in self.conns:
            args = c.args_for("books", inst_id)
            if not args:
                continue
            if inst_id not in c.synced:
                self._send_books_snapshot(c, st)
                continue
            for a in args:
                key = _dumps(a)
                text = frame_cache.get(key)
                if text is None:
                    text = frame_cache[key] = _dumps({"arg": a, "action": "update", "data": [data]})
                self._send(c, text)

    def _publish_top(self, st: _Inst) -> None:
        book = st.market.book
        bids, asks = book.depth(5)
        spec = st.spec
        top5 = (tuple(bids), tuple(asks))
        bbo = (tuple(bids[:1]), tuple(asks[:1]))
        ts = str(self._now_ms())
        if bbo != st.bbo:
            st.bbo = bbo
            st.ticker_dirty = True
            self._publish("public", "bbo-tbt", spec.inst_id, [
                {"asks": rec.levels(spec, asks[:1]), "bids": rec.levels(spec, bids[:1]), "ts": ts, "seqId": st.seq}])
        if top5 != st.top5:
            st.top5 = top5
            self._publish("public", "books5", spec.inst_id, [self._books5(st, ts)])

    def _books5(self, st: _Inst, ts: str) -> dict[str, Any]:
        bids, asks = st.market.book.depth(5)
        return {"asks": rec.levels(st.spec, asks), "bids": rec.levels(st.spec, bids), "instId": st.spec.inst_id,
                "ts": ts, "seqId": st.seq}

    def _trade(self, st: _Inst, ticks: int, lots: int, side: Side, tid: int) -> None:
        self.msgs += 1
        spec = st.spec
        now_ms = self._now_ms()
        st.trade_seq += 1
        st.last_ticks = ticks
        st.last_sz = lots
        st.open = ticks if st.open is None else st.open
        st.high = ticks if st.high is None or ticks > st.high else st.high
        st.low = ticks if st.low is None or ticks < st.low else st.low
        st.vol_lots += lots
        quote = spec.notional(ticks, lots)
        st.vol_quote += quote
        st.ticker_dirty = True
        px = spec.format_price(ticks)
        self._publish("public", "trades", spec.inst_id, [{
            "instId": spec.inst_id, "tradeId": str(tid), "px": px, "sz": spec.format_size(lots),
            "side": side.value, "ts": str(now_ms), "count": "1", "source": "0", "seqId": st.trade_seq}])
        for bar, bar_ms in rec.BARS.items():
            start = now_ms // bar_ms * bar_ms
            c = st.candles.get(bar)
            if c is not None and c[0] < start:
                self._publish("business", f"candle{bar}", spec.inst_id, [rec.candle_row(spec, c, True)])
                c = None
            if c is None:
                c = st.candles[bar] = [start, ticks, ticks, ticks, ticks, 0, 0.0]
            c[2] = max(c[2], ticks)
            c[3] = min(c[3], ticks)
            c[4] = ticks
            c[5] += lots
            c[6] += quote
            self._publish("business", f"candle{bar}", spec.inst_id, [rec.candle_row(spec, c, False)])
        self._fire_msg_faults()

    def _publish_mark(self, st: _Inst, ticks: float) -> None:
        st.last_mark_sent = ticks
        st.last_mark_sent_ns = self.clock.now_ns()
        self._publish("public", "mark-price", st.spec.inst_id, [self._mark_rec(st, ticks)])

    def _mark_rec(self, st: _Inst, ticks: float) -> dict[str, Any]:
        return {"instId": st.spec.inst_id, "instType": st.spec.inst_type, "markPx": rec.px(st.spec, ticks),
                "ts": str(self._now_ms())}

    def _funding_rec(self, st: _Inst) -> dict[str, Any]:
        sched = self.exchange.config.funding
        ft = sched.next_after(self.clock.now_ns())
        return rec.funding_rate(st.spec, st.funding_rate, ft // _MS, (ft + sched.interval_ns) // _MS, self._now_ms())

    def _ticker_rec(self, st: _Inst) -> dict[str, Any]:
        return rec.ticker(st.spec, st.market.book, st.last_ticks, st.last_sz, st.open, st.high, st.low, st.vol_lots,
                          st.vol_quote, self._now_ms())

    # -- housekeeping ---------------------------------------------------------------------------

    async def _housekeeping(self) -> None:
        cfg = self.config
        while True:
            await asyncio.sleep(cfg.tick_s)
            try:
                self._housekeep()
            except Exception:
                log.exception("sim-server: housekeeping failed; continuing")

    def _housekeep(self) -> None:
        cfg = self.config
        now = self._sync_clock()
        for f in self.faults.fire_due(now, self.msgs):
            self._carry_out(f)
        for c in list(self.conns):
            if not c.closing and now - c.last_recv_ns > cfg.idle_timeout_s * _NS:
                c.closing = True
                asyncio.get_running_loop().create_task(self._close_idle(c))
        keep = int(cfg.book_keepalive_s * _NS)
        for st in self.by_idx:
            if st.ticker_dirty and now - st.ticker_sent_ns >= cfg.ticker_interval_s * _NS:
                st.ticker_dirty = False
                st.ticker_sent_ns = now
                self._publish("public", "tickers", st.spec.inst_id, [self._ticker_rec(st)])
            if st.ready and now - st.last_book_ns >= keep:
                st.last_book_ns = now
                data = {"asks": [], "bids": [], "ts": str(now // _MS), "checksum": self._checksum(st),
                        "prevSeqId": st.seq, "seqId": st.seq}
                self._push_books(st, data)
                self._publish("public", "books5", st.spec.inst_id, [self._books5(st, str(now // _MS))])
            if now - st.last_mark_row_ns > cfg.mark_interval_s * _NS and now - st.last_mark_sent_ns >= (
                cfg.mark_interval_s * _NS
            ):
                ref = st.market.reference_ticks()
                if ref is not None:
                    self._publish_mark(st, ref)
        self._flush_private()

    async def _close_idle(self, c: _Conn) -> None:
        # OKX closes a socket that sent nothing for 30 s (§1.2); the close code is ours (UNCONFIRMED)
        with contextlib.suppress(Exception):
            await c.ws.close(code=4004, message=b"No data received in 30s.")

    def _fire_msg_faults(self) -> None:
        if self.faults.has_armed:
            for f in self.faults.fire_due(self.clock.now_ns(), self.msgs):
                self._carry_out(f)

    def _carry_out(self, f: Fault) -> None:
        """Faults that act once, now."""
        p = f.params
        k = f.kind
        if k is FaultKind.DROP_WS:
            for c in list(self.conns):
                if p["socket"] in ("any", c.kind):
                    c.closing = True
                    if c.transport is not None:
                        c.transport.abort()  # no close frame: the client sees the connection die
        elif k is FaultKind.NOTICE:
            for c in self.conns:
                if p["socket"] in ("any", c.kind):
                    self._send(c, _dumps({"event": "notice", "msg": "The connection will soon be closed for a "
                                          "service upgrade. Please reconnect.", "code": "64008",
                                          "connId": c.conn_id}))
        elif k is FaultKind.GHOST_ORDER:
            st = self.insts.get(p["instId"])
            if st is None:
                self.faults.applied.append(f"ghost_order: unknown instrument {p['instId']}; skipped")
                return
            try:
                ticks = _to_units(p["px"], st.spec.tick_sz, "px", False)
                lots = _to_units(p["sz"], st.spec.lot_sz, "sz", True)
            except _Refuse as e:
                self.faults.applied.append(f"ghost_order: {e.msg}; skipped")
                return
            self.exchange.plant_foreign_order(st.spec.inst_id, Side(p["side"]), ticks, lots, p["clOrdId"])
        elif k is FaultKind.SHIFT_POSITION:
            st = self.insts.get(p["instId"])
            if st is None:
                self.faults.applied.append(f"shift_position: unknown instrument {p['instId']}; skipped")
                return
            d = Decimal(p["sz"]) / st.spec.lot_sz
            self.exchange.shift_position(st.spec.inst_id, int(d))
            self._dirty_pos.add(st.spec.inst_id)
            self._dirty_acct = True
        self._flush_private()

    # -- sending --------------------------------------------------------------------------------

    def _send(self, c: _Conn, text: str, private: bool = False) -> None:
        """Queue one frame for a client, through the faults (silence; delay/duplicate/reorder of
        private messages)."""
        if c.closing:
            return
        if self.faults.silent_until and self.faults.silenced(c.kind, self.clock.now_ns()):
            return
        if private:
            act = self.faults.private_action()
            if act.delay_ms > 0:
                self.faults.applied.append(f"delay_private: a message delayed {act.delay_ms:g} ms")
                asyncio.get_running_loop().call_later(act.delay_ms / 1000, c.queue.put_nowait, text)
                return
            if act.reorder and c.held is None:
                c.held = text  # overtaken by the next private message
                self.faults.applied.append("reorder_private: a message held behind the next")
                return
            if act.duplicate:
                self.faults.applied.append("duplicate_private: a message sent twice")
                c.queue.put_nowait(text)
            c.queue.put_nowait(text)
            if c.held is not None and not act.reorder:
                c.queue.put_nowait(c.held)
                c.held = None
            return
        c.queue.put_nowait(text)

    async def _writer(self, c: _Conn) -> None:
        try:
            while True:
                text = await c.queue.get()
                if text is None:
                    return
                await c.ws.send_str(text)
                c.last_recv_ns = time.time_ns()  # OKX closes when nothing is exchanged, either way (§1.2)
        except (ConnectionResetError, RuntimeError, asyncio.CancelledError):
            return
        except Exception:
            log.exception("sim-server: writing to connection %s failed", c.conn_id)

    # -- private pushes -------------------------------------------------------------------------

    def _on_emit(self, ev: Event) -> None:
        if isinstance(ev, FundingEvent):
            self._dirty_pos.add(ev.inst_id)
            self._dirty_acct = True
            return
        if not isinstance(ev, OrderReport):
            return
        if ev.source is not ReportSource.PUSH:
            if self._collect is not None:
                self._collect.append(ev)
            return
        now_ms = self.clock.now_ns() // _MS
        if ev.ord_type is None:
            self._on_algo_push(ev, now_ms)
            return
        v = self.orders.get(ev.ord_id)
        if v is None:
            v = self.orders[ev.ord_id] = _OrderView(ev, now_ms)
            a = self.algos_by_cl.get((ev.inst_id, ev.cl_ord_id))
            if a is not None and a.state == "effective" and not a.trigger:
                a.trigger = ev.ord_id  # this is the triggered stop's child
                v.algo_id, v.algo_cl = a.algo_id, a.algo_cl
        v.report = ev
        v.u_ms = now_ms
        if ev.cl_ord_id:
            self.orders_by_cl[(ev.inst_id, ev.cl_ord_id)] = v
        if ev.fill_lots:
            v.fills.append(ev)
            v.pnl += ev.fill_pnl
            spec = self.insts[ev.inst_id].spec
            self.fills.append(rec.fill(spec, v, ev, now_ms))
            self._dirty_pos.add(ev.inst_id)
            self._dirty_acct = True
            if ev.inst_id not in self._pos_c_ms or not self.exchange.markets[ev.inst_id].position.lots:
                self._pos_c_ms.setdefault(ev.inst_id, now_ms)
        elif ev.state in (OrderState.LIVE, OrderState.CANCELED):
            self._dirty_acct = True  # frozen margin changed
        self._out_orders.append((ev.inst_id, rec.order(self.insts[ev.inst_id].spec, v, self._lever(), ws=True)))

    def _on_algo_push(self, ev: OrderReport, now_ms: int) -> None:
        a = self.algos.get(ev.ord_id)
        if a is None:
            a = _AlgoView(ev.ord_id, ev.cl_ord_id, ev.inst_id, ev.side or Side.SELL, ev.size_lots, now_ms)
            if self._pending_algo_req is not None:
                a.req = self._pending_algo_req
                a.ord_type = a.req.get("ordType", "conditional")
                a.tag = a.req.get("tag", "")
            self.algos[a.algo_id] = a
            if a.algo_cl:
                self.algos_by_cl[(a.inst_id, a.algo_cl)] = a
        a.u_ms = now_ms
        a.state = {OrderState.LIVE: "live", OrderState.CANCELED: "canceled", OrderState.FILLED: "effective"}.get(
            ev.state or OrderState.LIVE, "live")
        self._out_algos.append((a.inst_id, rec.algo(self.insts[a.inst_id].spec, a, self._lever())))

    def _lever(self) -> float:
        return self.exchange.config.leverage

    def _flush_private(self) -> None:
        if not (self._out_orders or self._out_algos or self._dirty_pos or self._dirty_acct):
            return
        orders, self._out_orders = self._out_orders, []
        algos, self._out_algos = self._out_algos, []
        dirty, self._dirty_pos = self._dirty_pos, set()
        acct, self._dirty_acct = self._dirty_acct, False
        for c in self.conns:
            if not c.logged_in:
                continue
            if c.kind == "private":
                for inst_id, r in orders:
                    for a in c.args_for("orders", inst_id):
                        self._send(c, _dumps({"arg": a, "data": [r]}), private=True)
                for inst_id in sorted(dirty):
                    for a in c.args_for("positions", inst_id):
                        self._send(c, _dumps({"arg": a, "data": [self._position_rec(inst_id)]}),
                                   private=True)
                if acct or dirty:
                    for a in c.args_for("account", ""):
                        self._send(c, _dumps({"arg": a, "data": [self._account_rec()]}), private=True)
            elif c.kind == "business":
                for inst_id, r in algos:
                    for a in c.args_for("orders-algo", inst_id):
                        self._send(c, _dumps({"arg": a, "data": [r]}), private=True)

    def _position_rec(self, inst_id: str) -> dict[str, Any]:
        """The position record (pos "0" once flat: pushed when a position closes)."""
        st = self.insts[inst_id]
        m = st.market
        last = st.last_ticks if st.last_ticks is not None else None
        c_ms = self._pos_c_ms.get(inst_id, self._now_ms())
        if not m.position.lots:
            self._pos_c_ms.pop(inst_id, None)
        return rec.position(st.spec, m, st.idx, self._lever(), last, c_ms, self._now_ms())

    def _account_rec(self) -> dict[str, Any]:
        return rec.account(self.exchange, self._now_ms())

    # -- WebSocket ------------------------------------------------------------------------------

    def _ws_handler(self, kind: str) -> Callable[[web.Request], Any]:
        async def handler(request: web.Request) -> web.StreamResponse:
            ws = web.WebSocketResponse(autoping=True, max_msg_size=64 * 1024)
            await ws.prepare(request)
            c = _Conn(ws, kind, request.transport)
            c.writer = asyncio.get_running_loop().create_task(self._writer(c))
            self.conns.add(c)
            try:
                async for msg in ws:
                    c.last_recv_ns = time.time_ns()
                    if msg.type == WSMsgType.TEXT:
                        try:
                            self._on_text(c, msg.data)
                        except Exception:
                            log.exception("sim-server: WS frame on %s failed", kind)
                            self._send(c, _dumps({"event": "error", "msg": "Internal error", "code": "63999",
                                                  "connId": c.conn_id}))
                    elif msg.type == WSMsgType.BINARY:
                        self._ws_error(c, "60012", "Invalid request: binary frames are not accepted")
                    else:
                        break
            finally:
                self.conns.discard(c)
                c.closing = True
                c.queue.put_nowait(None)
            return ws

        return handler

    def _ws_error(self, c: _Conn, code: str, msg: str, req_id: str | None = None) -> None:
        out: dict[str, Any] = {}
        if req_id:
            out["id"] = req_id
        out.update({"event": "error", "msg": msg, "code": code, "connId": c.conn_id})  # the captures' key order
        self._send(c, _dumps(out))

    def _on_text(self, c: _Conn, text: str) -> None:
        if text == "ping":
            self._send(c, "pong")
            return
        try:
            req = json.loads(text)
        except ValueError:
            self._ws_error(c, "60012", f"Invalid request: {text[:200]}")
            return
        if not isinstance(req, dict):
            self._ws_error(c, "60012", f"Invalid request: {text[:200]}")
            return
        op = req.get("op")
        req_id = req.get("id")
        if req_id is not None and not (isinstance(req_id, str) and req_id.isalnum() and len(req_id) <= 32):
            self._ws_error(c, "60012", f"Invalid request: id {req_id!r} must be 1-32 letters and digits")
            return
        args = req.get("args")
        if op in ("subscribe", "unsubscribe"):
            if not isinstance(args, list) or not args:
                self._ws_error(c, "60012", f"Invalid request: {text[:200]}", req_id)
                return
            for a in args:
                self._subscribe(c, a, op == "subscribe", req_id)
        elif op == "login":
            self._login(c, args)
        elif op in _WS_OPS:
            self._ws_trade(c, op, req_id, args, req.get("expTime"))
        else:
            self._ws_error(c, "60019", f"Invalid OP: {op}", req_id)

    def _login(self, c: _Conn, args: Any) -> None:
        a = args[0] if isinstance(args, list) and args and isinstance(args[0], dict) else None
        if a is None:
            self._ws_error(c, "60009", "Login failed.")
            return
        creds = self.creds
        ts = str(a.get("timestamp", ""))
        if a.get("apiKey") != creds.api_key:
            self._ws_error(c, "60032", "API key doesn't exist")
            return
        if a.get("passphrase") != creds.passphrase:
            self._ws_error(c, "60024", "Wrong passphrase")
            return
        try:
            ts_s = float(ts)
        except ValueError:
            self._ws_error(c, "60004", f"Invalid timestamp: {ts[:40]}")
            return
        if abs(time.time() - ts_s) > self.config.max_skew_s:
            self._ws_error(c, "60006", "Timestamp request expired")
            return
        if not verify_ws_login(creds.secret_key, ts, str(a.get("sign", ""))):
            self._ws_error(c, "60007", "Invalid sign")
            return
        c.logged_in = True
        self._send(c, _dumps({"event": "login", "code": "0", "msg": "", "connId": c.conn_id}))

    def _subscribe(self, c: _Conn, a: Any, on: bool, req_id: str | None) -> None:
        if not isinstance(a, dict) or not isinstance(a.get("channel"), str):
            self._ws_error(c, "60012", f"Invalid request: {_dumps(a)[:200]}", req_id)
            return
        ch: str = a["channel"]
        inst_id = a.get("instId", "")
        bar = ch[6:] if ch.startswith("candle") else None
        if c.kind == "public":
            ok_channel = ch in _PUBLIC
        elif c.kind == "private":
            ok_channel = ch in _PRIVATE
        else:
            ok_channel = (bar is not None and bar in rec.BARS) or ch in _BUSINESS_PRIVATE
        needs_inst = ch in _PUBLIC or bar is not None
        if not ok_channel or (needs_inst and inst_id not in self.insts) or (
            inst_id and inst_id not in self.insts
        ):
            self._ws_error(c, "60018", f"Wrong URL or channel:{ch}, instId:{inst_id} doesn't exist. Please use the "
                           "correct URL, channel and parameters referring to API document.", req_id)
            return
        if (ch in _PRIVATE or ch in _BUSINESS_PRIVATE) and not c.logged_in:
            self._ws_error(c, "60011", "Please log in", req_id)
            return
        key = _dumps(a)
        ack: dict[str, Any] = {}
        if req_id:
            ack["id"] = req_id
        ack.update({"event": "subscribe" if on else "unsubscribe", "arg": a, "connId": c.conn_id})
        if not on:
            c.subs.pop(key, None)
            if ch == "books" and not c.args_for("books", inst_id):
                c.synced.discard(inst_id)
            self._send(c, _dumps(ack))
            return
        c.subs[key] = a
        self._send(c, _dumps(ack))
        if ch in _PRIVATE:
            n = sum(1 for o in self.conns if o.kind == "private" and o.args_for(ch, inst_id))
            self._send(c, _dumps({"event": "channel-conn-count", "channel": ch, "connCount": str(n),
                                  "connId": c.conn_id}))
        self._initial_push(c, a, ch, inst_id)

    def _initial_push(self, c: _Conn, a: dict[str, Any], ch: str, inst_id: str) -> None:
        st = self.insts.get(inst_id)

        def push(data: list[Any]) -> None:
            self._send(c, _dumps({"arg": a, "data": data}), private=c.kind != "public")

        if ch == "books" and st is not None:
            c.synced.discard(inst_id)
            if st.ready:
                self._send_books_snapshot(c, st)
        elif ch == "books5" and st is not None and st.ready:
            push([self._books5(st, str(self._now_ms()))])
        elif ch == "bbo-tbt" and st is not None and st.ready:
            bids, asks = st.market.book.depth(1)
            push([{"asks": rec.levels(st.spec, asks), "bids": rec.levels(st.spec, bids), "ts": str(self._now_ms()),
                   "seqId": st.seq}])
        elif ch == "tickers" and st is not None and st.ready:
            push([self._ticker_rec(st)])
        elif ch == "funding-rate" and st is not None:
            push([self._funding_rec(st)])
        elif ch == "mark-price" and st is not None:
            ref = st.market.reference_ticks()
            if ref is not None:
                push([self._mark_rec(st, ref)])
        elif ch == "positions":
            push([self._position_rec(i) for i in self.insts if self.insts[i].market.position.lots
                  and (not inst_id or i == inst_id)])
        elif ch == "account":
            push([self._account_rec()])

    # -- trading ops (REST and WS) --------------------------------------------------------------

    def _inst(self, arg: dict[str, Any], ws: bool) -> _Inst:
        code = arg.get("instIdCode")
        if ws and code not in (None, ""):
            try:
                st = self.by_code.get(int(code))
            except (TypeError, ValueError):
                st = None
            if st is None:
                raise _Refuse("51001", rec.MSG_NO_INST)
            return st  # instIdCode wins when both are sent (§0)
        inst_id = arg.get("instId")
        if inst_id in (None, ""):
            raise _Refuse("50014", "Parameter instIdCode can not be empty." if ws else
                          "Parameter instId can not be empty.")
        st = self.insts.get(inst_id) if isinstance(inst_id, str) else None
        if st is None:
            raise _Refuse("51001", rec.MSG_NO_INST)
        return st

    def _exchange_call(self, fn: Callable[[], None]) -> list[OrderReport]:
        """Run one exchange command and return the acks it emitted (pushes are queued)."""
        self._sync_clock()
        self._collect = []
        try:
            fn()
            return self._collect
        finally:
            self._collect = None

    def _place(self, arg: Any, ws: bool) -> dict[str, Any]:
        """One placement -> its result item (raises _Refuse for a request-level error)."""
        if not isinstance(arg, dict):
            raise _Refuse("50002", "Json data format error")
        st = self._inst(arg, ws)
        spec = st.spec
        side_s = _need(arg, "side")
        ord_s = _need(arg, "ordType")
        sz = _need(arg, "sz")
        td = _need(arg, "tdMode")
        if side_s not in ("buy", "sell"):
            raise _param("side")
        ord_type = _ORD_TYPES.get(ord_s) if isinstance(ord_s, str) else None
        if ord_type is None:
            raise _param("ordType")
        if td not in ("cross", "isolated"):
            raise _param("tdMode")  # the emulator margins everything as cross (isolated accepted as cross)
        if arg.get("posSide", "net") not in ("", "net"):
            raise _Refuse("51000", "Parameter posSide error")  # net mode only
        px = arg.get("px", "")
        if ord_type is not OrderType.MARKET and px in (None, ""):
            raise _Refuse("50014", "Parameter px can not be empty.")
        cl = arg.get("clOrdId", "") or ""
        tag = arg.get("tag", "") or ""
        if not isinstance(cl, str) or not isinstance(tag, str):
            raise _param("clOrdId" if not isinstance(cl, str) else "tag")
        item = {"clOrdId": cl, "ordId": "", "sCode": "0", "sMsg": "", "tag": tag, "ts": str(self._now_ms())}
        try:
            ticks, lots = parse_px_sz(spec, "" if ord_type is OrderType.MARKET else str(px), str(sz))
        except SimReject as e:
            item.update(sCode=e.code, sMsg=e.msg)
            return item
        order = Order(cl, spec.inst_id, Side(side_s), ord_type, lots, ticks, _bool(arg.get("reduceOnly")))
        acks = self._exchange_call(lambda: self.exchange.place_order(order))
        ack = acks[0] if acks else None
        if ack is None:
            item.update(sCode="50026", sMsg="System error, please try again later.")
            return item
        item.update(ordId=ack.ord_id, sCode=ack.s_code, sMsg="" if ws and ack.s_code == "0" else ack.s_msg,
                    ts=str(self._now_ms()))
        v = self.orders.get(ack.ord_id) if ack.ord_id else None
        if v is not None:
            v.tag = tag
            v.td_mode = td
            item["ts"] = str(v.c_ms)
        return item

    def _cancel(self, arg: Any, ws: bool) -> dict[str, Any]:
        if not isinstance(arg, dict):
            raise _Refuse("50002", "Json data format error")
        st = self._inst(arg, ws)
        ord_id = str(arg.get("ordId") or "")
        cl = str(arg.get("clOrdId") or "")
        if not ord_id and not cl:
            raise _Refuse("50014", "Parameter ordId can not be empty.")
        acks = self._exchange_call(lambda: self.exchange.cancel_order(st.spec.inst_id, cl, ord_id or None))
        ack = acks[0]
        v = self.orders.get(ack.ord_id)
        return {"clOrdId": ack.cl_ord_id, "ordId": ack.ord_id, "sCode": ack.s_code, "sMsg": ack.s_msg,
                "ts": str(v.c_ms if v is not None else self._now_ms())}

    def _amend(self, arg: Any, ws: bool) -> dict[str, Any]:
        if not isinstance(arg, dict):
            raise _Refuse("50002", "Json data format error")
        st = self._inst(arg, ws)
        spec = st.spec
        ord_id = str(arg.get("ordId") or "")
        cl = str(arg.get("clOrdId") or "")
        req_id = str(arg.get("reqId") or "")
        if not ord_id and not cl:
            raise _Refuse("50014", "Parameter ordId can not be empty.")
        new_sz, new_px = arg.get("newSz"), arg.get("newPx")
        item = {"clOrdId": cl, "ordId": ord_id, "reqId": req_id, "sCode": "0", "sMsg": "", "ts": str(self._now_ms())}
        try:
            lots = None if new_sz in (None, "") else _to_units(new_sz, spec.lot_sz, "newSz", True)
            ticks = None if new_px in (None, "") else _to_units(new_px, spec.tick_sz, "newPx", False)
        except _Refuse as e:
            item.update(sCode=e.code, sMsg=e.msg)
            return item
        if lots is None and ticks is None:
            item.update(sCode="51000", sMsg="Parameter newSz error")
            return item
        acks = self._exchange_call(lambda: self.exchange.amend_order(
            spec.inst_id, cl, ord_id or None, new_price_ticks=ticks, new_size_lots=lots, req_id=req_id))
        ack = acks[0]
        if _bool(arg.get("cxlOnFail")) and ack.s_code != "0" and ack.ord_id:
            self._exchange_call(lambda: self.exchange.cancel_order(spec.inst_id, ack.cl_ord_id, ack.ord_id))
        v = self.orders.get(ack.ord_id)
        item.update(clOrdId=ack.cl_ord_id, ordId=ack.ord_id, sCode=ack.s_code, sMsg=ack.s_msg,
                    ts=str(v.c_ms if v is not None else self._now_ms()))
        return item

    def _run_items(self, fn: Callable[[Any, bool], dict[str, Any]], args: list[Any], ws: bool,
                   batch: bool) -> tuple[str, str, list[dict[str, Any]]]:
        """(code, msg, items) for a single or batch op; a single op's request-level refusal is the
        envelope's code (data []), a batch item's is that item's sCode."""
        items: list[dict[str, Any]] = []
        for a in args:
            try:
                items.append(fn(a, ws))
            except _Refuse as e:
                if not batch:
                    return e.code, e.msg, []
                a = a if isinstance(a, dict) else {}
                items.append({"clOrdId": str(a.get("clOrdId") or ""), "ordId": str(a.get("ordId") or ""),
                              "sCode": e.code, "sMsg": e.msg, "tag": str(a.get("tag") or ""),
                              "ts": str(self._now_ms())})
        ok = sum(1 for i in items if i["sCode"] == "0")
        if ok == len(items):
            return "0", "", items
        if ok == 0:
            return "1", "" if ws else "All operations failed", items
        return "2", "" if ws else "Batch operation partially succeeded", items

    def _ws_trade(self, c: _Conn, op: str, req_id: str | None, args: Any, exp_time: Any) -> None:
        in_us = time.time_ns() // 1000
        if not req_id:
            self._ws_error(c, "60012", f"Invalid request: op {op} needs an id")
            return
        head = {"id": req_id, "op": op}
        if c.kind != "private" or not c.logged_in:
            self._send(c, _dumps({**head, "code": "60011", "msg": "Please log in", "data": [],
                                  "inTime": str(in_us), "outTime": str(time.time_ns() // 1000)}))
            return
        batch = op.startswith("batch-")
        if not isinstance(args, list) or not args or (not batch and len(args) != 1) or len(args) > 20:
            self._send(c, _dumps({**head, "code": "60013", "msg": "Invalid args", "data": [],
                                  "inTime": str(in_us), "outTime": str(time.time_ns() // 1000)}))
            return
        if exp_time not in (None, "") and self._expired(exp_time):
            self._send(c, _dumps({**head, "code": "60013", "msg": "Request expired (expTime)", "data": [],
                                  "inTime": str(in_us), "outTime": str(time.time_ns() // 1000)}))
            return
        fn = {"order": self._place, "batch-orders": self._place, "cancel-order": self._cancel,
              "batch-cancel-orders": self._cancel, "amend-order": self._amend,
              "batch-amend-orders": self._amend}[op]
        code, msg, items = self._run_items(fn, args, True, batch)
        if op in ("order", "batch-orders"):
            for i in items:
                i["subCode"] = ""
            if any(i["sCode"] == "0" for i in items) and self.faults.take_lose_ack("ws"):
                self._flush_private()
                return
        self._send(c, _dumps({**head, "code": code, "msg": msg, "data": items, "inTime": str(in_us),
                              "outTime": str(time.time_ns() // 1000)}), private=True)
        self._flush_private()

    def _expired(self, exp_time: Any) -> bool:
        try:
            return int(str(exp_time)) < time.time_ns() // _MS
        except ValueError:
            return False

    # -- REST -----------------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Callable[[web.Request], Any]) -> web.StreamResponse:
        """OKX's 404 body for unknown paths; 50026 rather than a crash for a handler bug."""
        try:
            return await handler(request)
        except web.HTTPNotFound:
            return web.json_response({"code": 404, "data": {}, "detailMsg": "", "error_code": "404",
                                      "error_message": "Not Found", "msg": "Not Found"}, status=404)
        except web.HTTPMethodNotAllowed:
            return web.json_response({"code": 405, "data": {}, "detailMsg": "", "error_code": "405",
                                      "error_message": "Method Not Allowed", "msg": "Method Not Allowed"},
                                     status=405)
        except web.HTTPException:
            raise
        except Exception:
            log.exception("sim-server: %s %s failed", request.method, request.path)
            return _json({"code": "50026", "data": [], "msg": "System error, please try again later."}, 500)

    def _routes(self) -> dict[str, tuple[str, Callable[..., Any], bool]]:
        return {
            "/api/v5/public/time": ("GET", self._r_time, False),
            "/api/v5/public/instruments": ("GET", self._r_instruments, False),
            "/api/v5/market/ticker": ("GET", self._r_ticker, False),
            "/api/v5/market/books": ("GET", self._r_books, False),
            "/api/v5/public/funding-rate": ("GET", self._r_funding, False),
            "/api/v5/public/mark-price": ("GET", self._r_mark, False),
            "/api/v5/trade/order": ("*", self._r_order, True),
            "/api/v5/trade/batch-orders": ("POST", self._r_batch_orders, True),
            "/api/v5/trade/cancel-order": ("POST", self._r_cancel, True),
            "/api/v5/trade/cancel-batch-orders": ("POST", self._r_cancel_batch, True),
            "/api/v5/trade/amend-order": ("POST", self._r_amend, True),
            "/api/v5/trade/amend-batch-orders": ("POST", self._r_amend_batch, True),
            "/api/v5/trade/orders-pending": ("GET", self._r_pending, True),
            "/api/v5/trade/fills": ("GET", self._r_fills, True),
            "/api/v5/trade/order-algo": ("POST", self._r_algo, True),
            "/api/v5/trade/cancel-algos": ("POST", self._r_cancel_algos, True),
            "/api/v5/trade/orders-algo-pending": ("GET", self._r_algo_pending, True),
            "/api/v5/trade/close-position": ("POST", self._r_close, True),
            "/api/v5/account/balance": ("GET", self._r_balance, True),
            "/api/v5/account/positions": ("GET", self._r_positions, True),
            "/api/v5/account/set-leverage": ("POST", self._r_leverage, True),
            "/api/v5/account/config": ("GET", self._r_config, True),
        }

    def _rest(self, path: str, method: str, handler: Callable[..., Any], private: bool) -> Callable[..., Any]:
        async def serve(request: web.Request) -> web.StreamResponse:
            in_us = time.time_ns() // 1000
            raw = await request.read()
            if private:
                denied = self._auth(request, raw)
                if denied is not None:
                    return denied
            fault = self.faults.rest_fault()
            if fault is not None:
                if fault.status == 429:
                    return _json({"msg": fault.msg, "code": fault.code}, 429)
                return _json({"code": fault.code, "data": [], "msg": fault.msg}, fault.status)
            key = path + (":GET" if path == "/api/v5/trade/order" and request.method == "GET" else "")
            if self.config.rest_rate_limits and not self._rest_rate_ok(key):
                return _json({"msg": "Too Many Requests", "code": "50011"}, 429)
            body: Any = None
            if request.method == "POST":
                if not raw.strip():
                    return _json({"code": "50000", "data": [], "msg": "Body can not be empty."}, 400)
                try:
                    body = json.loads(raw)
                except ValueError:
                    return _json({"code": "50002", "data": [], "msg": "Json data format error"}, 400)
            self._sync_clock()
            try:
                out = handler(request, body, in_us)
            except _Refuse as e:
                out = {"code": e.code, "data": [], "msg": e.msg}
            self._flush_private()
            if out is None:  # a lost ack: the order landed, the answer never comes
                if request.transport is not None:
                    request.transport.abort()
                raise asyncio.CancelledError
            return _json(out)

        return serve

    def _auth(self, request: web.Request, raw: bytes) -> web.Response | None:
        h = request.headers
        key = h.get("OK-ACCESS-KEY", "")
        sign = h.get("OK-ACCESS-SIGN", "")
        ts = h.get("OK-ACCESS-TIMESTAMP", "")
        phrase = h.get("OK-ACCESS-PASSPHRASE", "")

        def deny(code: str, msg: str) -> web.Response:
            return _json({"msg": msg, "code": code}, 401)

        if not key:
            return deny("50103", "Request header OK-ACCESS-KEY can not be empty.")
        if not phrase:
            return deny("50104", "Request header OK-ACCESS-PASSPHRASE can not be empty.")
        if not sign:
            return deny("50106", "Request header OK-ACCESS-SIGN can not be empty.")
        if not ts:
            return deny("50107", "Request header OK-ACCESS-TIMESTAMP can not be empty.")
        if key != self.creds.api_key:
            return deny("50111", "Invalid OK-ACCESS-KEY")
        if phrase != self.creds.passphrase:
            return deny("50105", "Request header OK-ACCESS-PASSPHRASE incorrect.")
        ts_ms = rec.parse_iso_ms(ts)
        if ts_ms is None:
            return deny("50112", "Invalid OK-ACCESS-TIMESTAMP")
        if abs(time.time_ns() // _MS - ts_ms) > self.config.max_skew_s * 1000:
            return deny("50102", "Timestamp request expired")
        if not verify_signature(self.creds.secret_key, ts, request.method, request.raw_path, raw, sign):
            return deny("50113", "Invalid Sign")
        return None

    def _rest_rate_ok(self, key: str) -> bool:
        limit = _REST_LIMITS.get(key)
        if limit is None:
            return True
        now = time.time_ns()
        times = [t for t in self._rest_times.get(key, ()) if t > now - 2 * _NS]
        times.append(now)
        self._rest_times[key] = times
        return len(times) <= limit

    def _query_inst(self, q: Any, required: bool = True) -> _Inst | None:
        inst_id = q.get("instId", "")
        if not inst_id:
            if required:
                raise _Refuse("50014", "Parameter instId can not be empty.")
            return None
        st = self.insts.get(inst_id)
        if st is None:
            raise _Refuse("51001", rec.MSG_NO_INST)
        return st

    # public

    def _r_time(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        return _ok([{"ts": str(time.time_ns() // _MS)}])

    def _r_instruments(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        q = request.query
        inst_type = q.get("instType", "")
        if not inst_type:
            raise _Refuse("50014", "Parameter instType can not be empty.")
        out = []
        for st in self.by_idx:
            s = st.spec
            if s.inst_type != inst_type:
                continue
            if q.get("instId") and q["instId"] != s.inst_id:
                continue
            if q.get("instFamily") and q["instFamily"] != rec.family(s):
                continue
            out.append(rec.instrument(s, st.code, self._lever()))
        if q.get("instId") and not out:
            raise _Refuse("51001", rec.MSG_NO_INST)
        return _ok(out)

    def _r_ticker(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        st = self._query_inst(request.query)
        assert st is not None
        return _ok([self._ticker_rec(st)])

    def _r_books(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        st = self._query_inst(request.query)
        assert st is not None
        try:
            n = int(request.query.get("sz", "1"))
        except ValueError:
            raise _param("sz") from None
        if not 1 <= n <= 400:
            raise _param("sz")
        bids, asks = st.market.book.depth(n)
        return _ok([{"asks": rec.levels(st.spec, asks), "bids": rec.levels(st.spec, bids),
                     "ts": str(self._now_ms()), "seqId": st.seq}])

    def _r_funding(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        st = self._query_inst(request.query)
        assert st is not None
        return _ok([self._funding_rec(st)])

    def _r_mark(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        out = []
        for st in self.by_idx:
            if request.query.get("instId") and request.query["instId"] != st.spec.inst_id:
                continue
            ref = st.market.reference_ticks()
            if ref is not None:
                out.append(self._mark_rec(st, ref))
        return _ok(out)

    # trade

    def _trade_envelope(self, code: str, msg: str, items: list[dict[str, Any]], in_us: int) -> dict[str, Any]:
        return {"code": code, "data": items, "inTime": str(in_us), "msg": msg, "outTime": str(time.time_ns() // 1000)}

    def _check_exp(self, request: web.Request) -> None:
        exp = request.headers.get("expTime")
        if exp and self._expired(exp):
            raise _Refuse("50102", "Timestamp request expired")  # OKX discards it (expTime header, §2.1)

    def _r_order(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any] | None:
        if request.method == "GET":
            return self._r_order_status(request)
        if request.method != "POST":
            raise web.HTTPMethodNotAllowed(request.method, ["GET", "POST"])
        self._check_exp(request)
        if not isinstance(body, dict):
            raise _Refuse("50002", "Json data format error")
        code, msg, items = self._run_items(self._place, [body], False, False)
        if code in ("0",) and self.faults.take_lose_ack("rest"):
            return None
        return self._trade_envelope(code, msg, items, in_us)

    def _r_batch_orders(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any] | None:
        self._check_exp(request)
        args = self._batch_args(body)
        code, msg, items = self._run_items(self._place, args, False, len(args) > 1)
        if code in ("0", "2") and self.faults.take_lose_ack("rest"):
            return None
        return self._trade_envelope(code, msg, items, in_us)

    def _batch_args(self, body: Any) -> list[Any]:
        if not isinstance(body, list) or not body:
            raise _Refuse("50002", "Json data format error")
        if len(body) > 20:
            raise _Refuse("51000", "Parameter batch size error: at most 20 orders per request")
        return body

    def _r_cancel(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        return self._trade_envelope(*self._run_items(self._cancel, [body], False, False), in_us)

    def _r_cancel_batch(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        args = self._batch_args(body)
        return self._trade_envelope(*self._run_items(self._cancel, args, False, len(args) > 1), in_us)

    def _r_amend(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        self._check_exp(request)
        return self._trade_envelope(*self._run_items(self._amend, [body], False, False), in_us)

    def _r_amend_batch(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        self._check_exp(request)
        args = self._batch_args(body)
        return self._trade_envelope(*self._run_items(self._amend, args, False, len(args) > 1), in_us)

    def _r_order_status(self, request: web.Request) -> dict[str, Any]:
        q = request.query
        st = self._query_inst(q)
        assert st is not None
        ord_id, cl = q.get("ordId", ""), q.get("clOrdId", "")
        if not ord_id and not cl:
            raise _Refuse("50014", "Parameter ordId can not be empty.")
        v = self.orders.get(ord_id) if ord_id else self.orders_by_cl.get((st.spec.inst_id, cl))
        if v is None or v.report.inst_id != st.spec.inst_id:
            raise _Refuse("51603", "Order does not exist")
        return _ok([rec.order(st.spec, v, self._lever(), ws=False)])

    def _r_pending(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        q = request.query
        st = self._query_inst(q, required=False)
        live = [v for v in self.orders.values()
                if v.report.state in (OrderState.LIVE, OrderState.PARTIALLY_FILLED)
                and (st is None or v.report.inst_id == st.spec.inst_id)
                and (not q.get("ordType") or (v.report.ord_type and v.report.ord_type.value == q["ordType"]))
                and (not q.get("state") or v.report.state.value == q["state"])]
        live.sort(key=lambda v: int(v.report.ord_id), reverse=True)
        limit = _limit(q)
        return _ok([rec.order(self.insts[v.report.inst_id].spec, v, self._lever(), ws=False) for v in live[:limit]])

    def _r_fills(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        q = request.query
        out = [f for f in reversed(self.fills)
               if (not q.get("instId") or f["instId"] == q["instId"])
               and (not q.get("ordId") or f["ordId"] == q["ordId"])
               and (not q.get("instType") or f["instType"] == q["instType"])]
        return _ok(out[:_limit(q)])

    def _r_algo(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _Refuse("50002", "Json data format error")
        st = self._inst(body, False)
        spec = st.spec
        side_s = _need(body, "side")
        ord_type = _need(body, "ordType")
        _need(body, "tdMode")
        if side_s not in ("buy", "sell"):
            raise _param("side")
        if ord_type not in ("conditional", "trigger"):
            raise _Refuse("51000", "Parameter ordType error: the emulator supports conditional and trigger")
        if ord_type == "trigger":
            trig, ord_px, trig_type = body.get("triggerPx"), body.get("orderPx"), body.get("triggerPxType")
        elif body.get("slTriggerPx") not in (None, ""):
            trig, ord_px, trig_type = body.get("slTriggerPx"), body.get("slOrdPx"), body.get("slTriggerPxType")
        else:
            trig, ord_px, trig_type = body.get("tpTriggerPx"), body.get("tpOrdPx"), body.get("tpTriggerPxType")
        if trig in (None, ""):
            raise _Refuse("50014", "Parameter slTriggerPx can not be empty.")
        trigger_ticks = _to_units(trig, spec.tick_sz, "triggerPx", False)
        order_ticks = None if ord_px in (None, "", "-1") else _to_units(ord_px, spec.tick_sz, "orderPx", False)
        try:
            tpt = TriggerPxType(trig_type or "last")
        except ValueError:
            raise _param("triggerPxType") from None
        if str(body.get("closeFraction", "")) == "1":
            lots = abs(st.market.position.lots)
            if not lots:
                raise _Refuse("51023", "Position does not exist.")
        else:
            lots = _to_units(_need(body, "sz"), spec.lot_sz, "sz", True)
        algo_cl = str(body.get("algoClOrdId") or "")
        tag = str(body.get("tag") or "")
        algo = AlgoOrder(algo_cl, spec.inst_id, Side(side_s), lots, trigger_ticks, order_ticks, tpt)
        self._pending_algo_req = {**body, "ordType": ord_type, "tag": tag}
        try:
            acks = self._exchange_call(lambda: self.exchange.place_algo(algo))
        finally:
            self._pending_algo_req = None
        ack = acks[0]
        item = {"algoClOrdId": algo_cl, "algoId": ack.ord_id, "clOrdId": algo_cl, "sCode": ack.s_code,
                "sMsg": ack.s_msg, "tag": tag}
        code = "0" if ack.s_code == "0" else "1"
        return {"code": code, "data": [item], "msg": "" if code == "0" else "All operations failed"}

    def _r_cancel_algos(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        args = self._batch_args(body)
        items = []
        for a in args:
            if not isinstance(a, dict):
                raise _Refuse("50002", "Json data format error")
            st = self._inst(a, False)
            algo_id = str(a.get("algoId") or "")
            algo_cl = str(a.get("algoClOrdId") or "")
            if not algo_id and not algo_cl:
                raise _Refuse("50014", "Parameter algoId can not be empty.")
            acks = self._exchange_call(lambda st=st, i=algo_id, c=algo_cl: self.exchange.cancel_algo(
                st.spec.inst_id, i or None, c or None))
            ack = acks[0]
            items.append({"algoClOrdId": ack.cl_ord_id, "algoId": ack.ord_id, "sCode": ack.s_code,
                          "sMsg": ack.s_msg})
        ok = sum(1 for i in items if i["sCode"] == "0")
        code = "0" if ok == len(items) else ("1" if ok == 0 else "2")
        return {"code": code, "data": items, "msg": "" if code == "0" else "All operations failed"}

    def _r_algo_pending(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        q = request.query
        if not q.get("ordType"):
            raise _Refuse("50014", "Parameter ordType can not be empty.")
        out = [rec.algo(self.insts[a.inst_id].spec, a, self._lever()) for a in self.algos.values()
               if a.state == "live" and a.ord_type in q["ordType"].split(",")
               and (not q.get("instId") or a.inst_id == q["instId"])]
        out.sort(key=lambda r: int(r["algoId"]), reverse=True)
        return _ok(out[:_limit(q)])

    def _r_close(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _Refuse("50002", "Json data format error")
        st = self._inst(body, False)
        if _need(body, "mgnMode") not in ("cross", "isolated"):
            raise _param("mgnMode")
        cl = str(body.get("clOrdId") or "")
        tag = str(body.get("tag") or "")
        auto = _bool(body.get("autoCxl"))
        acks = self._exchange_call(lambda: self.exchange.close_position(st.spec.inst_id, cl, auto_cxl=auto))
        ack = next((a for a in acks if a.ord_type is not None), acks[-1])
        if ack.s_code != "0":
            raise _Refuse(ack.s_code, ack.s_msg)
        v = self.orders.get(ack.ord_id)
        if v is not None:
            v.tag = tag
        return _ok([{"clOrdId": cl, "instId": st.spec.inst_id, "posSide": "net", "tag": tag}])

    # account

    def _r_balance(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        return _ok([self._account_rec()])

    def _r_positions(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        q = request.query
        if q.get("instId"):
            self._query_inst(q)
        wanted = set(q.get("instId", "").split(",")) - {""}
        return _ok([self._position_rec(i) for i, st in self.insts.items()
                    if st.market.position.lots and (not wanted or i in wanted)])

    def _r_leverage(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _Refuse("50002", "Json data format error")
        lever_s = _need(body, "lever")
        mgn = _need(body, "mgnMode")
        st = self._query_inst(body, required=False)
        if st is None and not body.get("ccy"):
            raise _Refuse("50014", "Parameter instId can not be empty.")
        try:
            lever = float(lever_s)
        except (TypeError, ValueError):
            raise _param("lever") from None
        if not 0.01 <= lever <= 125:
            raise _param("lever")
        # The SimExchange has one cross leverage for the account: the last one set wins for all.
        self.exchange.config = replace(self.exchange.config, leverage=lever)
        self._dirty_acct = True
        return _ok([{"instId": st.spec.inst_id if st else "", "lever": str(lever_s), "mgnMode": mgn,
                     "posSide": body.get("posSide", "net") or "net"}])

    def _r_config(self, request: web.Request, body: Any, in_us: int) -> dict[str, Any]:
        return _ok([rec.account_config(self.creds.api_key)])

    # -- admin ----------------------------------------------------------------------------------

    async def _admin_faults(self, request: web.Request) -> web.Response:
        try:
            obj = json.loads(await request.read())
            faults = parse_faults(obj, "POST /admin/faults")
        except ValueError as e:
            return web.json_response({"error": f"POST /admin/faults: not valid JSON ({e})"}, status=400)
        except FaultScriptError as e:
            return web.json_response({"error": str(e)}, status=400)
        now = self._sync_clock()
        self.faults.arm(faults, now, self.msgs)
        for f in self.faults.fire_due(now, self.msgs):  # at_s 0 / after_msgs 0: at once
            self._carry_out(f)
        return web.json_response({"armed": len(faults), "faults": [f.to_json() for f in faults]})

    async def _admin_state(self, request: web.Request) -> web.Response:
        acct = self.exchange.account()
        return web.json_response({
            "url": self.url,
            "speed": self.config.speed,
            "book_checksum": self.config.book_checksum.value,
            "source": self.source.describe,
            "data": {"passes": self.passes, "rows": self.rows, "msgs": self.msgs, "ended": self.ended},
            "instruments": {st.spec.inst_id: {"instIdCode": st.code, "seqId": st.seq, "ready": st.ready,
                                              "bestBid": rec.px_or_empty(st.spec, st.market.book.best_bid, True),
                                              "bestAsk": rec.px_or_empty(st.spec, st.market.book.best_ask, False)}
                            for st in self.by_idx},
            "connections": [{"socket": c.kind, "connId": c.conn_id, "loggedIn": c.logged_in,
                             "subscriptions": list(c.subs.values())} for c in self.conns],
            "account": {"equity": acct.equity, "balance": acct.balance, "available": acct.available},
            "positions": [{"instId": p.inst_id, "pos": self.insts[p.inst_id].spec.format_size(p.lots),
                           "avgPx": p.avg_px} for p in self.exchange.positions()],
            "openOrders": sum(len(m.orders) for m in self.exchange.markets.values()),
            "faults": self.faults.snapshot(),
        })


def _ok(data: list[Any]) -> dict[str, Any]:
    return {"code": "0", "data": data, "msg": ""}


def _json(obj: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=_dumps(obj), status=status, content_type="application/json")


def _limit(q: Any) -> int:
    try:
        n = int(q.get("limit", "100"))
    except ValueError:
        raise _param("limit") from None
    if not 1 <= n <= 100:
        raise _param("limit")
    return n
