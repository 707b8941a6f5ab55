"""The streaming merge of DESIGN.md §10 rules 1–2: catalog sources → time-ordered windows of column lists.

Owns: reading each source (one channel of one instrument) by Parquet row group, converting its
rows once per batch in polars into the replay's unified columns, and merging all sources in
windows cut at the smallest last ``ts_recv`` among the sources that may still have rows. Only
rows strictly before the cut are emitted; rows at the cut wait for the next window, so one
exchange message (whose rows share a ``ts_recv``) is never split, whatever the batch size.
Order: (ts_recv, channel rank, instrument, row order), stable.
Never: loads a whole range into memory, builds an object per row, or reads a clock.

Unified columns of a window (``Window``), each a plain Python list:
  ``tl``  local time: running max of ts_recv + the day's clock shift (§6), never below ``te``;
  ``te``  exchange time: running max of ts_event;
  ``tr``  raw ts_event (the queue model's clamp credit is tagged with it);
  ``kd``  packed kind (below) with the instrument index in bits 5+;
  ``tk``  price in ticks (book, trade, mark price rows), ``lt`` size in lots;
  ``tid`` trade id (trades) or funding time (funding rows);
  ``aux`` {row index: float} for funding rows (the rate).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq

from athena.catalog.reader import Catalog, day_index
from athena.errors import CatalogError
from athena.model.enums import Channel
from athena.model.instrument import InstrumentSpec

# Packed kinds (bits 0..4); the instrument index is kind >> INST_SHIFT.
K_TRADE = 0  # | side (0 buyer-taker, 1 seller-taker)
K_BOOK = 8  # | side | EOM | SNAP
K_CHECKPOINT = 16  # | side | EOM: a writer's flagged copy of its checked book
K_MARK = 24
K_FUNDING = 25
F_SIDE = 1
F_EOM = 2
F_SNAP = 4
INST_SHIFT = 5
KIND_MASK = 31

_NS_PER_DAY = 86_400_000_000_000


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One source of the merge: a channel of one instrument, its files and its unit factors.

    ``price_factor``/``size_factor``: catalog integers per tick/lot (tick_sz × 10^price_decimals),
    so ticks = price // price_factor exactly (the importer guarantees the grid)."""

    channel: Channel
    inst_index: int
    files: tuple[Path, ...]
    price_factor: int = 1
    size_factor: int = 1
    shift_by_day: dict[int, int] = field(default_factory=dict)  # UTC day number -> shift ns


@dataclass(slots=True)
class Window:
    tl: list[int]
    te: list[int]
    tr: list[int]
    kd: list[int]
    tk: list[int]
    lt: list[int]
    tid: list[int]
    aux: dict[int, float]

    def __len__(self) -> int:
        return len(self.kd)


_COLUMNS: dict[Channel, list[str]] = {
    Channel.TRADES: ["ts_event", "ts_recv", "trade_id", "price", "size", "side"],
    Channel.BOOKS: ["ts_event", "ts_recv", "action", "side", "price", "size", "last_in_msg"],
    Channel.MARK_PRICE: ["ts_event", "ts_recv", "mark_price"],
    Channel.FUNDING: ["ts_event", "ts_recv", "funding_rate", "funding_time"],
}
SUPPORTED = frozenset(_COLUMNS)


def _unify(df: pl.DataFrame, src: SourceSpec, order_base: int) -> pl.DataFrame:
    """Rule 2: all per-row arithmetic once per batch, in polars."""
    inst_bits = src.inst_index << INST_SHIFT
    ch = src.channel
    if ch is Channel.TRADES:
        kind = pl.lit(K_TRADE + inst_bits) + pl.col("side").cast(pl.Int32)
        ticks = pl.col("price") // src.price_factor
        lots = pl.col("size") // src.size_factor
        tid = pl.col("trade_id").fill_null(0)
        fval = pl.lit(None, dtype=pl.Float64)
    elif ch is Channel.BOOKS:
        action = pl.col("action").cast(pl.Int32)
        base = pl.when(action == 2).then(pl.lit(K_CHECKPOINT)).otherwise(pl.lit(K_BOOK) + (action == 1) * F_SNAP)
        kind = (
            base
            + inst_bits
            + pl.col("side").cast(pl.Int32)
            + pl.col("last_in_msg").cast(pl.Int32) * F_EOM
        )
        ticks = pl.col("price") // src.price_factor
        lots = pl.col("size") // src.size_factor
        tid = pl.lit(0, dtype=pl.Int64)
        fval = pl.lit(None, dtype=pl.Float64)
    elif ch is Channel.MARK_PRICE:
        kind = pl.lit(K_MARK + inst_bits)
        ticks = pl.col("mark_price") // src.price_factor
        lots = pl.lit(0, dtype=pl.Int64)
        tid = pl.lit(0, dtype=pl.Int64)
        fval = pl.lit(None, dtype=pl.Float64)
    elif ch is Channel.FUNDING:
        kind = pl.lit(K_FUNDING + inst_bits)
        ticks = pl.lit(0, dtype=pl.Int64)
        lots = pl.lit(0, dtype=pl.Int64)
        tid = pl.col("funding_time")
        fval = pl.col("funding_rate").cast(pl.Float64)
    else:  # pragma: no cover - guarded by SUPPORTED
        raise CatalogError(f"channel {ch.dirname} cannot be replayed yet")
    if src.shift_by_day:
        day = pl.col("ts_recv") // _NS_PER_DAY
        shift = day.replace_strict(src.shift_by_day, default=0, return_dtype=pl.Int64)
    else:
        shift = pl.lit(0, dtype=pl.Int64)
    return df.select(
        pl.col("ts_recv").cast(pl.Int64),
        (pl.col("ts_recv") + shift).cast(pl.Int64).alias("tls"),
        pl.col("ts_event").cast(pl.Int64),
        kind.cast(pl.Int32).alias("kd"),
        ticks.cast(pl.Int64).alias("tk"),
        lots.cast(pl.Int64).alias("lt"),
        tid.cast(pl.Int64).alias("tid"),
        fval.alias("fval"),
        pl.lit(int(ch), dtype=pl.Int8).alias("rank"),
        pl.lit(src.inst_index, dtype=pl.Int16).alias("inst"),
        (pl.int_range(pl.len(), dtype=pl.Int64) + order_base).alias("ord"),
    )


class _Reader:
    """One source's batches, converted; ``buf`` holds converted rows not yet emitted."""

    __slots__ = ("_batches", "buf", "done", "emitted", "spec")

    def __init__(self, spec: SourceSpec, batch_rows: int) -> None:
        self.spec = spec
        self._batches = self._iter(batch_rows)
        self.buf: pl.DataFrame | None = None
        self.done = False
        self.emitted = 0

    def _iter(self, batch_rows: int) -> Iterator[pl.DataFrame]:
        cols = _COLUMNS[self.spec.channel]
        n = 0
        for path in self.spec.files:
            try:
                pf = pq.ParquetFile(path)
            except Exception as exc:
                raise CatalogError(f"{path}: cannot be read as Parquet ({exc}); run `athena data verify`") from None
            for batch in pf.iter_batches(batch_size=batch_rows, columns=cols):
                if batch.num_rows == 0:
                    continue
                df = pl.from_arrow(batch)
                assert isinstance(df, pl.DataFrame)
                out = _unify(df, self.spec, n)
                n += out.height
                yield out

    def pull(self) -> bool:
        """Append one more converted batch to ``buf``; False when the source is exhausted."""
        nxt = next(self._batches, None)
        if nxt is None:
            self.done = True
            return False
        self.buf = nxt if self.buf is None or self.buf.height == 0 else pl.concat([self.buf, nxt])
        return True

    def last_ts(self) -> int:
        assert self.buf is not None
        return int(self.buf["ts_recv"][-1])


def merge_windows(
    sources: Sequence[SourceSpec], *, batch_rows: int = 65_536, end_ns: int | None = None
) -> Iterator[Window]:
    """Yield time-ordered windows of unified column lists from every source (rules 1–2).

    Rows with ts_recv >= ``end_ns`` are not emitted. Rows before the replay's start are (the
    replay warms its books on them without dispatching)."""
    readers = [_Reader(s, batch_rows) for s in sorted(sources, key=lambda s: (int(s.channel), s.inst_index))]
    has_funding = any(s.channel is Channel.FUNDING for s in sources)
    te_carry = -(1 << 62)
    tl_carry = -(1 << 62)
    while True:
        for r in readers:
            while not r.done and (r.buf is None or r.buf.height == 0):
                r.pull()
        live = [r for r in readers if r.buf is not None and r.buf.height]
        if not live:
            return
        pending = [r for r in live if not r.done]
        cut = min(r.last_ts() for r in pending) if pending else None
        parts: list[pl.DataFrame] = []
        for r in live:
            assert r.buf is not None
            if cut is None:
                part, rest = r.buf, r.buf.clear()
            else:
                idx = r.buf["ts_recv"].search_sorted(cut, side="left")
                part, rest = r.buf.slice(0, idx), r.buf.slice(idx)
            if part.height:
                parts.append(part)
            r.buf = rest
        if not parts:
            # every row buffered sits at the cut: read further in the sources that set it
            for r in pending:
                if r.last_ts() == cut:
                    r.pull()
            continue
        df = pl.concat(parts) if len(parts) > 1 else parts[0]
        if len(parts) > 1:
            # Parts are concatenated in (rank, instrument) order, each in row order, so a stable
            # sort on ts_recv alone yields (ts_recv, rank, instrument, row order).
            df = df.sort("ts_recv", maintain_order=True)
        stop = False
        if end_ns is not None and int(df["ts_recv"][-1]) >= end_ns:
            df = df.filter(pl.col("ts_recv") < end_ns)
            stop = True
        if df.height:
            df = df.with_columns(
                pl.max_horizontal(pl.col("ts_event").cum_max(), pl.lit(te_carry)).alias("te"),
            ).with_columns(
                pl.max_horizontal(pl.col("tls").cum_max(), pl.lit(tl_carry), pl.col("te")).alias("tl"),
            )
            te_carry = int(df["te"][-1])
            tl_carry = int(df["tl"][-1])
            kd = df["kd"].to_list()
            aux: dict[int, float] = {}
            if has_funding:
                fund = df.select(pl.int_range(pl.len()).alias("i"), "kd", "fval").filter(
                    (pl.col("kd") & KIND_MASK) == K_FUNDING
                )
                aux = dict(zip(fund["i"].to_list(), fund["fval"].to_list(), strict=True))
            yield Window(
                tl=df["tl"].to_list(),
                te=df["te"].to_list(),
                tr=df["ts_event"].to_list(),
                kd=kd,
                tk=df["tk"].to_list(),
                lt=df["lt"].to_list(),
                tid=df["tid"].to_list(),
                aux=aux,
            )
        if stop:
            return


def sources_for(
    catalog: Catalog,
    venue: str,
    inst_ids: Sequence[str],
    channels: Sequence[Channel],
    start_ns: int | None,
    end_ns: int | None,
) -> tuple[list[SourceSpec], dict[str, InstrumentSpec]]:
    """The merge's sources for a replay of ``inst_ids`` over [start, end), and each instrument's
    spec in the replay's units (ticks and lots; the finer unit of §3 where the data has no spec).

    Files start at the day of ``start`` — its first rows are the writer's checkpoint of the book,
    so the book at ``start`` is the same whatever range is asked (§5) — and run to the day after
    ``end`` (the clock shift can move a row of the next day before the end)."""
    metas = catalog.instrument_meta(venue)
    shifts = {
        day_index(date.fromisoformat(d)): s.shift_ns for d, s in catalog.clock_shifts(venue).items() if s.shift_ns
    }
    first_day = None if start_ns is None else start_ns // _NS_PER_DAY
    sources: list[SourceSpec] = []
    specs: dict[str, InstrumentSpec] = {}
    for idx, inst in enumerate(inst_ids):
        m = metas.get(inst)
        if m is None:
            known = ", ".join(sorted(metas)) or "none"
            raise CatalogError(
                f"{catalog.root / venue}: no instrument {inst!r} in the catalog (known: {known}); "
                "import or record it first (`athena data ls` shows what is there)"
            )
        spec = m.spec or InstrumentSpec(
            inst_id=inst, tick_sz=Decimal(1).scaleb(-m.price_decimals), lot_sz=Decimal(1).scaleb(-m.size_decimals),
            min_sz=Decimal(1).scaleb(-m.size_decimals),
        )
        pf = spec.tick_sz.scaleb(m.price_decimals)
        sf = spec.lot_sz.scaleb(m.size_decimals)
        if pf != pf.to_integral_value() or sf != sf.to_integral_value():
            raise CatalogError(f"{inst}: tickSz/lotSz are finer than the catalog's decimals; re-import it")
        specs[inst] = spec
        for ch in channels:
            files = [
                p for p in catalog.files(venue, ch, inst, start_ns, end_ns)
                if first_day is None or day_index(date.fromisoformat(p.parent.name.removeprefix("date="))) >= first_day
            ]
            if files:
                sources.append(SourceSpec(ch, idx, tuple(files), int(pf), int(sf), shifts))
    return sources, specs
