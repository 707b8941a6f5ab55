from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from athena.model.enums import Side
from athena.model.instrument import BTC_USDT_SWAP
from athena.model.position import Position


def test_round_trip_long_realizes_sell_minus_buy():
    p = Position("BTC-USDT-SWAP")
    p.apply_fill(Side.BUY, 600000, 10)
    p.apply_fill(Side.BUY, 600010, 10)
    assert p.avg_ticks == Fraction(600005)
    p.apply_fill(Side.SELL, 600020, 5)
    p.apply_fill(Side.SELL, 600030, 15)
    assert p.lots == 0 and p.cost == 0
    # by hand: sells 3000100 + 9000450 = 12000550; buys 6000000 + 6000100 = 12000100
    assert p.realized == (5 * 600020 + 15 * 600030) - (10 * 600000 + 10 * 600010)
    assert p.realized == 450
    # 450 tick·lots, each worth 0.1 USDT × 0.01 contracts × 0.01 BTC = 1e-5 USDT: 0.0045 USDT
    assert abs(BTC_USDT_SWAP.pnl_value(p.realized) - 0.0045) < 1e-15


def test_partial_close_keeps_the_average_and_realizes_a_fraction():
    p = Position("X")
    p.apply_fill(Side.BUY, 100, 2)
    p.apply_fill(Side.BUY, 101, 1)  # avg 301/3
    pnl = p.apply_fill(Side.SELL, 102, 1)
    assert pnl == Fraction(102) - Fraction(301, 3)
    assert p.avg_ticks == Fraction(301, 3)
    assert p.lots == 2


def test_fill_through_zero_opens_the_rest_at_the_fill_price():
    p = Position("X")
    p.apply_fill(Side.BUY, 100, 3)
    pnl = p.apply_fill(Side.SELL, 110, 5)
    assert pnl == 30
    assert p.lots == -2
    assert p.avg_ticks == 110
    assert p.unrealized(105) == 10  # short 2 from 110, mark 105


def test_short_round_trip():
    p = Position("X")
    p.apply_fill(Side.SELL, 200, 4, fee=-0.5)
    p.apply_fill(Side.BUY, 190, 4, fee=-0.5)
    assert p.is_flat and p.realized == 40 and p.fees == -1.0


fills = st.lists(
    st.tuples(st.sampled_from([Side.BUY, Side.SELL]), st.integers(1, 10_000_000), st.integers(1, 500)),
    min_size=1,
    max_size=40,
)


@given(fills, st.integers(1, 10_000_000))
def test_any_fills_netting_to_zero_leave_exactly_flat_with_pnl_sells_minus_buys(seq, close_px):
    p = Position("X")
    for side, px, lots in seq:
        p.apply_fill(side, px, lots)
    net = p.lots
    if net:  # close at one more price so the sequence nets to zero
        p.apply_fill(Side.SELL if net > 0 else Side.BUY, close_px, abs(net))
        seq = [*seq, (Side.SELL if net > 0 else Side.BUY, close_px, abs(net))]
    assert p.lots == 0
    assert p.cost == 0
    by_hand = sum(px * lots for s, px, lots in seq if s is Side.SELL) - sum(
        px * lots for s, px, lots in seq if s is Side.BUY
    )
    assert p.realized == by_hand


def test_reset_to_adopts_size_and_average():
    p = Position("X")
    p.apply_fill(Side.BUY, 100, 1)
    p.reset_to(-3, 120)
    assert p.lots == -3 and p.avg_ticks == 120
