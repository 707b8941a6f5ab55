"""Tardis.dev downloadable CSV files into the catalog (``athena data import tardis FILE...``).

Owns: reading Tardis CSVs (gzip or plain) of ``trades``, ``incremental_book_L2``, ``quotes``
(→ ``bbo``) and ``derivative_ticker`` (→ ``funding`` + ``mark_price``) of any exchange, in
chunks of lines parsed by polars with every column as a string, so decimals become exact scaled
int64 by string arithmetic (never a float); the venue is the file's ``exchange`` column, the
instrument its ``symbol``. Two passes: the first checks every value's shape (a file that does not
fit raises ``CatalogError`` naming file, line and column) and measures the most decimals per
instrument; the second converts and writes. Book rows are grouped into messages by
(``timestamp``, ``local_timestamp``, ``is_snapshot``) — DESIGN.md §5 — with increasing
``msg_id`` and ``last_in_msg`` flags; snapshot rows get action 1; the importer keeps the book and
writes a checkpoint (action 2) of it at the start of every ``date=`` partition. Times: Tardis µs
→ ns; ``local_timestamp`` → ``ts_recv``. The clock shift per day (§6) is measured by the writer
from the rows it flushes and stored in ``_meta/clock_shift.json``.
Never: parses a number through float (funding rates aside: the schema keeps them float64), loads
a whole file into memory, reads the wall clock, or writes under a venue other than the file's own
exchange name.

Column layouts (https://docs.tardis.dev/downloadable-csv-files): every file starts with
``exchange,symbol,timestamp,local_timestamp``; then trades ``id,side,price,amount``;
incremental_book_L2 ``is_snapshot,side,price,amount``; quotes
``ask_amount,ask_price,bid_price,bid_amount``; derivative_ticker ``funding_timestamp,
funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO

import polars as pl

from athena.catalog import meta
from athena.catalog.importers import (
    PLAIN_DECIMAL,
    UNSIGNED_INT,
    BookTrack,
    ImportReport,
    Progress,
    checkpoint_rows,
    csv_frame,
    first_bad,
    frac_digits,
    open_input,
    read_text_lines,
    resolve_instrument,
    scaled_int,
)
from athena.catalog.importers.stand_ins import lookup
from athena.catalog.schema import BookRowAction, TakerSide
from athena.catalog.writer import NS_PER_DAY, CatalogWriter
from athena.errors import CatalogError
from athena.model.enums import Channel

__all__ = ["DEFAULT_CHUNK_LINES", "TardisKind", "detect_kind", "import_tardis"]

DEFAULT_CHUNK_LINES = 200_000
IMPORT_MAX_ROWS = 1_000_000  # rows a writer buffer holds before it writes a part (memory stays flat)
_LINE = "__line"


class TardisKind(StrEnum):
    """Tardis data types this importer reads (the names Tardis gives its CSV datasets)."""

    TRADES = "trades"
    BOOK = "incremental_book_L2"
    QUOTES = "quotes"
    DERIVATIVE_TICKER = "derivative_ticker"


_COMMON = ("exchange", "symbol", "timestamp", "local_timestamp")
_COLUMNS: dict[TardisKind, tuple[str, ...]] = {
    TardisKind.TRADES: (*_COMMON, "id", "side", "price", "amount"),
    TardisKind.BOOK: (*_COMMON, "is_snapshot", "side", "price", "amount"),
    TardisKind.QUOTES: (*_COMMON, "ask_amount", "ask_price", "bid_price", "bid_amount"),
    TardisKind.DERIVATIVE_TICKER: (*_COMMON, "funding_timestamp", "funding_rate", "predicted_funding_rate",
                                   "mark_price"),
}  # fmt: skip
_PRICES: dict[TardisKind, tuple[str, ...]] = {
    TardisKind.TRADES: ("price",),
    TardisKind.BOOK: ("price",),
    TardisKind.QUOTES: ("ask_price", "bid_price"),
    TardisKind.DERIVATIVE_TICKER: ("mark_price",),
}
_SIZES: dict[TardisKind, tuple[str, ...]] = {
    TardisKind.TRADES: ("amount",),
    TardisKind.BOOK: ("amount",),
    TardisKind.QUOTES: ("ask_amount", "bid_amount"),
    TardisKind.DERIVATIVE_TICKER: (),
}
# Columns that must be present on every row (others may be empty: the row is then skipped).
_REQUIRED_VALUES: dict[TardisKind, tuple[str, ...]] = {
    TardisKind.TRADES: (*_COMMON, "side", "price", "amount"),
    TardisKind.BOOK: (*_COMMON, "is_snapshot", "side", "price", "amount"),
    TardisKind.QUOTES: _COMMON,
    TardisKind.DERIVATIVE_TICKER: _COMMON,
}
_VOCAB: dict[TardisKind, dict[str, tuple[str, ...]]] = {
    TardisKind.TRADES: {"side": ("buy", "sell", "unknown")},
    TardisKind.BOOK: {"side": ("bid", "ask"), "is_snapshot": ("true", "false")},
}


def detect_kind(header: Sequence[str], where: str = "") -> TardisKind:
    """The Tardis data type of a file from its header line."""
    cols = set(header)
    for kind in (TardisKind.BOOK, TardisKind.QUOTES, TardisKind.DERIVATIVE_TICKER, TardisKind.TRADES):
        if set(_COLUMNS[kind]) <= cols:
            return kind
    missing_common = [c for c in _COMMON if c not in cols]
    hint = f"; it lacks {', '.join(missing_common)}" if missing_common else ""
    raise CatalogError(
        f"{where}line 1: header {','.join(header)!r} is not a Tardis trades, incremental_book_L2, quotes or "
        f"derivative_ticker CSV{hint} (see https://docs.tardis.dev/downloadable-csv-files)"
    )


# -- reading ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _File:
    path: Path
    kind: TardisKind
    venue: str = ""
    symbols: dict[str, tuple[int, int]] = field(default_factory=dict)  # symbol -> (price, size) decimals


def _chunks(path: Path, chunk_lines: int, progress: Progress | None) -> tuple[list[str], Iterator[pl.DataFrame]]:
    stream, pos, size = open_input(path)
    header = stream.readline()
    if not header.strip():
        stream.close()
        raise CatalogError(f"{path}: empty file; expected a Tardis CSV with a header line")
    names = header.decode("utf-8", "replace").strip().split(",")
    return names, _iter_chunks(path, stream, header, chunk_lines, pos, size, progress)


def _iter_chunks(
    path: Path,
    stream: IO[bytes],
    header: bytes,
    chunk_lines: int,
    pos: Callable[[], int],
    size: int,
    progress: Progress | None,
) -> Iterator[pl.DataFrame]:
    """The data lines in frames of ``chunk_lines`` rows (strings) with their line numbers."""
    line = 2
    try:
        while True:
            lines = read_text_lines(stream, chunk_lines)
            if not lines:
                break
            if not lines[-1].endswith(b"\n"):
                lines[-1] += b"\n"
            try:
                df = csv_frame(header if header.endswith(b"\n") else header + b"\n", lines)
            except pl.exceptions.PolarsError as e:
                raise CatalogError(
                    f"{path}: lines {line}-{line + len(lines) - 1} are not valid CSV with the header's columns ({e})"
                ) from None
            if df.height != len(lines):
                blank = next((i for i, b in enumerate(lines) if not b.strip()), None)
                where = f"line {line + blank}" if blank is not None else f"lines {line}-{line + len(lines) - 1}"
                raise CatalogError(f"{path}: {where}: blank or malformed line; every line must be a data row")
            yield df.with_row_index(_LINE, offset=line)
            line += len(lines)
            if progress is not None:
                progress(pos(), size)
    finally:
        stream.close()


def _fail(path: Path, df: pl.DataFrame, idx: int, col: str, expected: str) -> CatalogError:
    line = df[_LINE][idx]
    value = df[col][idx]
    return CatalogError(f"{path}: line {line}, column {col!r}: {value!r} is not {expected}")


def _check_chunk(f: _File, df: pl.DataFrame) -> None:
    """Pass 1 for one chunk: shapes of every used value, one exchange per file, decimals."""
    kind = f.kind
    for col in _REQUIRED_VALUES[kind]:
        bad = first_bad(df, pl.col(col).is_not_null())
        if bad is not None:
            raise _fail(f.path, df, bad, col, "present (the column may not be empty)")
    times = ("timestamp", "local_timestamp")
    if kind is TardisKind.DERIVATIVE_TICKER:
        times += ("funding_timestamp",)
    for col in times:
        bad = first_bad(df, pl.col(col).is_null() | pl.col(col).str.contains(UNSIGNED_INT))
        if bad is not None:
            raise _fail(f.path, df, bad, col, "a timestamp in µs since the epoch (digits only)")
    dec_cols = [*_PRICES[kind], *_SIZES[kind]]
    if kind is TardisKind.DERIVATIVE_TICKER:
        dec_cols += ["funding_rate", "predicted_funding_rate"]
    for col in dec_cols:
        bad = first_bad(df, pl.col(col).is_null() | pl.col(col).str.contains(PLAIN_DECIMAL))
        if bad is not None:
            raise _fail(f.path, df, bad, col, "a plain decimal number")
    for col, allowed in _VOCAB.get(kind, {}).items():
        bad = first_bad(df, pl.col(col).is_in(list(allowed)))
        if bad is not None:
            raise _fail(f.path, df, bad, col, f"one of {', '.join(allowed)}")
    venues = df["exchange"].unique(maintain_order=True).to_list()
    if not f.venue:
        f.venue = venues[0]
    other = [v for v in venues if v != f.venue]
    if other:
        bad = first_bad(df, pl.col("exchange") == f.venue)
        raise _fail(f.path, df, bad or 0, "exchange", f"{f.venue!r} (one exchange per file)")
    if not f.venue or f.venue == "okx" or f.venue.startswith(("_", ".")) or "/" in f.venue:
        # OKX's own name is reserved for OKX data Athena recorded itself (Tardis calls OKX "okex*").
        raise CatalogError(f"{f.path}: exchange {f.venue!r} cannot be a catalog venue name")
    bad = first_bad(df, ~pl.col("symbol").str.contains(r"[/\\]") & ~pl.col("symbol").str.starts_with("."))
    if bad is not None:
        raise _fail(f.path, df, bad, "symbol", "an instrument name usable as a directory name")
    digits = df.group_by("symbol", maintain_order=True).agg(
        pl.max_horizontal([frac_digits(c).max() for c in _PRICES[kind]]).fill_null(0).alias("pd"),
        (pl.max_horizontal([frac_digits(c).max() for c in _SIZES[kind]]).fill_null(0) if _SIZES[kind]
         else pl.lit(0)).alias("sd"),
    )  # fmt: skip
    for sym, pd_, sd_ in digits.iter_rows():
        old = f.symbols.get(sym, (0, 0))
        f.symbols[sym] = (max(old[0], int(pd_ or 0)), max(old[1], int(sd_ or 0)))


# -- writing ------------------------------------------------------------------------------------


@dataclass(slots=True)
class _BookState:
    track: BookTrack = field(default_factory=BookTrack)
    held: pl.DataFrame | None = None  # the last message of the previous chunk (may continue)


@dataclass(slots=True)
class _Ctx:
    writer: CatalogWriter
    report: ImportReport
    instruments: dict[str, meta.InstrumentMeta]
    books: dict[str, _BookState] = field(default_factory=dict)
    funding_last: dict[str, tuple[str | None, ...]] = field(default_factory=dict)
    trade_seq: dict[str, int] = field(default_factory=dict)


def _times() -> list[pl.Expr]:
    return [
        (pl.col("timestamp").cast(pl.Int64) * 1000).alias("ts_event"),
        (pl.col("local_timestamp").cast(pl.Int64) * 1000).alias("ts_recv"),
    ]


def _check_converted(
    path: Path, src: pl.DataFrame, out: pl.DataFrame, cols: Sequence[str], names: Sequence[str]
) -> None:
    for col, name in zip(cols, names, strict=True):
        bad = first_bad(out, pl.col(col).is_not_null())
        if bad is not None:
            raise _fail(path, src, bad, name, "representable as an int64 at the instrument's decimals")


def _write_trades(ctx: _Ctx, path: Path, sym: str, df: pl.DataFrame) -> None:
    m = ctx.instruments[sym]
    side = pl.col("side")
    out = df.select(
        *_times(),
        pl.col("id").cast(pl.Int64, strict=False).alias("trade_id"),
        scaled_int("price", m.price_decimals).alias("price"),
        scaled_int("amount", m.size_decimals).alias("size"),
        pl.when(side == "buy").then(pl.lit(int(TakerSide.BUY)))
        .when(side == "sell").then(pl.lit(int(TakerSide.SELL))).otherwise(None).cast(pl.Int8).alias("side"),
    )  # fmt: skip
    _check_converted(path, df, out, ("price", "size"), ("price", "amount"))
    unknown = out["side"].null_count()
    if unknown:
        ctx.report.skip("trades with side 'unknown' (no aggressor side to store)", unknown)
        keep = out["side"].is_not_null()
        out, df = out.filter(keep), df.filter(keep)
    no_id = out["trade_id"].null_count()
    if no_id:
        # Non-numeric trade ids (some venues use UUIDs): number them in file order per instrument.
        ctx.report.skip("trade ids not numeric: numbered in file order instead (rows kept)", no_id)
        base = ctx.trade_seq.get(sym, 0)
        out = out.with_columns(pl.col("trade_id").fill_null(pl.int_range(1, pl.len() + 1, dtype=pl.Int64) + base))
        ctx.trade_seq[sym] = base + out.height
    _write(ctx, Channel.TRADES, sym, out)


def _write_quotes(ctx: _Ctx, path: Path, sym: str, df: pl.DataFrame) -> None:
    m = ctx.instruments[sym]
    full = pl.all_horizontal(pl.col(c).is_not_null() for c in ("ask_amount", "ask_price", "bid_price", "bid_amount"))
    n = df.height
    df = df.filter(full)
    ctx.report.skip("quotes with an empty side", n - df.height)
    out = df.select(
        *_times(),
        scaled_int("bid_price", m.price_decimals).alias("bid_price"),
        scaled_int("bid_amount", m.size_decimals).alias("bid_size"),
        scaled_int("ask_price", m.price_decimals).alias("ask_price"),
        scaled_int("ask_amount", m.size_decimals).alias("ask_size"),
        pl.lit(None, dtype=pl.Int64).alias("seq_id"),
    )
    cols = ("bid_price", "bid_size", "ask_price", "ask_size")
    _check_converted(path, df, out, cols, ("bid_price", "bid_amount", "ask_price", "ask_amount"))
    _write(ctx, Channel.BBO, sym, out)


def _write_derivative(ctx: _Ctx, path: Path, sym: str, df: pl.DataFrame) -> None:
    m = ctx.instruments[sym]
    marks = df.filter(pl.col("mark_price").is_not_null())
    ctx.report.skip("derivative_ticker rows with no mark_price (no mark_price row)", df.height - marks.height)
    out = marks.select(*_times(), scaled_int("mark_price", m.price_decimals).alias("mark_price"))
    _check_converted(path, marks, out, ("mark_price",), ("mark_price",))
    _write(ctx, Channel.MARK_PRICE, sym, out)
    # Funding: one row whenever the published rate, its settlement time or the forecast changes
    # (Tardis repeats them on every ticker row; OKX pushes the funding-rate channel ~once a minute).
    rows = df.filter(pl.col("funding_rate").is_not_null() & pl.col("funding_timestamp").is_not_null())
    cols: dict[str, list[object]] = {k: [] for k in ("ts_event", "ts_recv", "funding_rate", "next_funding_rate",
                                                    "funding_time", "next_funding_time")}  # fmt: skip
    last = ctx.funding_last.get(sym)
    for ts, lts, ft, fr, pr in rows.select(
        "timestamp", "local_timestamp", "funding_timestamp", "funding_rate", "predicted_funding_rate"
    ).iter_rows():  # a few rows a minute: a Python loop is cheap here
        key = (ft, fr, pr)
        if key == last:
            continue
        last = key
        cols["ts_event"].append(int(ts) * 1000)
        cols["ts_recv"].append(int(lts) * 1000)
        cols["funding_rate"].append(float(fr))
        cols["next_funding_rate"].append(float(pr) if pr is not None else None)
        cols["funding_time"].append(int(ft) * 1000)
        cols["next_funding_time"].append(None)
    if last is not None:
        ctx.funding_last[sym] = last
    if cols["ts_event"]:
        ctx.writer.write(Channel.FUNDING, sym, cols)
        ctx.report.add_rows(Channel.FUNDING, sym, len(cols["ts_event"]))


def _write(ctx: _Ctx, channel: Channel, sym: str, out: pl.DataFrame) -> None:
    if out.height:
        ctx.writer.write(channel, sym, out.to_arrow())
        ctx.report.add_rows(channel, sym, out.height)


def _write_book(ctx: _Ctx, path: Path, sym: str, df: pl.DataFrame | None, final: bool) -> None:
    """Convert a chunk of one symbol's book rows; the last message is held back until the next
    chunk shows it complete (a message is never split, and its last_in_msg flag is known)."""
    st = ctx.books.setdefault(sym, _BookState())
    m = ctx.instruments[sym]
    if df is not None:
        conv = df.select(
            pl.col(_LINE),
            pl.col("timestamp"),
            pl.col("local_timestamp"),
            *_times(),
            (pl.col("is_snapshot") == "true").alias("snap"),
            pl.when(pl.col("side") == "bid").then(0).otherwise(1).cast(pl.Int8).alias("side"),
            scaled_int("price", m.price_decimals).alias("price"),
            scaled_int("amount", m.size_decimals).alias("size"),
        )
        _check_converted(path, df, conv, ("price", "size"), ("price", "amount"))
        if st.held is not None:
            conv = pl.concat([st.held, conv])
        st.held = None
    else:
        conv, st.held = st.held, None
        if conv is None:
            return
    key_changed = (
        (pl.col("timestamp") != pl.col("timestamp").shift(1))
        | (pl.col("local_timestamp") != pl.col("local_timestamp").shift(1))
        | (pl.col("snap") != pl.col("snap").shift(1))
    ).fill_null(True)
    conv = conv.with_columns(key_changed.alias("new"))
    if not final:
        starts = conv.select(pl.arg_where(pl.col("new"))).to_series()
        last_start = int(starts[-1])
        st.held = conv.slice(last_start).drop("new")
        conv = conv.slice(0, last_start)
    if conv.height == 0:
        return
    # Split at UTC-day changes of ts_recv (message boundaries: a message shares one ts_recv), so
    # each partition's first message can be preceded by a checkpoint of the book.
    day = pl.col("ts_recv") // NS_PER_DAY
    conv = conv.with_columns((day != day.shift(1)).fill_null(True).alias("seg"))
    seg_starts = [*conv.select(pl.arg_where(pl.col("seg"))).to_series().to_list(), conv.height]
    for a, b in itertools.pairwise(seg_starts):
        _book_segment(ctx, sym, st.track, conv.slice(a, b - a))


def _book_segment(ctx: _Ctx, sym: str, track: BookTrack, seg: pl.DataFrame) -> None:
    first_recv = int(seg["ts_recv"][0])
    first_action = int(BookRowAction.SNAPSHOT) if seg["snap"][0] else int(BookRowAction.UPDATE)
    if track.needs_checkpoint(first_recv, first_action):
        rows = checkpoint_rows(track, first_recv)
        if rows["ts_event"]:
            ctx.writer.write(Channel.BOOKS, sym, rows)
            ctx.report.add_rows(Channel.BOOKS, sym, len(rows["ts_event"]))
            ctx.report.checkpoints += 1
    msg_no = seg["new"].cast(pl.Int64).cum_sum() - 1
    n_msgs = int(msg_no[-1]) + 1
    out = seg.select(
        "ts_event",
        "ts_recv",
        (msg_no + track.next_msg_id).alias("msg_id"),
        pl.when(pl.col("snap")).then(int(BookRowAction.SNAPSHOT)).otherwise(int(BookRowAction.UPDATE))
        .cast(pl.Int8).alias("action"),
        "side",
        "price",
        "size",
        pl.lit(None, dtype=pl.Int64).alias("seq_id"),
        pl.lit(None, dtype=pl.Int64).alias("prev_seq_id"),
        pl.lit(None, dtype=pl.Int32).alias("checksum"),
        pl.col("new").shift(-1).fill_null(True).alias("last_in_msg"),
    )  # fmt: skip
    track.next_msg_id += n_msgs
    # The importer's own book, for the checkpoints (Tardis sends no checksum to check it with).
    bids, asks = track.bids, track.asks
    for new, snap, side, p, q in zip(
        seg["new"].to_list(), seg["snap"].to_list(), seg["side"].to_list(), seg["price"].to_list(),
        seg["size"].to_list(), strict=True,
    ):  # fmt: skip
        if new and snap:
            bids.clear()
            asks.clear()
            track.ready = True
        lv = asks if side else bids
        if q:
            lv[p] = q
        else:
            lv.pop(p, None)  # Tardis: deletes of levels never seen happen; ignore them
    track.ts_event = int(seg["ts_event"][-1])
    _write(ctx, Channel.BOOKS, sym, out)


_WRITERS = {
    TardisKind.TRADES: _write_trades,
    TardisKind.QUOTES: _write_quotes,
    TardisKind.DERIVATIVE_TICKER: _write_derivative,
}


def import_tardis(
    files: Sequence[Path],
    root: Path,
    *,
    progress: Progress | None = None,
    chunk_lines: int = DEFAULT_CHUNK_LINES,
) -> list[ImportReport]:
    """Import Tardis CSV files into ``root``; one report per venue (exchange) found.

    All files are checked first (nothing is written when one does not fit). Files of one
    instrument given together share its decimals (the most seen, or its stand-in's); a book
    carries over from one file to the next in the order given (a day's file after the day before)."""
    if chunk_lines < 2:
        raise CatalogError(f"chunk_lines must be at least 2, got {chunk_lines}")
    parsed: list[_File] = []
    for path in files:
        path = Path(path)
        names, chunks = _chunks(path, chunk_lines, None)
        f = _File(path, detect_kind(names, f"{path}: "))
        for df in chunks:
            _check_chunk(f, df)
        if not f.venue:
            raise CatalogError(f"{path}: no data rows after the header")
        parsed.append(f)
    reports: list[ImportReport] = []
    for venue in dict.fromkeys(f.venue for f in parsed):
        vfiles = [f for f in parsed if f.venue == venue]
        reports.append(_import_venue(venue, vfiles, root, progress, chunk_lines))
    return reports


def _import_venue(
    venue: str, files: list[_File], root: Path, progress: Progress | None, chunk_lines: int
) -> ImportReport:
    report = ImportReport(kind="tardis", venue=venue, files=[f.path for f in files])
    seen: dict[str, tuple[int, int]] = {}
    for f in files:
        for sym, (pd_, sd_) in f.symbols.items():
            old = seen.get(sym, (0, 0))
            seen[sym] = (max(old[0], pd_), max(old[1], sd_))
    known = meta.read_instruments(root, venue)
    instruments: dict[str, meta.InstrumentMeta] = {}
    for sym, (pd_, sd_) in seen.items():
        st = lookup(venue, sym)
        instruments[sym] = resolve_instrument(
            sym, pd_, sd_, known=known.get(sym), spec=st.spec if st else None,
            min_price_decimals=st.price_decimals if st else 0, min_size_decimals=st.size_decimals if st else 0,
            where=f"{venue}/",
        )  # fmt: skip
    report.instruments = instruments
    with CatalogWriter(root, venue, instruments=instruments.values(), max_rows=IMPORT_MAX_ROWS,
                       max_age_ns=NS_PER_DAY) as writer:  # fmt: skip
        ctx = _Ctx(writer, report, instruments)
        for f in files:
            _, chunks = _chunks(f.path, chunk_lines, progress)
            for df in chunks:
                parts = df.partition_by("symbol", maintain_order=True, as_dict=True)
                for (sym,), part in parts.items():
                    if f.kind is TardisKind.BOOK:
                        _write_book(ctx, f.path, str(sym), part, final=False)
                    else:
                        _WRITERS[f.kind](ctx, f.path, str(sym), part)
            if f.kind is TardisKind.BOOK:
                for sym in list(ctx.books):
                    _write_book(ctx, f.path, sym, None, final=True)
    days = {d: s.shift_ns for d, s in meta.read_clock_shifts(root, venue).items()}
    report.metadata["clock_shift_ns"] = days
    return report
