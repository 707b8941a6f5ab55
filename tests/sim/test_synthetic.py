from __future__ import annotations

import hashlib
from pathlib import Path

import polars as pl
import pytest

from athena.app.data import verify
from athena.catalog.reader import Catalog
from athena.model.enums import Channel
from athena.sim.synthetic import SECOND, generate

INST = "BTC-USDT-SWAP"
MIDNIGHT = 1_704_153_600 * SECOND  # 2024-01-02T00:00:00Z: a funding time and a date= boundary
START, END = MIDNIGHT - 150 * SECOND, MIDNIGHT + 150 * SECOND


@pytest.fixture(scope="module")
def window(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    root = tmp_path_factory.mktemp("synthetic")
    return root, generate(root, start_ns=START, end_ns=END, seed=7)


def _rows(root: Path, ch: Channel) -> pl.DataFrame:
    return Catalog(root).scan("okx", ch, INST).collect()


def _digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith("lock")}  # fmt: skip


def test_same_seed_same_rows_and_bytes(tmp_path: Path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, start_ns=START, end_ns=START + 60 * SECOND, seed=3)
    generate(b, start_ns=START, end_ns=START + 60 * SECOND, seed=3)
    assert _digest(a) == _digest(b) and len(_digest(a)) >= 6
    assert _rows(a, Channel.BOOKS).equals(_rows(b, Channel.BOOKS))
    generate(tmp_path / "c", start_ns=START, end_ns=START + 60 * SECOND, seed=4)
    assert not _rows(a, Channel.TRADES).equals(_rows(tmp_path / "c", Channel.TRADES))


def test_seq_chain_and_every_checksum_valid(window):
    root, summary = window
    b = _rows(root, Channel.BOOKS)
    msgs = b.filter(pl.col("last_in_msg")).select("msg_id", "action", "seq_id", "prev_seq_id", "checksum")
    first = msgs.row(0, named=True)
    assert (first["action"], first["prev_seq_id"]) == (1, -1)  # the snapshot opens the chain
    seq = first["seq_id"]
    for action, s, prev in msgs.select("action", "seq_id", "prev_seq_id").rows()[1:]:
        if action == 2:  # a checkpoint restates the chain, like a keep-alive
            assert s == prev == seq
            continue
        assert prev == seq and s > prev
        seq = s
    assert msgs["checksum"].null_count() == 0 and (msgs["checksum"] != 0).all()
    report = verify(root)
    assert report.ok, report.lines()
    assert report.checksums_ok == report.book_messages == summary.book_messages  # type: ignore[attr-defined]
    assert report.checkpoints_checked == 1


def test_crosses_a_funding_time_and_a_partition(window):
    root, _ = window
    f = _rows(root, Channel.FUNDING)
    before = f.filter(pl.col("ts_event") < MIDNIGHT)
    after = f.filter(pl.col("ts_event") >= MIDNIGHT)
    assert before.height and after.height
    assert set(before["funding_time"]) == {MIDNIGHT} and set(after["funding_time"]) == {MIDNIGHT + 8 * 3600 * SECOND}
    cat = Catalog(root)
    assert [d.isoformat() for d in cat.dates("okx", Channel.BOOKS, INST)] == ["2024-01-01", "2024-01-02"]
    day2 = cat.scan("okx", Channel.BOOKS, INST, start_ns=MIDNIGHT).collect()
    assert day2["action"][0] == 2  # the new partition starts with a checkpoint of the book
    marks = _rows(root, Channel.MARK_PRICE)
    assert 280 <= marks.height <= 320  # about one a second


def test_book_messages_change_tens_of_levels_and_stay_deep(window):
    root, summary = window
    b = _rows(root, Channel.BOOKS)
    updates = b.filter(pl.col("action") == 0)
    per_msg = updates.group_by("msg_id").len()["len"]
    assert per_msg.mean() >= 10  # type: ignore[operator]
    assert summary.mean_levels_per_update >= 10  # type: ignore[attr-defined]
    snap = b.filter(pl.col("action") == 1)
    assert 130 <= snap.filter(pl.col("side") == 0).height <= 170
    assert 130 <= snap.filter(pl.col("side") == 1).height <= 170


def test_receive_after_exchange_time_never_backwards(window):
    root, _ = window
    for ch in (Channel.BOOKS, Channel.TRADES, Channel.MARK_PRICE, Channel.FUNDING):
        df = _rows(root, ch)
        lat = df["ts_recv"] - df["ts_event"]
        if ch is not Channel.BOOKS:  # checkpoint rows carry the book's last exchange time
            assert lat.min() >= 2_000_000, ch  # type: ignore[operator]
        assert (lat > 0).all(), ch
        assert df["ts_recv"].is_sorted(), ch
    lat = _rows(root, Channel.TRADES).select((pl.col("ts_recv") - pl.col("ts_event")).alias("l"))["l"]
    assert lat.n_unique() > 100  # the latency varies


def test_trades_come_in_bursts_with_heavy_tailed_sizes(window):
    root, _ = window
    t = _rows(root, Channel.TRADES)
    per_s = t.group_by(pl.col("ts_event") // SECOND).len()["len"]
    counts = per_s.to_list() + [0] * (300 - per_s.len())
    mean = sum(counts) / len(counts)
    var = sum((c - mean) ** 2 for c in counts) / len(counts)
    assert var / mean > 2  # over-dispersed: Poisson arrivals would give ~1
    sizes = t["size"]
    assert sizes.max() > 20 * sizes.median()  # type: ignore[operator]
    assert set(t["side"].unique()) == {0, 1}


def test_the_committed_sample_is_big_enough_and_small(tmp_path: Path):
    root = Path(__file__).resolve().parents[2] / "data" / "sample"
    cat = Catalog(root)
    rows = {s.channel: s.rows for s in cat.summary("okx")}
    assert rows[Channel.BOOKS] >= 400_000 and rows[Channel.TRADES] >= 30_000
    assert {Channel.MARK_PRICE, Channel.FUNDING} <= set(rows)
    size = sum(p.stat().st_size for p in (root / "okx").rglob("*") if p.is_file())
    assert size <= 8_000_000
