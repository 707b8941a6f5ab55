from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from athena.catalog.stream import F_EOM, K_BOOK, K_TRADE, KIND_MASK, SourceSpec, merge_windows
from athena.model.enums import Channel


def write_trades(path: Path, rows: list[tuple[int, int, int, int, int, int]]) -> Path:
    """rows: (ts_event, ts_recv, trade_id, price, size, side)"""
    cols = list(zip(*rows, strict=True))
    t = pa.table(
        {
            "ts_event": pa.array(cols[0], pa.int64()),
            "ts_recv": pa.array(cols[1], pa.int64()),
            "trade_id": pa.array(cols[2], pa.int64()),
            "price": pa.array(cols[3], pa.int64()),
            "size": pa.array(cols[4], pa.int64()),
            "side": pa.array(cols[5], pa.int8()),
        }
    )
    pq.write_table(t, path, row_group_size=2)
    return path


def write_books(path: Path, rows: list[tuple[int, int, int, int, int, int, int, bool]]) -> Path:
    """rows: (ts_event, ts_recv, msg_id, action, side, price, size, last_in_msg)"""
    cols = list(zip(*rows, strict=True))
    t = pa.table(
        {
            "ts_event": pa.array(cols[0], pa.int64()),
            "ts_recv": pa.array(cols[1], pa.int64()),
            "msg_id": pa.array(cols[2], pa.int64()),
            "action": pa.array(cols[3], pa.int8()),
            "side": pa.array(cols[4], pa.int8()),
            "price": pa.array(cols[5], pa.int64()),
            "size": pa.array(cols[6], pa.int64()),
            "last_in_msg": pa.array(cols[7], pa.bool_()),
        }
    )
    pq.write_table(t, path, row_group_size=3)
    return path


@pytest.fixture
def two_channels(tmp_path: Path) -> list[SourceSpec]:
    trades = write_trades(
        tmp_path / "t.parquet",
        [
            (90, 100, 1, 1000, 5, 0),
            (195, 200, 2, 1001, 1, 1),  # same ts_recv as the book message at 200: trade first
            (290, 300, 3, 999, 2, 0),
            (295, 300, 4, 998, 2, 1),
        ],
    )
    books = write_books(
        tmp_path / "b.parquet",
        [
            (50, 60, 1, 1, 0, 999, 10, False),
            (50, 60, 1, 1, 1, 1001, 10, True),  # snapshot
            (150, 200, 2, 0, 0, 1000, 3, False),
            (150, 200, 2, 0, 1, 1001, 0, False),
            (150, 200, 2, 0, 1, 1002, 4, True),
            (250, 300, 3, 0, 0, 998, 1, True),
        ],
    )
    return [SourceSpec(Channel.TRADES, 0, (trades,)), SourceSpec(Channel.BOOKS, 0, (books,))]


def flatten(windows) -> list[tuple[int, int, int, int, int]]:
    out = []
    for w in windows:
        out.extend(zip(w.tl, w.te, w.kd, w.tk, w.lt, strict=True))
    return out


def test_two_channels_interleave_by_ts_recv_with_trades_first_at_equal_times(two_channels):
    rows = flatten(merge_windows(two_channels, batch_rows=2))
    kinds = [(tl, kd & KIND_MASK) for tl, _, kd, _, _ in rows]
    assert kinds == [
        (60, K_BOOK + 4),
        (60, K_BOOK + 4 + 1 + F_EOM),
        (100, K_TRADE + 0),
        (200, K_TRADE + 1),
        (200, K_BOOK),
        (200, K_BOOK + 1),
        (200, K_BOOK + 1 + F_EOM),
        (300, K_TRADE + 0),
        (300, K_TRADE + 1),
        (300, K_BOOK + F_EOM),
    ]


@pytest.mark.parametrize("batch_rows", [1, 2, 3, 5, 1000])
def test_batch_size_changes_nothing_and_never_splits_a_message(two_channels, batch_rows):
    reference = flatten(merge_windows(two_channels, batch_rows=1000))
    windows = list(merge_windows(two_channels, batch_rows=batch_rows))
    assert flatten(windows) == reference
    for w in windows:  # every window ends at the end of a book message or a trade
        last = w.kd[-1] & KIND_MASK
        assert last < K_BOOK or last & F_EOM


def test_exchange_time_is_a_running_max_and_local_time_never_precedes_it(tmp_path):
    trades = write_trades(
        tmp_path / "t.parquet",
        [
            (100, 105, 1, 1, 1, 0),
            (90, 106, 2, 1, 1, 0),
            (120, 110, 3, 1, 1, 0),  # last: recv clock behind
        ],
    )
    rows = flatten(merge_windows([SourceSpec(Channel.TRADES, 0, (trades,))]))
    assert [r[1] for r in rows] == [100, 100, 120]
    assert [r[0] for r in rows] == [105, 106, 120]


def test_day_clock_shift_moves_local_time_only(tmp_path):
    trades = write_trades(tmp_path / "t.parquet", [(100, 50, 1, 7, 1, 0)])
    src = SourceSpec(Channel.TRADES, 0, (trades,), shift_by_day={0: 1_000})
    (row,) = flatten(merge_windows([src]))
    assert row[:2] == (1_050, 100)


def test_end_excludes_rows_at_or_after_it(two_channels):
    rows = flatten(merge_windows(two_channels, end_ns=200))
    assert [r[0] for r in rows] == [60, 60, 100]


def test_price_and_size_factors_convert_to_ticks_and_lots(tmp_path):
    trades = write_trades(tmp_path / "t.parquet", [(1, 1, 1, 601230, 300, 0)])
    src = SourceSpec(Channel.TRADES, 0, (trades,), price_factor=10, size_factor=100)
    (row,) = flatten(merge_windows([src]))
    assert row[3:] == (60123, 3)
