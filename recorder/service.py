"""The recording service behind ``athena record``: OKX public WebSockets → raw journal + catalog rows.

Owns: ``Recorder`` — one process recording many instruments: an ``OkxPublicWsGateway`` per socket
(public; business for candles), subclassed as ``RecordingSocket`` only to see each frame as it
was received (stamped, then journaled byte for byte) and each push as the parsers typed it (kept
strings → exact catalog integers, like ``okx_ws_import``); the gateway keeps doing what it owns —
reconnect with backoff, watchdog, resubscribe, the checked L2 book and its resync, which gates book
updates until a fresh snapshot is in. The recorder adds: ``books`` rows only for messages the
gateway accepted (every snapshot followed by a flagged checkpoint, and a checkpoint of the checked
book opening every later ``date=`` partition), ``msg_id`` continuing the catalog's across restarts,
``sessions`` rows for every connect, disconnect, reconnect, subscribe, resubscribe, seq gap,
checksum failure, resync, restart and backlog drop, the restart's recovery (the frames the previous
run journaled but whose rows a crash kept from the catalog — up to a part's age — are replayed from
the journal through the same row code, books rebuilt from the last snapshot at or before the
catalog's last books row, before any socket connects), and the disk side: two threads (the raw journal,
fsynced at least every 0.5 s; the ``CatalogWriter``, parts every few seconds) fed by hand-offs every
0.1 s, so the event loop never waits for a disk.
Backlog policy (the disk slower than the feed): memory waiting for the disk is bounded. Past half
the row budget or the journal budget, raw journal lines are dropped first (the catalog rows are
the product; the journal is the safety copy); past the row budget, catalog rows are dropped too,
and when that ends every book is resynced from a fresh snapshot. Each start and end of a drop is a
``gap`` row in ``sessions`` and a log warning; sessions rows are never dropped.
Never: blocks the event loop on a disk, writes a book message the gateway did not accept, rounds
a price or a size, or imports ``sim``, ``oms`` or ``strategies``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import pyarrow.parquet as pq

from athena.book.l2 import L2Book
from athena.catalog import meta
from athena.catalog.reader import part_files
from athena.catalog.schema import BookRowAction, SessionKind, TakerSide
from athena.catalog.writer import NS_PER_DAY, NS_PER_SECOND, CatalogWriter, partition_dir
from athena.core.events import BookEvent, ConnectionEvent, ErrorEvent, Event
from athena.core.ports import ASK, BID, ListLevels
from athena.errors import BookError, ConfigError, GatewayError
from athena.gateways.okx.mapping import book_levels, ms_to_ns
from athena.gateways.okx.parsers import (
    BookData,
    BooksPush,
    CandlesPush,
    FundingRatePush,
    MarkPricePush,
    OkxChannel,
    OkxParseError,
    TickersPush,
    TradesPush,
    WsArg,
    WsMessage,
    WsSubscribe,
    parse_ws,
)
from athena.gateways.okx.ws_public import OkxPublicWsGateway
from athena.model.enums import Channel, ConnectionStatus, Side
from athena.model.instrument import InstrumentSpec
from recorder.journal import Entry, JournalThread, RawJournal, iter_journal, journal_tail
from recorder.status import RecorderStats, StatusDisplay

__all__ = [
    "DATA_CHANNELS",
    "CatalogThread",
    "RecordReport",
    "Recorder",
    "RecorderSettings",
    "RecordingSocket",
    "Recovery",
    "okx_subscription",
    "parse_channels",
]

log = logging.getLogger(__name__)

MS: Final = 1_000_000
PUBLIC: Final = "public"
BUSINESS: Final = "business"
BOOKS_CHANNEL: Final = OkxChannel.BOOKS.value  # 400 levels, checksummed: the one the catalog's books come from
_BBO: Final = OkxChannel.BBO_TBT.value
_CANDLE: Final = "candle"
_DATA_PREFIX: Final = '{"arg"'  # every OKX data push starts so; anything else is a control frame

DATA_CHANNELS: Final = (
    Channel.TRADES,
    Channel.BOOKS,
    Channel.BBO,
    Channel.TICKERS,
    Channel.FUNDING,
    Channel.MARK_PRICE,
    Channel.CANDLES,
)
_OKX_NAMES: Final[Mapping[Channel, str]] = {
    Channel.TRADES: OkxChannel.TRADES.value,
    Channel.BOOKS: BOOKS_CHANNEL,
    Channel.BBO: _BBO,
    Channel.TICKERS: OkxChannel.TICKERS.value,
    Channel.FUNDING: OkxChannel.FUNDING_RATE.value,
    Channel.MARK_PRICE: OkxChannel.MARK_PRICE.value,
}
_CATALOG_OF: Final[Mapping[str, Channel]] = {v: k for k, v in _OKX_NAMES.items()}

_TRADE_COLS: Final = ("ts_event", "ts_recv", "trade_id", "price", "size", "side")
_BOOK_COLS: Final = ("ts_event", "ts_recv", "msg_id", "action", "side", "price", "size", "seq_id", "prev_seq_id",
                     "checksum", "last_in_msg")  # fmt: skip
_BBO_COLS: Final = ("ts_event", "ts_recv", "bid_price", "bid_size", "ask_price", "ask_size", "seq_id")
_TICKER_COLS: Final = ("ts_event", "ts_recv", "last_price", "last_size", "bid_price", "bid_size", "ask_price",
                       "ask_size", "vol_24h", "vol_ccy_24h", "open_24h", "high_24h", "low_24h")  # fmt: skip
_FUNDING_COLS: Final = ("ts_event", "ts_recv", "funding_rate", "next_funding_rate", "funding_time",
                        "next_funding_time")  # fmt: skip
_MARK_COLS: Final = ("ts_event", "ts_recv", "mark_price")
_CANDLE_COLS: Final = ("ts_event", "ts_recv", "bar", "open", "high", "low", "close", "volume", "confirm")
_SESSION_COLS: Final = ("ts_event", "ts_recv", "kind", "channel", "detail")
_COLS: Final[Mapping[Channel, tuple[str, ...]]] = {
    Channel.TRADES: _TRADE_COLS,
    Channel.BOOKS: _BOOK_COLS,
    Channel.BBO: _BBO_COLS,
    Channel.TICKERS: _TICKER_COLS,
    Channel.FUNDING: _FUNDING_COLS,
    Channel.MARK_PRICE: _MARK_COLS,
    Channel.CANDLES: _CANDLE_COLS,
    Channel.SESSIONS: _SESSION_COLS,
}
_UPDATE: Final = int(BookRowAction.UPDATE)
_SNAPSHOT: Final = int(BookRowAction.SNAPSHOT)
_CHECKPOINT: Final = int(BookRowAction.CHECKPOINT)
_BUY: Final = int(TakerSide.BUY)
_SELL: Final = int(TakerSide.SELL)


def parse_channels(names: Sequence[str | Channel]) -> tuple[Channel, ...]:
    """``["trades", "books"]`` → channels, in the order given, without repeats; a clear error for
    an unknown name or ``sessions`` (which the recorder writes itself)."""
    known = {c.dirname: c for c in DATA_CHANNELS}
    out: list[Channel] = []
    for n in names:
        ch = n if isinstance(n, Channel) else known.get(str(n).strip().lower())
        if ch is None or ch not in DATA_CHANNELS:
            raise ConfigError(
                f"unknown channel {n!r} for athena record; expected some of {', '.join(known)} "
                f"(sessions is always written)"
            )
        if ch not in out:
            out.append(ch)
    if not out:
        raise ConfigError(f"no channel to record; expected some of {', '.join(known)}")
    return tuple(out)


def okx_subscription(channel: Channel, candle_bar: str = "1m") -> tuple[str, str]:
    """(socket, OKX channel name) a catalog channel is recorded from."""
    if channel is Channel.CANDLES:
        return BUSINESS, _CANDLE + candle_bar
    return PUBLIC, _OKX_NAMES[channel]


def _scaled(s: str, d: int) -> int:
    """An exchange decimal string as the exact int ``value × 10^d`` (string arithmetic, no float)."""
    ip, _, fp = s.partition(".")
    if fp:
        fp = fp.rstrip("0")
        if len(fp) > d:
            raise ValueError(f"{s!r} has more than {d} decimals (the catalog's scale for this instrument)")
    return int(ip + fp.ljust(d, "0")) if d else int(ip)


class WallClock:
    """Wall time in ns that never goes backwards (a clock step back repeats the last value), so
    rows of one partition stay in ``ts_recv`` order whatever NTP does."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = 0

    def __call__(self) -> int:
        t = time.time_ns()
        if t < self._last:
            return self._last
        self._last = t
        return t


# -- settings and report ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RecorderSettings:
    """What to record, where, and the limits that bound loss and memory."""

    inst_ids: tuple[str, ...]
    channels: tuple[Channel, ...]
    data_root: Path
    ws_public_url: str
    ws_business_url: str
    venue: str = "okx"
    candle_bar: str = "1m"
    handoff_interval_s: float = 0.1  # loop → writer threads; part of the ≤ 1 s loss bound
    fsync_interval_s: float = 0.5  # raw journal fsync period
    part_max_age_s: float = 5.0  # a catalog part is written at most this long after its first row
    part_max_rows: int = 250_000
    max_journal_backlog_bytes: int = 64 << 20
    max_row_backlog: int = 1_000_000
    status_interval_s: float = 1.0
    log_every_s: float = 60.0
    ws_options: Mapping[str, Any] = field(default_factory=dict)  # ping/watchdog/backoff of the sockets

    def __post_init__(self) -> None:
        if not self.inst_ids:
            raise ConfigError("no instrument to record; pass --inst (e.g. BTC-USDT-SWAP)")
        if self.handoff_interval_s + self.fsync_interval_s >= 1.0:
            raise ConfigError(
                f"handoff {self.handoff_interval_s} s + fsync {self.fsync_interval_s} s must stay under 1 s "
                f"(the crash-loss bound of the raw journal)"
            )


@dataclass(slots=True)
class RecordReport:
    """What one recording did."""

    data_root: Path
    venue: str
    started_ns: int = 0
    stopped_ns: int = 0
    frames: int = 0
    rows: dict[Channel, int] = field(default_factory=dict)
    sessions: dict[SessionKind, int] = field(default_factory=dict)
    journal_lines: int = 0
    journal_dropped: int = 0
    rows_dropped: int = 0
    parts_written: int = 0
    bytes_written: int = 0
    recovered_temp_files: int = 0
    recovery: Recovery | None = None

    def lines(self) -> list[str]:
        secs = max(0.0, (self.stopped_ns - self.started_ns) / NS_PER_SECOND)
        rows = ", ".join(f"{ch.dirname} {n:,}" for ch, n in sorted(self.rows.items()) if n)
        kinds = ", ".join(f"{k.value} {n}" for k, n in sorted(self.sessions.items()))
        out = [
            f"recorded {self.frames:,} frames in {secs:.1f} s into {self.data_root}/{self.venue}",
            f"  rows: {rows or 'none'}",
            f"  sessions: {kinds or 'none'}",
            f"  raw journal: {self.journal_lines:,} lines; {self.parts_written:,} parquet parts; "
            f"{self.bytes_written:,} bytes written",
        ]
        if self.journal_dropped or self.rows_dropped:
            out.append(f"  dropped (disk slower than the feed): {self.journal_dropped:,} journal lines, "
                       f"{self.rows_dropped:,} rows — see the gap rows in sessions")  # fmt: skip
        return out


@dataclass(slots=True)
class Recovery:
    """What a restart took back from the previous run's raw journal: rows per channel, the
    ``ts_recv`` span of those rows (0 when none), the files read and the books failures met."""

    rows: dict[Channel, int] = field(default_factory=dict)
    first_ns: int = 0
    last_ns: int = 0
    files: list[Path] = field(default_factory=list)
    book_failures: int = 0

    @property
    def total(self) -> int:
        return sum(self.rows.values())

    def text(self) -> str:
        if not self.total:
            return f"nothing to recover from the raw journal ({len(self.files)} file(s) read)"
        per = ", ".join(f"{ch.dirname} {n}" for ch, n in sorted(self.rows.items()))
        span = (self.last_ns - self.first_ns) / NS_PER_SECOND
        out = (f"{self.total} rows recovered from the raw journal ({per}; ts_recv {self.first_ns}..{self.last_ns}, "
               f"{span:.3f} s)")  # fmt: skip
        if self.book_failures:
            out += f"; {self.book_failures} books message(s) failed their check, skipped to the next snapshot"
        return out


# -- the catalog writer thread ----------------------------------------------------------------

Batch = dict[tuple[Channel, str], dict[str, list[Any]]]
_STOP: Final = object()


class CatalogThread:
    """Owns a ``CatalogWriter`` on its own thread: writes the batches handed to ``submit``, flushes
    parts older than the writer's ``max_age_ns`` (by ``now_ns``) every ``tick_s``, and flushes
    everything after a batch that holds ``sessions`` rows."""

    def __init__(self, writer: CatalogWriter, now_ns: Callable[[], int], *, tick_s: float = 0.25) -> None:
        self.writer = writer
        self._now_ns = now_ns
        self.tick_s = tick_s
        self._q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._submitted = 0  # rows, by the submitting thread only
        self._done = 0  # rows, by the writer thread only
        self.rows_lost = 0
        self.bytes_written = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="recorder-catalog", daemon=True)
        self._thread.start()

    @property
    def backlog_rows(self) -> int:
        return self._submitted - self._done

    def submit(self, batch: Batch, nrows: int) -> None:
        self._submitted += nrows
        self._q.put((batch, nrows))

    def _run(self) -> None:
        last = time.monotonic()
        while True:
            try:
                item = self._q.get(timeout=max(0.0, last + self.tick_s - time.monotonic()))
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if item is not None:
                batch, nrows = item  # type: ignore[misc]
                incident = False
                for (ch, inst), cols in batch.items():
                    incident = incident or ch is Channel.SESSIONS
                    try:
                        self._count(self.writer.write(ch, inst, cols))
                    except Exception as err:
                        self._failed(err, f"{ch.dirname} {inst}", len(cols["ts_recv"]))
                if incident:
                    # A session row (a connect, a gap, a restart) is on disk at once, and so is
                    # everything before it: incidents are rare, and when they happen a crash is likelier.
                    try:
                        self._count(self.writer.flush())
                    except Exception as err:
                        self._failed(err, "flush", 0)
                self._done += nrows
            if time.monotonic() - last >= self.tick_s:
                last = time.monotonic()
                try:
                    self._count(self.writer.maybe_flush(self._now_ns()))
                except Exception as err:  # the writer kept the rows; the next tick retries
                    self._failed(err, "flush", 0)
        try:
            self._count(self.writer.flush())
        except Exception as err:
            self._failed(err, "final flush", self.writer.rows_buffered)

    def _count(self, paths: list[Path]) -> None:
        for p in paths:
            with contextlib.suppress(OSError):
                self.bytes_written += p.stat().st_size

    def _failed(self, err: BaseException, what: str, rows: int) -> None:
        self.rows_lost += rows
        if self.error is None or type(err) is not type(self.error):
            log.error("catalog: %s: %d rows not written: %s: %s", what, rows, type(err).__name__, err)
        self.error = err

    def close(self, timeout_s: float = 60.0) -> None:
        """Write everything submitted, flush every buffer, release the venue lock (idempotent)."""
        if self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self.writer.close()


# -- one socket -------------------------------------------------------------------------------


class RecordingSocket(OkxPublicWsGateway):
    """The public gateway with the recorder's hooks: every frame is stamped and journaled before
    it is parsed; non-book pushes go to the recorder as typed structs; book pushes go through the
    gateway (book, checks, resync) and each accepted message reaches the recorder with its struct."""

    def __init__(
        self,
        url: str,
        specs: Mapping[str, InstrumentSpec],
        recorder: Recorder,
        *,
        socket: str,
        now_ns: Callable[[], int],
        **kw: Any,
    ) -> None:
        super().__init__(url, specs, publish=self._emit, now_ns=now_ns, name=f"okx.{socket}", **kw)
        self.socket = socket
        self.recorder = recorder
        self.recv_ns = 0  # receive time of the frame being dispatched
        self.insts: set[str] = set()
        self.conn_label = f"{socket}-0"
        self._label_n = 0
        self._push: BooksPush | None = None
        self._push_i = 0

    # -- frames -------------------------------------------------------------------------------

    def feed(self, frame: str | bytes) -> None:
        """What the receive loop does with one frame (tests and tools feed frames through it)."""
        self._dispatch(frame)

    def _dispatch(self, frame: str | bytes) -> None:
        if self._stopping:
            # stop() cancels the receive task, but under a continuous stream Python 3.11's
            # asyncio.wait_for can swallow that cancellation (its recv completed in the same
            # step): the loop would keep receiving until the server hangs up. End it here.
            raise asyncio.CancelledError
        recv = self._now_ns()
        if type(frame) is not str:
            frame = bytes(frame).decode("utf-8", "replace")
        if self.connects != self._label_n:
            self._label_n = self.connects
            self.conn_label = f"{self.socket}-{self.connects}"
        self.recv_ns = recv
        rec = self.recorder
        rec.on_frame(self, recv, frame)  # type: ignore[arg-type]
        if not frame.startswith(_DATA_PREFIX):  # type: ignore[union-attr]
            self._control(frame, recv)  # type: ignore[arg-type]
        super()._dispatch(frame)

    def _control(self, frame: str, recv: int) -> None:
        """Subscription acks become ``subscribe`` session rows (the base consumes them silently)."""
        if frame == "pong":
            return
        try:
            msg = parse_ws(frame)
        except OkxParseError:
            return
        if isinstance(msg, WsSubscribe):
            self.recorder.on_subscribed(self, msg.arg, recv)

    def _on_message(self, msg: WsMessage) -> None:
        if type(msg) is BooksPush:
            self._on_books(msg)  # type: ignore[arg-type]
        else:
            self.recorder.on_push(self, msg, self.recv_ns)

    def _on_books(self, push: BooksPush) -> None:
        if push.arg.channel == _BBO:
            self.recorder.on_bbo(self, push, self.recv_ns)
            return
        inst_id = push.arg.inst_id or (push.data[0].inst_id if push.data else "")
        key = (push.arg.channel, inst_id)
        if not push.is_snapshot and key not in self._resyncing:
            book = self.books.get(key)
            if book is not None and book.synced:
                self.recorder.before_book_update(inst_id, book, self.recv_ns)
        self._push = push
        self._push_i = 0
        try:
            super()._on_books(push)
        finally:
            self._push = None

    def _emit(self, ev: Event) -> None:
        t = type(ev)
        if t is BookEvent:
            push = self._push
            if push is not None and self._push_i < len(push.data):
                # The gateway publishes one BookEvent per accepted item of the push, in order.
                d = push.data[self._push_i]
                self._push_i += 1
                self.recorder.on_book(self, push.arg.channel, d, ev, self.recv_ns)  # type: ignore[arg-type]
        elif t is ConnectionEvent:
            self.recorder.on_connection(self, ev)  # type: ignore[arg-type]
        elif t is ErrorEvent:
            self.recorder.on_error(self, ev)  # type: ignore[arg-type]

    # -- keep-alive ---------------------------------------------------------------------------

    async def _on_open(self, ws: Any) -> None:
        # The base pings only after ping_interval_s without a received frame; a busy public socket
        # then never sends anything, and a server that counts only what the client sends (the
        # emulator closes such sockets after 30 s) drops it. A ping every ping_interval_s costs a
        # pong from OKX and keeps every reading of "idle" satisfied.
        await super()._on_open(ws)
        self.spawn(self._keepalive(ws), "keepalive")

    async def _keepalive(self, ws: Any) -> None:
        while True:
            await asyncio.sleep(self.ping_interval_s)
            if self._ws is not ws:
                return  # that connection is gone; the next one has its own keep-alive
            with contextlib.suppress(Exception):
                await ws.send("ping")
                self.pings_sent += 1

    # -- resync -------------------------------------------------------------------------------

    async def resubscribe(self, arg: dict[str, Any]) -> None:
        if self.connected:
            self.recorder.on_resubscribe(self, arg)
        await super().resubscribe(arg)

    def resync_books(self, reason: str) -> int:
        """Drop every synced book and ask for fresh snapshots (after rows were dropped); the
        snapshots arrive as resyncs. Returns how many books were asked for."""
        n = 0
        for key, book in self.books.items():
            if book.synced:
                book.clear()
                self._resyncing.add(key)
                channel, inst_id = key
                log.warning("%s: %s %s: %s; resubscribing for a fresh snapshot", self.name, channel, inst_id, reason)
                self.spawn(self.resubscribe({"channel": channel, "instId": inst_id}), f"resync:{channel}:{inst_id}")
                n += 1
        return n


# -- the service ------------------------------------------------------------------------------


@dataclass(slots=True)
class _BookTrack:
    """The catalog side of one instrument's book: next msg_id, UTC day of its last row, and the
    factors from the gateway's ticks/lots to the catalog's integers (1 when tickSz is 10^-k)."""

    next_msg_id: int
    px_factor: int
    sz_factor: int
    day: int | None = None


def _last_msg_id(root: Path, venue: str, inst: str) -> int:
    """The largest msg_id already in the catalog for ``inst`` (0 when none): a restart continues
    above it, so msg_id keeps increasing per instrument across runs."""
    base = partition_dir(root, venue, Channel.BOOKS, inst, "x").parent
    if not base.is_dir():
        return 0
    for d in sorted((p for p in base.iterdir() if p.name.startswith("date=")), reverse=True):
        parts = part_files(d)
        if parts:
            col = pq.read_table(parts[-1], columns=["msg_id"]).column(0)
            return max((v for v in col.to_pylist() if v is not None), default=0)
    return 0


def _last_ts_recv(root: Path, venue: str, channel: Channel, inst: str) -> int:
    """The newest ``ts_recv`` the catalog holds for (channel, inst), 0 when none: the last part of
    the last ``date=`` partition (parts are in arrival order, ts_recv never goes back within one)."""
    base = partition_dir(root, venue, channel, inst, "x").parent
    if not base.is_dir():
        return 0
    for d in sorted((p for p in base.iterdir() if p.name.startswith("date=")), reverse=True):
        parts = part_files(d)
        if parts:
            col = pq.read_table(parts[-1], columns=["ts_recv"]).column(0)
            return max((v for v in col.to_pylist() if v is not None), default=0)
    return 0


_PUSH_CHANNEL: Final[Mapping[type, Channel]] = {
    TradesPush: Channel.TRADES,
    TickersPush: Channel.TICKERS,
    MarkPricePush: Channel.MARK_PRICE,
    FundingRatePush: Channel.FUNDING,
    CandlesPush: Channel.CANDLES,
}
_BOOKS_MARK: Final = f'"channel":"{BOOKS_CHANNEL}"'
_SNAPSHOT_MARK: Final = '"action":"snapshot"'


class Recorder:
    """Records ``settings.channels`` of ``settings.inst_ids`` until ``run``'s stop event is set.

    ``specs`` are the instruments' OKX specs; ``now_ns`` the receive clock (wall time that never
    goes back, by default). Everything but the two writer threads runs on the event loop."""

    def __init__(
        self,
        settings: RecorderSettings,
        specs: Mapping[str, InstrumentSpec],
        *,
        now_ns: Callable[[], int] | None = None,
        status: bool = False,
    ) -> None:
        missing = [i for i in settings.inst_ids if i not in specs]
        if missing:
            raise GatewayError(f"no instrument spec for {', '.join(missing)}; is the instrument id right?")
        self.settings = settings
        self.specs = {i: specs[i] for i in settings.inst_ids}
        self._now = now_ns or WallClock()
        self._status_live = status
        self.stats = RecorderStats()
        self.report = RecordReport(settings.data_root, settings.venue)
        self.sockets: dict[str, RecordingSocket] = {}
        self.metas: dict[str, meta.InstrumentMeta] = {}
        self._tracks: dict[str, _BookTrack] = {}
        self._cols: Batch = {}
        self._nrows = 0
        self._jlines: list[Entry] = []
        self._jbytes = 0
        self._journal: JournalThread | None = None
        self._catalog: CatalogThread | None = None
        self.journal_dropping = False
        self.rows_dropping = False
        self._drop_since = {"journal": 0, "rows": 0}
        self._drop_count = {"journal": 0, "rows": 0}
        self.running = asyncio.Event()  # set once every socket has been started
        self._stopping = False

    # -- rows -----------------------------------------------------------------------------------

    def _rows(self, channel: Channel, inst: str) -> dict[str, list[Any]]:
        key = (channel, inst)
        c = self._cols.get(key)
        if c is None:
            c = self._cols[key] = {k: [] for k in _COLS[channel]}
        return c

    def session(self, inst: str, kind: SessionKind, channel: Channel | None, detail: str, ts_event: int,
                ts_recv: int | None = None) -> None:  # fmt: skip
        """One ``sessions`` row for ``inst`` (never dropped by the backlog policy)."""
        c = self._rows(Channel.SESSIONS, inst)
        c["ts_event"].append(ts_event)
        c["ts_recv"].append(ts_event if ts_recv is None else ts_recv)
        c["kind"].append(kind.value)
        c["channel"].append(channel.dirname if channel is not None else None)
        c["detail"].append(detail)
        self._nrows += 1
        r = self.report.sessions
        r[kind] = r.get(kind, 0) + 1

    def _count(self, channel: Channel, n: int, lag_ns: int) -> None:
        cs = self.stats.channels[channel]
        cs.messages += 1
        cs.rows += n
        cs.lag_ns = lag_ns
        self._nrows += n

    # -- frames and pushes (event loop) ---------------------------------------------------------

    def on_frame(self, sock: RecordingSocket, recv: int, frame: str) -> None:
        self.stats.frames += 1
        if self.journal_dropping:
            self.stats.journal_dropped += 1
            self._drop_count["journal"] += 1
            return
        self._jlines.append((recv, sock.socket, sock.conn_label, frame))
        self._jbytes += len(frame) + 64

    def on_push(self, sock: RecordingSocket, msg: Any, recv: int) -> None:
        t = type(msg)
        if t is TradesPush:
            self._trades(msg, recv)
        elif t is TickersPush:
            self._tickers(msg, recv)
        elif t is MarkPricePush:
            self._marks(msg, recv)
        elif t is FundingRatePush:
            self._funding(msg, recv)
        elif t is CandlesPush:
            self._candles(msg, recv)

    def _inst(self, item_inst: str, arg: WsArg) -> str | None:
        inst = item_inst or arg.inst_id
        return inst if inst in self.metas else None

    def _dropped(self, n: int) -> bool:
        if self.rows_dropping:
            self.stats.rows_dropped += n
            self._drop_count["rows"] += n
            return True
        return False

    def _trades(self, push: TradesPush, recv: int) -> None:
        for t in push.data:
            inst = self._inst(t.inst_id, push.arg)
            if inst is None or self._dropped(1):
                continue
            m = self.metas[inst]
            te = int(t.ts) * MS
            row = (te, recv, int(t.trade_id), _scaled(t.px, m.price_decimals), _scaled(t.sz, m.size_decimals),
                   _BUY if t.side is Side.BUY else _SELL)  # fmt: skip
            c = self._rows(Channel.TRADES, inst)
            for k, v in zip(_TRADE_COLS, row, strict=True):
                c[k].append(v)
            self._count(Channel.TRADES, 1, recv - te)

    def _tickers(self, push: TickersPush, recv: int) -> None:
        for k in push.data:
            inst = self._inst(k.inst_id, push.arg)
            if inst is None:
                continue
            if not (k.last and k.last_sz and k.bid_px and k.bid_sz and k.ask_px and k.ask_sz and k.open24h
                    and k.high24h and k.low24h and k.vol24h and k.vol_ccy24h and k.ts):  # fmt: skip
                continue  # a field OKX left empty (no trade yet, an empty side): nothing exact to store
            if self._dropped(1):
                continue
            m = self.metas[inst]
            pd, sd = m.price_decimals, m.size_decimals
            te = int(k.ts) * MS
            row = (te, recv, _scaled(k.last, pd), _scaled(k.last_sz, sd), _scaled(k.bid_px, pd),
                   _scaled(k.bid_sz, sd), _scaled(k.ask_px, pd), _scaled(k.ask_sz, sd), float(k.vol24h),
                   float(k.vol_ccy24h), _scaled(k.open24h, pd), _scaled(k.high24h, pd),
                   _scaled(k.low24h, pd))  # fmt: skip
            c = self._rows(Channel.TICKERS, inst)
            for name, v in zip(_TICKER_COLS, row, strict=True):
                c[name].append(v)
            self._count(Channel.TICKERS, 1, recv - te)

    def _marks(self, push: MarkPricePush, recv: int) -> None:
        for mp in push.data:
            inst = self._inst(mp.inst_id, push.arg)
            if inst is None or not mp.mark_px or not mp.ts or self._dropped(1):
                continue
            te = int(mp.ts) * MS
            px = _scaled(mp.mark_px, self.metas[inst].price_decimals)
            c = self._rows(Channel.MARK_PRICE, inst)
            c["ts_event"].append(te)
            c["ts_recv"].append(recv)
            c["mark_price"].append(px)
            self._count(Channel.MARK_PRICE, 1, recv - te)

    def _funding(self, push: FundingRatePush, recv: int) -> None:
        for f in push.data:
            inst = self._inst(f.inst_id, push.arg)
            if inst is None or not f.funding_rate or not f.funding_time or self._dropped(1):
                continue
            te = int(f.ts) * MS if f.ts else recv
            nxt_rate = float(f.next_funding_rate) if f.next_funding_rate else None
            nxt_time = int(f.next_funding_time) * MS if f.next_funding_time else None
            row = (te, recv, float(f.funding_rate), nxt_rate, int(f.funding_time) * MS, nxt_time)
            c = self._rows(Channel.FUNDING, inst)
            for name, v in zip(_FUNDING_COLS, row, strict=True):
                c[name].append(v)
            self._count(Channel.FUNDING, 1, recv - te)

    def _candles(self, push: CandlesPush, recv: int) -> None:
        inst = self._inst("", push.arg)
        if inst is None:
            return
        bar = push.arg.channel[len(_CANDLE):]
        m = self.metas[inst]
        pd = m.price_decimals
        for k in push.data:
            if self._dropped(1):
                continue
            te = int(k.ts) * MS
            row = (te, recv, bar, _scaled(k.open, pd), _scaled(k.high, pd), _scaled(k.low, pd),
                   _scaled(k.close, pd), float(k.vol or 0), k.confirm == "1")  # fmt: skip
            c = self._rows(Channel.CANDLES, inst)
            for name, v in zip(_CANDLE_COLS, row, strict=True):
                c[name].append(v)
            self._count(Channel.CANDLES, 1, recv - te)

    def on_bbo(self, sock: RecordingSocket, push: BooksPush, recv: int) -> None:
        for d in push.data:
            inst = self._inst(d.inst_id, push.arg)
            if inst is None or not d.bids or not d.asks or self._dropped(1):
                continue
            m = self.metas[inst]
            pd, sd = m.price_decimals, m.size_decimals
            te = int(d.ts) * MS
            row = (te, recv, _scaled(d.bids[0][0], pd), _scaled(d.bids[0][1], sd), _scaled(d.asks[0][0], pd),
                   _scaled(d.asks[0][1], sd), d.seq_id)  # fmt: skip
            c = self._rows(Channel.BBO, inst)
            for name, v in zip(_BBO_COLS, row, strict=True):
                c[name].append(v)
            self._count(Channel.BBO, 1, recv - te)

    # -- books ----------------------------------------------------------------------------------

    def before_book_update(self, inst: str, book: L2Book, recv: int) -> None:
        """An update is about to be applied to a checked book: when it opens a new ``date=``
        partition, write a flagged checkpoint of the book as it is first (DESIGN.md §5)."""
        tr = self._tracks.get(inst)
        if tr is None:
            return
        day = recv // NS_PER_DAY
        if tr.day is not None and day != tr.day and not self.rows_dropping:
            self._checkpoint(inst, tr, book, recv, book.ts_event, book.checksum())
        tr.day = day

    def _checkpoint(self, inst: str, tr: _BookTrack, book: L2Book, recv: int, ts_event: int, checksum: int) -> None:
        pf, sf = tr.px_factor, tr.sz_factor
        levels = [(0, p * pf, book.bids[p] * sf) for p in sorted(book.bids, reverse=True)]
        levels += [(1, p * pf, book.asks[p] * sf) for p in sorted(book.asks)]
        n = len(levels)
        if n == 0:
            return
        msg_id = tr.next_msg_id
        tr.next_msg_id += 1
        c = self._rows(Channel.BOOKS, inst)
        c["ts_event"] += [ts_event] * n
        c["ts_recv"] += [recv] * n
        c["msg_id"] += [msg_id] * n
        c["action"] += [_CHECKPOINT] * n
        c["side"] += [s for s, _, _ in levels]
        c["price"] += [p for _, p, _ in levels]
        c["size"] += [q for _, _, q in levels]
        c["seq_id"] += [book.seq_id] * n
        c["prev_seq_id"] += [book.seq_id] * n
        c["checksum"] += [None] * (n - 1) + [checksum]
        c["last_in_msg"] += [False] * (n - 1) + [True]
        self._nrows += n

    def on_book(self, sock: RecordingSocket, channel: str, d: BookData, ev: BookEvent, recv: int) -> None:
        """One books message the gateway accepted (its book is already updated)."""
        inst = ev.inst_id
        tr = self._tracks.get(inst)
        if tr is None or channel != BOOKS_CHANNEL:
            return
        tr.day = recv // NS_PER_DAY
        ch = ev.changes
        n = len(ch)
        te = ev.ts_event
        if n == 0:  # a keep-alive (seqId == prevSeqId): checked by the gateway; the catalog stores changes
            self.stats.channels[Channel.BOOKS].messages += 1
            return
        if self._dropped(n):
            return
        pf, sf = tr.px_factor, tr.sz_factor
        rng = range(n)
        msg_id = tr.next_msg_id
        tr.next_msg_id += 1
        action = _SNAPSHOT if ev.is_snapshot else _UPDATE
        c = self._rows(Channel.BOOKS, inst)
        c["ts_event"] += [te] * n
        c["ts_recv"] += [recv] * n
        c["msg_id"] += [msg_id] * n
        c["action"] += [action] * n
        c["side"] += [ch.side(i) for i in rng]
        c["price"] += [ch.ticks(i) * pf for i in rng] if pf != 1 else [ch.ticks(i) for i in rng]
        c["size"] += [ch.lots(i) * sf for i in rng] if sf != 1 else [ch.lots(i) for i in rng]
        c["seq_id"] += [d.seq_id] * n
        c["prev_seq_id"] += [d.prev_seq_id] * n
        c["checksum"] += [None] * (n - 1) + [d.checksum]
        c["last_in_msg"] += [False] * (n - 1) + [True]
        self._count(Channel.BOOKS, n, recv - te)
        if ev.is_snapshot:
            # Every snapshot is where a replay may start: a flagged checkpoint follows it (§5).
            book = ev.book
            assert isinstance(book, L2Book)
            self._checkpoint(inst, tr, book, recv, te, d.checksum or book.checksum())

    # -- sessions from the gateway ---------------------------------------------------------------

    def _link_channel(self, sock: RecordingSocket) -> Channel | None:
        return Channel.CANDLES if sock.socket == BUSINESS else None

    def on_connection(self, sock: RecordingSocket, ev: ConnectionEvent) -> None:
        st = ev.status
        if st is ConnectionStatus.UP or st is ConnectionStatus.DOWN:
            if st is ConnectionStatus.DOWN:
                kind = SessionKind.DISCONNECT
            elif sock.connects <= 1:
                kind = SessionKind.CONNECT
            else:
                kind = SessionKind.RECONNECT
                self.stats.reconnects += 1
            detail = f"{sock.socket}: {ev.detail}"
            for inst in sorted(sock.insts):
                self.session(inst, kind, self._link_channel(sock), detail, ev.ts_event, ev.ts_recv)
            if st is ConnectionStatus.DOWN and not self._stopping:
                log.warning("%s: disconnected (%s); reconnecting", sock.name, ev.detail)
            return
        _, _, inst = ev.channel.partition(":")
        if inst not in self.metas:
            return
        if st is ConnectionStatus.GAP:
            kind = SessionKind.SEQ_GAP
            self.stats.seq_gaps += 1
        elif st is ConnectionStatus.CHECKSUM_FAILED:
            kind = SessionKind.CHECKSUM_FAIL
            self.stats.checksum_failures += 1
        else:
            kind = SessionKind.RESYNC
            self.stats.resyncs += 1
        # Stamped with the frame that caused it, so it sorts with that frame's rows (rank 0 first).
        t = sock.recv_ns or ev.ts_event
        self.session(inst, kind, Channel.BOOKS, ev.detail, t, t)

    def on_resubscribe(self, sock: RecordingSocket, arg: Mapping[str, Any]) -> None:
        inst = str(arg.get("instId", ""))
        if inst in self.metas:
            ch = _CATALOG_OF.get(str(arg.get("channel", "")))
            now = self._now()
            self.session(inst, SessionKind.RESUBSCRIBE, ch, f"{sock.socket}: resubscribing {arg.get('channel')} "
                         f"for a fresh snapshot", now)  # fmt: skip

    def on_subscribed(self, sock: RecordingSocket, arg: WsArg, recv: int) -> None:
        inst = arg.inst_id
        if inst not in self.metas:
            return
        ch = Channel.CANDLES if arg.channel.startswith(_CANDLE) else _CATALOG_OF.get(arg.channel)
        self.session(inst, SessionKind.SUBSCRIBE, ch, f"{sock.conn_label}: subscribed {arg.channel}", recv)

    def on_error(self, sock: RecordingSocket, ev: ErrorEvent) -> None:
        if ev.code == "map_failed":
            self.stats.map_failures += 1

    # -- hand-off and backlog policy --------------------------------------------------------------

    def handoff(self) -> None:
        """Hand what the loop collected to the writer threads, then apply the backlog policy."""
        j, c = self._journal, self._catalog
        if j is not None and self._jlines:
            j.submit(self._jlines, self._jbytes)
            self.report.journal_lines += len(self._jlines)
            self._jlines = []
            self._jbytes = 0
        if c is not None and self._cols:
            for (ch, _), cols in self._cols.items():
                self.report.rows[ch] = self.report.rows.get(ch, 0) + len(cols["ts_recv"])
            c.submit(self._cols, self._nrows)
            self._cols = {}
            self._nrows = 0
        if j is not None and c is not None:
            self.apply_backlog_policy(j.backlog_bytes, c.backlog_rows)

    def apply_backlog_policy(self, journal_bytes: int, rows: int) -> None:
        """Decide from what waits for the disk whether journal lines and rows are dropped (see the
        module docstring); each change is a ``gap`` session row and a warning."""
        s = self.settings
        row_limit = s.max_row_backlog
        # Start dropping past a limit, stop below half of it: no flapping at the edge.
        if self.journal_dropping:
            drop_j = journal_bytes > s.max_journal_backlog_bytes // 2 or rows > row_limit // 4
        else:
            drop_j = journal_bytes > s.max_journal_backlog_bytes or rows > row_limit // 2
        drop_r = rows > row_limit // 2 if self.rows_dropping else rows > row_limit
        now = self._now()
        if drop_j != self.journal_dropping:
            self._drop_transition("journal", drop_j, now, f"raw journal ({journal_bytes:,} bytes, {rows:,} rows "
                                                         f"waiting for the disk)")  # fmt: skip
            self.journal_dropping = drop_j
        if drop_r != self.rows_dropping:
            self._drop_transition("rows", drop_r, now, f"catalog rows ({rows:,} rows waiting for the disk)")
            self.rows_dropping = drop_r
            if not drop_r:
                for sock in self.sockets.values():
                    sock.resync_books("catalog rows were dropped while the disk was behind")

    def _drop_transition(self, what: str, start: bool, now: int, detail: str) -> None:
        if start:
            self._drop_since[what] = now
            self._drop_count[what] = 0
            text = f"disk slower than the feed: dropping {detail} from now on"
            log.warning("record: %s", text)
        else:
            secs = (now - self._drop_since[what]) / NS_PER_SECOND
            unit = "journal lines" if what == "journal" else "rows"
            text = f"disk caught up: {self._drop_count[what]:,} {unit} dropped over {secs:.1f} s"
            log.warning("record: %s", text)
        for inst in self.settings.inst_ids:
            self.session(inst, SessionKind.GAP, None, f"{what}: {text}", self._drop_since[what] if not start else now,
                         now)  # fmt: skip

    # -- running --------------------------------------------------------------------------------

    def _open(self) -> CatalogWriter:
        s = self.settings
        known = meta.read_instruments(s.data_root, s.venue)
        for inst, spec in self.specs.items():
            k = known.get(inst)
            pd = max(spec.price_decimals, k.price_decimals) if k is not None else spec.price_decimals
            sd = max(spec.size_decimals, k.size_decimals) if k is not None else spec.size_decimals
            self.metas[inst] = meta.InstrumentMeta.from_spec(spec, price_decimals=pd, size_decimals=sd)
        writer = CatalogWriter(
            s.data_root,
            s.venue,
            max_rows=s.part_max_rows,
            max_age_ns=int(s.part_max_age_s * NS_PER_SECOND),
            instruments=self.metas.values(),
        )
        try:
            for inst, spec in self.specs.items():
                m = self.metas[inst]
                self._tracks[inst] = _BookTrack(
                    _last_msg_id(s.data_root, s.venue, inst) + 1,
                    int(spec.tick_sz.scaleb(m.price_decimals)),
                    int(spec.lot_sz.scaleb(m.size_decimals)),
                )
        except BaseException:
            writer.close()
            raise
        return writer

    def open(self) -> None:
        """Open the disk side: the catalog writer (venue lock, crash recovery), the raw journal
        (repair), the rows the previous run journaled but never wrote (``recover``), both writer
        threads, and one ``restart`` session row per instrument saying what was recovered."""
        s = self.settings
        writer = self._open()
        self.report.recovered_temp_files = writer.recovered
        try:
            journal = RawJournal(s.data_root, s.venue)
            rec = self.report.recovery = self.recover(writer)
        except BaseException:
            writer.close()
            raise
        self._journal = JournalThread(journal, fsync_interval_s=s.fsync_interval_s)
        self._catalog = cat = CatalogThread(writer, self._now)
        self.stats.bytes_written = lambda: journal.bytes_written + cat.bytes_written
        started = self._now()
        self.stats.started_ns = self.report.started_ns = started
        for inst in s.inst_ids:
            self.session(inst, SessionKind.RESTART, None,
                         f"recorder started (pid {os.getpid()}); {writer.recovered} temp file(s) of an interrupted "
                         f"write removed, {journal.repaired} journal file(s) cut to their last whole line; "
                         f"{rec.text()}", started)  # fmt: skip
        self.handoff()

    # -- restart recovery -------------------------------------------------------------------------

    def recover(self, writer: CatalogWriter) -> Recovery:
        """Write the rows of the previous run's journaled frames that the catalog does not hold:
        per (channel, instrument), frames received after the catalog's last ``ts_recv`` there.
        Books are rebuilt from the last snapshot at or before the catalog's last books row and
        checked as the gateway checks them (a failed message: that book waits for the next
        snapshot); their rows — msg_id continuing, a checkpoint after each snapshot — come from
        the same code as live rows. Runs before the writer threads start (blocks; call it first)."""
        s = self.settings
        cut = {(ch, inst): _last_ts_recv(s.data_root, s.venue, ch, inst) for ch in DATA_CHANNELS for inst in self.metas}
        known = [t for t in cut.values() if t]
        out = Recovery()
        saved = {inst: tr.next_msg_id for inst, tr in self._tracks.items()}
        for inst, tr in self._tracks.items():
            t = cut[(Channel.BOOKS, inst)]
            tr.day = t // NS_PER_DAY if t else None
        try:
            for files in journal_tail(s.data_root, s.venue, min(known) if known else None).values():
                out.files += files
                self._replay(files, cut, out)
        except Exception as err:  # an unreadable journal must not stop the recording: say so, go on
            log.error("restart: the raw journal could not be replayed (%s: %s); nothing recovered",
                      type(err).__name__, err)  # fmt: skip
            self._cols, self._nrows = {}, 0
            for inst, n in saved.items():
                self._tracks[inst].next_msg_id = n
            out.rows.clear()
            return out
        finally:
            for tr in self._tracks.values():
                tr.day = None
        lo = hi = 0
        for (ch, inst), cols in self._cols.items():
            ts = cols["ts_recv"]
            if ts:
                out.rows[ch] = out.rows.get(ch, 0) + len(ts)
                lo = min(lo or ts[0], ts[0])
                hi = max(hi, ts[-1])
                writer.write(ch, inst, cols)
        writer.flush()
        out.first_ns, out.last_ns = lo, hi
        self._cols, self._nrows = {}, 0
        if out.total:
            log.warning("restart: %s", out.text())
        return out

    def _replay(self, files: Sequence[Path], cut: Mapping[tuple[Channel, str], int], out: Recovery) -> None:
        """One socket's journal files, in order, through the row code (see ``recover``)."""
        # Pass 1 (text only, cheap): where each instrument's book must be rebuilt from.
        marks = {inst: f'"instId":"{inst}"' for inst in self._tracks}
        start = dict.fromkeys(self._tracks, 0)
        i = 0
        for path in files:
            for ln in iter_journal(path):
                raw = ln.raw
                if _SNAPSHOT_MARK in raw and _BOOKS_MARK in raw:
                    for inst, mark in marks.items():
                        if mark in raw and ln.ts_recv <= cut[(Channel.BOOKS, inst)]:
                            start[inst] = i
                i += 1
        first_book = min(start.values(), default=0)
        # Pass 2: parse and replay; rows only past each (channel, instrument)'s cut.
        books: dict[str, L2Book] = {}
        i = -1
        for path in files:
            for ln in iter_journal(path):
                i += 1
                raw, recv = ln.raw, ln.ts_recv
                if not raw.startswith(_DATA_PREFIX):
                    continue
                is_books = _BOOKS_MARK in raw
                if is_books and i < first_book:
                    continue
                try:
                    msg = parse_ws(raw)
                except OkxParseError:
                    continue
                t = type(msg)
                if t is BooksPush:
                    self._replay_books(msg, recv, cut, books, start, i, out)  # type: ignore[arg-type]
                elif t in _PUSH_CHANNEL:
                    inst = msg.arg.inst_id or (msg.data[0].inst_id if msg.data else "")  # type: ignore[union-attr]
                    if recv > cut.get((_PUSH_CHANNEL[t], inst), 0):
                        self.on_push(None, msg, recv)  # type: ignore[arg-type]

    def _replay_books(self, push: BooksPush, recv: int, cut: Mapping[tuple[Channel, str], int],
                      books: dict[str, L2Book], start: Mapping[str, int], i: int, out: Recovery) -> None:  # fmt: skip
        channel = push.arg.channel
        inst = push.arg.inst_id or (push.data[0].inst_id if push.data else "")
        if channel == _BBO:
            if recv > cut.get((Channel.BBO, inst), 0):
                self.on_bbo(None, push, recv)  # type: ignore[arg-type]
            return
        spec = self.specs.get(inst)
        if channel != BOOKS_CHANNEL or spec is None or i < start.get(inst, 0):
            return
        book = books.get(inst)
        if book is None:
            book = books[inst] = L2Book(spec)
        snapshot = push.is_snapshot
        emit = recv > cut[(Channel.BOOKS, inst)]
        for d in push.data:
            if not snapshot and not book.synced:
                continue  # as the gateway: after a failure, updates wait for the fresh snapshot
            if emit and not snapshot:
                self.before_book_update(inst, book, recv)
            bids = book_levels(spec, d.bids)
            asks = book_levels(spec, d.asks)
            te = ms_to_ns(d.ts)
            checksum = d.checksum or None
            try:
                if snapshot:
                    book.apply_snapshot(bids, asks, seq_id=d.seq_id, checksum=checksum, ts_event=te)
                else:
                    book.apply_update(bids, asks, seq_id=d.seq_id, prev_seq_id=d.prev_seq_id, checksum=checksum,
                                      ts_event=te)  # fmt: skip
            except BookError as err:
                book.clear()
                if emit:
                    out.book_failures += 1
                    log.warning("restart: %s books in the journal: %s; waiting for the next snapshot", inst, err)
                return
            if emit:
                levels = ListLevels([BID] * len(bids) + [ASK] * len(asks), [p for p, _ in bids] + [p for p, _ in asks],
                                    [q for _, q in bids] + [q for _, q in asks])  # fmt: skip
                self.on_book(None, channel, d, BookEvent(inst, book, levels, snapshot, te, recv), recv)  # type: ignore[arg-type]

    def close(self) -> RecordReport:
        """Hand over what is left, write it all (journal fsynced, catalog parts flushed), release
        the venue lock; returns the report. Blocks: call it off the loop (``run`` does)."""
        self.handoff()
        if self._journal is not None:
            self._journal.close()
        if self._catalog is not None:
            self._catalog.close()
            self.report.parts_written = self._catalog.writer.parts_written
        r = self.report
        r.stopped_ns = self._now()
        r.frames = self.stats.frames
        r.journal_dropped = self.stats.journal_dropped
        r.rows_dropped = self.stats.rows_dropped
        r.bytes_written = self.stats.bytes_written()
        return r

    async def run(self, stop: asyncio.Event) -> RecordReport:
        """Record until ``stop`` is set; then flush everything and return the report."""
        self._stopping = False
        self.open()
        display = StatusDisplay(self.stats, live=self._status_live, log_every_s=self.settings.log_every_s)
        try:
            for socket, args in self._subscriptions().items():
                sock = self.add_socket(socket)
                await sock.subscribe(args)
                await sock.start()
            self.running.set()
            await self._loop(stop, display)
        finally:
            self._stopping = True
            for sock in self.sockets.values():
                with contextlib.suppress(Exception):
                    await sock.stop()
            display.close()
            await asyncio.to_thread(self.close)
        return self.report

    def _subscriptions(self) -> dict[str, list[dict[str, str]]]:
        s = self.settings
        subs: dict[str, list[dict[str, str]]] = {}
        for ch in s.channels:
            socket, name = okx_subscription(ch, s.candle_bar)
            for inst in s.inst_ids:
                subs.setdefault(socket, []).append({"channel": name, "instId": inst})
        return subs

    def add_socket(self, socket: str) -> RecordingSocket:
        """The recording socket ``public`` or ``business`` (built, not started)."""
        s = self.settings
        url = s.ws_public_url if socket == PUBLIC else s.ws_business_url
        sock = RecordingSocket(url, self.specs, self, socket=socket, now_ns=self._now, **dict(s.ws_options))
        sock.insts = {a["instId"] for a in self._subscriptions().get(socket, [])} or set(s.inst_ids)
        self.sockets[socket] = sock
        return sock

    async def _loop(self, stop: asyncio.Event, display: StatusDisplay) -> None:
        s = self.settings
        loop = asyncio.get_running_loop()
        last_status = loop.time()
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), s.handoff_interval_s)
            self.handoff()
            now = loop.time()
            if now - last_status >= s.status_interval_s:
                display.tick(now - last_status)
                last_status = now

    # -- for tests and tools ---------------------------------------------------------------------

    def book(self, inst_id: str) -> L2Book | None:
        sock = self.sockets.get(PUBLIC)
        return sock.book(inst_id) if sock is not None else None


async def load_specs(
    rest_instruments: Callable[[], Any], inst_ids: Sequence[str], data_root: Path, venue: str = "okx",
    fallback: Callable[[str], InstrumentSpec | None] | None = None,
) -> dict[str, InstrumentSpec]:  # fmt: skip
    """The specs of ``inst_ids``: OKX's instruments endpoint first (``rest_instruments()`` returns
    its parsed records), then what the catalog's ``_meta`` recorded, then ``fallback`` (the specs
    Athena ships). Raises ``GatewayError`` naming what is missing."""
    specs: dict[str, InstrumentSpec] = {}
    try:
        for rec in await rest_instruments():
            if rec.inst_id in inst_ids:
                fields = {"instId": rec.inst_id, "instType": rec.inst_type, "instIdCode": rec.inst_id_code,
                          "tickSz": rec.tick_sz, "lotSz": rec.lot_sz, "minSz": rec.min_sz, "ctVal": rec.ct_val,
                          "ctMult": rec.ct_mult, "ctType": rec.ct_type, "settleCcy": rec.settle_ccy,
                          "quoteCcy": rec.quote_ccy, "maxLmtSz": rec.max_lmt_sz, "maxMktSz": rec.max_mkt_sz,
                          "state": rec.state}  # fmt: skip
                specs[rec.inst_id] = InstrumentSpec.from_okx({k: v for k, v in fields.items() if v not in (None, "")})
    except Exception as err:  # offline REST: the catalog or the shipped specs may still know them
        log.warning("instrument specs from OKX unavailable (%s: %s); using the catalog's or Athena's",
                    type(err).__name__, err)  # fmt: skip
    missing = [i for i in inst_ids if i not in specs]
    if missing:
        known = meta.read_instruments(data_root, venue) if (Path(data_root) / venue).is_dir() else {}
        for inst in missing:
            k = known.get(inst)
            spec = k.spec if k is not None and k.spec is not None else (fallback(inst) if fallback else None)
            if spec is not None:
                specs[inst] = spec
    missing = [i for i in inst_ids if i not in specs]
    if missing:
        raise GatewayError(
            f"no instrument spec for {', '.join(missing)}: OKX's instruments endpoint did not list it as a SWAP "
            f"and the catalog has none; check the instrument id (e.g. BTC-USDT-SWAP)"
        )
    return specs
