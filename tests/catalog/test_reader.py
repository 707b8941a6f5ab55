"""Catalog reader: listing, range files with neighbouring days, lazy scans, batches, summary."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from athena.catalog import reader
from athena.catalog.reader import Catalog, iter_batches
from athena.catalog.writer import CatalogWriter, partition_dir
from athena.errors import CatalogError
from athena.model.enums import Channel
from athena.model.instrument import BTC_USDT_SWAP

BTC = "BTC-USDT-SWAP"
S = 1_000_000_000
DAY = 86_400 * S
D0 = 1_719_360_000 * S  # 2024-06-26 00:00:00 UTC


def _trades(ts_recv: list[int], first_id: int = 0) -> dict[str, list[int]]:
    n = len(ts_recv)
    return {
        "ts_event": [t - 2_000_000 for t in ts_recv],
        "ts_recv": ts_recv,
        "trade_id": list(range(first_id, first_id + n)),
        "price": [601234] * n,
        "size": [5] * n,
        "side": [0] * n,
    }


def _catalog(root: Path, days: list[int], *, rows_per_day: int = 3) -> Catalog:
    """Trades on D0 + each day offset, at 06:00, 12:00, 18:00 …; trade_id = day*100 + k."""
    with CatalogWriter(root, "okx", instruments=[BTC_USDT_SWAP]) as w:
        for d in days:
            ts = [D0 + d * DAY + (k + 1) * 6 * 3600 * S for k in range(rows_per_day)]
            w.write(Channel.TRADES, BTC, _trades(ts, first_id=d * 100))
            w.flush()
    return Catalog(root)


def _dates_of(paths: list[Path]) -> list[str]:
    return [p.parent.name[5:] for p in paths]


def test_listing_finds_venues_channels_instruments_and_dates(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, [0, 2])
    with CatalogWriter(tmp_path, "synthetic", instruments=[BTC_USDT_SWAP]) as w:
        w.write(Channel.MARK_PRICE, BTC, {"ts_event": [D0], "ts_recv": [D0], "mark_price": [601000]})
    assert cat.venues() == ["okx", "synthetic"]
    assert cat.channels("okx") == [Channel.TRADES]
    assert cat.channels("synthetic") == [Channel.MARK_PRICE]
    assert cat.instruments("okx", Channel.TRADES) == [BTC]
    assert cat.dates("okx", Channel.TRADES, BTC) == [date(2024, 6, 26), date(2024, 6, 28)]
    assert cat.dates("okx", Channel.BOOKS, BTC) == []


def test_missing_root_is_a_catalog_error_saying_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(CatalogError, match="record or import data first"):
        Catalog(tmp_path / "nope")


def test_files_of_a_range_include_one_neighbouring_day_each_side_and_nothing_further(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, [-3, -2, -1, 0, 1, 2, 3])
    files = cat.files("okx", Channel.TRADES, BTC, D0 + 3600 * S, D0 + 7200 * S)
    assert _dates_of(files) == ["2024-06-25", "2024-06-26", "2024-06-27"]
    assert _dates_of(cat.files("okx", Channel.TRADES, BTC, D0 + 3600 * S, D0 + 7200 * S, neighbours=False)) == [
        "2024-06-26"
    ]
    # [D0, D0 + 1 day) ends exactly at midnight: day +1 is only the neighbour, day +2 is not read.
    files = cat.files("okx", Channel.TRADES, BTC, D0, D0 + DAY)
    assert _dates_of(files) == ["2024-06-25", "2024-06-26", "2024-06-27"]
    assert len(cat.files("okx", Channel.TRADES, BTC)) == 7
    assert cat.files("okx", Channel.TRADES, BTC, D0, D0) == []


def test_parts_are_ordered_by_write_order_even_when_hhmmss_goes_back(tmp_path: Path) -> None:
    with CatalogWriter(tmp_path, "okx", instruments=[BTC_USDT_SWAP]) as w:
        w.write(Channel.TRADES, BTC, _trades([D0 + 12 * 3600 * S], first_id=0))
        w.flush()
        w.write(Channel.TRADES, BTC, _trades([D0 + 9 * 3600 * S], first_id=1))  # a clock step back
    files = Catalog(tmp_path).files("okx", Channel.TRADES, BTC)
    assert [p.name for p in files] == ["part-120000-000000.parquet", "part-090000-000001.parquet"]


def test_scan_filters_the_range_on_ts_recv_and_never_opens_unrelated_days(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, [-2, 0, 1, 3])
    # Corrupt a part of a day far from the range, and leave a crash's temp file in the range:
    # the scan must read neither.
    (far,) = cat.files("okx", Channel.TRADES, BTC, D0 + 3 * DAY, D0 + 4 * DAY, neighbours=False)
    far.write_bytes(b"not parquet")
    in_range = partition_dir(tmp_path, "okx", Channel.TRADES, BTC, "2024-06-26")
    (in_range / ".part-230000-000009.parquet.tmp").write_bytes(b"half")
    # D0 12:00 (incl.) to D0+1 day 12:00 (excl.): D0's 12:00 and 18:00, day +1's 06:00.
    df = cat.scan("okx", Channel.TRADES, BTC, D0 + 12 * 3600 * S, D0 + DAY + 12 * 3600 * S).collect()
    assert df["trade_id"].to_list() == [1, 2, 100]
    assert df["ts_recv"].to_list() == [D0 + 12 * 3600 * S, D0 + 18 * 3600 * S, D0 + DAY + 6 * 3600 * S]


def test_scan_of_an_empty_range_has_the_channel_schema(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, [0])
    df = cat.scan("okx", Channel.TRADES, BTC, D0 + 10 * DAY, D0 + 11 * DAY).collect()
    assert df.height == 0
    assert df.columns == ["ts_event", "ts_recv", "trade_id", "price", "size", "side"]


def test_iter_batches_streams_row_group_by_row_group(tmp_path: Path) -> None:
    with CatalogWriter(tmp_path, "okx", instruments=[BTC_USDT_SWAP], row_group_rows=4) as w:
        w.write(Channel.TRADES, BTC, _trades([D0 + i for i in range(10)]))
    (path,) = Catalog(tmp_path).files("okx", Channel.TRADES, BTC)
    assert [b.num_rows for b in iter_batches(path, batch_rows=100)] == [4, 4, 2]
    assert [b.num_rows for b in iter_batches(path, batch_rows=3)] == [3, 1, 3, 1, 2]
    ids = [i for b in iter_batches(path, 3, columns=["trade_id"]) for i in b.column(0).to_pylist()]
    assert ids == list(range(10))


def test_summary_counts_rows_from_footers_and_reports_a_missing_day_as_a_gap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cat = _catalog(tmp_path, [0, 2, 3], rows_per_day=3)
    with CatalogWriter(tmp_path, "okx") as w:  # a second part on day 3
        w.write(Channel.TRADES, BTC, _trades([D0 + 3 * DAY + 23 * 3600 * S], first_id=399))

    def no_data_read(*_: object, **__: object) -> None:
        raise AssertionError("summary read data pages")

    monkeypatch.setattr(reader.pq, "read_table", no_data_read)
    (s,) = cat.summary()
    assert (s.venue, s.channel, s.inst) == ("okx", Channel.TRADES, BTC)
    assert s.rows == 10
    assert s.files == 4
    assert s.first_ts_recv == D0 + 6 * 3600 * S
    assert s.last_ts_recv == D0 + 3 * DAY + 23 * 3600 * S
    assert s.dates == (date(2024, 6, 26), date(2024, 6, 28), date(2024, 6, 29))
    assert s.gaps == (date(2024, 6, 27),)


def test_footer_stats_fall_back_to_the_ts_recv_column_without_statistics(tmp_path: Path) -> None:
    cat = _catalog(tmp_path, [0])
    (path,) = cat.files("okx", Channel.TRADES, BTC)
    t = pq.read_table(path)
    pq.write_table(t, path, write_statistics=False)
    assert reader.footer_stats(path) == (3, D0 + 6 * 3600 * S, D0 + 18 * 3600 * S)


def test_the_layout_reads_as_a_hive_dataset_with_no_athena_code(tmp_path: Path) -> None:
    _catalog(tmp_path, [0, 1])
    # A crash's leftover temp file must not be picked up by a plain glob either.
    d = partition_dir(tmp_path, "okx", Channel.TRADES, BTC, "2024-06-26")
    (d / ".part-230000-000009.parquet.tmp").write_bytes(b"half")
    df = pl.scan_parquet(str(tmp_path / "okx" / "trades" / "**" / "*.parquet"), hive_partitioning=True).collect()
    assert df.height == 6
    assert set(df["inst"].to_list()) == {BTC}
    assert sorted(df["trade_id"].to_list()) == [0, 1, 2, 100, 101, 102]
