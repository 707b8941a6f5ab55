from __future__ import annotations

from athena.core.events import BookEvent, OrderFilled
from athena.core.ports import ListLevels
from athena.model.enums import Liquidity, OrderType, Side
from athena.model.orders import Fill
from athena.strategies.maker import PostOnlyMaker
from tests.strategies.test_base import context


def book_event(ctx, bid: int, ask: int) -> BookEvent:
    book = ctx.books["BTC-USDT-SWAP"]
    book.set_level(0, bid, 50)
    book.set_level(1, ask, 50)
    return BookEvent("BTC-USDT-SWAP", book, ListLevels([0, 1], [bid, ask], [50, 50]), False, 0, 0)


def test_quotes_one_post_only_order_per_side_at_the_touch():
    ctx = context()
    m = PostOnlyMaker(ctx, "mk", {"quote_lots": 100})
    m.on_book(book_event(ctx, 600000, 600002))
    subs = ctx.oms.submits
    assert [(s[2], s[3], s[4], s[5]) for s in subs] == [
        (Side.BUY, OrderType.POST_ONLY, 100, 600000), (Side.SELL, OrderType.POST_ONLY, 100, 600002)]
    m.on_book(book_event(ctx, 600000, 600002))  # quotes still working: nothing new
    assert len(subs) == 2


def test_at_the_inventory_limit_the_growing_side_is_not_quoted_and_the_position_is_exited():
    ctx = context()
    m = PostOnlyMaker(ctx, "mk", {"quote_lots": 100, "max_position_lots": 100})
    m.on_book(book_event(ctx, 600000, 600002))
    buy = m.quotes[Side.BUY]
    assert buy is not None
    fill = Fill(1, buy.cl_ord_id, "1", "BTC-USDT-SWAP", Side.BUY, 600000, 100, -0.12, Liquidity.MAKER, 5, "mk")
    m.on_fill(OrderFilled(buy, fill, 5, 5))
    exit_ = ctx.oms.submits[-1]
    assert (exit_[2], exit_[3], exit_[4], exit_[6]["reduce_only"]) == (Side.SELL, OrderType.MARKET, 100, True)
