from __future__ import annotations

import math
from fractions import Fraction

import pytest

from athena.core.ports import NO_ASK, NO_BID
from athena.model.enums import Side
from athena.model.instrument import BTC_USDT_SWAP as SPEC
from athena.strategies.scalper_v1.config import ScalperV1Config
from athena.strategies.scalper_v1.signal import SignalGenerator, Trend, usdt_to_tick_lots

# BTC-USDT-SWAP: tick 0.1 USDT, lot 0.01 contract of 0.01 BTC. One tick×lot is 0.00001 USDT, so
# 1 lot at 50 000.0 USDT (500 000 ticks) is worth 5 USDT and min_flow_usdt 5000 is 1000 lots there.
PX = 500_000
SEC = 1_000_000_000


def gen(**overrides: object) -> SignalGenerator:
    return SignalGenerator(ScalperV1Config(**overrides), SPEC)


# -- EMA and trend ---------------------------------------------------------------------------------


def test_ema_equals_the_closed_form_weighted_sum_of_the_inputs():
    # EMA_n = (1−α)^n·p0 + Σ_{k=1..n} α(1−α)^(n−k)·p_k, computed exactly with Fractions.
    n = 5
    prices = [500_000, 500_010, 499_990, 500_037, 500_002, 499_951, 500_100, 500_100, 499_800, 500_000, 500_013]
    g = gen(ema_period=n)
    for i, p in enumerate(prices):
        g.on_trade(i * SEC, p, 1, Side.BUY)
    a = Fraction(2, n + 1)
    last = len(prices) - 1
    weight = Fraction(1)
    for _ in range(last):
        weight *= 1 - a
    ref = weight * prices[0]
    for k in range(1, last + 1):
        w = a
        for _ in range(last - k):
            w *= 1 - a
        ref += w * prices[k]
    assert g.ema == pytest.approx(float(ref), rel=1e-13)
    assert g.ema != pytest.approx(500_000, abs=1.0)  # it moved: the reference is not trivially met


def test_ema_is_seeded_by_the_first_price_and_trend_starts_neutral():
    g = gen()
    assert g.ema is None and g.trend is Trend.NEUTRAL
    g.on_trade(0, 500_123, 1, Side.SELL)
    assert g.ema == 500_123.0
    assert g.trend is Trend.NEUTRAL


def test_trend_is_bull_above_the_ema_and_bear_below():
    g = gen(ema_period=3)  # α = 0.5
    g.on_trade(0, 100, 1, Side.BUY)
    g.on_trade(1, 110, 1, Side.BUY)  # ema 105 < 110
    assert g.ema == 105.0 and g.trend is Trend.BULL
    g.on_trade(2, 95, 1, Side.BUY)  # ema 100 > 95
    assert g.ema == 100.0 and g.trend is Trend.BEAR


# -- flow and imbalance ------------------------------------------------------------------------------


def test_flow_is_usdt_volume_of_the_window_from_integer_sums():
    g = gen()
    g.on_trade(0, PX, 600, Side.BUY)
    g.on_trade(1, PX, 400, Side.SELL)
    assert g.buy_tl == PX * 600 and g.sell_tl == PX * 400  # ints: no float accumulates
    assert g.buy_usdt == pytest.approx(3000.0) and g.sell_usdt == pytest.approx(2000.0)
    assert g.flow_usdt == pytest.approx(SPEC.notional(PX, 600) + SPEC.notional(PX, 400))


def test_imbalance_entry_fires_at_5_0x_and_not_at_4_9x():
    g = gen()
    g.on_trade(0, PX, 200, Side.SELL)
    g.on_trade(1, PX, 980, Side.BUY)  # 980 / 200 = 4.9, flow 5900 USDT
    assert g.imbalance(Side.BUY) == pytest.approx(4.9)
    assert g.entry_side(1) is None
    g.on_trade(2, PX, 20, Side.BUY)  # 1000 / 200 = 5.0
    assert g.imbalance(Side.BUY) == 5.0
    assert g.entry_side(2) is Side.BUY


def test_short_imbalance_is_the_inverse_ratio():
    g = gen()
    g.on_trade(0, PX, 200, Side.BUY)
    g.on_trade(1, PX, 1000, Side.SELL)
    assert g.imbalance(Side.SELL) == 5.0
    assert g.imbalance(Side.BUY) == 0.2
    assert g.entry_side(1) is Side.SELL


def test_imbalance_with_no_opposite_flow_is_explicit():
    g = gen()
    assert g.imbalance(Side.BUY) == 0.0 and g.imbalance(Side.SELL) == 0.0  # empty window
    assert not g.imbalance_ok(Side.BUY) and not g.imbalance_ok(Side.SELL)
    g.on_trade(0, PX, 10, Side.BUY)
    assert g.imbalance(Side.BUY) == math.inf
    assert g.imbalance(Side.SELL) == 0.0
    assert g.imbalance_ok(Side.BUY) and not g.imbalance_ok(Side.SELL)


def test_min_flow_is_respected():
    g = gen()
    g.on_trade(0, PX, 999, Side.BUY)  # 4995 USDT, imbalance infinite
    assert not g.flow_ok() and g.entry_side(0) is None
    g.on_trade(1, PX, 1, Side.BUY)  # 5000 USDT exactly
    assert g.flow_ok() and g.entry_side(1) is Side.BUY


def test_min_flow_threshold_is_exact_in_tick_lot_units():
    assert usdt_to_tick_lots(5000, SPEC) == 500_000_000  # 5000 / 0.00001
    assert usdt_to_tick_lots(9999.9, SPEC) == 999_990_000
    assert usdt_to_tick_lots(0.000015, SPEC) == 2  # 1.5 units: rounds up


def test_trend_against_the_flow_blocks_the_entry():
    g = gen()
    g.on_trade(0, PX, 200, Side.SELL)
    g.on_trade(1, PX - 1000, 1010, Side.BUY)  # 5.04x; EMA 500000 − (2/51)·1000 ≈ 499 960.8 > 499 000
    assert g.trend is Trend.BEAR
    assert g.imbalance_ok(Side.BUY) and g.flow_ok()
    assert g.entry_side(1) is None


def test_window_drops_a_trade_exactly_flow_window_s_after_it_was_seen():
    g = gen(flow_window_s=5.0)
    g.on_trade(0, PX, 100, Side.BUY)
    g.on_trade(1 * SEC, PX, 50, Side.SELL)
    g.expire(5 * SEC - 1)
    assert (g.buy_tl, g.sell_tl, g.window_trades) == (PX * 100, PX * 50, 2)
    g.expire(5 * SEC)
    assert (g.buy_tl, g.sell_tl, g.window_trades) == (0, PX * 50, 1)
    g.expire(6 * SEC)
    assert (g.buy_tl, g.sell_tl, g.window_trades) == (0, 0, 0)


def test_a_new_trade_expires_the_old_ones():
    g = gen(flow_window_s=5.0)
    g.on_trade(0, PX, 1000, Side.BUY)
    g.on_trade(5 * SEC, PX, 10, Side.SELL)
    assert g.buy_tl == 0 and g.sell_tl == PX * 10


def test_time_going_backwards_keeps_the_window_ordered():
    g = gen(flow_window_s=5.0)
    g.on_trade(10 * SEC, PX, 1, Side.BUY)
    g.on_trade(9 * SEC, PX, 1, Side.BUY)  # taken as seen at 10 s
    g.expire(15 * SEC - 1)
    assert g.window_trades == 2
    g.expire(15 * SEC)
    assert g.window_trades == 0


# -- large trades ---------------------------------------------------------------------------------------


def test_large_trade_flagged_at_10000_usdt_and_not_at_9999_9():
    g = gen()
    assert SPEC.notional(500_000, 2000) == 10_000.0  # 50 000.0 × 20 contracts × 0.01 BTC
    assert SPEC.notional(499_995, 2000) == pytest.approx(9999.9)  # 49 999.5 × 0.2 BTC
    assert g.is_large(500_000, 2000)
    assert not g.is_large(499_995, 2000)
    g.on_trade(0, 499_995, 2000, Side.BUY)
    assert not g.last_trade_large and g.large_buys == 0
    g.on_trade(1, 500_000, 2000, Side.SELL)
    assert g.last_trade_large and g.large_sells == 1
    g.expire(5 * SEC + 1)
    assert g.large_sells == 0


# -- spread filter ----------------------------------------------------------------------------------------


def test_spread_filter_passes_at_the_threshold_and_fails_past_it():
    g = gen(spread_threshold_pct=0.0005)
    assert g.spread_ok(499_875, 500_125)  # 250 / 500 000 = 0.05 %
    assert not g.spread_ok(499_875, 500_126)  # 251 / 500 000.5 = 0.0502 %
    assert g.spread_ok(499_999, 500_001)


def test_spread_filter_fails_on_an_empty_side_or_a_crossed_book():
    g = gen()
    assert not g.spread_ok(NO_BID, 500_000)
    assert not g.spread_ok(500_000, NO_ASK)
    assert not g.spread_ok(500_000, 500_000)
    assert not g.spread_ok(500_001, 500_000)
