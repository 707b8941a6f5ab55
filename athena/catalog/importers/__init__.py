"""Importers: other sources' files into their own venue directory of the catalog (DESIGN.md §5).

Owns: what every importer shares — the report of one import (``ImportReport``), the progress
callback type, exact decimal-string → scaled-int conversion in polars (``scaled_int``,
``frac_digits``, ``PLAIN_DECIMAL``), input opening (plain, gzip or a one-member zip), the
instrument decimals resolution of DESIGN.md §3 (``resolve_instrument``: a stand-in or known spec
when the data lies on its grid, else the most decimals seen), and the book-partition bookkeeping
that writes a flagged checkpoint of the importer's checked book at the start of every ``date=``
partition (``BookTrack``, ``checkpoint_rows``).
Never: reads the wall clock (progress is a callback; the caller measures speed), rounds a price or
a size, writes another source's data under ``okx``, or imports gateways (the raw OKX WebSocket log
importer lives in ``recorder/okx_ws_import.py`` because it reuses the OKX parsers).

Importers: ``tardis`` (Tardis.dev CSV: trades, incremental_book_L2, quotes, derivative_ticker),
``okx_trades`` (OKX's trade-history CSV), ``stand_ins`` (specs for imported non-OKX instruments).
"""

from __future__ import annotations

import gzip
import io
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import polars as pl

from athena.catalog import meta
from athena.catalog.schema import BookRowAction
from athena.catalog.writer import NS_PER_DAY
from athena.errors import CatalogError
from athena.model.enums import Channel
from athena.model.instrument import InstrumentSpec

__all__ = [
    "BOOK_COLUMNS",
    "PLAIN_DECIMAL",
    "BookTrack",
    "ImportReport",
    "Progress",
    "checkpoint_rows",
    "frac_digits",
    "open_input",
    "resolve_instrument",
    "scaled_int",
    "unit_spec",
]

Progress = Callable[[int, int], None]
"""``progress(done, total)``: input bytes consumed so far and the file's size (for a bar)."""

# A decimal as exchanges and Tardis write it: optional sign, digits, optional fraction.
PLAIN_DECIMAL = r"^-?(?:\d+(?:\.\d*)?|\.\d+)$"
UNSIGNED_INT = r"^\d+$"

BOOK_COLUMNS: tuple[str, ...] = (
    "ts_event", "ts_recv", "msg_id", "action", "side", "price", "size",
    "seq_id", "prev_seq_id", "checksum", "last_in_msg",
)  # fmt: skip


@dataclass(slots=True)
class ImportReport:
    """What one import did: rows written per (channel, instrument), skipped rows and why, book
    checks (checksums matched / mismatched, sequence gaps), and the first failures in words."""

    kind: str
    venue: str
    files: list[Path] = field(default_factory=list)
    rows: dict[tuple[Channel, str], int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    checksum_ok: int = 0
    checksum_bad: int = 0
    seq_gaps: int = 0
    checkpoints: int = 0
    failures: list[str] = field(default_factory=list)
    instruments: dict[str, meta.InstrumentMeta] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)  # source facts, e.g. a stated feed latency

    def add_rows(self, channel: Channel, inst: str, n: int) -> None:
        if n:
            key = (channel, inst)
            self.rows[key] = self.rows.get(key, 0) + n

    def skip(self, reason: str, n: int = 1) -> None:
        if n:
            self.skipped[reason] = self.skipped.get(reason, 0) + n

    def fail(self, text: str, limit: int = 20) -> None:
        if len(self.failures) < limit:
            self.failures.append(text)

    def total_rows(self, channel: Channel | None = None) -> int:
        return sum(n for (ch, _), n in self.rows.items() if channel is None or ch is channel)


# -- input --------------------------------------------------------------------------------------


def open_input(path: Path) -> tuple[IO[bytes], Callable[[], int], int]:
    """Open a plain, gzip or one-member zip file for binary line reading. Returns the stream, a
    function giving the compressed bytes consumed so far (for progress) and the file's size."""
    if not path.is_file():
        raise CatalogError(f"{path}: no such file")
    size = path.stat().st_size
    raw = open(path, "rb")  # noqa: SIM115 - owned by the returned stream
    head = raw.read(4)
    raw.seek(0)
    if head[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw.tell, size
    if head == b"PK\x03\x04":
        raw.close()
        zf = zipfile.ZipFile(path)
        members = [m for m in zf.infolist() if not m.is_dir()]
        if len(members) != 1:
            zf.close()
            raise CatalogError(f"{path}: a zip archive must hold exactly one file, found {len(members)}")
        stream = zf.open(members[0])
        return stream, lambda: stream.tell() if stream.seekable() else 0, members[0].file_size or 1  # type: ignore[attr-defined]
    return raw, raw.tell, size


# -- exact decimals in polars -------------------------------------------------------------------


def _parts(col: str) -> tuple[pl.Expr, pl.Expr]:
    p = pl.col(col).str.split_exact(".", 1)
    return p.struct.field("field_0"), p.struct.field("field_1").fill_null("").str.strip_chars_end("0")


def frac_digits(col: str) -> pl.Expr:
    """Significant decimals of a decimal-string column (trailing zeros do not count: 28145.10 -> 1)."""
    return _parts(col)[1].str.len_chars()


def scaled_int(col: str, decimals: int) -> pl.Expr:
    """A decimal-string column as the exact int64 ``value × 10^decimals`` (string arithmetic, no
    float). A value with more significant decimals gives null (callers check ``frac_digits`` first)."""
    ip, fp = _parts(col)
    whole = pl.when(fp.str.len_chars() <= decimals).then(ip + fp.str.pad_end(decimals, "0"))
    return whole.cast(pl.Int64, strict=False)


def first_bad(df: pl.DataFrame, ok: pl.Expr) -> int | None:
    """Row index of the first row where ``ok`` is false (or null), else None."""
    idx = df.select(pl.arg_where(~ok.fill_null(False)).first()).item()
    return None if idx is None else int(idx)


# -- instruments --------------------------------------------------------------------------------


def unit_spec(inst_id: str, price_decimals: int, size_decimals: int) -> InstrumentSpec:
    """The spec whose ticks and lots are the catalog's integers (10^-pd, 10^-sd): what a book
    needs to rebuild OKX checksum tokens from the integers, whatever the real tickSz."""
    lot = Decimal(1).scaleb(-size_decimals)
    return InstrumentSpec(inst_id=inst_id, tick_sz=Decimal(1).scaleb(-price_decimals), lot_sz=lot, min_sz=lot)


def _on_grid(step: Decimal, seen_decimals: int) -> bool:
    """Whether every value with at most ``seen_decimals`` decimals is a multiple of ``step``: true
    only for a power-of-ten step no coarser than the data (a 0.5 tick cannot be assumed)."""
    t = step.normalize().as_tuple()
    exp = t.exponent
    assert isinstance(exp, int)
    return t.digits == (1,) and exp <= 0 and seen_decimals <= -exp


def resolve_instrument(
    inst: str,
    price_decimals_seen: int,
    size_decimals_seen: int,
    *,
    known: meta.InstrumentMeta | None,
    spec: InstrumentSpec | None,
    min_price_decimals: int = 0,
    min_size_decimals: int = 0,
    where: str = "",
) -> meta.InstrumentMeta:
    """The decimals and spec an instrument is written with (DESIGN.md §3).

    ``known`` (already in the venue's instruments.json) wins when the data fits its decimals —
    integers already written keep their meaning — and is refused when the data is finer. Else a
    ``spec`` (a stand-in or an OKX spec) is kept when the data lies on its tick/lot grid, with
    decimals ``max(spec's, seen, min_*)``; else the spec-less unit of the most decimals seen."""
    if known is not None:
        if price_decimals_seen > known.price_decimals or size_decimals_seen > known.size_decimals:
            raise CatalogError(
                f"{where}{inst}: the data has {price_decimals_seen} price / {size_decimals_seen} size decimals but the "
                f"catalog already stores {inst} with {known.price_decimals}/{known.size_decimals}; import it into a "
                f"fresh catalog root (or another venue name) together with the earlier files"
            )
        return known
    pd = max(price_decimals_seen, min_price_decimals)
    sd = max(size_decimals_seen, min_size_decimals)
    if spec is not None and _on_grid(spec.tick_sz, price_decimals_seen) and _on_grid(spec.lot_sz, size_decimals_seen):
        return meta.InstrumentMeta.from_spec(
            spec, price_decimals=max(pd, spec.price_decimals), size_decimals=max(sd, spec.size_decimals)
        )
    return meta.InstrumentMeta(inst, pd, sd, None)


# -- books: partitions and checkpoints ----------------------------------------------------------


@dataclass(slots=True)
class BookTrack:
    """One instrument's book as an importer checked it: levels (catalog ints), last seq id and
    exchange time, whether it holds a snapshot, the UTC day of its last message, the next msg_id."""

    bids: dict[int, int] = field(default_factory=dict)
    asks: dict[int, int] = field(default_factory=dict)
    ready: bool = False
    seq_id: int | None = None
    ts_event: int = 0
    day: int | None = None
    next_msg_id: int = 1

    def needs_checkpoint(self, ts_recv: int, action: int) -> bool:
        """True when a message received at ``ts_recv`` opens a new ``date=`` partition of a book
        that holds a snapshot and is not itself a snapshot: the partition must start with a
        flagged copy of the book (DESIGN.md §5) so a replay can start there."""
        day = ts_recv // NS_PER_DAY
        new_day = self.day is not None and day != self.day
        self.day = day
        return new_day and self.ready and action != BookRowAction.SNAPSHOT


def checkpoint_rows(
    track: BookTrack, ts_recv: int, *, checksum: int | None = None, prefix: Mapping[str, list[Any]] | None = None
) -> dict[str, list[Any]]:
    """The rows of one checkpoint message (action 2) of ``track``'s book: bids best first, then
    asks best first; ts_event the book's last exchange time, ts_recv the first message of the new
    partition's (so it sorts just before it); seq_id = prev_seq_id = the book's seq id (it
    continues the chain like a keep-alive); ``checksum`` on the last row. Uses one msg_id."""
    out: dict[str, list[Any]] = {k: list(v) for k, v in prefix.items()} if prefix else {k: [] for k in BOOK_COLUMNS}
    levels = [(0, p, track.bids[p]) for p in sorted(track.bids, reverse=True)]
    levels += [(1, p, track.asks[p]) for p in sorted(track.asks)]
    n = len(levels)
    if n == 0:
        return out
    msg = track.next_msg_id
    track.next_msg_id += 1
    out["ts_event"] += [track.ts_event] * n
    out["ts_recv"] += [ts_recv] * n
    out["msg_id"] += [msg] * n
    out["action"] += [int(BookRowAction.CHECKPOINT)] * n
    out["side"] += [s for s, _, _ in levels]
    out["price"] += [p for _, p, _ in levels]
    out["size"] += [q for _, _, q in levels]
    out["seq_id"] += [track.seq_id] * n
    out["prev_seq_id"] += [track.seq_id] * n
    out["checksum"] += [None] * (n - 1) + [checksum]
    out["last_in_msg"] += [False] * (n - 1) + [True]
    return out


def read_text_lines(stream: IO[bytes], n: int) -> list[bytes]:
    """Up to ``n`` lines of a binary stream (an empty list at the end)."""
    out = []
    for line in stream:
        out.append(line)
        if len(out) >= n:
            break
    return out


def csv_frame(header: bytes, lines: list[bytes]) -> pl.DataFrame:
    """A chunk of CSV lines (with the file's header) as a frame of strings: numbers stay text,
    so decimals are converted exactly later."""
    buf = io.BytesIO(header + b"".join(lines))
    return pl.read_csv(buf, infer_schema=False, has_header=True)
