from __future__ import annotations

from athena.core.ports import NO_ASK, NO_BID
from athena.model.enums import Side
from athena.strategies.scalper_v1.config import ExecutionConfig
from athena.strategies.scalper_v1.execution import ExecutionAlgo

SEC = 1_000_000_000


def algo(**overrides: object) -> ExecutionAlgo:
    return ExecutionAlgo(ExecutionConfig(**overrides))


# -- pricing ---------------------------------------------------------------------------------------


def test_buy_posts_two_ticks_inside_from_the_bid_and_sell_from_the_ask():
    a = algo()
    assert a.entry_price(Side.BUY, 100_000, 100_010) == 100_002
    assert a.entry_price(Side.SELL, 100_000, 100_010) == 100_008


def test_a_post_only_price_never_crosses_the_opposite_touch():
    a = algo()
    # spread 2: bid+2 would be the ask; clamp to ask − 1
    assert a.entry_price(Side.BUY, 100_000, 100_002) == 100_001
    assert a.entry_price(Side.SELL, 100_000, 100_002) == 100_001
    # spread 1: nothing inside, join our own touch
    assert a.entry_price(Side.BUY, 100_000, 100_001) == 100_000
    assert a.entry_price(Side.SELL, 100_000, 100_001) == 100_001


def test_price_offset_keeps_that_many_ticks_from_the_opposite_touch():
    a = algo(aggressive_maker_spread_ticks=5.0, aggressive_maker_price_offset=3.0)
    assert a.entry_price(Side.BUY, 100, 104) == 101  # min(105, 101)
    assert a.entry_price(Side.SELL, 100, 104) == 103  # max(99, 103)
    assert a.entry_price(Side.BUY, 100, 120) == 105
    # an offset of 0 still keeps one tick: post-only must not cross
    assert algo(aggressive_maker_price_offset=0.0).entry_price(Side.BUY, 100, 102) == 101


def test_fractional_settings_round_to_whole_ticks_the_safe_way():
    a = algo(aggressive_maker_spread_ticks=2.7, aggressive_maker_price_offset=1.2)
    assert (a.inside_ticks, a.keep_ticks) == (2, 2)
    assert a.entry_price(Side.BUY, 100, 110) == 102
    assert a.entry_price(Side.BUY, 100, 103) == 101


def test_paper_trading_posts_at_mid_rounded_away_from_crossing():
    a = algo(is_paper_trading=True)
    assert a.entry_price(Side.BUY, 100, 104) == 102
    assert a.entry_price(Side.SELL, 100, 104) == 102
    assert a.entry_price(Side.BUY, 100, 103) == 101  # mid 101.5
    assert a.entry_price(Side.SELL, 100, 103) == 102
    assert a.entry_price(Side.BUY, 100, 101) == 100  # mid 100.5: our own touch
    assert a.entry_price(Side.SELL, 100, 101) == 101


def test_no_price_on_a_one_sided_or_crossed_book():
    a = algo()
    assert a.entry_price(Side.BUY, NO_BID, 100) is None
    assert a.entry_price(Side.SELL, 100, NO_ASK) is None
    assert a.entry_price(Side.BUY, 100, 100) is None


# -- chasing ----------------------------------------------------------------------------------------


def test_chase_waits_for_the_minimum_order_life():
    a = algo()  # 2 s, 0.05 %
    # order at 500 000 sent at 0; bid now 300 ticks (0.06 %) away
    assert not a.should_chase(Side.BUY, 500_000, 0, 2 * SEC - 1, 500_300, 500_320)
    assert a.should_chase(Side.BUY, 500_000, 0, 2 * SEC, 500_300, 500_320)


def test_chase_needs_the_touch_more_than_the_distance_away():
    a = algo()
    # 0.05 % of 500 000 ticks is 250 ticks: 250 is not more, 251 is
    assert not a.should_chase(Side.BUY, 500_000, 0, 10 * SEC, 500_250, 500_260)
    assert a.should_chase(Side.BUY, 500_000, 0, 10 * SEC, 500_251, 500_260)
    assert not a.should_chase(Side.BUY, 500_000, 0, 10 * SEC, 499_750, 499_760)
    assert a.should_chase(Side.BUY, 500_000, 0, 10 * SEC, 499_749, 499_760)


def test_sell_chase_follows_the_ask():
    a = algo()
    assert not a.should_chase(Side.SELL, 500_000, 0, 10 * SEC, 499_000, 499_750)
    assert a.should_chase(Side.SELL, 500_000, 0, 10 * SEC, 500_240, 500_251)


def test_no_chase_on_an_empty_touch():
    a = algo()
    assert not a.should_chase(Side.BUY, 500_000, 0, 10 * SEC, NO_BID, 500_000)
    assert not a.should_chase(Side.SELL, 500_000, 0, 10 * SEC, 400_000, NO_ASK)
