"""L2Book: real OKX books replayed with their checksums, seq rules, best-price upkeep, BookView numbers."""

from __future__ import annotations

import json
from collections import Counter
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from athena.book import l2
from athena.book.l2 import SCAN_LIMIT, L2Book, okx_checksum
from athena.core.ports import ASK, BID, NO_ASK, NO_BID, BookView
from athena.errors import BookChecksumError, BookSequenceError
from athena.model.instrument import InstrumentSpec
from tests.conftest import load_fixture

BOOK_CHANNELS = frozenset({"books", "books-l2-tbt"})
CAPTURE_2022 = "okx/okx_v5_ws_2022-05-13_books_trades_tickers.jsonl"
CAPTURE_2021 = "okx/okx_v5_ws_2021-07-22_books-l2-tbt_trades_tickers.jsonl"

# (inst_id, action, data element) in arrival order
Frame = tuple[str, str, dict[str, Any]]


# -- helpers: plain json in, integer levels out --------------------------------------------------


def _decimals(s: str) -> int:
    exp = Decimal(s).normalize().as_tuple().exponent
    assert isinstance(exp, int)
    return max(0, -exp)


def specs_for(frames: list[Frame]) -> dict[str, InstrumentSpec]:
    """One spec per instrument with the finest unit its data uses (DESIGN.md §3, finer integer
    unit): tick = 10^-(most price decimals seen), lot = 10^-(most size decimals seen)."""
    kp: dict[str, int] = {}
    ks: dict[str, int] = {}
    for inst, _, d in frames:
        for side in ("bids", "asks"):
            for px, sz, *_ in d[side]:
                kp[inst] = max(kp.get(inst, 0), _decimals(px))
                ks[inst] = max(ks.get(inst, 0), _decimals(sz))
    out = {}
    for inst in kp:
        tick = Decimal(1).scaleb(-kp[inst])
        lot = Decimal(1).scaleb(-ks[inst])
        out[inst] = InstrumentSpec(inst_id=inst, tick_sz=tick, lot_sz=lot, min_sz=lot, inst_type="ANY")
    return out


def levels(spec: InstrumentSpec, raw: list[list[str]]) -> list[tuple[int, int]]:
    return [(spec.price_to_ticks(px), spec.size_to_lots(sz)) for px, sz, *_ in raw]


def frames_of_messages(msgs: list[dict[str, Any]]) -> list[Frame]:
    return [
        (m["arg"]["instId"], m["action"], d)
        for m in msgs
        if m.get("arg", {}).get("channel") in BOOK_CHANNELS and "action" in m
        for d in m["data"]
    ]


def frames_of_capture(path: Path) -> list[Frame]:
    msgs = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if rec.get("dir") == "in" and isinstance(rec.get("msg"), dict):
            msgs.append(rec["msg"])
    return frames_of_messages(msgs)


class RawBook:
    """The same book kept on OKX's own strings, to check okx_checksum against real frames."""

    def __init__(self) -> None:
        self.bids: dict[Decimal, tuple[str, str]] = {}
        self.asks: dict[Decimal, tuple[str, str]] = {}

    def apply(self, d: dict[str, Any], snapshot: bool) -> None:
        if snapshot:
            self.bids.clear()
            self.asks.clear()
        for side, book in (("bids", self.bids), ("asks", self.asks)):
            for px, sz, *_ in d[side]:
                if Decimal(sz) == 0:
                    book.pop(Decimal(px), None)
                else:
                    book[Decimal(px)] = (px, sz)

    def checksum(self) -> int:
        bids = [self.bids[p] for p in sorted(self.bids, reverse=True)[:25]]
        asks = [self.asks[p] for p in sorted(self.asks)[:25]]
        return okx_checksum(bids, asks)


def replay(frames: list[Frame]) -> tuple[dict[str, L2Book], Counter[str]]:
    """Rebuild one book per instId; after every message the sent checksum must equal both the
    book's (rebuilt from ints) and the raw-string one, and the book must not be crossed.
    Returns the books and the number of non-zero checksums checked per instrument."""
    specs = specs_for(frames)
    books = {inst: L2Book(spec) for inst, spec in specs.items()}
    raws = {inst: RawBook() for inst in specs}
    checked: Counter[str] = Counter()
    for inst, action, d in frames:
        book, spec = books[inst], specs[inst]
        sent = d["checksum"]
        if action == "snapshot":
            book.apply_snapshot(levels(spec, d["bids"]), levels(spec, d["asks"]), checksum=sent)
        else:
            book.apply_update(levels(spec, d["bids"]), levels(spec, d["asks"]), checksum=sent)
        raws[inst].apply(d, action == "snapshot")
        if sent != 0:
            assert book.checksum() == sent, (inst, d["ts"])
            assert raws[inst].checksum() == sent, (inst, d["ts"])
            checked[inst] += 1
        assert not book.is_crossed(), (inst, d["ts"], book.best_bid, book.best_ask)
    return books, checked


def trimmed_spec() -> InstrumentSpec:
    # NEAR-USDT as in the trimmed roq capture: prices in 0.001, sizes in 1e-8
    return InstrumentSpec(inst_id="NEAR-USDT", tick_sz=Decimal("0.001"), lot_sz=Decimal("1e-8"), min_sz=Decimal("1e-8"))


def near_book_after_trimmed_pair() -> tuple[L2Book, InstrumentSpec]:
    """The LIVE-TRIM snapshot + update: levels were cut, so checksums cannot reproduce (None)."""
    spec = trimmed_spec()
    snap = load_fixture("ws_books_snapshot_seqid_trimmed.json")["data"][0]
    upd = load_fixture("ws_books_update_seqid_trimmed.json")["data"][0]
    book = L2Book(spec)
    assert snap["prevSeqId"] == -1
    book.apply_snapshot(levels(spec, snap["bids"]), levels(spec, snap["asks"]), seq_id=snap["seqId"])
    book.apply_update(
        levels(spec, upd["bids"]), levels(spec, upd["asks"]), seq_id=upd["seqId"], prev_seq_id=upd["prevSeqId"]
    )
    return book, spec


def hand_book(bids: dict[int, int], asks: dict[int, int]) -> L2Book:
    book = L2Book(
        InstrumentSpec(inst_id="T-USDT-SWAP", tick_sz=Decimal("0.1"), lot_sz=Decimal("0.01"), min_sz=Decimal("0.01"))
    )
    for t, q in bids.items():
        book.set_level(BID, t, q)
    for t, q in asks.items():
        book.set_level(ASK, t, q)
    return book


# -- 1. real payloads: every checksum reproduces ---------------------------------------------------


def test_sequence_fixture_rebuilds_three_books_with_all_290_checksums_matching():
    frames = frames_of_messages(load_fixture("ws_books_sequence_2022.jsonl"))
    assert len(frames) == 290
    books, checked = replay(frames)
    assert checked == {"BTC-USDT": 98, "UNI-USD-SWAP": 93, "BTC-USD-220527": 99}
    assert sum(checked.values()) == 290
    assert set(books) == {"BTC-USDT", "UNI-USD-SWAP", "BTC-USD-220527"}


def test_both_real_captures_reproduce_1794_checksums_and_never_cross(real_data):
    _, checked_2022 = replay(frames_of_capture(real_data / CAPTURE_2022))
    _, checked_2021 = replay(frames_of_capture(real_data / CAPTURE_2021))
    assert sum(checked_2022.values()) == 290
    assert sum(checked_2021.values()) == 1504
    assert len(checked_2021) == 10
    assert checked_2021["XMR-USDT-SWAP"] == 318  # 1 snapshot + 317 updates
    assert sum(checked_2022.values()) + sum(checked_2021.values()) == 1794


def test_btc_usdt_snapshot_and_its_first_update_reproduce_okx_checksums():
    snap = load_fixture("ws_books_snapshot.json")
    upd = load_fixture("ws_books_update.json")
    _, checked = replay(frames_of_messages([snap, upd]))
    assert checked == {"BTC-USDT": 2}
    assert snap["data"][0]["checksum"] == 47640993
    assert upd["data"][0]["checksum"] == -652563973


def test_gocryptotrader_snapshot_with_39_bids_37_asks_reproduces_its_checksum():
    msg = load_fixture("ws_books_snapshot_2022b.json")
    books, checked = replay(frames_of_messages([msg]))
    book = books["BTC-USDT"]  # relabelled by the test's author; prices ~0.07
    assert (len(book.bids), len(book.asks)) == (39, 37)
    assert book.checksum() == -1462286744
    assert checked == {"BTC-USDT": 1}


def test_books_l2_tbt_data_element_of_2021_reproduces_its_checksum():
    d = load_fixture("ws_books_l2_tbt_snapshot_data_2021.json")
    books, checked = replay([("L2TBT", "snapshot", d)])
    assert (len(books["L2TBT"].bids), len(books["L2TBT"].asks)) == (42, 42)
    assert books["L2TBT"].checksum() == -552318686
    assert checked == {"L2TBT": 1}


def test_okx_checksum_matches_the_docs_examples_on_raw_strings():
    # reference §3.3 step 3: 2+2 levels, and 1 bid with 3 asks (the ask side continues alone)
    assert okx_checksum([("3366.1", "7"), ("3366", "6")], [("3366.8", "9"), ("3368", "8")]) == -1881014294
    assert okx_checksum([("3366.1", "7")], [("3366.8", "9"), ("3368", "8"), ("3372", "8")]) == 831078360


def test_checksum_rebuilds_tokens_without_trailing_zeros_or_exponent():
    # 30236.0 must be written "30236" and 8470 "8470" (not "8.47E+3"), as OKX writes them
    book = hand_book({302360: 847000}, {302361: 5})
    assert book.checksum() == okx_checksum([("30236", "8470")], [("30236.1", "0.05")])


# -- 2. errors: corrupted levels, gaps, heartbeats, restarts ---------------------------------------


def test_update_with_one_corrupted_size_raises_checksum_error_and_unsyncs_the_book():
    snap = load_fixture("ws_books_snapshot.json")
    upd = load_fixture("ws_books_update.json")
    specs = specs_for(frames_of_messages([snap, upd]))
    spec = specs["BTC-USDT"]
    sd, ud = snap["data"][0], upd["data"][0]
    book = L2Book(spec)
    book.apply_snapshot(levels(spec, sd["bids"]), levels(spec, sd["asks"]), checksum=sd["checksum"])
    bids = [list(lv) for lv in ud["bids"]]
    assert bids[1][:2] == ["30236.1", "0.05452"]
    bids[1][1] = "0.05453"  # one lot of 1e-8 more, on a top-25 level
    with pytest.raises(BookChecksumError, match=r"BTC-USDT.*expected -652563973"):
        book.apply_update(levels(spec, bids), levels(spec, ud["asks"]), checksum=ud["checksum"])
    assert book.synced is False
    # an unsynced book refuses updates until a snapshot resets it
    with pytest.raises(BookSequenceError, match="BTC-USDT"):
        book.apply_update([], [])
    book.apply_snapshot(levels(spec, sd["bids"]), levels(spec, sd["asks"]), checksum=sd["checksum"])
    book.apply_update(levels(spec, ud["bids"]), levels(spec, ud["asks"]), checksum=ud["checksum"])
    assert book.checksum() == -652563973


def test_trimmed_snapshot_seq_id_is_continued_by_the_update_prev_seq_id():
    book, spec = near_book_after_trimmed_pair()
    assert book.seq_id == 9690930617
    assert book.bids[spec.price_to_ticks("1.781")] == spec.size_to_lots("14694.07509503")
    assert book.bids[spec.price_to_ticks("1.78")] == 1210299138400
    assert (book.best_bid, book.best_ask) == (1782, 1783)
    assert len(book.bids) == 4 and len(book.asks) == 3


def test_books_update_with_skipped_seq_id_raises_gap():
    book, _ = near_book_after_trimmed_pair()
    before = (dict(book.bids), dict(book.asks))
    with pytest.raises(BookSequenceError, match=r"NEAR-USDT.*expected prevSeqId 9690930617, got 9690930619"):
        book.apply_update([(1781, 5)], [], seq_id=9690930623, prev_seq_id=9690930619)
    # the gap is found before any level is touched
    assert (book.bids, book.asks) == before
    assert book.seq_id == 9690930617 and book.synced is False


def test_heartbeat_with_seq_id_equal_to_prev_seq_id_is_accepted_and_changes_nothing():
    book, _ = near_book_after_trimmed_pair()
    before = (dict(book.bids), dict(book.asks), book.best_bid, book.best_ask)
    book.apply_update([], [], seq_id=9690930617, prev_seq_id=9690930617, checksum=0)
    assert (book.bids, book.asks, book.best_bid, book.best_ask) == before
    assert book.seq_id == 9690930617 and book.synced is True


def test_lower_seq_id_after_maintenance_is_accepted_via_snapshot_and_continues_from_it():
    book, _ = near_book_after_trimmed_pair()
    book.apply_snapshot([(1700, 10)], [(1701, 20)], seq_id=3)
    assert book.seq_id == 3 and (book.best_bid, book.best_ask) == (1700, 1701)
    book.apply_update([(1699, 7)], [], seq_id=9, prev_seq_id=3)
    assert book.seq_id == 9 and book.bids == {1700: 10, 1699: 7}


def test_update_whose_seq_id_drops_below_its_prev_seq_id_is_valid_when_prev_continues():
    # reference §3.2 rule 5: prev 15 -> seq 3 is valid if prevSeqId equals the last seqId
    book = hand_book({}, {})
    book.apply_snapshot([(100, 1)], [(101, 1)], seq_id=15)
    book.apply_update([], [(101, 4)], seq_id=3, prev_seq_id=15)
    assert book.seq_id == 3 and book.asks == {101: 4}
    book.apply_update([(100, 0)], [], seq_id=8, prev_seq_id=3)
    assert book.seq_id == 8 and book.best_bid == NO_BID
    # ... and the old, higher value no longer continues the book
    with pytest.raises(BookSequenceError, match="expected prevSeqId 8, got 15"):
        book.apply_update([], [], seq_id=20, prev_seq_id=15)


def test_update_before_any_snapshot_is_refused():
    book = L2Book(trimmed_spec())
    with pytest.raises(BookSequenceError, match=r"NEAR-USDT.*snapshot"):
        book.apply_update([(1781, 1)], [], seq_id=2, prev_seq_id=1)
    assert book.bids == {}


# -- 3. hand-built books ----------------------------------------------------------------------------


def test_deleting_the_best_bid_scans_down_to_the_next_level_without_max(monkeypatch):
    book = hand_book({100: 5, 99: 3, 100 - SCAN_LIMIT - 1: 1}, {})
    calls: list[int] = []
    monkeypatch.setattr(l2, "max", lambda d: calls.append(1) or max(d), raising=False)
    book.set_level(BID, 100, 0)
    assert book.best_bid == 99 and calls == []


def test_deleting_the_best_bid_falls_back_to_max_after_scan_limit_empty_ticks(monkeypatch):
    book = hand_book({100: 5, 100 - SCAN_LIMIT - 1: 1}, {})
    calls: list[int] = []
    monkeypatch.setattr(l2, "max", lambda d: calls.append(1) or max(d), raising=False)
    book.set_level(BID, 100, 0)
    assert book.best_bid == 67 and calls == [1]


def test_deleting_the_best_ask_scans_exactly_scan_limit_ticks_then_falls_back_to_min(monkeypatch):
    calls: list[int] = []
    monkeypatch.setattr(l2, "min", lambda d: calls.append(1) or min(d), raising=False)
    book = hand_book({}, {200: 1, 200 + SCAN_LIMIT: 2})
    book.set_level(ASK, 200, 0)
    assert book.best_ask == 232 and calls == []  # 32 ticks away: still found by the scan
    book = hand_book({}, {200: 1, 201 + SCAN_LIMIT: 2})
    book.set_level(ASK, 200, 0)
    assert book.best_ask == 233 and calls == [1]


def test_deleting_a_level_that_is_not_there_changes_nothing():
    book = hand_book({100: 5}, {105: 2})
    book.set_level(BID, 98, 0)
    book.set_level(ASK, 107, 0)
    assert book.bids == {100: 5} and book.asks == {105: 2}
    assert (book.best_bid, book.best_ask) == (100, 105)


def test_emptied_sides_give_no_bid_and_no_ask_and_no_mid_spread_or_imbalance():
    book = hand_book({100: 5}, {105: 2})
    book.set_level(BID, 100, 0)
    assert book.best_bid == NO_BID and book.mid_ticks() is None and book.spread_ticks() is None
    book.set_level(ASK, 105, 0)
    assert book.best_ask == NO_ASK
    assert book.imbalance(5) is None and book.depth(5) == ([], [])
    book.set_level(ASK, 110, 3)  # refilling a side from empty sets its best again
    assert book.best_ask == 110


def test_depth_mid_spread_and_imbalance_by_hand():
    book = hand_book({100: 5, 99: 3, 97: 2}, {102: 4, 103: 1, 110: 6})
    assert book.depth(2) == ([(100, 5), (99, 3)], [(102, 4), (103, 1)])
    assert book.depth(10) == ([(100, 5), (99, 3), (97, 2)], [(102, 4), (103, 1), (110, 6)])
    assert book.mid_ticks() == 101.0
    assert book.spread_ticks() == 2
    assert book.imbalance(1) == pytest.approx(5 / 9)
    assert book.imbalance(2) == pytest.approx(8 / 13)
    assert book.imbalance(10) == pytest.approx(10 / 21)
    assert book.bid_size(99) == 3 and book.bid_size(98) == 0 and book.ask_size(110) == 6
    assert not book.is_crossed()
    book.set_level(BID, 102, 1)  # locked: bid == ask counts as crossed
    assert book.is_crossed() and book.spread_ticks() == 0
    assert isinstance(book, BookView)


def test_snapshot_refills_the_same_dicts_and_clear_forgets_the_sequence():
    book = hand_book({100: 5}, {105: 2})
    bids, asks = book.bids, book.asks
    book.apply_snapshot([(90, 1), (91, 0), (89, 2)], [(95, 3)], seq_id=7)
    assert book.bids is bids and book.asks is asks  # a replay loop may hold them in locals
    assert bids == {90: 1, 89: 2} and asks == {95: 3}
    assert (book.best_bid, book.best_ask, book.seq_id) == (90, 95, 7)
    book.clear()
    assert (book.bids, book.asks, book.best_bid, book.best_ask, book.seq_id) == ({}, {}, NO_BID, NO_ASK, None)


def test_recompute_best_after_direct_dict_writes():
    book = hand_book({100: 5}, {105: 2})
    book.bids[103] = 1
    del book.asks[105]
    book.asks[108] = 4
    book.recompute_best()
    assert (book.best_bid, book.best_ask) == (103, 108)


# -- 4. property: the incremental best equals max/min -----------------------------------------------

_OPS = st.lists(
    st.tuples(st.sampled_from([BID, ASK]), st.integers(0, 150), st.sampled_from([0, 0, 1, 2, 7])),
    max_size=300,
)


@settings(max_examples=200, deadline=None)
@given(_OPS)
def test_best_prices_always_equal_max_bid_and_min_ask(ops):
    book = hand_book({}, {})
    model: tuple[dict[int, int], dict[int, int]] = ({}, {})
    for side, ticks, lots in ops:
        book.set_level(side, ticks, lots)
        if lots:
            model[side][ticks] = lots
        else:
            model[side].pop(ticks, None)
        assert book.best_bid == (max(book.bids) if book.bids else NO_BID)
        assert book.best_ask == (min(book.asks) if book.asks else NO_ASK)
    assert (book.bids, book.asks) == model
