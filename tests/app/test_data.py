from __future__ import annotations

from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from athena.app.data import FailureKind, ImportKind, import_files, ls, verify
from athena.catalog.reader import Catalog
from athena.catalog.writer import CatalogWriter
from athena.errors import AthenaError, CatalogError
from athena.model.enums import Channel
from athena.model.instrument import BTC_USDT_SWAP
from athena.sim.synthetic import SECOND, generate

INST = BTC_USDT_SWAP.inst_id
DAY1 = 1_704_067_200 * SECOND  # 2024-01-01T00:00:00Z


def _trades(ts: list[int]) -> dict[str, list[int]]:
    return {"ts_event": ts, "ts_recv": [t + 5_000_000 for t in ts], "trade_id": list(range(1, len(ts) + 1)),
            "price": [420_000] * len(ts), "size": [1] * len(ts), "side": [0] * len(ts)}  # fmt: skip


def test_ls_reports_a_missing_day_as_a_gap(tmp_path: Path):
    with CatalogWriter(tmp_path, "okx", instruments=[BTC_USDT_SWAP]) as w:
        w.write(Channel.TRADES, INST, _trades([DAY1 + SECOND, DAY1 + 2 * SECOND, DAY1 + 2 * 86_400 * SECOND]))
    (row,) = ls(tmp_path)
    assert (row.venue, row.channel, row.inst, row.rows, row.files) == ("okx", Channel.TRADES, INST, 3, 2)
    assert row.days == (date(2024, 1, 1), date(2024, 1, 3))
    assert row.gaps == (date(2024, 1, 2),)
    assert row.date_range == "2024-01-01 .. 2024-01-03"
    assert row.first is not None and row.first.isoformat() == "2024-01-01T00:00:01.005000+00:00"


@pytest.fixture
def synthetic(tmp_path: Path) -> Path:
    generate(tmp_path, start_ns=DAY1 + 3600 * SECOND, end_ns=DAY1 + 3630 * SECOND, seed=11)
    return tmp_path


def test_verify_passes_a_clean_catalog(synthetic: Path):
    rep = verify(synthetic)
    assert rep.ok and rep.failure_count == 0
    assert rep.book_messages > 100 and rep.checksums_ok == rep.book_messages
    assert rep.seq_checked == rep.book_messages - 1  # every update continues the one before
    assert rep.lines()[0].startswith("OK: 4 files")


def test_verify_fails_on_one_flipped_size_and_names_the_message(synthetic: Path):
    (part,) = Catalog(synthetic).files("okx", Channel.BOOKS, INST)
    table = pq.read_table(part)
    size = table.column("size").to_pylist()
    size[0] += 1  # the snapshot's best bid: inside the checksum's top 25
    bad = table.set_column(table.schema.get_field_index("size"), table.schema.field("size"), pa.array(size, pa.int64()))
    pq.write_table(bad.replace_schema_metadata(table.schema.metadata), part)
    rep = verify(synthetic)
    assert not rep.ok
    first = rep.failures[0]
    assert first.kind is FailureKind.CHECKSUM and first.inst == INST and first.file == part
    assert first.detail.startswith("msg_id 1 (seq_id ")
    assert "FAILED" in rep.lines()[0] and "! checksum: okx/books/BTC-USDT-SWAP" in rep.lines()[3]
    # the book is resynced by nothing later in the window: the rest is counted as unchecked
    assert rep.failure_count == 1 and rep.unchecked_messages == rep.book_messages - 1


def test_verify_catches_a_sequence_gap(synthetic: Path):
    (part,) = Catalog(synthetic).files("okx", Channel.BOOKS, INST)
    table = pq.read_table(part)
    prev = table.column("prev_seq_id").to_pylist()
    msg = table.column("msg_id").to_pylist()
    prev = [p - 1 if m == 5 else p for p, m in zip(prev, msg, strict=True)]
    col = table.schema.get_field_index("prev_seq_id")
    bad = table.set_column(col, table.schema.field("prev_seq_id"), pa.array(prev, pa.int64()))
    pq.write_table(bad.replace_schema_metadata(table.schema.metadata), part)
    rep = verify(synthetic)
    assert [f.kind for f in rep.failures] == [FailureKind.SEQUENCE]
    assert rep.failures[0].detail.startswith("msg_id 5: prev_seq_id")


def test_import_files_dispatches_and_reports_progress(tmp_path: Path):
    src = tmp_path / "t.csv"
    src.write_text("instrument_name,trade_id,side,price,size,created_time\n"
                   "BTC-USDT-SWAP,7,buy,42000.1,2,1704067200000\n")  # fmt: skip
    calls: list[tuple[int, int]] = []
    res = import_files("okx-trades", [src], tmp_path / "cat", progress=lambda d, t: calls.append((d, t)))
    assert res.kind is ImportKind.OKX_TRADES
    assert res.rows == {("okx-history", Channel.TRADES, INST): 1}
    assert calls and calls[-1][1] == src.stat().st_size
    assert any("20 ms (stated feed latency)" in line for line in res.lines())


def test_import_files_errors_are_clear(tmp_path: Path):
    with pytest.raises(AthenaError, match="unknown import format 'csv'; expected one of tardis, okx-trades, okx-ws"):
        import_files("csv", [tmp_path / "x"], tmp_path)
    with pytest.raises(CatalogError, match=r"no such file: .*missing\.csv"):
        import_files("tardis", [tmp_path / "missing.csv"], tmp_path)


def test_import_files_okx_ws_uses_the_recorder_importer(real_data: Path, tmp_path: Path):
    src = real_data / "okx" / "okx_v5_ws_2022-05-13_books_trades_tickers.jsonl"
    res = import_files("okx-ws", [src], tmp_path / "cat")
    assert (res.checksum_ok, res.checksum_bad) == (290, 0)  # SOURCES.md: 290 of 290
    assert res.rows[("okx", Channel.TRADES, "BTC-USDT")] == 69
    assert "  book checksums: 290 match, 0 mismatch" in res.lines()


def test_the_committed_sample_verifies(tmp_path: Path):
    root = Path(__file__).resolve().parents[2] / "data" / "sample"
    rep = verify(root)
    assert rep.ok, rep.lines()
    assert rep.checksums_ok == rep.book_messages > 30_000 and rep.checkpoints_checked == 1
