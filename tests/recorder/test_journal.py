"""recorder/journal.py: frames byte for byte, partitioned by the UTC day of ts_recv, a new file per run,
crash leftovers cut to whole lines, fsync on a timer — and `athena data import okx-ws` reads it back."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from athena.model.enums import Channel
from recorder.journal import JournalThread, RawJournal, journal_files, read_journal
from recorder.okx_ws_import import import_okx_ws
from tests.conftest import load_fixture
from tests.recorder.test_e2e_emulator import rows

MIDNIGHT = 1_704_153_600_000_000_000  # 2024-01-02T00:00:00Z


def test_lines_keep_the_frame_byte_for_byte_and_split_at_utc_midnight_of_ts_recv(tmp_path: Path):
    j = RawJournal(tmp_path)
    odd = '{"arg":{"channel":"trades"},"data":[{"px":"42000.10","note":"é\\u00e9 \\"q\\""}]}'
    j.write([(MIDNIGHT - 1, "public", "public-1", odd), (MIDNIGHT, "public", "public-1", "pong"),
             (MIDNIGHT + 5, "business", "business-1", "{}")])  # fmt: skip
    j.close()
    files = [p.relative_to(tmp_path).as_posix() for p in journal_files(tmp_path)]
    assert files == ["okx/_raw/date=2024-01-01/public-1.jsonl", "okx/_raw/date=2024-01-02/business-1.jsonl",
                     "okx/_raw/date=2024-01-02/public-1.jsonl"]  # fmt: skip
    first = (tmp_path / files[0]).read_bytes()
    assert json.loads(first) == {"ts_recv": MIDNIGHT - 1, "conn": "public-1", "raw": odd}
    assert first.startswith(b'{"ts_recv":1704153599999999999,"conn":"public-1","raw":"{\\"arg\\"')
    assert read_journal(tmp_path / files[2])[0].raw == "pong"


def test_each_run_writes_new_files_and_never_appends_to_an_old_one(tmp_path: Path):
    for n in range(3):
        j = RawJournal(tmp_path)
        j.write([(MIDNIGHT + n, "public", "public-1", f"frame {n}")])
        j.close()
    names = [p.name for p in journal_files(tmp_path)]
    assert names == ["public-1.jsonl", "public-2.jsonl", "public-3.jsonl"]
    assert [read_journal(p)[0].raw for p in journal_files(tmp_path)] == ["frame 0", "frame 1", "frame 2"]


def test_a_line_cut_by_a_crash_is_removed_at_the_next_start_and_whole_lines_stay(tmp_path: Path):
    j = RawJournal(tmp_path)
    j.write([(MIDNIGHT + i, "public", "public-1", f"frame {i}") for i in range(3)])
    j.close()
    path = journal_files(tmp_path)[0]
    whole = path.read_bytes()
    path.write_bytes(whole + b'{"ts_recv":1704153600000000003,"conn":"pub')  # killed mid-write
    j2 = RawJournal(tmp_path)
    assert j2.repaired == 1 and path.read_bytes() == whole
    assert [ln.raw for ln in read_journal(path)] == ["frame 0", "frame 1", "frame 2"]
    assert RawJournal(tmp_path).repaired == 0  # nothing left to cut


def test_the_thread_hands_lines_to_the_os_at_once_and_fsyncs_within_the_interval(tmp_path: Path,
                                                                                monkeypatch: pytest.MonkeyPatch):
    synced: list[float] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append(time.monotonic())
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    j = RawJournal(tmp_path)
    t = JournalThread(j, fsync_interval_s=0.2)
    try:
        t.submit([(MIDNIGHT, "public", "public-1", "a")], 70)
        start = time.monotonic()
        while t.backlog_bytes and time.monotonic() - start < 5:
            time.sleep(0.005)
        # written to the OS before any sync: another process (or the file after a kill -9) sees it
        assert [ln.raw for ln in read_journal(journal_files(tmp_path)[0])] == ["a"]
        while j.last_synced_ts != MIDNIGHT and time.monotonic() - start < 5:
            time.sleep(0.01)
        assert j.last_synced_ts == MIDNIGHT and time.monotonic() - start < 0.5
        assert synced and synced[0] - start < 0.5
    finally:
        t.close()
    assert t.backlog_bytes == 0 and t.lost_lines == 0
    with pytest.raises(ValueError, match="bound a crash's loss to 1 s"):
        JournalThread(RawJournal(tmp_path), fsync_interval_s=2.0)


def test_the_okx_ws_importer_reads_the_journal_into_the_same_rows(tmp_path: Path):
    """The journal's contract: `athena data import okx-ws` re-runs the parsers on it."""
    trade = load_fixture("ws_trades_swap_2026.json")
    frames = []
    for i in range(3):
        trade["data"][0].update(tradeId=str(2832749645 + i), px=f"6391{i}.4")
        frames.append(json.dumps(trade, separators=(",", ":")))
    j = RawJournal(tmp_path / "rec")
    j.write([(MIDNIGHT + i * 1000, "public", "public-1", f) for i, f in enumerate(frames)])
    j.close()
    report = import_okx_ws(journal_files(tmp_path / "rec"), tmp_path / "imported")
    assert report.total_rows(Channel.TRADES) == 3
    t = rows(tmp_path / "imported", Channel.TRADES, "BTC-USDT-SWAP")
    assert t["trade_id"] == [2832749645, 2832749646, 2832749647]
    assert t["price"] == [639104, 639114, 639124] and t["size"] == [3495] * 3 and t["side"] == [1] * 3
    assert t["ts_recv"] == [MIDNIGHT, MIDNIGHT + 1000, MIDNIGHT + 2000]
