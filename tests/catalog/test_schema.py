"""Catalog schemas: exact integer columns, documented fields, clear validation errors."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest

from athena.catalog.schema import (
    SCHEMA_VERSION,
    BookRowAction,
    FileMeta,
    Scale,
    SessionKind,
    column_docs,
    scaled_columns,
    schema_for,
    table_from_columns,
    validate_table,
)
from athena.errors import CatalogError
from athena.model.enums import BookAction, Channel


def _trades(**overrides: object) -> dict[str, object]:
    cols: dict[str, object] = {
        "ts_event": [1_700_000_000_000_000_000],
        "ts_recv": [1_700_000_000_004_000_000],
        "trade_id": [2832749645],
        "price": [639134],
        "size": [3495],
        "side": [1],
    }
    cols.update(overrides)
    return cols


def test_every_channel_has_int64_ts_event_and_ts_recv_and_a_doc_for_every_column() -> None:
    for ch in Channel:
        schema = schema_for(ch)
        assert schema.names[:2] == ["ts_event", "ts_recv"]
        assert schema.field("ts_event").type == pa.int64()
        assert schema.field("ts_recv").type == pa.int64()
        docs = column_docs(ch)
        assert list(docs) == schema.names
        assert all(len(d) > 10 for d in docs.values())


def test_prices_and_sizes_are_int64_with_their_scale_in_the_field_metadata() -> None:
    assert scaled_columns(Channel.TRADES) == {"price": Scale.PRICE, "size": Scale.SIZE}
    assert scaled_columns(Channel.BBO) == {
        "bid_price": Scale.PRICE,
        "bid_size": Scale.SIZE,
        "ask_price": Scale.PRICE,
        "ask_size": Scale.SIZE,
    }
    assert scaled_columns(Channel.FUNDING) == {}
    price = schema_for(Channel.BOOKS).field("price")
    assert price.type == pa.int64()
    assert price.metadata[b"scale"] == b"price"
    assert schema_for(Channel.TICKERS).field("vol_24h").type == pa.float64()


def test_books_nullability_matches_the_design() -> None:
    s = schema_for(Channel.BOOKS)
    nullable = {f.name for f in s if f.nullable}
    assert nullable == {"seq_id", "prev_seq_id", "checksum"}
    assert s.field("checksum").type == pa.int32()
    assert s.field("last_in_msg").type == pa.bool_()


def test_book_row_action_keeps_model_values_and_adds_checkpoint() -> None:
    assert BookRowAction.UPDATE == BookAction.UPDATE == 0
    assert BookRowAction.SNAPSHOT == BookAction.SNAPSHOT == 1
    assert BookRowAction.CHECKPOINT == 2


def test_float_price_column_is_refused_naming_the_column_and_the_expected_type() -> None:
    t = pa.table(_trades(price=pa.array([63913.4], pa.float64())))
    with pytest.raises(CatalogError, match=r"trades: column 'price' is double; expected int64"):
        validate_table(Channel.TRADES, t)


def test_float_in_an_integer_list_is_refused_not_truncated() -> None:
    # pyarrow alone would turn 63913.4 into 63913 when asked for an int64 array.
    with pytest.raises(CatalogError, match=r"column 'price' holds float values; expected int64"):
        table_from_columns(Channel.TRADES, _trades(price=[63913.4]))
    with pytest.raises(CatalogError, match=r"column 'size' holds Decimal values; expected int64"):
        table_from_columns(Channel.TRADES, _trades(size=[Decimal("34.95")]))


def test_missing_column_is_named() -> None:
    cols = _trades()
    del cols["trade_id"]
    with pytest.raises(CatalogError, match=r"missing column 'trade_id' \(int64\)"):
        table_from_columns(Channel.TRADES, cols)


def test_extra_column_is_named() -> None:
    with pytest.raises(CatalogError, match=r"unexpected column\(s\) px"):
        table_from_columns(Channel.TRADES, _trades(px=[1]))


def test_null_in_a_non_nullable_column_is_refused() -> None:
    with pytest.raises(CatalogError, match=r"column 'size' has 1 null\(s\); it is not nullable"):
        table_from_columns(Channel.TRADES, _trades(size=[None]))


def test_side_code_outside_buy_sell_is_refused() -> None:
    with pytest.raises(CatalogError, match=r"column 'side' holds \[2\]; expected one of \[0, 1\]"):
        table_from_columns(Channel.TRADES, _trades(side=[2]))


def test_side_too_large_for_int8_is_refused() -> None:
    with pytest.raises(CatalogError, match=r"column 'side' does not fit int8"):
        table_from_columns(Channel.TRADES, _trades(side=[300]))


def test_unknown_session_kind_is_refused_and_known_kinds_listed() -> None:
    cols = {"ts_event": [1], "ts_recv": [1], "kind": ["crash"], "channel": [None], "detail": [""]}
    with pytest.raises(CatalogError, match=r"holds \['crash'\]; expected one of connect, disconnect"):
        table_from_columns(Channel.SESSIONS, cols)
    cols["kind"] = [SessionKind.SEQ_GAP.value]
    assert table_from_columns(Channel.SESSIONS, cols).column("kind").to_pylist() == ["seq_gap"]


def test_columns_of_different_lengths_are_refused() -> None:
    with pytest.raises(CatalogError, match=r"different lengths \(ts_event=2, ts_recv=1"):
        table_from_columns(Channel.TRADES, _trades(ts_event=[1, 2]))


def test_books_rows_with_nullable_seq_ids_validate_and_keep_schema_order() -> None:
    cols = {
        "last_in_msg": [False, True],
        "ts_recv": [5, 5],
        "ts_event": [4, 4],
        "msg_id": [7, 7],
        "action": [0, 0],
        "side": [0, 1],
        "price": [601234, 601240],
        "size": [0, 35],
        "seq_id": [None, None],
        "prev_seq_id": [None, None],
        "checksum": [None, -1_234_567_890],
    }
    t = table_from_columns(Channel.BOOKS, cols)
    assert t.schema.names == schema_for(Channel.BOOKS).names
    assert t.column("checksum").to_pylist() == [None, -1_234_567_890]
    assert t.column("price").type == pa.int64()


def test_file_metadata_round_trips() -> None:
    fm = FileMeta(SCHEMA_VERSION, Channel.MARK_PRICE, "okx", "BTC-USDT-SWAP", 1, 2)
    kv = {k.encode(): v.encode() for k, v in fm.to_kv().items()}
    assert FileMeta.from_kv(kv) == fm
    assert fm.to_kv()["athena.schema_version"] == "1"
    assert fm.to_kv()["athena.channel"] == "mark_price"


def test_file_without_athena_metadata_is_reported_with_a_remedy() -> None:
    with pytest.raises(CatalogError, match="written by CatalogWriter"):
        FileMeta.from_kv(None, where="x.parquet")
