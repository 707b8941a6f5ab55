"""The catalog's Parquet schemas: one per channel, versioned, every column documented.

Owns: the column names, Arrow types, nullability and meaning of every catalog channel
(DESIGN.md §5); the key-value metadata each part file carries (schema version, channel, venue,
instrument, decimals); the code vocabularies stored in int8/string columns (taker side, book row
action, session kind); ``validate_table``, the one gate a table passes before it is written.
Never: reads or writes files, converts decimals (that is ``InstrumentSpec``'s job), or accepts a
float where the schema says an exact integer.

Numbers are exact (DESIGN.md §3, §5). Prices and sizes are int64 integers: the exchange decimal
times 10^price_decimals (prices) or 10^size_decimals (sizes), the decimals of that instrument in
that venue, stored in every file's metadata and in ``<venue>/_meta/instruments.json``. For an
instrument whose tickSz/lotSz are powers of ten (BTC-USDT-SWAP: tickSz 0.1, lotSz 0.01) the
integers are ticks and lots: 60123.4 -> 601234, 1.23 contracts -> 123. The original decimal is
``value / 10**decimals``, exactly. Volumes (24h, candle) and funding rates are float64: OKX sends
them as short decimal strings ("0.0001", "12345.67") and Python's float repr round-trips any
decimal string of 15 significant digits or fewer, so ``format(float(s), "r")`` gives the decimal
back; nothing downstream of them is exact arithmetic.

Timestamps are int64 nanoseconds since the epoch, UTC. ``ts_event`` is the exchange's time,
``ts_recv`` the time Athena (or the source's recorder) received the row, raw — the per-day clock
shift of DESIGN.md §6 lives in ``_meta/clock_shift.json`` and is never applied to the rows.
Rows within one (channel, instrument, date) partition are in arrival order.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import IntEnum, StrEnum
from functools import cache

import pyarrow as pa
import pyarrow.compute as pc

from athena.core.ports import ASK, BID
from athena.errors import CatalogError
from athena.model.enums import BookAction, Channel

SCHEMA_VERSION: int = 1

# File key-value metadata keys (bytes in Parquet; str here).
META_SCHEMA_VERSION = "athena.schema_version"
META_CHANNEL = "athena.channel"
META_VENUE = "athena.venue"
META_INST = "athena.inst"
META_PRICE_DECIMALS = "athena.price_decimals"
META_SIZE_DECIMALS = "athena.size_decimals"

# Field metadata keys.
FIELD_DOC = b"doc"
FIELD_SCALE = b"scale"


class Scale(StrEnum):
    """How an int64 column is scaled: by the instrument's price or size decimals."""

    PRICE = "price"  # value × 10^price_decimals
    SIZE = "size"  # value × 10^size_decimals


class TakerSide(IntEnum):
    """``trades.side``: the side of the aggressor (OKX's trade ``side``)."""

    BUY = 0
    SELL = 1


class BookRowAction(IntEnum):
    """``books.action``. UPDATE and SNAPSHOT have ``model.enums.BookAction``'s values; CHECKPOINT
    is the catalog's own: a flagged copy of the writer's checked book, written at the start of each
    date partition and after each resync, that a replay verifies and skips (DESIGN.md §5)."""

    UPDATE = BookAction.UPDATE.value
    SNAPSHOT = BookAction.SNAPSHOT.value
    CHECKPOINT = 2


class SessionKind(StrEnum):
    """``sessions.kind``: what happened to the recording (the captured incidents scenarios replay)."""

    CONNECT = "connect"
    DISCONNECT = "disconnect"
    RECONNECT = "reconnect"
    SUBSCRIBE = "subscribe"
    RESUBSCRIBE = "resubscribe"
    SEQ_GAP = "seq_gap"  # a books prevSeqId that did not continue the previous seqId
    CHECKSUM_FAIL = "checksum_fail"
    RESYNC = "resync"  # a fresh snapshot replaced the local book
    RESTART = "restart"  # the recorder process started (after a crash or a deploy)
    GAP = "gap"  # data known to be missing for a stretch (detail says which and how long)


@dataclass(frozen=True, slots=True)
class Column:
    """One catalog column: name, Arrow type, nullability, scale (for exact ints) and meaning."""

    name: str
    type: pa.DataType
    doc: str
    nullable: bool = False
    scale: Scale | None = None


_NS = "int64 ns since the epoch, UTC"
_TS_EVENT = Column("ts_event", pa.int64(), f"exchange time of the event ({_NS})")
_TS_RECV = Column("ts_recv", pa.int64(), f"raw receive time ({_NS}); the date= partition is its UTC day; never shifted")


def _price(name: str, doc: str, *, nullable: bool = False) -> Column:
    return Column(name, pa.int64(), f"{doc}; int64 = price × 10^price_decimals, exact", nullable, Scale.PRICE)


def _size(name: str, doc: str, *, nullable: bool = False) -> Column:
    return Column(name, pa.int64(), f"{doc}; int64 = size × 10^size_decimals, exact", nullable, Scale.SIZE)


_FLOAT_NOTE = "float64 parsed from the exchange's decimal string; its repr round-trips strings of ≤ 15 digits"

COLUMNS: Mapping[Channel, tuple[Column, ...]] = {
    Channel.TRADES: (
        _TS_EVENT,
        _TS_RECV,
        Column("trade_id", pa.int64(), "exchange trade id (OKX tradeId), increasing per instrument"),
        _price("price", "trade price"),
        _size("size", "traded size (contracts for swaps)"),
        Column("side", pa.int8(), "taker (aggressor) side: 0 buy, 1 sell (TakerSide)"),
    ),
    Channel.BOOKS: (
        _TS_EVENT,
        _TS_RECV,
        Column("msg_id", pa.int64(), "groups the level changes of one exchange message; increasing per instrument"),
        Column("action", pa.int8(), "0 update, 1 snapshot, 2 checkpoint (BookRowAction); same for a whole message"),
        Column("side", pa.int8(), "0 bid, 1 ask"),
        _price("price", "level price"),
        _size("size", "new total size at the level; 0 deletes the level"),
        Column("seq_id", pa.int64(), "exchange seqId of the message (null when the source has none)", True),
        Column("prev_seq_id", pa.int64(), "exchange prevSeqId of the message (null when the source has none)", True),
        Column(
            "checksum",
            pa.int32(),
            "exchange CRC32 checksum (signed int32, as OKX sends it); only on the message's last row, else null",
            True,
        ),
        Column("last_in_msg", pa.bool_(), "true on the last row of a message (end-of-message flag, §10 rule 2)"),
    ),
    Channel.BBO: (
        _TS_EVENT,
        _TS_RECV,
        _price("bid_price", "best bid price"),
        _size("bid_size", "size at the best bid"),
        _price("ask_price", "best ask price"),
        _size("ask_size", "size at the best ask"),
        Column("seq_id", pa.int64(), "exchange seqId (null when the source has none)", True),
    ),
    Channel.TICKERS: (
        _TS_EVENT,
        _TS_RECV,
        _price("last_price", "last traded price"),
        _size("last_size", "last traded size"),
        _price("bid_price", "best bid price"),
        _size("bid_size", "size at the best bid"),
        _price("ask_price", "best ask price"),
        _size("ask_size", "size at the best ask"),
        Column("vol_24h", pa.float64(), f"24h volume in contracts (OKX vol24h); {_FLOAT_NOTE}"),
        Column("vol_ccy_24h", pa.float64(), f"24h volume in currency (OKX volCcy24h); {_FLOAT_NOTE}"),
        _price("open_24h", "price 24h ago (OKX open24h)"),
        _price("high_24h", "24h high"),
        _price("low_24h", "24h low"),
    ),
    Channel.FUNDING: (
        _TS_EVENT,
        _TS_RECV,
        Column("funding_rate", pa.float64(), f"current funding rate (OKX fundingRate, e.g. '0.0001'); {_FLOAT_NOTE}"),
        Column("next_funding_rate", pa.float64(), f"forecast next rate (null when not published); {_FLOAT_NOTE}", True),
        Column("funding_time", pa.int64(), f"settlement time of funding_rate ({_NS})"),
        Column("next_funding_time", pa.int64(), f"the settlement after it ({_NS}); null when not published", True),
    ),
    Channel.MARK_PRICE: (
        _TS_EVENT,
        _TS_RECV,
        _price("mark_price", "mark price"),
    ),
    Channel.CANDLES: (
        Column("ts_event", pa.int64(), f"start of the bar ({_NS})"),
        _TS_RECV,
        Column("bar", pa.string(), "bar length as OKX writes it: '1m', '5m', '1H', '1D' ..."),
        _price("open", "open price"),
        _price("high", "high price"),
        _price("low", "low price"),
        _price("close", "close price"),
        Column("volume", pa.float64(), f"volume in contracts (OKX vol); {_FLOAT_NOTE}"),
        Column("confirm", pa.bool_(), "true when the bar is closed (OKX confirm '1'); false for a running bar"),
    ),
    Channel.SESSIONS: (
        Column("ts_event", pa.int64(), f"time of the incident as the recorder knows it ({_NS})"),
        _TS_RECV,
        Column("kind", pa.string(), "what happened: a SessionKind value ('connect', 'seq_gap', ...)"),
        Column("channel", pa.string(), "the catalog channel concerned (e.g. 'books'); null for the whole link", True),
        Column("detail", pa.string(), "free text for humans: the error, the gap's size, the reconnect delay"),
    ),
}

# int8 code columns and the values they may hold (checked by validate_table).
_CODES: Mapping[Channel, Mapping[str, frozenset[int]]] = {
    Channel.TRADES: {"side": frozenset(int(s) for s in TakerSide)},
    Channel.BOOKS: {"action": frozenset(int(a) for a in BookRowAction), "side": frozenset({BID, ASK})},
}


def columns(channel: Channel) -> tuple[Column, ...]:
    return COLUMNS[channel]


def column_docs(channel: Channel) -> dict[str, str]:
    """Column name -> its documentation (units, nullability, meaning)."""
    return {c.name: f"{c.doc}{' (nullable)' if c.nullable else ''}" for c in columns(channel)}


def scaled_columns(channel: Channel) -> dict[str, Scale]:
    """The exact-integer columns of a channel and what scales them."""
    return {c.name: c.scale for c in columns(channel) if c.scale is not None}


def needs_decimals(channel: Channel) -> bool:
    """Whether rows of this channel carry prices or sizes (and so need the instrument's decimals)."""
    return bool(scaled_columns(channel))


@cache
def schema_for(channel: Channel) -> pa.Schema:
    """The Arrow schema of a channel; each field's metadata holds its doc and, if any, its scale."""
    fields = []
    for c in columns(channel):
        md = {FIELD_DOC: c.doc.encode()}
        if c.scale is not None:
            md[FIELD_SCALE] = c.scale.value.encode()
        fields.append(pa.field(c.name, c.type, nullable=c.nullable, metadata=md))
    return pa.schema(fields)


def empty_table(channel: Channel) -> pa.Table:
    return schema_for(channel).empty_table()


# -- file metadata ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FileMeta:
    """What a part file says about itself in its key-value metadata."""

    schema_version: int
    channel: Channel
    venue: str
    inst: str
    price_decimals: int | None  # None for channels with no prices (sessions, funding)
    size_decimals: int | None

    def to_kv(self) -> dict[str, str]:
        kv = {
            META_SCHEMA_VERSION: str(self.schema_version),
            META_CHANNEL: self.channel.dirname,
            META_VENUE: self.venue,
            META_INST: self.inst,
        }
        if self.price_decimals is not None:
            kv[META_PRICE_DECIMALS] = str(self.price_decimals)
        if self.size_decimals is not None:
            kv[META_SIZE_DECIMALS] = str(self.size_decimals)
        return kv

    @classmethod
    def from_kv(cls, kv: Mapping[bytes, bytes] | None, *, where: str = "file") -> FileMeta:
        if not kv:
            raise CatalogError(f"{where}: no Athena metadata in the Parquet footer; was it written by CatalogWriter?")
        d = {k.decode(): v.decode() for k, v in kv.items()}
        try:
            version = int(d[META_SCHEMA_VERSION])
            channel = channel_from_dirname(d[META_CHANNEL])
            pd, sd = d.get(META_PRICE_DECIMALS), d.get(META_SIZE_DECIMALS)
            return cls(
                version,
                channel,
                d[META_VENUE],
                d[META_INST],
                int(pd) if pd is not None else None,
                int(sd) if sd is not None else None,
            )
        except KeyError as e:
            raise CatalogError(
                f"{where}: Parquet metadata lacks {e.args[0]!r}; rewrite the file with CatalogWriter"
            ) from None
        except ValueError as e:
            raise CatalogError(f"{where}: bad Athena metadata ({e})") from None


def channel_from_dirname(name: str) -> Channel:
    """'mark_price' -> Channel.MARK_PRICE; CatalogError for anything else."""
    try:
        return Channel[name.upper()]
    except KeyError:
        known = ", ".join(c.dirname for c in Channel)
        raise CatalogError(f"unknown catalog channel {name!r}; expected one of {known}") from None


# -- validation ---------------------------------------------------------------------------------


def validate_table(channel: Channel, table: pa.Table) -> pa.Table:
    """Check ``table`` against the channel's schema and return it in schema order with the schema's
    field docs. Raises CatalogError naming the column and the expected type when a column is missing
    or extra, has another type, has nulls where none are allowed, or holds an unknown code."""
    channel = Channel(channel)
    schema = schema_for(channel)
    name = channel.dirname
    names = table.column_names
    if names != schema.names:
        got = set(names)
        missing = [n for n in schema.names if n not in got]
        if missing:
            raise CatalogError(
                f"{name}: missing column(s) {', '.join(missing)}; expected columns {', '.join(schema.names)}"
            )
        extra = [c for c in names if c not in schema.names]
        if extra:
            raise CatalogError(
                f"{name}: unexpected column(s) {', '.join(extra)}; expected columns {', '.join(schema.names)}"
            )
        if len(got) != len(names):
            raise CatalogError(f"{name}: duplicate column names in {names}")
    for c in columns(channel):
        col = table.column(c.name)
        if col.type != c.type:
            raise CatalogError(f"{name}: column {c.name!r} is {col.type}; expected {c.type} ({c.doc})")
        if not c.nullable and col.null_count:
            raise CatalogError(f"{name}: column {c.name!r} has {col.null_count} null(s); it is not nullable")
    for col_name, allowed in _CODES.get(channel, {}).items():
        _check_codes(name, table.column(col_name), col_name, allowed)
    if channel is Channel.SESSIONS:
        kinds = {str(k) for k in pc.unique(table.column("kind")).to_pylist()}
        bad = kinds - {k.value for k in SessionKind}
        if bad:
            known = ", ".join(k.value for k in SessionKind)
            raise CatalogError(f"sessions: column 'kind' holds {sorted(bad)}; expected one of {known}")
    table = table.select(schema.names)
    # Only the field metadata and nullability flags can still differ here; the cast is skipped
    # when there is nothing to change (it costs more than the checks above on a small table).
    return table if table.schema.equals(schema, check_metadata=True) else table.cast(schema)


def _check_codes(channel_name: str, col: pa.ChunkedArray, col_name: str, allowed: frozenset[int]) -> None:
    # The code sets are contiguous (0..k), so min and max decide it in one pass; the exact bad
    # values are computed only for the error message.
    mm = pc.min_max(col).as_py()
    if mm["min"] is None or (min(allowed) <= mm["min"] and mm["max"] <= max(allowed)):
        return
    bad = sorted(set(pc.unique(col).to_pylist()) - allowed - {None})
    raise CatalogError(f"{channel_name}: column {col_name!r} holds {bad}; expected one of {sorted(allowed)}")


_INEXACT = frozenset({float, Decimal})


def _column_array(channel: Channel, f: pa.Field, values: object) -> pa.Array | pa.ChunkedArray:
    """One column from a plain list, typed up front. Typed conversion is ~10x cheaper than
    pyarrow's inference for the small writes of a recorder, but it truncates 1.5 (or
    Decimal("1.5")) to 1 in an integer column, so those are refused here first."""
    if isinstance(values, pa.Array | pa.ChunkedArray):
        if values.type != f.type:
            raise CatalogError(f"{channel.dirname}: column {f.name!r} is {values.type}; expected {f.type}")
        return values
    if pa.types.is_integer(f.type):
        seq = values if isinstance(values, list | tuple) else list(values)  # type: ignore[call-overload]
        inexact = _INEXACT & set(map(type, seq))
        if inexact:
            kinds = ", ".join(sorted(t.__name__ for t in inexact))
            raise CatalogError(
                f"{channel.dirname}: column {f.name!r} holds {kinds} values; expected {f.type} "
                f"(convert prices/sizes with InstrumentSpec.price_to_ticks / size_to_lots)"
            )
        values = seq
    try:
        return pa.array(values, type=f.type)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError) as e:
        raise CatalogError(f"{channel.dirname}: column {f.name!r} does not fit {f.type}: {e}") from None


def table_from_columns(channel: Channel, rows: Mapping[str, object]) -> pa.Table:
    """Build a table of the channel's schema from plain column lists (``{"price": [601234], ...}``),
    with a clear CatalogError for a missing column or a value that does not fit its type."""
    channel = Channel(channel)
    schema = schema_for(channel)
    extra = [k for k in rows if k not in schema.names]
    if extra:
        raise CatalogError(
            f"{channel.dirname}: unexpected column(s) {', '.join(extra)}; expected columns {', '.join(schema.names)}"
        )
    arrays = []
    for f in schema:
        if f.name not in rows:
            raise CatalogError(
                f"{channel.dirname}: missing column {f.name!r} ({f.type}); expected columns {', '.join(schema.names)}"
            )
        arr = _column_array(channel, f, rows[f.name])
        arrays.append(arr)
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        sizes = ", ".join(f"{f.name}={len(a)}" for f, a in zip(schema, arrays, strict=True))
        raise CatalogError(f"{channel.dirname}: columns have different lengths ({sizes})")
    return validate_table(channel, pa.Table.from_arrays(arrays, schema=schema))
