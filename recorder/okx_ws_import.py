"""Raw OKX WebSocket logs into the catalog (``athena data import okx-ws FILE...``).

Owns: reading two line formats of received OKX public frames, parsing each frame with the
gateway's own ``parse_ws`` (which is why this lives in ``recorder/``: ``catalog`` may not import
``gateways/okx``), and turning pushes into catalog rows under venue ``okx``: ``books`` /
``books-l2-tbt`` / ``books50-l2-tbt`` / ``books5`` → ``books``; ``bbo-tbt`` → ``bbo``; ``trades``
→ ``trades``; ``tickers`` → ``tickers``; ``funding-rate`` → ``funding``; ``mark-price`` →
``mark_price``. ``seqId``/``prevSeqId``/``checksum`` are kept as sent. Every books message is
applied to an ``L2Book`` while importing and its checksum checked (OKX's ``0`` means "not
provided"): matches and mismatches are counted; a mismatch or a seqId gap is reported, written as
a ``sessions`` row, and the book stays unchecked until the next snapshot. A flagged checkpoint of
the checked book opens every later ``date=`` partition. Decimals per instrument are the most seen
in the data (or the spec Athena ships, when the data lies on its grid).
Never: rounds a price or size, reorders frames (a partition's rows are in receive order), reads
the wall clock, or writes anything but through ``CatalogWriter``.

Line formats (one JSON object per line, UTF-8):

* The recorder's raw journal (written by ``athena record``)::

      {"ts_recv": 1704153600123456789, "conn": "public-1", "raw": "<the text frame exactly as received>"}

  ``ts_recv``: int ns since the epoch (UTC) when the frame was read from the socket; ``conn``: the
  recorder's name for the connection (frames of one connection are in receive order); ``raw``:
  the frame's text, byte for byte (so checksums and decimal strings are untouched).
* cryptofeed-style captures (``../shared/data/real/okx``)::

      {"recv_ts": 1652459225.2987883, "dir": "in", "msg": {...the OKX message...}}

  ``recv_ts`` in float seconds (converted exactly from its decimal text); only ``dir == "in"``
  lines are frames (``open``/``out`` lines are the client's own).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from athena.book.l2 import L2Book
from athena.catalog import meta
from athena.catalog.importers import (
    BOOK_COLUMNS,
    BookTrack,
    ImportReport,
    Progress,
    checkpoint_rows,
    open_input,
    resolve_instrument,
    unit_spec,
)
from athena.catalog.importers.stand_ins import known_okx_spec
from athena.catalog.schema import BookRowAction, SessionKind, TakerSide
from athena.catalog.writer import NS_PER_DAY, CatalogWriter
from athena.errors import BookChecksumError, BookSequenceError, CatalogError
from athena.gateways.okx.parsers import (
    BooksPush,
    FundingRatePush,
    MarkPricePush,
    OkxChannel,
    OkxParseError,
    TickersPush,
    TradesPush,
    parse_ws,
)
from athena.model.enums import Channel, Side

__all__ = ["DEFAULT_VENUE", "import_okx_ws"]

DEFAULT_VENUE = "okx"
MS = 1_000_000
_FLUSH_ROWS = 200_000
_BOOK_CHANNELS = frozenset({OkxChannel.BOOKS, OkxChannel.BOOKS_L2_TBT, OkxChannel.BOOKS50_L2_TBT, OkxChannel.BOOKS5})
_NO_CHECKSUM = frozenset({OkxChannel.BOOKS5.value, OkxChannel.BBO_TBT.value})


class _Line(msgspec.Struct, gc=False):
    """Either line format; the raw pieces are kept raw (exact decimals, untouched frames)."""

    ts_recv: int | None = None
    conn: str = ""
    raw: str | None = None
    recv_ts: msgspec.Raw = msgspec.Raw(b"")  # empty when absent (Raw cannot be in a union)
    dir: str = ""
    msg: msgspec.Raw = msgspec.Raw(b"")


_LINE_DECODER = msgspec.json.Decoder(_Line)


def _frames(path: Path, progress: Progress | None) -> Iterator[tuple[int, int, str | bytes]]:
    """(line number, ts_recv ns, frame bytes/str) of every received frame in a log."""
    stream, pos, size = open_input(path)
    try:
        for n, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                rec = _LINE_DECODER.decode(line)
            except (msgspec.DecodeError, msgspec.ValidationError) as e:
                raise CatalogError(
                    f"{path}: line {n}: not a raw OKX log line ({e}); expected "
                    '{"ts_recv": ns, "conn": str, "raw": frame} or {"recv_ts": s, "dir": "in", "msg": {...}}'
                ) from None
            if rec.raw is not None:
                if rec.ts_recv is None:
                    raise CatalogError(f"{path}: line {n}: a journal line needs 'ts_recv' (int ns since the epoch)")
                yield n, rec.ts_recv, rec.raw
            elif len(rec.msg) and rec.dir == "in":
                if not len(rec.recv_ts):
                    raise CatalogError(f"{path}: line {n}: a capture line needs 'recv_ts' (seconds since the epoch)")
                try:
                    ns = int(Decimal(bytes(rec.recv_ts).decode()).scaleb(9))
                except ArithmeticError:
                    raise CatalogError(f"{path}: line {n}: 'recv_ts' {bytes(rec.recv_ts)!r} is not a number") from None
                yield n, ns, bytes(rec.msg)
            elif not len(rec.msg) and not rec.dir:
                raise CatalogError(f"{path}: line {n}: no frame ('raw' or 'msg') on this line")
            if progress is not None and n % 10_000 == 0:
                progress(pos(), size)
        if progress is not None:
            progress(size, size)
    finally:
        stream.close()


def _digits(s: str) -> int:
    i = s.find(".")
    return 0 if i < 0 else len(s[i + 1 :].rstrip("0"))


def _int(s: str, d: int) -> int:
    """An exchange decimal string as the exact int ``value × 10^d`` (string arithmetic)."""
    ip, _, fp = s.partition(".")
    fp = fp.rstrip("0")
    if len(fp) > d:
        raise CatalogError(f"{s!r} has more than {d} decimals")
    return int(ip + fp.ljust(d, "0"))


@dataclass(slots=True)
class _Seen:
    pd: int = 0
    sd: int = 0
    book_channel: str | None = None

    def price(self, s: str) -> None:
        if s:
            self.pd = max(self.pd, _digits(s))

    def size(self, s: str) -> None:
        if s:
            self.sd = max(self.sd, _digits(s))


def _scan(msg: Any, seen: dict[str, _Seen]) -> None:
    """Pass 1: decimals per instrument, and which books channel each instrument uses."""
    if isinstance(msg, BooksPush):
        ch = msg.arg.channel
        for d in msg.data:
            inst = msg.arg.inst_id or d.inst_id
            s = seen.setdefault(inst, _Seen())
            if ch != OkxChannel.BBO_TBT and s.book_channel is None:
                s.book_channel = ch
            for lv in (*d.bids, *d.asks):
                s.price(lv[0])
                s.size(lv[1])
    elif isinstance(msg, TradesPush):
        for t in msg.data:
            s = seen.setdefault(t.inst_id or msg.arg.inst_id, _Seen())
            s.price(t.px)
            s.size(t.sz)
    elif isinstance(msg, TickersPush):
        for k in msg.data:
            s = seen.setdefault(k.inst_id or msg.arg.inst_id, _Seen())
            for px in (k.last, k.ask_px, k.bid_px, k.open24h, k.high24h, k.low24h):
                s.price(px)
            for sz in (k.last_sz, k.ask_sz, k.bid_sz):
                s.size(sz)
    elif isinstance(msg, MarkPricePush):
        for mp in msg.data:
            seen.setdefault(mp.inst_id or msg.arg.inst_id, _Seen()).price(mp.mark_px)
    elif isinstance(msg, FundingRatePush):
        for f in msg.data:
            seen.setdefault(f.inst_id or msg.arg.inst_id, _Seen())


@dataclass(slots=True)
class _Book:
    book: L2Book
    track: BookTrack
    channel: str


@dataclass(slots=True)
class _Run:
    writer: CatalogWriter
    report: ImportReport
    instruments: dict[str, meta.InstrumentMeta]
    seen: dict[str, _Seen]
    books: dict[str, _Book] = field(default_factory=dict)
    cols: dict[tuple[Channel, str], dict[str, list[Any]]] = field(default_factory=dict)
    buffered: int = 0

    def rows(self, channel: Channel, inst: str, names: Sequence[str]) -> dict[str, list[Any]]:
        key = (channel, inst)
        c = self.cols.get(key)
        if c is None:
            c = self.cols[key] = {k: [] for k in names}
        return c

    def flush(self) -> None:
        # Channel by channel; every partition's rows stay in receive order.
        for (ch, inst), c in self.cols.items():
            n = len(c["ts_event"])
            if n:
                self.writer.write(ch, inst, c)
                self.report.add_rows(ch, inst, n)
                for v in c.values():
                    v.clear()
        self.buffered = 0

    def session(self, inst: str, ts: int, kind: SessionKind, detail: str) -> None:
        c = self.rows(Channel.SESSIONS, inst, ("ts_event", "ts_recv", "kind", "channel", "detail"))
        c["ts_event"].append(ts)
        c["ts_recv"].append(ts)
        c["kind"].append(kind.value)
        c["channel"].append(Channel.BOOKS.dirname)
        c["detail"].append(detail)

    # -- books --------------------------------------------------------------------------------

    def on_books(self, msg: BooksPush, recv: int, where: str) -> None:
        ch = msg.arg.channel
        for d in msg.data:
            inst = msg.arg.inst_id or d.inst_id
            m = self.instruments[inst]
            if ch == OkxChannel.BBO_TBT:
                self.on_bbo(inst, m, d, recv)
                continue
            if self.seen[inst].book_channel != ch:
                self.report.skip(f"{ch} frames of an instrument already imported from another books channel")
                continue
            b = self.books.get(inst)
            if b is None:
                l2 = L2Book(unit_spec(inst, m.price_decimals, m.size_decimals))
                b = self.books[inst] = _Book(l2, BookTrack(), ch)
                b.track.bids, b.track.asks = b.book.bids, b.book.asks  # one book: the track reads the L2Book's dicts
            pd, sd = m.price_decimals, m.size_decimals
            bids = [(_int(lv[0], pd), _int(lv[1], sd)) for lv in d.bids]
            asks = [(_int(lv[0], pd), _int(lv[1], sd)) for lv in d.asks]
            te = int(d.ts) * MS
            snapshot = msg.is_snapshot
            action = int(BookRowAction.SNAPSHOT if snapshot else BookRowAction.UPDATE)
            checksum = None if ch in _NO_CHECKSUM else d.checksum
            prev = None if ch in _NO_CHECKSUM else d.prev_seq_id
            track, book = b.track, b.book
            empty = not bids and not asks
            if not empty and track.needs_checkpoint(recv, action) and book.synced:
                rows = checkpoint_rows(track, recv, checksum=book.checksum())
                c = self.rows(Channel.BOOKS, inst, BOOK_COLUMNS)
                for k, v in rows.items():
                    c[k] += v
                self.report.checkpoints += 1
            was_synced = book.synced
            try:
                if snapshot:
                    book.apply_snapshot(bids, asks, seq_id=d.seq_id, checksum=checksum, ts_event=te)
                else:
                    book.apply_update(bids, asks, seq_id=d.seq_id, prev_seq_id=prev, checksum=checksum, ts_event=te)
                if checksum:
                    self.report.checksum_ok += 1
            except BookChecksumError as e:
                self.report.checksum_bad += 1
                self.report.fail(f"{where}: {e}")
                self.session(inst, recv, SessionKind.CHECKSUM_FAIL, str(e))
            except BookSequenceError as e:
                if was_synced:
                    self.report.seq_gaps += 1
                    self.report.fail(f"{where}: {e}")
                    self.session(inst, recv, SessionKind.SEQ_GAP, str(e))
                else:
                    self.report.skip("books updates not checkable (no snapshot since the last failure; rows kept)")
                # Keep the levels in step anyway (the rows are written as received).
                for p, q in bids:
                    book.set_level(0, p, q)
                for p, q in asks:
                    book.set_level(1, p, q)
            track.ready = book.synced
            track.seq_id = book.seq_id if book.synced else d.seq_id
            if empty:
                # A keep-alive (seqId == prevSeqId, no level): checked above, but the catalog
                # stores level changes, so it leaves no row (the seq chain is unbroken without it).
                self.report.skip("books messages with no level change (keep-alives: checked, no row)")
                continue
            track.ts_event = te
            msg_id = track.next_msg_id
            track.next_msg_id += 1
            levels = [(0, p, q) for p, q in bids] + [(1, p, q) for p, q in asks]
            n = len(levels)
            c = self.rows(Channel.BOOKS, inst, BOOK_COLUMNS)
            c["ts_event"] += [te] * n
            c["ts_recv"] += [recv] * n
            c["msg_id"] += [msg_id] * n
            c["action"] += [action] * n
            c["side"] += [s for s, _, _ in levels]
            c["price"] += [p for _, p, _ in levels]
            c["size"] += [q for _, _, q in levels]
            c["seq_id"] += [d.seq_id] * n
            c["prev_seq_id"] += [prev] * n
            c["checksum"] += [None] * (n - 1) + [checksum]
            c["last_in_msg"] += [False] * (n - 1) + [True]
            self.buffered += n

    def on_bbo(self, inst: str, m: meta.InstrumentMeta, d: Any, recv: int) -> None:
        if not d.bids or not d.asks:
            self.report.skip("bbo-tbt pushes with an empty side")
            return
        c = self.rows(Channel.BBO, inst, ("ts_event", "ts_recv", "bid_price", "bid_size", "ask_price", "ask_size",
                                          "seq_id"))  # fmt: skip
        pd, sd = m.price_decimals, m.size_decimals
        c["ts_event"].append(int(d.ts) * MS)
        c["ts_recv"].append(recv)
        c["bid_price"].append(_int(d.bids[0][0], pd))
        c["bid_size"].append(_int(d.bids[0][1], sd))
        c["ask_price"].append(_int(d.asks[0][0], pd))
        c["ask_size"].append(_int(d.asks[0][1], sd))
        c["seq_id"].append(d.seq_id)
        self.buffered += 1

    # -- other channels -------------------------------------------------------------------------

    def on_trades(self, msg: TradesPush, recv: int) -> None:
        for t in msg.data:
            inst = t.inst_id or msg.arg.inst_id
            m = self.instruments[inst]
            c = self.rows(Channel.TRADES, inst, ("ts_event", "ts_recv", "trade_id", "price", "size", "side"))
            c["ts_event"].append(int(t.ts) * MS)
            c["ts_recv"].append(recv)
            c["trade_id"].append(int(t.trade_id))
            c["price"].append(_int(t.px, m.price_decimals))
            c["size"].append(_int(t.sz, m.size_decimals))
            c["side"].append(int(TakerSide.BUY if t.side is Side.BUY else TakerSide.SELL))
            self.buffered += 1

    def on_tickers(self, msg: TickersPush, recv: int) -> None:
        for k in msg.data:
            inst = k.inst_id or msg.arg.inst_id
            m = self.instruments[inst]
            pxs = (k.last, k.bid_px, k.ask_px, k.open24h, k.high24h, k.low24h)
            szs = (k.last_sz, k.bid_sz, k.ask_sz)
            if not all(pxs) or not all(szs) or not k.vol24h or not k.vol_ccy24h or not k.ts:
                self.report.skip("tickers pushes with an empty field")
                continue
            pd, sd = m.price_decimals, m.size_decimals
            c = self.rows(Channel.TICKERS, inst, ("ts_event", "ts_recv", "last_price", "last_size", "bid_price",
                                                  "bid_size", "ask_price", "ask_size", "vol_24h", "vol_ccy_24h",
                                                  "open_24h", "high_24h", "low_24h"))  # fmt: skip
            c["ts_event"].append(int(k.ts) * MS)
            c["ts_recv"].append(recv)
            c["last_price"].append(_int(k.last, pd))
            c["last_size"].append(_int(k.last_sz, sd))
            c["bid_price"].append(_int(k.bid_px, pd))
            c["bid_size"].append(_int(k.bid_sz, sd))
            c["ask_price"].append(_int(k.ask_px, pd))
            c["ask_size"].append(_int(k.ask_sz, sd))
            c["vol_24h"].append(float(k.vol24h))
            c["vol_ccy_24h"].append(float(k.vol_ccy24h))
            c["open_24h"].append(_int(k.open24h, pd))
            c["high_24h"].append(_int(k.high24h, pd))
            c["low_24h"].append(_int(k.low24h, pd))
            self.buffered += 1

    def on_funding(self, msg: FundingRatePush, recv: int) -> None:
        for f in msg.data:
            if not f.funding_rate or not f.funding_time:
                self.report.skip("funding-rate pushes without fundingRate/fundingTime")
                continue
            inst = f.inst_id or msg.arg.inst_id
            c = self.rows(Channel.FUNDING, inst, ("ts_event", "ts_recv", "funding_rate", "next_funding_rate",
                                                  "funding_time", "next_funding_time"))  # fmt: skip
            # 2022-era pushes carry no ts: the receive time stands in for the exchange time.
            c["ts_event"].append(int(f.ts) * MS if f.ts else recv)
            c["ts_recv"].append(recv)
            c["funding_rate"].append(float(f.funding_rate))
            c["next_funding_rate"].append(float(f.next_funding_rate) if f.next_funding_rate else None)
            c["funding_time"].append(int(f.funding_time) * MS)
            c["next_funding_time"].append(int(f.next_funding_time) * MS if f.next_funding_time else None)
            self.buffered += 1

    def on_mark(self, msg: MarkPricePush, recv: int) -> None:
        for mp in msg.data:
            if not mp.mark_px or not mp.ts:
                self.report.skip("mark-price pushes without markPx/ts")
                continue
            inst = mp.inst_id or msg.arg.inst_id
            c = self.rows(Channel.MARK_PRICE, inst, ("ts_event", "ts_recv", "mark_price"))
            c["ts_event"].append(int(mp.ts) * MS)
            c["ts_recv"].append(recv)
            c["mark_price"].append(_int(mp.mark_px, self.instruments[inst].price_decimals))
            self.buffered += 1


_DATA = (BooksPush, TradesPush, TickersPush, FundingRatePush, MarkPricePush)


def _parse(path: Path, n: int, frame: str | bytes, report: ImportReport | None) -> Any:
    try:
        msg = parse_ws(frame)
    except OkxParseError as e:
        if report is not None:
            report.skip("frames that are not OKX messages")
            report.fail(f"{path}: line {n}: {e}")
        return None
    if isinstance(msg, _DATA):
        return msg
    if report is not None:
        has_arg = hasattr(msg, "arg") and hasattr(msg, "data")
        report.skip("pushes of channels not imported" if has_arg else "control frames (events, pongs, op answers)")
    return None


def import_okx_ws(
    files: Sequence[Path], root: Path, *, venue: str = DEFAULT_VENUE, progress: Progress | None = None
) -> ImportReport:
    """Import raw OKX WebSocket logs (journal or capture lines) into ``root/<venue>``.

    Files are read in the order given; frames keep their receive order. Every line is checked in
    a first pass (decimals per instrument), so a file that does not fit writes nothing."""
    paths = [Path(p) for p in files]
    seen: dict[str, _Seen] = {}
    for path in paths:
        for n, _, frame in _frames(path, None):
            msg = _parse(path, n, frame, None)
            if msg is not None:
                _scan(msg, seen)
    report = ImportReport(kind="okx-ws", venue=venue, files=paths)
    if not seen:
        raise CatalogError(f"{', '.join(map(str, paths))}: no OKX market-data pushes found")
    known = meta.read_instruments(root, venue)
    instruments = {
        inst: resolve_instrument(inst, s.pd, s.sd, known=known.get(inst), spec=known_okx_spec(inst), where=f"{venue}/")
        for inst, s in seen.items()
    }
    report.instruments = instruments
    with CatalogWriter(root, venue, instruments=instruments.values(), max_rows=1_000_000,
                       max_age_ns=NS_PER_DAY) as writer:  # fmt: skip
        run = _Run(writer, report, instruments, seen)
        for path in paths:
            for n, recv, frame in _frames(path, progress):
                msg = _parse(path, n, frame, report)
                if msg is None:
                    continue
                if isinstance(msg, BooksPush):
                    run.on_books(msg, recv, f"{path.name}: line {n}")
                elif isinstance(msg, TradesPush):
                    run.on_trades(msg, recv)
                elif isinstance(msg, TickersPush):
                    run.on_tickers(msg, recv)
                elif isinstance(msg, FundingRatePush):
                    run.on_funding(msg, recv)
                else:
                    run.on_mark(msg, recv)
                if run.buffered >= _FLUSH_ROWS:
                    run.flush()
        run.flush()
    report.metadata["clock_shift_ns"] = {d: s.shift_ns for d, s in meta.read_clock_shifts(root, venue).items()}
    return report
