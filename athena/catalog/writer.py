"""Writing the catalog: buffered, partitioned, crash-safe Parquet parts.

Owns: ``CatalogWriter`` — buffering validated rows per (channel, instrument, UTC day of raw
``ts_recv``), splitting them exactly at midnight, and flushing each buffer as a new part file
``<root>/<venue>/<channel>/inst=<INST>/date=<YYYY-MM-DD>/part-<HHMMSS>-<n>.parquet`` written
atomically (``.part-….parquet.tmp`` in the same directory, fsync, ``os.replace``, fsync of the
directory), so a reader or a crash sees a whole part or none. Updating the venue's per-day clock
shift (``meta.update_clock_shift``) from the rows it flushes, and registering instruments' decimals.
``recover()`` removes the temp files a crash left behind.
Never: reads the wall clock (age is measured on the rows' own ``ts_recv``; a recorder passes its
``now_ns`` to ``maybe_flush``), overwrites or appends to an existing part (each flush is a new file
with a larger ``n``), reorders rows (a partition's rows stay in arrival order), or shares a venue
directory with another live writer (an exclusive lock says so).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import IO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from athena.catalog import meta
from athena.catalog.schema import (
    SCHEMA_VERSION,
    FileMeta,
    needs_decimals,
    table_from_columns,
    validate_table,
)
from athena.errors import CatalogError
from athena.model.enums import Channel
from athena.model.instrument import InstrumentSpec

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows is not a target
    fcntl = None  # type: ignore[assignment]

NS_PER_SECOND = 1_000_000_000
NS_PER_DAY = 86_400 * NS_PER_SECOND
DEFAULT_MAX_ROWS = 500_000
DEFAULT_MAX_AGE_NS = 60 * NS_PER_SECOND
DEFAULT_ROW_GROUP_ROWS = 65_536  # a reader streams one row group at a time (§10 rule 1)
COMPRESSION = "zstd"
WRITER_LOCK = "writer.lock"

PART_RE = re.compile(r"^part-(\d{6})-(\d+)\.parquet$")
_ANY_PART_RE = re.compile(r"^\.?part-\d{6}-(\d+)\.parquet(?:\.tmp)?$")


def day_of(ts_ns: int) -> str:
    """The ``date=`` partition (UTC day, YYYY-MM-DD) of a raw ts_recv."""
    return datetime.fromtimestamp(ts_ns // NS_PER_DAY * 86_400, tz=UTC).strftime("%Y-%m-%d")


def partition_dir(root: str | Path, venue: str, channel: Channel, inst: str, day: str) -> Path:
    return Path(root) / venue / Channel(channel).dirname / f"inst={inst}" / f"date={day}"


def part_name(first_ts_recv: int, n: int) -> str:
    """``part-<HHMMSS of the first row's ts_recv>-<n>.parquet``; n zero-padded to 6 digits so that
    name order is write order for tools that sort names (n is the authority; see reader)."""
    sod = (first_ts_recv % NS_PER_DAY) // NS_PER_SECOND
    return f"part-{sod // 3600:02d}{sod // 60 % 60:02d}{sod % 60:02d}-{n:06d}.parquet"


def recover(root: str | Path, venue: str) -> int:
    """Delete the temp files a crash left in a venue directory; returns how many. Only safe while
    no writer is running on that venue (``CatalogWriter`` calls it under its lock)."""
    base = Path(root) / venue
    if not base.is_dir():
        return 0
    n = 0
    for p in base.rglob("*.tmp"):
        if p.is_file():
            p.unlink()
            n += 1
    return n


class _Buffer:
    """Rows waiting for one partition: arrival-ordered chunks and the oldest/newest ts_recv."""

    __slots__ = ("chunks", "newest_ns", "oldest_ns", "rows")

    def __init__(self) -> None:
        self.chunks: list[pa.Table] = []
        self.rows = 0
        self.oldest_ns = 1 << 62
        self.newest_ns = -1

    def add(self, table: pa.Table, lo: int, hi: int) -> None:
        self.chunks.append(table)
        self.rows += table.num_rows
        self.oldest_ns = min(self.oldest_ns, lo)
        self.newest_ns = max(self.newest_ns, hi)


_Key = tuple[Channel, str, str]  # (channel, inst, YYYY-MM-DD)


class CatalogWriter:
    """Buffer rows and write them as atomic Parquet parts of one venue's catalog.

    ``with CatalogWriter(root, "okx", instruments=[BTC_USDT_SWAP]) as w: w.write(Channel.TRADES,
    "BTC-USDT-SWAP", {...})``. A buffer is flushed when it holds ``max_rows`` rows, when its
    newest row is ``max_age_ns`` after its oldest (by ``ts_recv``), when ``maybe_flush(now_ns)``
    finds its oldest row ``max_age_ns`` before ``now_ns``, and on ``flush()``/``close()``.
    Opening takes the venue's writer lock and runs ``recover()``; ``recovered`` says how many temp
    files it removed.
    """

    def __init__(
        self,
        root: str | Path,
        venue: str,
        *,
        max_rows: int = DEFAULT_MAX_ROWS,
        max_age_ns: int = DEFAULT_MAX_AGE_NS,
        row_group_rows: int = DEFAULT_ROW_GROUP_ROWS,
        instruments: Iterable[InstrumentSpec | meta.InstrumentMeta] = (),
        clock_base_ns: int | None = None,
    ) -> None:
        if not venue or venue.startswith(("_", ".")) or "/" in venue:
            raise CatalogError(f"venue name {venue!r} is not a plain directory name (e.g. 'okx', 'binance-futures')")
        if max_rows < 1 or max_age_ns < 0 or row_group_rows < 1:
            raise CatalogError(
                f"writer limits must be positive: max_rows={max_rows}, max_age_ns={max_age_ns}, "
                f"row_group_rows={row_group_rows}"
            )
        self.root = Path(root)
        self.venue = venue
        self.max_rows = max_rows
        self.max_age_ns = max_age_ns
        self.row_group_rows = row_group_rows
        self.clock_base_ns = clock_base_ns
        self.parts_written = 0
        self._closed = False
        self._buffers: dict[_Key, _Buffer] = {}
        self._next_n: dict[Path, int] = {}
        self._lock_file: IO[bytes] | None = self._acquire_lock()
        try:
            self.recovered = self.recover()
            self._instruments: dict[str, meta.InstrumentMeta] = meta.read_instruments(self.root, venue)
            self._min_delta: dict[str, int] = {
                d: s.min_delta_ns for d, s in meta.read_clock_shifts(self.root, venue).items()
            }
            for spec in instruments:
                self.add_instrument(spec)
        except BaseException:
            self._release_lock()
            raise

    # -- lifecycle ----------------------------------------------------------------------------

    def _acquire_lock(self) -> IO[bytes]:
        d = meta.meta_dir(self.root, self.venue)
        d.mkdir(parents=True, exist_ok=True)
        f = open(d / WRITER_LOCK, "a+b")  # noqa: SIM115 - held for the writer's lifetime
        if fcntl is not None:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                f.close()
                raise CatalogError(
                    f"{d / WRITER_LOCK} is held by another CatalogWriter: one writer per venue directory "
                    f"(share one writer, or write the other source under its own venue name)"
                ) from None
        return f

    def _release_lock(self) -> None:
        f = self._lock_file
        if f is not None:
            f.close()  # closing the fd drops the flock
            self._lock_file = None

    def recover(self) -> int:
        """Delete leftover ``*.tmp`` files of this venue (a crash mid-write); returns how many."""
        return recover(self.root, self.venue)

    def close(self) -> None:
        """Flush every buffer and release the venue lock. Idempotent."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            self._release_lock()

    def __enter__(self) -> CatalogWriter:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- instruments --------------------------------------------------------------------------

    def add_instrument(self, instrument: InstrumentSpec | meta.InstrumentMeta) -> None:
        """Record an instrument's decimals (and spec) in ``_meta/instruments.json``."""
        m = instrument if isinstance(instrument, meta.InstrumentMeta) else meta.InstrumentMeta.from_spec(instrument)
        known = self._instruments.get(m.inst_id)
        if known == m:
            return
        self._instruments = meta.write_instruments(self.root, self.venue, {m.inst_id: m})

    def instrument(self, inst: str) -> meta.InstrumentMeta | None:
        return self._instruments.get(inst)

    # -- writing ------------------------------------------------------------------------------

    @property
    def rows_buffered(self) -> int:
        return sum(b.rows for b in self._buffers.values())

    def write(self, channel: Channel, inst: str, rows: pa.Table | Mapping[str, object]) -> list[Path]:
        """Buffer rows (arrival order) of one channel and instrument; returns the parts this call
        flushed. Rows are split across ``date=`` partitions exactly at UTC midnight of ts_recv."""
        if self._closed:
            raise CatalogError("write on a closed CatalogWriter")
        channel = Channel(channel)
        if not inst or "/" in inst or inst.startswith((".", "_")):
            raise CatalogError(f"instrument id {inst!r} is not a plain directory name")
        if needs_decimals(channel) and inst not in self._instruments:
            raise CatalogError(
                f"{self.venue}/{channel.dirname}: no decimals for {inst} in "
                f"{meta.meta_dir(self.root, self.venue) / meta.INSTRUMENTS_FILE}; pass its InstrumentSpec to "
                f"CatalogWriter(instruments=...) or add_instrument() before writing prices"
            )
        table = validate_table(channel, rows) if isinstance(rows, pa.Table) else table_from_columns(channel, rows)
        if table.num_rows == 0:
            return []
        recv = table.column("ts_recv")
        mm = pc.min_max(recv).as_py()
        lo, hi = mm["min"], mm["max"]
        if lo < 0:
            raise CatalogError(
                f"{channel.dirname} {inst}: ts_recv {lo} is before 1970; expected int ns since the epoch"
            )
        written: list[Path] = []
        d_lo, d_hi = lo // NS_PER_DAY, hi // NS_PER_DAY
        if d_lo == d_hi:
            written += self._add(channel, inst, day_of(lo), table, lo, hi)
        else:
            days = pc.divide(recv, pa.scalar(NS_PER_DAY, pa.int64()))  # ts_recv >= 0: truncation is floor
            for d in sorted(pc.unique(days).to_pylist()):
                part = table.filter(pc.equal(days, pa.scalar(d, pa.int64())))  # keeps arrival order
                pm = pc.min_max(part.column("ts_recv")).as_py()
                written += self._add(channel, inst, day_of(d * NS_PER_DAY), part, pm["min"], pm["max"])
        return written

    def _add(self, channel: Channel, inst: str, day: str, table: pa.Table, lo: int, hi: int) -> list[Path]:
        key = (channel, inst, day)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = _Buffer()
        buf.add(table, lo, hi)
        if buf.rows >= self.max_rows or buf.newest_ns - buf.oldest_ns >= self.max_age_ns:
            return self._flush_key(key)
        return []

    def maybe_flush(self, now_ns: int) -> list[Path]:
        """Flush every buffer whose oldest row is ``max_age_ns`` or more before ``now_ns`` (the
        caller's clock: a recorder's receive time, never read here)."""
        due = [k for k, b in self._buffers.items() if now_ns - b.oldest_ns >= self.max_age_ns]
        out: list[Path] = []
        for k in due:
            out += self._flush_key(k)
        return out

    def flush(self) -> list[Path]:
        """Write every buffer now."""
        out: list[Path] = []
        for k in list(self._buffers):
            out += self._flush_key(k)
        return out

    def _flush_key(self, key: _Key) -> list[Path]:
        buf = self._buffers.pop(key)
        channel, inst, day = key
        table = pa.concat_tables(buf.chunks) if len(buf.chunks) > 1 else buf.chunks[0]
        m = self._instruments.get(inst)
        fm = FileMeta(
            SCHEMA_VERSION,
            channel,
            self.venue,
            inst,
            m.price_decimals if m is not None else None,
            m.size_decimals if m is not None else None,
        )
        table = table.replace_schema_metadata(fm.to_kv())
        # Sessions rows are stamped by the recorder's own clock on both sides: they say nothing
        # about the feed's latency, so they never enter the clock-shift measurement (§6). The
        # delta is recorded before the parts: after a crash between the two, the shift can only
        # be too large (latency stays non-negative), never too small.
        if channel is not Channel.SESSIONS:
            self._note_delta(day, table)
        directory = partition_dir(self.root, self.venue, channel, inst, day)
        out: list[Path] = []
        done = 0
        try:
            while done < table.num_rows:
                part = table.slice(done, self.max_rows)
                out.append(self._write_part(directory, part))
                done += part.num_rows
        except BaseException:
            # Keep what was not written (a full disk, a permission error): a later flush retries it.
            rest = table.slice(done)
            if rest.num_rows:
                recv = rest.column("ts_recv")
                again = _Buffer()
                again.add(rest, pc.min(recv).as_py(), pc.max(recv).as_py())
                self._buffers[key] = again
            raise
        return out

    def _write_part(self, directory: Path, table: pa.Table) -> Path:
        n = self._next_part_number(directory)
        final = directory / part_name(table.column("ts_recv")[0].as_py(), n)
        tmp = directory / f".{final.name}.tmp"
        try:
            with open(tmp, "wb") as f:
                pq.write_table(
                    table, f, row_group_size=self.row_group_rows, compression=COMPRESSION, write_statistics=True
                )
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, final)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        meta.fsync_dir(directory)
        self.parts_written += 1
        return final

    def _next_part_number(self, directory: Path) -> int:
        n = self._next_n.get(directory)
        if n is None:
            if directory.is_dir():
                found = [int(m.group(1)) for p in directory.iterdir() if (m := _ANY_PART_RE.match(p.name))]
                n = max(found, default=-1) + 1
            else:
                directory.mkdir(parents=True)
                meta.fsync_dir(directory.parent)
                n = 0
        self._next_n[directory] = n + 1
        return n

    def _note_delta(self, day: str, table: pa.Table) -> None:
        delta = pc.min(pc.subtract(table.column("ts_recv"), table.column("ts_event"))).as_py()
        if delta is None:
            return
        known = self._min_delta.get(day)
        if known is not None and known <= delta:
            return
        merged = meta.update_clock_shift(self.root, self.venue, {day: delta}, base_ns=self.clock_base_ns)
        self._min_delta = {d: s.min_delta_ns for d, s in merged.items()}
