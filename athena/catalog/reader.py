"""Reading the catalog: listing, lazy scans, streaming batches, and the merge of DESIGN.md §10.

Owns: finding partitions and part files (``Catalog``: venues, channels, instruments, dates, the
files of a range with the neighbouring day on each side, §5), lazy polars scans filtered on raw
``ts_recv``, ``iter_batches`` (one Parquet file as pyarrow RecordBatches by row group — the
streaming building block of §10 rule 1), and ``summary()`` for ``athena data ls`` built from
Parquet footers alone. [The streaming merge of §10 rules 1–2 is appended below these parts.]
Never: loads a whole range into memory, opens a partition outside the asked range and its two
neighbouring days, reads ``*.tmp`` files (a write in progress or a crash's leftover), applies the
§6 clock shift to the rows (it is read from ``_meta`` by whoever replays), or writes anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from athena.catalog import meta
from athena.catalog.schema import FileMeta, empty_table
from athena.catalog.writer import NS_PER_DAY, PART_RE
from athena.errors import CatalogError
from athena.model.enums import Channel

DEFAULT_BATCH_ROWS = 65_536
_EPOCH = date(1970, 1, 1)
_DATE_RE = re.compile(r"^date=(\d{4}-\d{2}-\d{2})$")


def day_index(d: date) -> int:
    """Days since 1970-01-01: the integer a ``date=`` partition stands for."""
    return (d - _EPOCH).days


def date_of_index(i: int) -> date:
    return _EPOCH + timedelta(days=i)


def part_sort_key(path: Path) -> tuple[int, str]:
    """Order of the parts of one partition: their ``n``, which the writer increments per flush, so
    it is write (= arrival) order even when a clock step made a later part's HHMMSS smaller."""
    m = PART_RE.match(path.name)
    if m is None:
        raise CatalogError(f"{path}: not a catalog part name (part-<HHMMSS>-<n>.parquet)")
    return int(m.group(2)), path.name


def part_files(directory: Path) -> list[Path]:
    """The completed part files of one ``date=`` directory in write order (temp files skipped)."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.iterdir() if PART_RE.match(p.name)), key=part_sort_key)


def read_file_meta(path: str | Path) -> FileMeta:
    """The Athena key-value metadata of one part file (footer only)."""
    return FileMeta.from_kv(pq.read_schema(path).metadata, where=str(path))


def iter_batches(
    path: str | Path, batch_rows: int = DEFAULT_BATCH_ROWS, columns: Sequence[str] | None = None
) -> Iterator[pa.RecordBatch]:
    """Stream one part file as RecordBatches of at most ``batch_rows`` rows, row group by row
    group (a batch never spans two groups); memory holds one row group at a time, never the file."""
    cols = list(columns) if columns is not None else None
    with pq.ParquetFile(path) as pf:
        for g in range(pf.num_row_groups):
            yield from pf.iter_batches(batch_size=batch_rows, row_groups=[g], columns=cols)


@dataclass(frozen=True, slots=True)
class InstrumentSummary:
    """One (venue, channel, instrument) of the catalog as its Parquet footers describe it."""

    venue: str
    channel: Channel
    inst: str
    rows: int
    files: int
    first_ts_recv: int | None  # ns; None when the partitions hold no rows
    last_ts_recv: int | None
    dates: tuple[date, ...]  # days with at least one part file
    gaps: tuple[date, ...]  # days between the first and the last with no part file


class Catalog:
    """A catalog root (``data/catalog/``, ``data/sample/`` …) opened for reading."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise CatalogError(
                f"catalog root {self.root} is not a directory; record or import data first, or point --data at one"
            )

    # -- listing ------------------------------------------------------------------------------

    def venues(self) -> list[str]:
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))

    def channels(self, venue: str) -> list[Channel]:
        """The channels present for a venue, in replay rank order."""
        base = self.root / venue
        if not base.is_dir():
            return []
        known = {c.dirname: c for c in Channel}
        return sorted(known[p.name] for p in base.iterdir() if p.is_dir() and p.name in known)

    def instruments(self, venue: str, channel: Channel) -> list[str]:
        base = self.root / venue / Channel(channel).dirname
        if not base.is_dir():
            return []
        return sorted(p.name[5:] for p in base.iterdir() if p.is_dir() and p.name.startswith("inst="))

    def dates(self, venue: str, channel: Channel, inst: str) -> list[date]:
        """The ``date=`` partitions of one instrument, ascending (empty directories included)."""
        base = self._inst_dir(venue, channel, inst)
        if not base.is_dir():
            return []
        out = []
        for p in base.iterdir():
            m = _DATE_RE.match(p.name)
            if m is None or not p.is_dir():
                continue
            try:
                out.append(date.fromisoformat(m.group(1)))
            except ValueError:
                raise CatalogError(f"{p}: not a valid date partition (date=YYYY-MM-DD)") from None
        return sorted(out)

    def _inst_dir(self, venue: str, channel: Channel, inst: str) -> Path:
        return self.root / venue / Channel(channel).dirname / f"inst={inst}"

    def date_dir(self, venue: str, channel: Channel, inst: str, day: date) -> Path:
        return self._inst_dir(venue, channel, inst) / f"date={day.isoformat()}"

    def files(
        self,
        venue: str,
        channel: Channel,
        inst: str,
        start_ns: int | None = None,
        end_ns: int | None = None,
        *,
        neighbours: bool = True,
    ) -> list[Path]:
        """Part files of the days overlapping [start_ns, end_ns) by raw ts_recv — plus, with
        ``neighbours``, the day before and the day after (§5: a clock shift can move rows across
        midnight) — sorted by date, then write order. Other days are not opened."""
        if start_ns is not None and end_ns is not None and end_ns <= start_ns:
            return []
        lo, hi = _day_range(start_ns, end_ns)
        pad = 1 if neighbours else 0
        out: list[Path] = []
        for d in self.dates(venue, channel, inst):
            i = day_index(d)
            if (lo is None or i >= lo - pad) and (hi is None or i <= hi + pad):
                out += part_files(self.date_dir(venue, channel, inst, d))
        return out

    # -- reading ------------------------------------------------------------------------------

    def scan(
        self, venue: str, channel: Channel, inst: str, start_ns: int | None = None, end_ns: int | None = None
    ) -> pl.LazyFrame:
        """A lazy frame of one instrument's rows with raw ts_recv in [start_ns, end_ns), partitions
        in order and rows in arrival order. Only the days overlapping the range are opened (a raw
        filter needs no neighbour); polars skips row groups by their ts_recv statistics."""
        channel = Channel(channel)
        paths = self.files(venue, channel, inst, start_ns, end_ns, neighbours=False)
        if not paths:
            return pl.from_arrow(empty_table(channel)).lazy()  # type: ignore[union-attr]
        lf = pl.scan_parquet([str(p) for p in paths], hive_partitioning=False, glob=False)
        if start_ns is not None:
            lf = lf.filter(pl.col("ts_recv") >= start_ns)
        if end_ns is not None:
            lf = lf.filter(pl.col("ts_recv") < end_ns)
        return lf

    def instrument_meta(self, venue: str) -> dict[str, meta.InstrumentMeta]:
        return meta.read_instruments(self.root, venue)

    def clock_shifts(self, venue: str) -> dict[str, meta.DayShift]:
        return meta.read_clock_shifts(self.root, venue)

    # -- summary ------------------------------------------------------------------------------

    def summary(self, venue: str | None = None) -> list[InstrumentSummary]:
        """Per venue/channel/instrument: rows, files, first/last ts_recv, dates and missing dates,
        from Parquet footers only (row counts and ts_recv statistics), never the data pages."""
        out: list[InstrumentSummary] = []
        for v in [venue] if venue is not None else self.venues():
            for ch in self.channels(v):
                for inst in self.instruments(v, ch):
                    out.append(self._summarise(v, ch, inst))
        return out

    def _summarise(self, venue: str, channel: Channel, inst: str) -> InstrumentSummary:
        rows = files = 0
        first: int | None = None
        last: int | None = None
        days: list[date] = []
        for d in self.dates(venue, channel, inst):
            parts = part_files(self.date_dir(venue, channel, inst, d))
            if not parts:
                continue
            days.append(d)
            for p in parts:
                n, lo, hi = footer_stats(p)
                rows += n
                files += 1
                if lo is not None:
                    first = lo if first is None else min(first, lo)
                if hi is not None:
                    last = hi if last is None else max(last, hi)
        gaps: list[date] = []
        if days:
            present = {day_index(d) for d in days}
            gaps = [date_of_index(i) for i in range(day_index(days[0]), day_index(days[-1]) + 1) if i not in present]
        return InstrumentSummary(venue, channel, inst, rows, files, first, last, tuple(days), tuple(gaps))


def footer_stats(path: Path) -> tuple[int, int | None, int | None]:
    """(rows, min ts_recv, max ts_recv) of one part from its footer; reads the ts_recv column only
    when a foreign writer left no statistics."""
    md = pq.read_metadata(path)
    if md.num_rows == 0:
        return 0, None, None
    idx = md.schema.to_arrow_schema().get_field_index("ts_recv")
    if idx < 0:
        raise CatalogError(f"{path}: no ts_recv column; not a catalog part")
    lo: int | None = None
    hi: int | None = None
    for g in range(md.num_row_groups):
        st = md.row_group(g).column(idx).statistics
        if st is None or not st.has_min_max:
            col = pq.read_table(path, columns=["ts_recv"]).column(0)
            return md.num_rows, pc.min(col).as_py(), pc.max(col).as_py()
        lo = st.min if lo is None else min(lo, st.min)
        hi = st.max if hi is None else max(hi, st.max)
    return md.num_rows, lo, hi


def _day_range(start_ns: int | None, end_ns: int | None) -> tuple[int | None, int | None]:
    """Day indexes of the first and last day overlapping [start_ns, end_ns) (None: unbounded)."""
    lo = None if start_ns is None else start_ns // NS_PER_DAY
    hi = None if end_ns is None else (end_ns - 1) // NS_PER_DAY
    return lo, hi
