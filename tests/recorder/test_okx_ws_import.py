from __future__ import annotations

import json
from pathlib import Path

import pytest

from athena.app.data import verify
from athena.catalog.reader import Catalog
from athena.errors import CatalogError
from athena.model.enums import Channel
from recorder.okx_ws_import import import_okx_ws

CAPTURE_2022 = "okx/okx_v5_ws_2022-05-13_books_trades_tickers.jsonl"
CAPTURE_2021 = "okx/okx_v5_ws_2021-07-22_books-l2-tbt_trades_tickers.jsonl"
NS = 1_000_000_000


def _to_journal(src: Path, dst: Path, shift_ns: int = 0) -> Path:
    """Rewrite a capture in the recorder's journal format: {"ts_recv", "conn", "raw"}."""
    out = []
    for line in src.read_text().splitlines():
        rec = json.loads(line)
        if rec["dir"] != "in":
            continue
        ts = round(rec["recv_ts"] * 1e6) * 1000 + shift_ns
        raw = json.dumps(rec["msg"], separators=(",", ":"))
        out.append(json.dumps({"ts_recv": ts, "conn": "public-1", "raw": raw}))
    dst.write_text("\n".join(out) + "\n")
    return dst


def test_both_real_captures_reproduce_every_checksum_and_verify_ok(real_data: Path, tmp_path: Path):
    root = tmp_path / "cat"
    rep = import_okx_ws([real_data / CAPTURE_2022, real_data / CAPTURE_2021], root)
    # SOURCES.md: 290 + 1,504 non-zero checksums, all reproducible.
    assert (rep.checksum_ok, rep.checksum_bad, rep.seq_gaps) == (1_794, 0, 0)
    assert rep.total_rows(Channel.TRADES) == 74 + 36
    cat = Catalog(root)
    xmr = cat.scan("okx", Channel.BOOKS, "XMR-USDT-SWAP").collect()
    # 198 bid + 76 ask snapshot levels; 318 messages of which 2 have no level (no row).
    assert xmr.filter(xmr["action"] == 1).height == 274
    assert xmr["msg_id"].n_unique() == 316
    last = xmr.filter(xmr["last_in_msg"])
    assert last["checksum"].null_count() == 0 and xmr.filter(~xmr["last_in_msg"])["checksum"].null_count() == 1175 - 316
    m = cat.instrument_meta("okx")
    assert (m["XMR-USDT-SWAP"].price_decimals, m["XMR-USDT-SWAP"].size_decimals) == (2, 0)
    assert (m["BTC-USDT"].price_decimals, m["BTC-USDT"].size_decimals) == (1, 8)
    report = verify(root)
    assert report.ok, report.lines()
    # every stored message's checksum checks out again from the catalog alone
    assert report.checksums_checked == report.checksums_ok == 1_794 - 16


def test_journal_format_and_a_checkpoint_at_midnight(real_data: Path, tmp_path: Path):
    src = real_data / CAPTURE_2022
    # recv_ts runs 16:27:04.5 .. 16:27:16.3; shifting it to end ~6 s after midnight puts the
    # first half of the frames on 2022-05-13 and the rest on 2022-05-14.
    shift = (1_652_486_400 - 1_652_459_230) * NS
    journal = _to_journal(src, tmp_path / "journal.jsonl", shift)
    root = tmp_path / "cat"
    rep = import_okx_ws([journal], root)
    assert rep.checksum_ok == 290 and rep.checkpoints == 3  # one per book instrument
    cat = Catalog(root)
    b = cat.scan("okx", Channel.BOOKS, "BTC-USDT").collect()
    day2 = cat.scan("okx", Channel.BOOKS, "BTC-USDT", start_ns=1_652_486_400 * NS).collect()
    assert day2["action"][0] == 2 and day2["msg_id"][0] > b["msg_id"][0]
    report = verify(root)
    assert report.ok, report.lines()
    assert report.checkpoints_checked == 3


def test_a_corrupted_frame_is_counted_and_reported(real_data: Path, tmp_path: Path):
    lines = (real_data / CAPTURE_2022).read_text().splitlines()
    for i, line in enumerate(lines):
        rec = json.loads(line)
        msg = rec.get("msg", {})
        if msg.get("action") == "update" and msg["arg"]["instId"] == "UNI-USD-SWAP" and msg["data"][0]["bids"]:
            msg["data"][0]["bids"][0][1] = str(int(msg["data"][0]["bids"][0][1]) + 1)
            lines[i] = json.dumps(rec, separators=(",", ":"))
            break
    src = tmp_path / "bad.jsonl"
    src.write_text("\n".join(lines) + "\n")
    rep = import_okx_ws([src], tmp_path / "cat")
    assert rep.checksum_bad == 1
    assert rep.failures and "UNI-USD-SWAP" in rep.failures[0] and "checksum mismatch" in rep.failures[0]
    # no resync in this capture: every later UNI update stays unchecked, the others all match
    assert rep.checksum_ok + rep.checksum_bad < 290 and rep.skipped.get(
        "books updates not checkable (no snapshot since the last failure; rows kept)", 0) > 0
    sessions = Catalog(tmp_path / "cat").scan("okx", Channel.SESSIONS, "UNI-USD-SWAP").collect()
    assert sessions["kind"].to_list() == ["checksum_fail"]


def test_a_line_that_is_not_json_names_file_and_line(tmp_path: Path):
    src = tmp_path / "x.jsonl"
    src.write_text('{"ts_recv": 1, "conn": "a", "raw": "pong"}\nnot json\n')
    with pytest.raises(CatalogError, match=r"x\.jsonl: line 2: not a raw OKX log line"):
        import_okx_ws([src], tmp_path / "cat")
