"""What ``athena data import|ls|verify`` does; the CLI calls these and prints their results.

Owns: ``import_files`` (dispatch to the Tardis, OKX trade-history and raw OKX WebSocket log
importers, with an optional rich progress bar), ``ls`` (one row per venue/channel/instrument from
``Catalog.summary``: days, rows, first/last receive time, missing days), and ``verify`` (a
re-check of a catalog from its files alone: every part's footer metadata against its directory
and ``_meta``, raw ``ts_recv`` never decreasing within a partition, and per instrument the book
rebuilt from every ``books`` message — msg_id increasing, seq_id continuity, every non-zero
checksum recomputed, every checkpoint equal to the book rebuilt so far).
Never: prints (the CLI does), or changes the catalog (verify only reads; import writes through
the importers). Errors are ``AthenaError`` subclasses with messages that say what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from enum import StrEnum
from pathlib import Path

import pyarrow.parquet as pq

from athena.book.l2 import L2Book
from athena.catalog import meta
from athena.catalog.importers import ImportReport, Progress, unit_spec
from athena.catalog.importers.okx_trades import DEFAULT_FEED_LATENCY_NS, import_okx_trades
from athena.catalog.importers.tardis import import_tardis
from athena.catalog.reader import Catalog, part_files, read_file_meta
from athena.catalog.schema import BookRowAction, needs_decimals
from athena.errors import AthenaError, CatalogError
from athena.model.enums import Channel

__all__ = [
    "ImportKind",
    "ImportResult",
    "LsRow",
    "OkxWsImporter",
    "VerifyFailure",
    "VerifyReport",
    "import_files",
    "ls",
    "verify",
]


OkxWsImporter = Callable[..., ImportReport]
"""``recorder.okx_ws_import.import_okx_ws``: the project's layer test does not let ``app`` import
``recorder``, so the CLI (which may import anything) hands it in."""


class ImportKind(StrEnum):
    """The formats ``athena data import`` reads (the CLI's argument values)."""

    TARDIS = "tardis"
    OKX_TRADES = "okx-trades"
    OKX_WS = "okx-ws"


@dataclass(frozen=True, slots=True)
class ImportResult:
    """The reports of one ``import_files`` call (one per venue written)."""

    kind: ImportKind
    data_root: Path
    reports: tuple[ImportReport, ...]

    @property
    def rows(self) -> dict[tuple[str, Channel, str], int]:
        return {(r.venue, ch, inst): n for r in self.reports for (ch, inst), n in r.rows.items()}

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    @property
    def checksum_ok(self) -> int:
        return sum(r.checksum_ok for r in self.reports)

    @property
    def checksum_bad(self) -> int:
        return sum(r.checksum_bad for r in self.reports)

    def lines(self) -> list[str]:
        """A human summary, one line per fact (the CLI prints these)."""
        out = []
        for r in self.reports:
            out.append(f"{r.venue}: {len(r.files)} file(s) imported into {self.data_root / r.venue}")
            for (ch, inst), n in sorted(r.rows.items(), key=lambda kv: (kv[0][1], kv[0][0])):
                m = r.instruments.get(inst)
                dec = f" (price/size decimals {m.price_decimals}/{m.size_decimals})" if m is not None else ""
                out.append(f"  {ch.dirname:<10} {inst:<24} {n:>12,} rows{dec}")
            for why, n in sorted(r.skipped.items()):
                out.append(f"  skipped {n:,}: {why}")
            if r.checksum_ok or r.checksum_bad:
                out.append(f"  book checksums: {r.checksum_ok:,} match, {r.checksum_bad:,} mismatch")
            if r.seq_gaps:
                out.append(f"  book sequence gaps: {r.seq_gaps:,}")
            if r.checkpoints:
                out.append(f"  book checkpoints written at partition starts: {r.checkpoints}")
            for day, shift in sorted(r.metadata.get("clock_shift_ns", {}).items()):
                if shift:
                    out.append(f"  clock shift {day}: receive times are {shift / 1e9:.3f} s late-corrected at replay")
            if "feed_latency_ns" in r.metadata:
                out.append(f"  ts_recv = ts_event + {r.metadata['feed_latency_ns'] / 1e6:g} ms (stated feed latency)")
            out += [f"  ! {f}" for f in r.failures]
        return out


@contextmanager
def _bar(enabled: bool) -> Iterator[Progress | None]:
    """A rich progress bar fed by the importers' (bytes done, bytes total) callback."""
    if not enabled:
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, TimeRemainingColumn
    from rich.progress import Progress as RichProgress

    with RichProgress("[progress.description]{task.description}", BarColumn(), DownloadColumn(),
                      TimeRemainingColumn(), transient=True) as bar:  # fmt: skip
        task = bar.add_task("importing", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def import_files(
    kind: str | ImportKind,
    files: Sequence[Path],
    data_root: Path,
    *,
    venue: str | None = None,
    feed_latency_ns: int = DEFAULT_FEED_LATENCY_NS,
    progress: bool | Progress = False,
    okx_ws_importer: OkxWsImporter | None = None,
) -> ImportResult:
    """Import ``files`` of format ``kind`` into the catalog at ``data_root``.

    ``venue`` overrides the venue directory where the format allows it (okx-trades: default
    ``okx-history``; okx-ws: default ``okx``; Tardis always uses the file's exchange name).
    ``feed_latency_ns`` is the stated latency of okx-trades files (which have no receive time).
    ``progress`` True draws a rich bar; a callable receives (bytes done, bytes total).
    ``okx_ws_importer`` replaces ``recorder.okx_ws_import.import_okx_ws`` (tests)."""
    try:
        k = ImportKind(kind)
    except ValueError:
        raise AthenaError(
            f"unknown import format {kind!r}; expected one of {', '.join(x.value for x in ImportKind)}"
        ) from None
    paths = [Path(f) for f in files]
    if not paths:
        raise CatalogError("no files to import; give one or more FILE arguments")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise CatalogError(f"no such file: {', '.join(missing)}")
    if k is ImportKind.OKX_WS and okx_ws_importer is None:
        from recorder.okx_ws_import import import_okx_ws  # the importer reuses the OKX parsers (§2)

        okx_ws_importer = import_okx_ws
    if k is ImportKind.TARDIS and venue is not None:
        raise CatalogError("Tardis files are imported under their own exchange name; --venue does not apply")
    root = Path(data_root)
    root.mkdir(parents=True, exist_ok=True)
    cm = _bar(progress) if isinstance(progress, bool) else _given(progress)
    with cm as cb:
        if k is ImportKind.TARDIS:
            reports = import_tardis(paths, root, progress=cb)
        elif k is ImportKind.OKX_TRADES:
            kw = {"venue": venue} if venue is not None else {}
            reports = [import_okx_trades(paths, root, feed_latency_ns=feed_latency_ns, progress=cb, **kw)]
        else:
            kw = {"venue": venue} if venue is not None else {}
            assert okx_ws_importer is not None
            reports = [okx_ws_importer(paths, root, progress=cb, **kw)]
    return ImportResult(k, root, tuple(reports))


@contextmanager
def _given(cb: Progress) -> Iterator[Progress]:
    yield cb


# -- ls -----------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LsRow:
    """One venue/channel/instrument of the catalog."""

    venue: str
    channel: Channel
    inst: str
    rows: int
    files: int
    first: datetime | None  # first raw ts_recv, UTC
    last: datetime | None
    days: tuple[date, ...]
    gaps: tuple[date, ...]  # days between the first and the last with no data

    @property
    def date_range(self) -> str:
        if not self.days:
            return "-"
        a, b = self.days[0].isoformat(), self.days[-1].isoformat()
        return a if a == b else f"{a} .. {b}"


def _dt(ns: int | None) -> datetime | None:
    return None if ns is None else datetime.fromtimestamp(ns / 1e9, tz=UTC)


def ls(data_root: Path) -> list[LsRow]:
    """Every venue/channel/instrument in the catalog (footers only: fast on any size)."""
    cat = Catalog(data_root)
    return [
        LsRow(s.venue, s.channel, s.inst, s.rows, s.files, _dt(s.first_ts_recv), _dt(s.last_ts_recv), s.dates, s.gaps)
        for s in cat.summary()
    ]


# -- verify -------------------------------------------------------------------------------------


class FailureKind(StrEnum):
    METADATA = "metadata"
    TIME_ORDER = "time_order"
    MSG_ID = "msg_id"
    SEQUENCE = "sequence"
    CHECKSUM = "checksum"
    CHECKPOINT = "checkpoint"
    UNREADABLE = "unreadable"


@dataclass(frozen=True, slots=True)
class VerifyFailure:
    kind: FailureKind
    venue: str
    channel: Channel
    inst: str
    file: Path
    detail: str

    def __str__(self) -> str:
        return f"{self.kind.value}: {self.venue}/{self.channel.dirname}/{self.inst} ({self.file.name}): {self.detail}"


@dataclass(slots=True)
class VerifyReport:
    """Counts of what was checked and the first failures (``failure_count`` counts them all)."""

    data_root: Path
    files: int = 0
    rows: int = 0
    book_messages: int = 0
    checksums_checked: int = 0
    checksums_ok: int = 0
    seq_checked: int = 0
    checkpoints_checked: int = 0
    unchecked_messages: int = 0  # updates after a failure, until the next snapshot/checkpoint
    failure_count: int = 0
    failures: list[VerifyFailure] = field(default_factory=list)
    max_failures: int = 20

    @property
    def ok(self) -> bool:
        return self.failure_count == 0

    def fail(self, f: VerifyFailure) -> None:
        self.failure_count += 1
        if len(self.failures) < self.max_failures:
            self.failures.append(f)

    def lines(self) -> list[str]:
        head = "OK" if self.ok else f"FAILED ({self.failure_count:,} failure(s))"
        out = [
            f"{head}: {self.files:,} files, {self.rows:,} rows under {self.data_root}",
            f"  books: {self.book_messages:,} messages; {self.checksums_ok:,}/{self.checksums_checked:,} non-zero "
            f"checksums match; {self.seq_checked:,} seq links checked; {self.checkpoints_checked:,} checkpoints "
            f"equal the rebuilt book",
        ]
        if self.unchecked_messages:
            out.append(f"  {self.unchecked_messages:,} book messages not checkable (after a failure, before a resync)")
        out += [f"  ! {f}" for f in self.failures]
        if self.failure_count > len(self.failures):
            out.append(f"  ... and {self.failure_count - len(self.failures):,} more")
        return out


def verify(data_root: Path, *, venue: str | None = None, max_failures: int = 20) -> VerifyReport:
    """Re-check the catalog at ``data_root`` (all venues, or one) from its files alone."""
    cat = Catalog(data_root)
    rep = VerifyReport(Path(data_root), max_failures=max_failures)
    for v in [venue] if venue is not None else cat.venues():
        try:
            metas = cat.instrument_meta(v)
        except CatalogError as e:
            rep.fail(VerifyFailure(FailureKind.METADATA, v, Channel.SESSIONS, "-", meta.meta_dir(data_root, v), str(e)))
            continue
        for ch in cat.channels(v):
            for inst in cat.instruments(v, ch):
                paths = [p for d in cat.dates(v, ch, inst) for p in part_files(cat.date_dir(v, ch, inst, d))]
                _verify_files(rep, v, ch, inst, paths, metas.get(inst))
                if ch is Channel.BOOKS and metas.get(inst) is not None:
                    _verify_book(rep, v, inst, paths, metas[inst])
    return rep


def _verify_files(
    rep: VerifyReport, venue: str, ch: Channel, inst: str, paths: list[Path], m: meta.InstrumentMeta | None
) -> None:
    if needs_decimals(ch) and m is None:
        rep.fail(VerifyFailure(FailureKind.METADATA, venue, ch, inst, paths[0] if paths else Path("-"),
                               "no decimals for this instrument in _meta/instruments.json"))  # fmt: skip
    last_dir: Path | None = None
    last_ts = -(1 << 62)
    for p in paths:
        rep.files += 1
        try:
            fm = read_file_meta(p)
            ts = pq.read_table(p, columns=["ts_recv"]).column(0).to_pylist()
        except (CatalogError, OSError, ValueError) as e:  # pyarrow's errors derive from these
            rep.fail(VerifyFailure(FailureKind.UNREADABLE, venue, ch, inst, p, str(e)))
            continue
        rep.rows += len(ts)
        if (fm.channel, fm.venue, fm.inst) != (ch, venue, inst):
            rep.fail(VerifyFailure(FailureKind.METADATA, venue, ch, inst, p,
                                   f"file says {fm.venue}/{fm.channel.dirname}/{fm.inst}, its directory says "
                                   f"{venue}/{ch.dirname}/{inst}"))  # fmt: skip
        if m is not None and fm.price_decimals is not None and (fm.price_decimals, fm.size_decimals) != (
            m.price_decimals, m.size_decimals
        ):
            rep.fail(VerifyFailure(FailureKind.METADATA, venue, ch, inst, p,
                                   f"file decimals {fm.price_decimals}/{fm.size_decimals} differ from _meta's "
                                   f"{m.price_decimals}/{m.size_decimals}"))  # fmt: skip
        if p.parent != last_dir:
            last_dir, last_ts = p.parent, -(1 << 62)
        for i, t in enumerate(ts):
            if t < last_ts:
                rep.fail(VerifyFailure(FailureKind.TIME_ORDER, venue, ch, inst, p,
                                       f"row {i}: ts_recv {t} is before the previous row's {last_ts}"))  # fmt: skip
                break
            last_ts = t


_BOOK_COLS = ["msg_id", "action", "side", "price", "size", "seq_id", "prev_seq_id", "checksum", "last_in_msg"]
_SNAP = int(BookRowAction.SNAPSHOT)
_CKPT = int(BookRowAction.CHECKPOINT)


def _verify_book(rep: VerifyReport, venue: str, inst: str, paths: list[Path], m: meta.InstrumentMeta) -> None:
    """Rebuild the book message by message; check msg_id order, seq links, checksums, checkpoints."""
    book = L2Book(unit_spec(inst, m.price_decimals, m.size_decimals))
    bids, asks = book.bids, book.asks
    synced = False
    seq: int | None = None
    cur_msg: int | None = None
    act = 0
    cp: tuple[dict[int, int], dict[int, int]] = ({}, {})

    def fail(kind: FailureKind, p: Path, detail: str) -> None:
        rep.fail(VerifyFailure(kind, venue, Channel.BOOKS, inst, p, detail))

    for p in paths:
        try:
            pf = pq.ParquetFile(p)
        except (OSError, ValueError):
            continue  # already reported as unreadable
        for batch in pf.iter_batches(batch_size=65_536, columns=_BOOK_COLS):
            c = batch.to_pydict()
            msg_l, act_l, side_l, px_l, sz_l = c["msg_id"], c["action"], c["side"], c["price"], c["size"]
            seq_l, prev_l, cs_l, last_l = c["seq_id"], c["prev_seq_id"], c["checksum"], c["last_in_msg"]
            for i in range(len(msg_l)):
                mid = msg_l[i]
                if mid != cur_msg:
                    if cur_msg is not None and mid < cur_msg:
                        fail(FailureKind.MSG_ID, p, f"msg_id {mid} after {cur_msg}: messages out of order")
                    cur_msg = mid
                    act = act_l[i]
                    if act == _SNAP:
                        bids.clear()
                        asks.clear()
                    elif act == _CKPT:
                        cp = ({}, {})
                q = sz_l[i]
                if act == _CKPT:
                    (cp[1] if side_l[i] else cp[0])[px_l[i]] = q
                else:
                    lv = asks if side_l[i] else bids
                    if q:
                        lv[px_l[i]] = q
                    else:
                        lv.pop(px_l[i], None)
                if not last_l[i]:
                    continue
                # -- end of one message ----------------------------------------------------
                if act == _CKPT:
                    if synced:
                        rep.checkpoints_checked += 1
                        if cp[0] != bids or cp[1] != asks:
                            fail(FailureKind.CHECKPOINT, p,
                                 f"checkpoint msg_id {mid} differs from the book rebuilt from the messages before it")
                            synced = False
                    if not synced:  # a checkpoint seeds a book that has none (a range's start)
                        bids.clear()
                        asks.clear()
                        bids.update(cp[0])
                        asks.update(cp[1])
                        synced = True
                        seq = seq_l[i]
                    continue
                rep.book_messages += 1
                if act == _SNAP:
                    synced = True
                elif not synced:
                    rep.unchecked_messages += 1
                    seq = seq_l[i]
                    continue
                else:
                    prev = prev_l[i]
                    if prev is not None and seq is not None:
                        rep.seq_checked += 1
                        if prev != seq:
                            fail(FailureKind.SEQUENCE, p,
                                 f"msg_id {mid}: prev_seq_id {prev} does not continue seq_id {seq} (messages missing)")
                            synced = False
                seq = seq_l[i]
                cs = cs_l[i]
                if synced and cs:
                    rep.checksums_checked += 1
                    mine = book.checksum()
                    if mine == cs:
                        rep.checksums_ok += 1
                    else:
                        fail(FailureKind.CHECKSUM, p,
                             f"msg_id {mid} (seq_id {seq}): stored checksum {cs}, rebuilt book gives {mine}")
                        synced = False

