from __future__ import annotations

from fractions import Fraction

from athena.model.enums import Side
from athena.model.instrument import BTC_USDT_SWAP as SPEC
from athena.strategies.scalper_v1.config import ScalperV1Config
from athena.strategies.scalper_v1.state import PositionChange, StateManager

SEC = 1_000_000_000
E = 500_000  # entry 50 000.0 USDT in ticks: 0.1 % of it is 500 ticks, 0.05 % is 250


def sm(**overrides: object) -> StateManager:
    return StateManager(ScalperV1Config(**overrides), SPEC)


# -- position from fills only ----------------------------------------------------------------------


def test_a_submit_alone_changes_no_position():
    s = sm()
    s.entry_sent("c1", Side.BUY, E, 1 * SEC)
    assert s.local_pos_size == 0 and s.entry_price is None and s.entry_time is None
    assert s.maker_order_id == "c1" and s.maker_order_time == 1 * SEC
    assert not s.valve_open()  # only the valve knows about the order
    s.on_fill(Side.BUY, E, 100, 2 * SEC)
    assert s.local_pos_size == 100 and s.entry_price == E and s.entry_time == 2 * SEC


def test_fills_open_add_reduce_and_close():
    s = sm()
    assert s.on_fill(Side.BUY, 500_000, 100, 1) is PositionChange.OPENED
    assert s.on_fill(Side.BUY, 500_100, 100, 2) is PositionChange.ADDED
    assert s.entry_avg == Fraction(500_050) and s.local_pos_size == 200
    assert s.on_fill(Side.SELL, 500_200, 50, 3) is PositionChange.REDUCED
    assert s.entry_avg == Fraction(500_050) and s.local_pos_size == 150  # average of the rest unchanged
    assert s.on_fill(Side.BUY, 500_000, 50, 4) is PositionChange.ADDED
    assert s.entry_avg == Fraction(150 * 500_050 + 50 * 500_000, 200)  # 500 037.5
    assert s.entry_price == 500_037.5
    assert s.entry_time == 1 and s.last_exit_time is None
    assert s.on_fill(Side.SELL, 500_000, 200, 5) is PositionChange.CLOSED
    assert s.local_pos_size == 0 and s.entry_price is None and s.last_exit_time == 5


def test_a_fill_through_zero_exits_and_opens_the_other_side_at_the_fill_price():
    s = sm()
    s.on_fill(Side.BUY, 500_000, 100, 1)
    assert s.on_fill(Side.SELL, 499_000, 300, 7) is PositionChange.FLIPPED
    assert s.local_pos_size == -200 and s.entry_price == 499_000
    assert s.last_exit_time == 7 and s.entry_time == 7


# -- gates --------------------------------------------------------------------------------------------


def test_one_way_valve_closes_on_a_position_or_a_working_order():
    s = sm()
    assert s.valve_open() and s.can_enter(0)
    s.entry_sent("c1", Side.BUY, E, 0)
    assert not s.can_enter(0)
    s.entry_done("c1")
    assert s.can_enter(0)
    s.on_fill(Side.BUY, E, 100, 0)
    assert not s.can_enter(0)
    s.exit_sent("c2")
    s.on_fill(Side.SELL, E, 100, 0)
    assert s.local_pos_size == 0 and not s.valve_open()  # the exit order is still working
    s.exit_done("c2")
    assert s.valve_open()


def test_post_exit_lock_blocks_entries_for_10_s_after_the_exit_fill():
    s = sm()  # cooldown 0, lock 10 s
    s.on_fill(Side.BUY, E, 100, 90 * SEC)
    s.on_fill(Side.SELL, E, 100, 100 * SEC)
    assert s.in_post_exit_lock(110 * SEC - 1) and not s.can_enter(110 * SEC - 1)
    assert not s.in_post_exit_lock(110 * SEC) and s.can_enter(110 * SEC)


def test_cooldown_longer_than_the_lock_governs():
    s = sm(cooldown_seconds=30)
    s.on_fill(Side.SELL, E, 100, 90 * SEC)
    s.on_fill(Side.BUY, E, 100, 100 * SEC)
    assert not s.in_post_exit_lock(120 * SEC) and s.in_cooldown(120 * SEC)
    assert not s.can_enter(130 * SEC - 1)
    assert s.can_enter(130 * SEC)


def test_no_exit_yet_means_no_lock():
    s = sm(cooldown_seconds=30)
    assert not s.in_post_exit_lock(0) and not s.in_cooldown(0) and s.can_enter(0)


def test_anomaly_beyond_the_contract_limit():
    s = sm()  # 4 contracts = 400 lots of 0.01
    assert s.anomaly_limit_lots == 400
    s.on_fill(Side.BUY, E, 400, 0)
    assert not s.is_anomalous()
    s.on_fill(Side.BUY, E, 1, 0)
    assert s.is_anomalous()
    assert s.is_anomalous(-401) and not s.is_anomalous(-400)


def test_fractional_anomaly_limit_compares_exactly():
    s = sm(position_anomaly_limit=4.005)  # 400.5 lots
    assert not s.is_anomalous(400) and s.is_anomalous(401)


def test_anomaly_reset_forgets_the_trailing_plan_but_not_the_position():
    s = sm()
    s.on_fill(Side.BUY, E, 500, 0)
    s.trailing_exit(E + 600)
    assert s.trailing_armed
    s.chasing = True
    s.anomaly_reset()
    assert not s.trailing_armed and s.highest_pnl_pct == 0.0 and s.best_price is None and not s.chasing
    assert s.local_pos_size == 500  # the flatten's fill will move it


# -- trailing stop ----------------------------------------------------------------------------------------


def test_long_trailing_stop_arms_at_0_1_pct_and_exits_on_a_0_05_pct_pullback():
    s = sm()
    s.on_fill(Side.BUY, E, 100, 0)
    assert not s.trailing_exit(500_499)  # +0.0998 %: not armed
    assert not s.trailing_armed and s.highest_pnl_pct == 499 / 500_000
    assert not s.trailing_exit(500_500)  # +0.1 %: armed
    assert s.trailing_armed and s.highest_pnl_pct == 0.001
    assert not s.trailing_exit(501_000)  # new high +0.2 %
    assert s.highest_pnl_pct == 0.002 and s.best_price == 501_000
    assert not s.trailing_exit(500_751)  # back 249 ticks = 0.0498 %
    assert s.trailing_exit(500_750)  # back 250 ticks = 0.05 % exactly
    assert s.pnl_pct(500_750) == 0.0015


def test_short_trailing_stop_mirrors_the_long():
    s = sm()
    s.on_fill(Side.SELL, E, 100, 0)
    assert not s.trailing_exit(499_501) and not s.trailing_armed  # +0.0998 %
    assert not s.trailing_exit(499_500) and s.trailing_armed  # +0.1 %
    assert not s.trailing_exit(499_000)  # +0.2 %
    assert s.highest_pnl_pct == 0.002
    assert not s.trailing_exit(499_249)  # back 249 ticks
    assert s.trailing_exit(499_250)  # back 250 ticks
    assert s.pnl_pct(499_250) == 0.0015


def test_no_exit_before_the_stop_is_armed_whatever_the_pullback():
    s = sm()
    s.on_fill(Side.BUY, E, 100, 0)
    assert not s.trailing_exit(500_400)  # +0.08 %
    assert not s.trailing_exit(499_000)  # back 0.28 %: the OMS's protective stop is for this
    assert not s.trailing_armed


def test_trailing_uses_the_average_entry_exactly():
    s = sm()
    s.on_fill(Side.BUY, 500_000, 100, 0)
    s.on_fill(Side.BUY, 500_010, 100, 0)  # e = 500 005; 0.1 % of it is 500.005 ticks
    assert not s.trailing_exit(500_505)  # +500 ticks: 0.09999 %
    assert s.trailing_exit(500_506) is False and s.trailing_armed  # +501 ticks


def test_trailing_is_idle_when_flat():
    s = sm()
    assert not s.trailing_exit(500_000) and s.best_price is None and s.pnl_pct(500_000) == 0.0


def test_a_refused_entry_blocks_the_next_one_for_the_backoff():
    from athena.model.instrument import BTC_USDT_SWAP
    from athena.strategies.scalper_v1.config import ScalperV1Config
    from athena.strategies.scalper_v1.state import StateManager

    st = StateManager(ScalperV1Config(reject_backoff_s=1.0), BTC_USDT_SWAP)
    assert st.can_enter(5_000_000_000)
    st.entry_refused(5_000_000_000)
    assert not st.can_enter(5_999_999_999)
    assert st.can_enter(6_000_000_000)
