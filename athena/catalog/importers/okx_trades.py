"""OKX's own trade-history CSV into the catalog (``athena data import okx-trades FILE...``).

Owns: reading the files OKX publishes on its historical-data page
(``<INST>-trades-<YYYY-MM-DD>.zip``, one CSV inside; plain or gzip CSVs work too): columns
``instrument_name,trade_id,side,price,size,created_time`` — an optional trailing ``source`` column
is ignored — with or without the header row; ``side`` is the taker side, ``size`` is in contracts
for swaps, ``created_time`` in ms. Rows become ``trades`` rows with exact scaled-int prices and
sizes (string arithmetic) and, since the file has no receive time,
``ts_recv = ts_event + feed_latency_ns`` (DESIGN.md §5) — the stated latency is written to
``<venue>/_meta/feed_latency.json`` beside the instruments' decimals. Rows keep file order
(OKX writes them by trade id), sorted stably by ``created_time`` within each chunk of 500k lines.
Never: writes under ``okx`` by default (the venue is ``okx-history``: a venue directory is one
source, and these receive times are stated, not measured), floats a price, or reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import polars as pl

from athena.catalog import meta
from athena.catalog.importers import (
    PLAIN_DECIMAL,
    UNSIGNED_INT,
    ImportReport,
    Progress,
    first_bad,
    frac_digits,
    open_input,
    read_text_lines,
    resolve_instrument,
    scaled_int,
)
from athena.catalog.importers.stand_ins import known_okx_spec
from athena.catalog.schema import TakerSide
from athena.catalog.writer import NS_PER_DAY, CatalogWriter
from athena.errors import CatalogError
from athena.model.enums import Channel

__all__ = ["COLUMNS", "DEFAULT_FEED_LATENCY_NS", "DEFAULT_VENUE", "FEED_LATENCY_FILE", "import_okx_trades"]

COLUMNS: tuple[str, ...] = ("instrument_name", "trade_id", "side", "price", "size", "created_time")
DEFAULT_FEED_LATENCY_NS = 20_000_000  # 20 ms: a typical OKX public-feed latency from a nearby host
DEFAULT_VENUE = "okx-history"
FEED_LATENCY_FILE = "feed_latency.json"
_CHUNK = 500_000
_LINE = "__line"


def _frames(path: Path, progress: Progress | None) -> Iterator[pl.DataFrame]:
    """Chunks of the file as string frames with the six columns and a line-number column."""
    stream, pos, size = open_input(path)
    try:
        first = True
        line = 1
        while True:
            lines = read_text_lines(stream, _CHUNK)
            if not lines:
                break
            start = line
            line += len(lines)
            if first:
                first = False
                head = lines[0].decode("utf-8", "replace").strip().lstrip("\ufeff").split(",")
                if head[:1] == ["instrument_name"]:
                    if tuple(head[:6]) != COLUMNS:
                        raise CatalogError(
                            f"{path}: line 1: header {','.join(head)!r}; expected {','.join(COLUMNS)} "
                            "(OKX trade history)"
                        )
                    lines = lines[1:]
                    start += 1
            lines = [b for b in lines if b.strip()]
            if not lines:
                continue
            try:
                df = pl.read_csv(b"".join(ln if ln.endswith(b"\n") else ln + b"\n" for ln in lines),
                                 has_header=False, infer_schema=False)  # fmt: skip
            except pl.exceptions.PolarsError as e:
                raise CatalogError(f"{path}: lines {start}-{line - 1} are not valid CSV ({e})") from None
            if df.width < 6:
                raise CatalogError(
                    f"{path}: line {start}: {df.width} columns; expected {','.join(COLUMNS)} (OKX trade history)"
                )
            df = df.select(df.columns[:6]).rename(dict(zip(df.columns[:6], COLUMNS, strict=True)))
            yield df.with_row_index(_LINE, offset=start)
            if progress is not None:
                progress(pos(), size)
    finally:
        stream.close()


def _fail(path: Path, df: pl.DataFrame, idx: int, col: str, expected: str) -> CatalogError:
    return CatalogError(f"{path}: line {df[_LINE][idx]}, column {col!r}: {df[col][idx]!r} is not {expected}")


def _check(path: Path, df: pl.DataFrame, seen: dict[str, tuple[int, int]]) -> None:
    checks = (
        ("instrument_name", pl.col("instrument_name").str.contains(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"), "an OKX instId"),
        ("trade_id", pl.col("trade_id").str.contains(UNSIGNED_INT), "a numeric trade id"),
        ("side", pl.col("side").is_in(["buy", "sell"]), "buy or sell"),
        ("price", pl.col("price").str.contains(PLAIN_DECIMAL), "a plain decimal number"),
        ("size", pl.col("size").str.contains(PLAIN_DECIMAL), "a plain decimal number"),
        ("created_time", pl.col("created_time").str.contains(UNSIGNED_INT), "a time in ms since the epoch"),
    )
    for col, ok, what in checks:
        bad = first_bad(df, ok)
        if bad is not None:
            raise _fail(path, df, bad, col, what)
    agg = df.group_by("instrument_name", maintain_order=True).agg(
        frac_digits("price").max().alias("pd"), frac_digits("size").max().alias("sd")
    )
    for inst, pd_, sd_ in agg.iter_rows():
        old = seen.get(inst, (0, 0))
        seen[inst] = (max(old[0], int(pd_)), max(old[1], int(sd_)))


def import_okx_trades(
    files: Sequence[Path],
    root: Path,
    *,
    venue: str = DEFAULT_VENUE,
    feed_latency_ns: int = DEFAULT_FEED_LATENCY_NS,
    progress: Progress | None = None,
) -> ImportReport:
    """Import OKX trade-history CSVs into ``root/<venue>``. Every file is checked before anything
    is written; a file that does not fit raises CatalogError naming file, line and column."""
    if feed_latency_ns < 0:
        raise CatalogError(f"feed latency must be >= 0 ns, got {feed_latency_ns}")
    paths = [Path(p) for p in files]
    seen: dict[str, tuple[int, int]] = {}
    for path in paths:
        for df in _frames(path, None):
            _check(path, df, seen)
    if not seen:
        raise CatalogError(f"{', '.join(map(str, paths))}: no trade rows found")
    report = ImportReport(kind="okx-trades", venue=venue, files=paths)
    known = meta.read_instruments(root, venue)
    instruments = {
        inst: resolve_instrument(inst, pd_, sd_, known=known.get(inst), spec=known_okx_spec(inst), where=f"{venue}/")
        for inst, (pd_, sd_) in seen.items()
    }
    report.instruments = instruments
    with CatalogWriter(root, venue, instruments=instruments.values(), max_rows=1_000_000,
                       max_age_ns=NS_PER_DAY) as writer:  # fmt: skip
        for path in paths:
            for df in _frames(path, progress):
                for (inst,), part in df.partition_by("instrument_name", maintain_order=True, as_dict=True).items():
                    m = instruments[str(inst)]
                    ts = pl.col("created_time").cast(pl.Int64) * 1_000_000
                    out = part.select(
                        ts.alias("ts_event"),
                        (ts + feed_latency_ns).alias("ts_recv"),
                        pl.col("trade_id").cast(pl.Int64).alias("trade_id"),
                        scaled_int("price", m.price_decimals).alias("price"),
                        scaled_int("size", m.size_decimals).alias("size"),
                        pl.when(pl.col("side") == "buy").then(int(TakerSide.BUY)).otherwise(int(TakerSide.SELL))
                        .cast(pl.Int8).alias("side"),
                    )  # fmt: skip
                    for col in ("price", "size"):
                        bad = first_bad(out, pl.col(col).is_not_null())
                        if bad is not None:
                            raise _fail(path, part, bad, col, "representable as an int64 at the instrument's decimals")
                    out = out.sort("ts_event", maintain_order=True)
                    writer.write(Channel.TRADES, str(inst), out.to_arrow())
                    report.add_rows(Channel.TRADES, str(inst), out.height)
    _record_latency(root, venue, {inst: feed_latency_ns for inst in instruments}, paths)
    report.metadata["feed_latency_ns"] = feed_latency_ns
    return report


def _record_latency(root: Path, venue: str, latency: dict[str, int], paths: list[Path]) -> None:
    """``_meta/feed_latency.json``: per instrument, the stated feed latency its ts_recv were built
    with and the files imported so (names only), so a report can state the assumption."""
    path = meta.meta_dir(root, venue) / FEED_LATENCY_FILE
    current = meta.read_json(path)
    for inst, ns in latency.items():
        rec = current.get(inst) or {}
        files = sorted(set(rec.get("files", [])) | {p.name for p in paths})
        current[inst] = {
            "feed_latency_ns": ns,
            "ts_recv": "ts_event + feed_latency_ns (the source has no receive time)",
            "files": files,
        }
    meta.write_json_atomic(path, current)
