"""recorder/service.py's restart recovery: the rows a crash kept from the catalog are taken back from the raw
journal — exactly the rows a clean run writes, books rebuilt from the last snapshot and checked, none twice —
and the restart's ``sessions`` row says how many, over which span; recorder/journal.py's ``journal_tail``."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from athena.model.enums import Channel
from recorder.journal import JournalLine, journal_files, journal_tail
from tests.conftest import load_fixture
from tests.recorder.test_e2e_emulator import rebuild_books, rows
from tests.recorder.test_service import T0, Clock, frame, recorder

MS = 1_000_000
SPOT = "BTC-USDT"
SWAP = "BTC-USDT-SWAP"
INSTS = (SPOT, SWAP)


def trade(trade_id: int) -> str:
    t = load_fixture("ws_trades_swap_2026.json")
    t["data"][0]["tradeId"] = str(trade_id)
    return json.dumps(t, separators=(",", ":"))


def second_update() -> str:
    """An update after ws_books_update.json: one ask level changed, checksum 0 (not provided)."""
    u = copy.deepcopy(load_fixture("ws_books_update.json"))
    d = u["data"][0]
    d["bids"], d["asks"], d["checksum"] = [], [["30243.5", "2", "0", "5"]], 0
    return json.dumps(u, separators=(",", ":"))


def frames() -> list[str]:
    # received at T0 + 1..6 ms: snapshot, trade, update (real checksum), trade, update, trade
    return [frame("ws_books_snapshot.json"), trade(101), frame("ws_books_update.json"), trade(102),
            second_update(), trade(103)]  # fmt: skip


def record(root: Path, clock: Clock, fs: list[str]) -> None:
    """A clean run that receives ``fs`` at T0 + 1, 2, … ms."""
    clock.t = T0
    rec = recorder(root, INSTS, clock)
    sock = rec.add_socket("public")
    for i, f in enumerate(fs, 1):
        clock.t = T0 + i * MS
        sock.feed(f)
    rec.close()


def crashed(root: Path, clock: Clock, kept: int, journal: list[str]) -> None:
    """The state a kill leaves: the catalog holds the rows of the first ``kept`` frames, the journal all of
    ``journal`` (the run's file rewritten as it would have been journaled)."""
    record(root, clock, journal[:kept])
    (path,) = journal_files(root)
    lines = [JournalLine(T0 + i * MS, "public-1", f) for i, f in enumerate(journal, 1)]
    path.write_bytes(b"".join(json.dumps({"ts_recv": ln.ts_recv, "conn": ln.conn, "raw": ln.raw},
                                         separators=(",", ":")).encode() + b"\n" for ln in lines))  # fmt: skip


def restart(root: Path, clock: Clock):
    clock.t = T0 + 10_000 * MS
    rec = recorder(root, INSTS, clock)
    rep = rec.close()
    assert rep.recovery is not None
    return rep.recovery


def data_rows(root: Path) -> dict[str, dict]:
    return {"trades": rows(root, Channel.TRADES, SWAP), "books": rows(root, Channel.BOOKS, SPOT)}


def test_a_restart_writes_exactly_the_rows_a_clean_run_would_have(tmp_path: Path):
    clock = Clock()
    record(tmp_path / "clean", clock, frames())
    crashed(tmp_path / "killed", clock, 2, frames())  # the kill kept snapshot + first trade only
    r = restart(tmp_path / "killed", clock)

    upd = load_fixture("ws_books_update.json")["data"][0]
    n_upd = len(upd["bids"]) + len(upd["asks"])
    assert r.rows == {Channel.TRADES: 2, Channel.BOOKS: n_upd + 1}
    assert (r.first_ns, r.last_ns, r.book_failures) == (T0 + 3 * MS, T0 + 6 * MS, 0)
    # every column of every row equals the clean run's: same msg_ids, same checksums, same order
    assert data_rows(tmp_path / "killed") == data_rows(tmp_path / "clean")
    assert rows(tmp_path / "killed", Channel.TRADES, SWAP)["trade_id"] == [101, 102, 103]
    book, seen = rebuild_books(tmp_path / "killed", SPOT)  # the update's real checksum reproduces on the rows
    assert (seen["snapshot"], seen["update"], seen["checksums"]) == (1, 2, 2)
    assert book.asks[302_435] == 200_000_000  # the recovered second update: 30243.5 → 2 BTC, in 0.1 / 1e-8 units
    s = rows(tmp_path / "killed", Channel.SESSIONS, SPOT)
    assert s["kind"][-1] == "restart"
    assert (f"{2 + n_upd + 1} rows recovered from the raw journal (trades 2, books {n_upd + 1}; "
            f"ts_recv {T0 + 3 * MS}..{T0 + 6 * MS}, 0.003 s)") in s["detail"][-1]  # fmt: skip

    # a second restart finds nothing newer than the catalog: no row twice
    again = restart(tmp_path / "killed", clock)
    assert again.total == 0 and again.files == journal_files(tmp_path / "killed")
    assert data_rows(tmp_path / "killed") == data_rows(tmp_path / "clean")
    assert "nothing to recover from the raw journal (1 file(s) read)" in rows(
        tmp_path / "killed", Channel.SESSIONS, SPOT)["detail"][-1]  # fmt: skip


def test_a_journaled_book_that_fails_its_check_is_not_recovered_until_a_snapshot(tmp_path: Path):
    clock = Clock()
    bad = json.loads(frame("ws_books_update.json"))
    bad["data"][0]["checksum"] = 12345  # not the book's: the gateway would have dropped it and resynced
    fs = frames()
    fs[2] = json.dumps(bad, separators=(",", ":"))
    crashed(tmp_path, clock, 2, [*fs, frame("ws_books_snapshot.json")])
    r = restart(tmp_path, clock)

    n_snap = sum(len(load_fixture("ws_books_snapshot.json")["data"][0][k]) for k in ("bids", "asks"))
    # the failed update and the next (waiting for a snapshot) leave no row; the snapshot at 7 ms and its
    # checkpoint do; the trades are all back
    assert r.book_failures == 1
    assert r.rows == {Channel.TRADES: 2, Channel.BOOKS: 2 * n_snap}
    b = rows(tmp_path, Channel.BOOKS, SPOT)
    assert b["action"] == [1] * n_snap + [2] * n_snap + [1] * n_snap + [2] * n_snap
    assert b["msg_id"] == [1] * n_snap + [2] * n_snap + [3] * n_snap + [4] * n_snap
    assert set(b["ts_recv"][2 * n_snap :]) == {T0 + 7 * MS}


def test_journal_tail_reads_back_only_to_the_file_that_starts_before_the_catalog_ends(tmp_path: Path):
    day = tmp_path / "okx" / "_raw" / "date=2026-08-12"
    day.mkdir(parents=True)
    for n, first in ((1, 10), (2, 20), (3, 30)):
        (day / f"public-{n}.jsonl").write_text(json.dumps({"ts_recv": first, "conn": "public-1", "raw": "x"}) + "\n")
    (day / "business-1.jsonl").write_text(json.dumps({"ts_recv": 5, "conn": "business-1", "raw": "x"}) + "\n")
    names = lambda tail: {k: [p.name for p in v] for k, v in tail.items()}  # noqa: E731
    assert names(journal_tail(tmp_path, "okx", 25)) == {"public": ["public-2.jsonl", "public-3.jsonl"],
                                                         "business": ["business-1.jsonl"]}  # fmt: skip
    assert names(journal_tail(tmp_path, "okx", 30))["public"] == ["public-3.jsonl"]
    assert names(journal_tail(tmp_path, "okx", 1))["public"] == ["public-1.jsonl", "public-2.jsonl", "public-3.jsonl"]
    assert names(journal_tail(tmp_path, "okx", None))["public"] == ["public-3.jsonl"]
    assert journal_tail(tmp_path / "nothing", "okx", None) == {}
