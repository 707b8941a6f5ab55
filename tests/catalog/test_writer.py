"""CatalogWriter: exact round trips, midnight splits, appends, flush triggers, crash safety,
and the venue's _meta (clock shift, instrument decimals) it maintains."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from athena.catalog import meta
from athena.catalog import writer as writer_mod
from athena.catalog.reader import Catalog, part_files, read_file_meta
from athena.catalog.writer import CatalogWriter, partition_dir, recover
from athena.errors import CatalogError
from athena.model.enums import Channel
from athena.model.instrument import BTC_USDT_SWAP, InstrumentSpec
from tests.conftest import load_fixture

BTC = "BTC-USDT-SWAP"
MS = 1_000_000
S = 1_000_000_000
MIDNIGHT = 1_719_360_000 * S  # 2024-06-26 00:00:00 UTC
ROOT_DIR = Path(__file__).resolve().parents[2]


def _trades(ts_recv: list[int], *, first_id: int = 0, latency_ns: int = 3 * MS) -> dict[str, list[int]]:
    n = len(ts_recv)
    return {
        "ts_event": [t - latency_ns for t in ts_recv],
        "ts_recv": ts_recv,
        "trade_id": list(range(first_id, first_id + n)),
        "price": [601234 + i for i in range(n)],
        "size": [100 + i for i in range(n)],
        "side": [i % 2 for i in range(n)],
    }


def _writer(root: Path, **kw: object) -> CatalogWriter:
    return CatalogWriter(root, "okx", instruments=[BTC_USDT_SWAP], **kw)  # type: ignore[arg-type]


def _ids(paths: list[Path]) -> list[int]:
    return [i for p in paths for i in pq.read_table(p).column("trade_id").to_pylist()]


# -- round trips --------------------------------------------------------------------------------


def test_real_okx_trade_round_trips_as_exact_ticks_and_lots(tmp_path: Path) -> None:
    rec = load_fixture("ws_trades_swap_2026.json")["data"][0]  # px 63913.4, sz 34.95, sell
    ts = int(rec["ts"]) * MS
    with _writer(tmp_path) as w:
        w.write(
            Channel.TRADES,
            BTC,
            {
                "ts_event": [ts],
                "ts_recv": [ts + 7 * MS],
                "trade_id": [int(rec["tradeId"])],
                "price": [BTC_USDT_SWAP.price_to_ticks(rec["px"])],
                "size": [BTC_USDT_SWAP.size_to_lots(rec["sz"])],
                "side": [1],
            },
        )
    (path,) = Catalog(tmp_path).files("okx", Channel.TRADES, BTC)
    row = pq.read_table(path).to_pylist()[0]
    assert row == {
        "ts_event": 1786540436090 * MS,
        "ts_recv": 1786540436097 * MS,
        "trade_id": 2832749645,
        "price": 639134,
        "size": 3495,
        "side": 1,
    }
    fm = read_file_meta(path)
    assert (fm.price_decimals, fm.size_decimals, fm.inst, fm.venue) == (1, 2, BTC, "okx")
    assert BTC_USDT_SWAP.format_price(row["price"]) == "63913.4"
    assert BTC_USDT_SWAP.format_size(row["size"]) == "34.95"


def test_spot_sizes_finer_than_any_spec_round_trip_with_measured_decimals(tmp_path: Path) -> None:
    data = load_fixture("rest_trades.json")["data"]  # BTC-USDT spot, sizes 0.00013669 and 0.0000125
    pd = meta.decimals_for([r["px"] for r in data])
    sd = meta.decimals_for([r["sz"] for r in data])
    assert (pd, sd) == (1, 8)
    ts = [int(r["ts"]) * MS for r in data]
    with CatalogWriter(tmp_path, "okx-rest", instruments=[meta.InstrumentMeta("BTC-USDT", pd, sd)]) as w:
        w.write(
            Channel.TRADES,
            "BTC-USDT",
            {
                "ts_event": ts,
                "ts_recv": ts,
                "trade_id": [int(r["tradeId"]) for r in data],
                "price": [int(Decimal(r["px"]) * 10**pd) for r in data],
                "size": [int(Decimal(r["sz"]) * 10**sd) for r in data],
                "side": [0 if r["side"] == "buy" else 1 for r in data],
            },
        )
    (path,) = Catalog(tmp_path).files("okx-rest", Channel.TRADES, "BTC-USDT")
    t = pq.read_table(path)
    assert t.column("size").to_pylist() == [13669, 1250]
    assert t.column("price").to_pylist() == [1025379, 1025379]
    assert [str(Decimal(v).scaleb(-sd).normalize()) for v in t.column("size").to_pylist()] == [
        "0.00013669",
        "0.0000125",
    ]


def test_real_funding_rate_string_round_trips_through_float64(tmp_path: Path) -> None:
    rec = load_fixture("ws_funding_rate.json")["data"][0]  # fundingRate "0.0001000000000000", next ""
    with _writer(tmp_path) as w:
        w.write(
            Channel.FUNDING,
            "LTC-USDT-SWAP",
            {
                "ts_event": [int(rec["ts"]) * MS],
                "ts_recv": [int(rec["ts"]) * MS + 2 * MS],
                "funding_rate": [float(rec["fundingRate"])],
                "next_funding_rate": [float(rec["nextFundingRate"]) if rec["nextFundingRate"] else None],
                "funding_time": [int(rec["fundingTime"]) * MS],
                "next_funding_time": [int(rec["nextFundingTime"]) * MS],
            },
        )
    (path,) = Catalog(tmp_path).files("okx", Channel.FUNDING, "LTC-USDT-SWAP")
    row = pq.read_table(path).to_pylist()[0]
    assert Decimal(repr(row["funding_rate"])) == Decimal(rec["fundingRate"])
    assert row["next_funding_rate"] is None
    assert row["next_funding_time"] == 1765238400000 * MS
    assert read_file_meta(path).price_decimals is None  # LTC has no decimals registered: none needed


def test_books_rows_keep_arrival_order_and_nulls(tmp_path: Path) -> None:
    cols = {
        "ts_event": [10, 10, 10, 20],
        "ts_recv": [15, 15, 15, 26],
        "msg_id": [1, 1, 1, 2],
        "action": [1, 1, 1, 0],
        "side": [0, 1, 0, 1],
        "price": [601230, 601240, 601229, 601240],
        "size": [500, 300, 7, 0],
        "seq_id": [100, 100, 100, 101],
        "prev_seq_id": [-1, -1, -1, 100],
        "checksum": [None, None, -855196043, 1129043437],
        "last_in_msg": [False, False, True, True],
    }
    with _writer(tmp_path) as w:
        w.write(Channel.BOOKS, BTC, cols)
    (path,) = Catalog(tmp_path).files("okx", Channel.BOOKS, BTC)
    assert pq.read_table(path).to_pydict() == cols


# -- partitions and part files ------------------------------------------------------------------


def test_rows_either_side_of_midnight_land_in_two_date_partitions(tmp_path: Path) -> None:
    with _writer(tmp_path) as w:
        w.write(Channel.TRADES, BTC, _trades([MIDNIGHT - 1 * MS, MIDNIGHT]))  # 23:59:59.999, 00:00:00.000
    before = partition_dir(tmp_path, "okx", Channel.TRADES, BTC, "2024-06-25")
    after = partition_dir(tmp_path, "okx", Channel.TRADES, BTC, "2024-06-26")
    assert [p.name for p in part_files(before)] == ["part-235959-000000.parquet"]
    assert [p.name for p in part_files(after)] == ["part-000000-000000.parquet"]
    assert _ids(part_files(before)) == [0]
    assert _ids(part_files(after)) == [1]


def test_appends_from_a_new_writer_add_a_part_and_never_overwrite(tmp_path: Path) -> None:
    with _writer(tmp_path) as w:
        w.write(Channel.TRADES, BTC, _trades([MIDNIGHT + 3600 * S], first_id=0))
    with _writer(tmp_path) as w:
        w.write(Channel.TRADES, BTC, _trades([MIDNIGHT + 3600 * S, MIDNIGHT + 3601 * S], first_id=1))
    parts = part_files(partition_dir(tmp_path, "okx", Channel.TRADES, BTC, "2024-06-26"))
    assert [p.name for p in parts] == ["part-010000-000000.parquet", "part-010000-000001.parquet"]
    assert _ids(parts) == [0, 1, 2]


def test_buffer_reaching_max_rows_is_written_in_parts_of_max_rows(tmp_path: Path) -> None:
    with _writer(tmp_path, max_rows=3) as w:
        assert w.write(Channel.TRADES, BTC, _trades([MIDNIGHT + i * S for i in range(2)])) == []
        assert w.rows_buffered == 2
        written = w.write(Channel.TRADES, BTC, _trades([MIDNIGHT + i * S for i in range(2, 7)], first_id=2))
    assert [pq.read_metadata(p).num_rows for p in written] == [3, 3, 1]
    assert _ids(written) == list(range(7))


def test_row_groups_are_cut_at_row_group_rows(tmp_path: Path) -> None:
    with _writer(tmp_path, row_group_rows=4) as w:
        w.write(Channel.TRADES, BTC, _trades([MIDNIGHT + i for i in range(10)]))
        (path,) = w.flush()
    md = pq.read_metadata(path)
    assert [md.row_group(g).num_rows for g in range(md.num_row_groups)] == [4, 4, 2]


def test_age_flush_is_measured_on_ts_recv_not_the_wall_clock(tmp_path: Path) -> None:
    with _writer(tmp_path, max_age_ns=10 * S) as w:
        assert w.write(Channel.TRADES, BTC, _trades([MIDNIGHT, MIDNIGHT + 5 * S])) == []
        assert w.maybe_flush(MIDNIGHT + 10 * S - 1) == []
        (path,) = w.maybe_flush(MIDNIGHT + 10 * S)
        assert pq.read_metadata(path).num_rows == 2
        assert w.rows_buffered == 0
        # A buffer whose own rows span max_age flushes on write, whatever maybe_flush is told.
        (path2,) = w.write(Channel.TRADES, BTC, _trades([MIDNIGHT + 20 * S, MIDNIGHT + 30 * S], first_id=2))
        assert pq.read_metadata(path2).num_rows == 2


def test_prices_for_an_instrument_without_decimals_are_refused(tmp_path: Path) -> None:
    with CatalogWriter(tmp_path, "okx") as w, pytest.raises(CatalogError, match="no decimals for BTC-USDT-SWAP"):
        w.write(Channel.TRADES, BTC, _trades([MIDNIGHT]))


def test_a_second_writer_on_the_same_venue_is_refused(tmp_path: Path) -> None:
    with _writer(tmp_path), pytest.raises(CatalogError, match="one writer per venue"):
        _writer(tmp_path)
    with _writer(tmp_path) as w:  # the lock is released on close
        assert w.recovered == 0


def test_a_failed_flush_keeps_its_rows_for_the_next_flush_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = writer_mod.pq.write_table

    def disk_full(table: object, where: object, **kw: object) -> None:
        where.write(b"PAR1 torn")  # type: ignore[attr-defined]
        raise OSError(28, "No space left on device")

    with _writer(tmp_path) as w:
        w.write(Channel.TRADES, BTC, _trades([MIDNIGHT, MIDNIGHT + S]))
        monkeypatch.setattr(writer_mod.pq, "write_table", disk_full)
        with pytest.raises(OSError, match="No space left"):
            w.flush()
        assert w.rows_buffered == 2
        assert list(tmp_path.rglob("*.tmp")) == []
        monkeypatch.setattr(writer_mod.pq, "write_table", real)
        (path,) = w.flush()
    assert _ids([path]) == [0, 1]


# -- crash safety -------------------------------------------------------------------------------


def test_recover_deletes_leftover_temp_files_and_numbering_continues(tmp_path: Path) -> None:
    d = partition_dir(tmp_path, "okx", Channel.TRADES, BTC, "2024-06-26")
    d.mkdir(parents=True)
    (d / ".part-000000-000004.parquet.tmp").write_bytes(b"PAR1 half a file")
    (tmp_path / "okx" / "_meta").mkdir()
    (tmp_path / "okx" / "_meta" / ".clock_shift.json.tmp").write_text("{")
    with _writer(tmp_path) as w:
        assert w.recovered == 2
        w.write(Channel.TRADES, BTC, _trades([MIDNIGHT]))
    assert list(tmp_path.rglob("*.tmp")) == []
    assert [p.name for p in part_files(d)] == ["part-000000-000000.parquet"]


def _run_crash_writer(root: Path, rows: int, *, hang_at: int | None, kill_after_parts: int, delay_ms: int) -> None:
    args = [sys.executable, str(Path(__file__).with_name("crash_writer.py")), str(root), "okx", str(rows)]
    if hang_at is not None:
        args.append(str(hang_at))
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, cwd=ROOT_DIR)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the child prints the part count after each flush, or "hanging"
            if line.strip() == "hanging" or (hang_at is None and int(line) >= kill_after_parts):
                break
        time.sleep(delay_ms / 1000)  # a few ms lands the kill inside the next part's write most times
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.parametrize(
    ("hang_at", "delay_ms"),
    [(None, 0), (None, 3), (None, 6), (6, 0)],
    ids=["kill-after-flush", "kill-3ms-later", "kill-6ms-later", "kill-between-fsync-and-rename"],
)
def test_sigkill_mid_run_leaves_only_whole_parts_forming_a_prefix(
    tmp_path: Path, hang_at: int | None, delay_ms: int
) -> None:
    rows = 2000
    _run_crash_writer(tmp_path, rows, hang_at=hang_at, kill_after_parts=8, delay_ms=delay_ms)
    tmp_left = list(tmp_path.rglob("*.parquet.tmp"))
    if hang_at is not None:
        assert len(tmp_left) == 1  # the 6th part was written and fsynced, never renamed
    assert recover(tmp_path, "okx") == len(tmp_left)
    assert list(tmp_path.rglob("*.tmp")) == []
    parts = Catalog(tmp_path).files("okx", Channel.TRADES, BTC)
    if hang_at is not None:
        assert len(parts) == hang_at - 1
    assert len(parts) >= 5
    ids = _ids(parts)  # every part reads in full
    assert ids == list(range(len(parts) * rows))  # no hole, no duplicate, no torn part
    shift = json.loads((tmp_path / "okx" / "_meta" / "clock_shift.json").read_text())
    assert shift["2024-06-26"]["min_delta_ns"] == 3 * MS


# -- _meta: clock shift and instruments ---------------------------------------------------------


def test_clock_shift_of_a_slow_clock_day_is_base_minus_min_delta_and_healthy_day_gets_zero(tmp_path: Path) -> None:
    merged = meta.update_clock_shift(tmp_path, "binance-futures", {"2024-07-18": -1500 * MS, "2024-07-19": 3 * MS})
    assert merged["2024-07-18"].shift_ns == 1_501_000_000
    assert merged["2024-07-19"].shift_ns == 0
    on_disk = json.loads((tmp_path / "binance-futures" / "_meta" / "clock_shift.json").read_text())
    assert on_disk["2024-07-18"] == {"shift_ns": 1_501_000_000, "min_delta_ns": -1_500_000_000, "base_ns": 1_000_000}


def test_clock_shift_merge_keeps_the_smaller_min_delta(tmp_path: Path) -> None:
    meta.update_clock_shift(tmp_path, "v", {"2024-07-18": -1500 * MS})
    meta.update_clock_shift(tmp_path, "v", {"2024-07-18": -1000 * MS, "2024-07-19": 800 * 1000})
    shifts = meta.read_clock_shifts(tmp_path, "v")
    assert shifts["2024-07-18"].min_delta_ns == -1500 * MS
    assert shifts["2024-07-19"].shift_ns == 200_000  # 1 ms base − 0.8 ms
    meta.update_clock_shift(tmp_path, "v", {"2024-07-18": -2000 * MS})
    assert meta.clock_shift_ns(tmp_path, "v", "2024-07-18") == 2_001_000_000
    assert meta.clock_shift_ns(tmp_path, "v", "2024-07-20") == 0


def test_writer_records_the_min_delta_of_market_rows_but_not_of_sessions(tmp_path: Path) -> None:
    day1 = MIDNIGHT + 3600 * S
    with _writer(tmp_path) as w:
        w.write(Channel.TRADES, BTC, _trades([day1, day1 + S], latency_ns=-1500 * MS))
        w.write(Channel.TRADES, BTC, _trades([day1 + 86_400 * S], latency_ns=4 * MS))
        w.write(
            Channel.SESSIONS,
            BTC,
            {"ts_event": [day1 + 86_400 * S], "ts_recv": [day1 + 86_400 * S], "kind": ["connect"]}
            | {"channel": [None], "detail": ["wss://ws.okx.com:8443/ws/v5/public"]},
        )
    shifts = Catalog(tmp_path).clock_shifts("okx")
    assert shifts["2024-06-26"].shift_ns == 1_501_000_000
    assert shifts["2024-06-27"].min_delta_ns == 4 * MS  # the sessions row's 0 delta was not counted
    assert shifts["2024-06-27"].shift_ns == 0


def test_instrument_spec_round_trips_through_instruments_json(tmp_path: Path) -> None:
    real = InstrumentSpec.from_okx(load_fixture("rest_instruments_swap.json")["data"][0])  # BTC-USD-SWAP
    meta.write_instruments(
        tmp_path, "okx", {s.inst_id: meta.InstrumentMeta.from_spec(s) for s in (BTC_USDT_SWAP, real)}
    )
    back = meta.read_instruments(tmp_path, "okx")
    assert back[BTC].spec == BTC_USDT_SWAP
    assert back["BTC-USD-SWAP"].spec == real
    assert (back[BTC].price_decimals, back[BTC].size_decimals) == (1, 2)
    rec = json.loads((tmp_path / "okx" / "_meta" / "instruments.json").read_text())[BTC]
    assert (rec["tick_sz"], rec["lot_sz"], rec["min_sz"], rec["ct_val"]) == ("0.1", "0.01", "0.01", "0.01")


def test_an_instruments_decimals_cannot_change_once_recorded(tmp_path: Path) -> None:
    meta.write_instruments(tmp_path, "okx", {BTC: meta.InstrumentMeta.from_spec(BTC_USDT_SWAP)})
    with pytest.raises(CatalogError, match="recorded with price/size decimals 1/2, not 2/2"):
        meta.write_instruments(tmp_path, "okx", {BTC: meta.InstrumentMeta(BTC, 2, 2)})
