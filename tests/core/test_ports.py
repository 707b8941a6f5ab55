from __future__ import annotations

from athena.book.l2 import L2Book
from athena.core.ports import ASK, BID, NO_ASK, NO_BID, BookView, ListLevels, SliceLevels
from athena.model.instrument import BTC_USDT_SWAP


def test_list_levels_reads_side_ticks_lots_by_index():
    lv = ListLevels([BID, ASK], [100, 101], [5, 0])
    assert len(lv) == 2
    assert [(lv.side(i), lv.ticks(i), lv.lots(i)) for i in range(len(lv))] == [(BID, 100, 5), (ASK, 101, 0)]


def test_slice_levels_view_a_window_of_batch_columns_without_copying():
    sides, ticks, lots = [0, 0, 1, 1, 0], [10, 11, 12, 13, 14], [1, 2, 3, 4, 5]
    lv = SliceLevels(sides, ticks, lots, 1, 4)
    assert len(lv) == 3
    assert [(lv.side(i), lv.ticks(i), lv.lots(i)) for i in range(3)] == [(0, 11, 2), (1, 12, 3), (1, 13, 4)]
    lots[2] = 99  # a view, not a copy: valid only while its batch is
    assert lv.lots(1) == 99


def test_empty_sides_compare_without_none_checks_and_the_book_is_a_bookview():
    assert NO_BID < 1 and NO_ASK > 10**12
    book = L2Book(BTC_USDT_SWAP)
    assert isinstance(book, BookView)
    assert (book.best_bid, book.best_ask) == (NO_BID, NO_ASK)
