"""Metrics computed on tiny hand-made runs, every expected figure worked out by hand."""

from __future__ import annotations

import math

import pytest

from athena.model.enums import Liquidity, OrderState, OrderType, Side
from athena.report.metrics import compute_metrics, metric_rows
from athena.report.run_folder import EquitySample, FillRow, FundingRow, OrderRow

H = 3_600_000_000_000
D = 24 * H
BTC = "BTC-USDT-SWAP"
CT = {BTC: 0.01}


def fill(
    i: int, side: Side, px: float, size: float, fee: float, liq: Liquidity, pnl: float, ts: int, inst: str = BTC
) -> FillRow:
    return FillRow(f"t{i}", f"c{i}", "s1", inst, side, px, size, fee, liq, pnl, ts)


def order(cl: str, state: OrderState, filled: float, reject: str | None = None) -> OrderRow:
    return OrderRow(
        cl,
        None if state is OrderState.REJECTED else f"o{cl}",
        "s1",
        BTC,
        Side.BUY,
        OrderType.LIMIT,
        60000.0,
        2.0,
        filled,
        60000.0 if filled else None,
        state,
        False,
        "",
        0,
        1,
        reject,
    )


# Two round trips on BTC-USDT-SWAP (ctVal 0.01), maker fee 0.02 %, taker 0.05 %:
#   trip 1: buy 2 @ 60000 (M, notional 1200, fee -0.24) → sell 2 @ 60500 (T, 1210, fee -0.605, pnl +10)
#           10 - 0.24 - 0.605 = +9.155 → win, held 1 h
#   trip 2: sell 1 @ 61000 (M, 610, fee -0.122) → buy 1 @ 61500 (T, 615, fee -0.3075, pnl -5)
#           -5 - 0.122 - 0.3075 = -5.4295 → loss, held 2 h
FILLS = [
    fill(1, Side.BUY, 60000.0, 2.0, -0.24, Liquidity.MAKER, 0.0, H // 2),
    fill(2, Side.SELL, 60500.0, 2.0, -0.605, Liquidity.TAKER, 10.0, 3 * H // 2),
    fill(3, Side.SELL, 61000.0, 1.0, -0.122, Liquidity.MAKER, 0.0, 5 * H // 2),
    fill(4, Side.BUY, 61500.0, 1.0, -0.3075, Liquidity.TAKER, -5.0, 9 * H // 2),
]
FUNDING = [FundingRow(4 * H, BTC, 0.3)]
# hourly equity with returns +2 %, -1 %, +2 %, -1 %, plus a dip at 3.5 h that the hourly grid skips
# but the drawdown sees: peak 1029.996 → 1000.0, a fall of 29.996 (2.91224...% of the peak)
EQUITY = [
    EquitySample(0, 1000.0, 1000.0, 0.0, 60000.0),
    EquitySample(H, 1020.0, 1000.0, 2.0, 60100.0),
    EquitySample(2 * H, 1009.8, 1000.0, 0.0, 60500.0),
    EquitySample(3 * H, 1029.996, 1000.0, -1.0, 61000.0),
    EquitySample(7 * H // 2, 1000.0, 1000.0, -1.0, 61200.0),
    EquitySample(4 * H, 1019.69604, 1000.0, -1.0, 61400.0),
]
ORDERS = [
    order("A", OrderState.FILLED, 2.0),
    order("B", OrderState.CANCELED, 0.0),
    order("C", OrderState.REJECTED, 0.0, "51008"),
    order("D", OrderState.CANCELED, 1.0),
    order("E", OrderState.SUBMITTED, 0.0),  # never answered: not counted as accepted
]


def crafted():
    return compute_metrics(FILLS, EQUITY, ORDERS, FUNDING, 1000.0, ct_val=CT)


def test_pnl_is_gross_plus_fees_plus_funding():
    m = crafted()
    assert m.gross_pnl == pytest.approx(5.0)
    assert m.fees == pytest.approx(-1.2745)
    assert m.funding == pytest.approx(0.3)
    assert m.net_pnl == pytest.approx(4.0255)
    assert m.final_equity == 1019.69604
    assert m.equity_change == pytest.approx(19.69604)
    assert m.return_pct == pytest.approx(1.969604)


def test_two_round_trips_one_win_one_loss_held_one_and_two_hours():
    m = crafted()
    assert m.trades == 4
    assert (m.round_trips, m.open_round_trips, m.wins, m.losses) == (2, 0, 1, 1)
    assert m.win_rate == 0.5
    assert m.avg_holding_s == 5400.0


def test_fees_decide_a_win_a_trip_whose_pnl_is_eaten_by_fees_is_a_loss():
    fills = [
        fill(1, Side.BUY, 100.0, 1.0, -0.6, Liquidity.TAKER, 0.0, 0, inst="X"),
        fill(2, Side.SELL, 101.0, 1.0, -0.6, Liquidity.TAKER, 1.0, 1, inst="X"),  # 1 - 1.2 = -0.2
    ]
    m = compute_metrics(fills, [], [], [], 1000.0, ct_val={"X": 1.0})
    assert (m.round_trips, m.wins, m.losses) == (1, 0, 1)


def test_flip_closes_one_trip_and_opens_the_next_with_the_fee_split_by_size():
    # buy 1 @100 (fee -1); sell 2 @110 (fee -2, pnl +10): closes trip 1 = 10 - 1 - 1 = +8, opens a short with fee -1;
    # buy 1 @112 (fee -1, pnl -2): trip 2 = -2 - 1 - 1 = -4
    fills = [
        fill(1, Side.BUY, 100.0, 1.0, -1.0, Liquidity.TAKER, 0.0, 0, inst="X"),
        fill(2, Side.SELL, 110.0, 2.0, -2.0, Liquidity.TAKER, 10.0, 10_000_000_000, inst="X"),
        fill(3, Side.BUY, 112.0, 1.0, -1.0, Liquidity.TAKER, -2.0, 40_000_000_000, inst="X"),
    ]
    m = compute_metrics(fills, [], [], [], 1000.0, ct_val={"X": 1.0})
    assert (m.round_trips, m.wins, m.losses, m.open_round_trips) == (2, 1, 1, 0)
    assert m.avg_holding_s == 20.0  # (10 s + 30 s) / 2


def test_float_sizes_that_do_not_sum_exactly_still_close_the_round_trip():
    assert 0.1 + 0.1 + 0.1 != 0.3  # the float trap this guards against
    fills = [fill(i, Side.BUY, 100.0, 0.1, 0.0, Liquidity.MAKER, 0.0, i, inst="X") for i in range(3)]
    fills.append(fill(3, Side.SELL, 101.0, 0.3, 0.0, Liquidity.MAKER, 0.3, 3, inst="X"))
    m = compute_metrics(fills, [], [], [], 1000.0, ct_val={"X": 1.0})
    assert (m.round_trips, m.open_round_trips, m.wins) == (1, 0, 1)


def test_an_open_position_at_the_end_is_an_open_round_trip_not_a_closed_one():
    m = compute_metrics(FILLS[:3], [], [], [], 1000.0, ct_val=CT)
    assert (m.round_trips, m.open_round_trips, m.wins) == (1, 1, 1)


def test_drawdown_is_the_largest_fall_from_the_running_peak():
    m = crafted()
    assert m.max_drawdown == pytest.approx(29.996)
    assert m.max_drawdown_pct == pytest.approx(29.996 / 1029.996 * 100.0)


def test_hourly_sharpe_of_plus_two_minus_one_percent_returns():
    # returns 0.02, -0.01, 0.02, -0.01: mean 0.005, deviations ±0.015, sample var 4 × 0.000225 / 3 = 0.0003
    m = crafted()
    assert m.hourly_returns == 4
    assert m.sharpe_hourly == pytest.approx(0.005 / math.sqrt(0.0003) * math.sqrt(8760.0), rel=1e-9)
    assert m.sharpe_hourly == pytest.approx(27.0185, abs=1e-4)
    assert m.sharpe_daily is None  # 4 hours of samples: no daily figure
    assert m.daily_returns == 0


def test_daily_sharpe_when_the_samples_span_two_days():
    # daily returns 0.1 and -0.05: mean 0.025, sample var (0.075² + 0.075²) / 1 = 0.01125
    eq = [
        EquitySample(0, 1000.0, 0.0, 0.0, 1.0),
        EquitySample(D, 1100.0, 0.0, 0.0, 1.0),
        EquitySample(2 * D, 1045.0, 0.0, 0.0, 1.0),
    ]
    m = compute_metrics([], eq, [], [], 1000.0)
    assert m.daily_returns == 2
    assert m.sharpe_daily == pytest.approx(0.025 / math.sqrt(0.01125) * math.sqrt(365.0), rel=1e-9)
    assert m.sharpe_daily == pytest.approx(4.5031, abs=1e-4)


def test_sharpe_is_none_with_flat_equity_or_a_single_return():
    flat = [EquitySample(k * H, 1000.0, 0.0, 0.0, 1.0) for k in range(5)]
    assert compute_metrics([], flat, [], [], 1000.0).sharpe_hourly is None
    one = [EquitySample(0, 1000.0, 0.0, 0.0, 1.0), EquitySample(H, 1010.0, 0.0, 0.0, 1.0)]
    assert compute_metrics([], one, [], [], 1000.0).sharpe_hourly is None


def test_turnover_and_maker_taker_share_are_by_notional():
    m = crafted()
    assert m.notional == pytest.approx(3635.0)  # 1200 + 1210 + 610 + 615
    assert m.turnover == pytest.approx(3.635)
    assert m.maker_share == pytest.approx(1810.0 / 3635.0)
    assert m.taker_share == pytest.approx(1825.0 / 3635.0)


def test_fill_ratio_counts_accepted_orders_only():
    m = crafted()
    assert (m.orders_total, m.orders_rejected, m.orders_accepted, m.orders_filled) == (5, 1, 3, 2)
    assert m.fill_ratio == pytest.approx(2.0 / 3.0)


def test_empty_run_gives_zeros_and_none():
    m = compute_metrics([], [], [], [], 1000.0)
    assert (m.net_pnl, m.gross_pnl, m.fees, m.funding, m.max_drawdown, m.max_drawdown_pct) == (0, 0, 0, 0, 0, 0)
    assert (m.trades, m.round_trips, m.orders_total) == (0, 0, 0)
    assert m.win_rate is None and m.sharpe_hourly is None and m.sharpe_daily is None
    assert m.fill_ratio is None and m.maker_share is None and m.avg_holding_s is None
    assert m.final_equity is None and m.start_ns is None
    assert m.turnover == 0.0
    assert all(v for _, v in metric_rows(m))  # every row still renders


def test_fills_without_a_contract_value_are_refused_rather_than_mispriced():
    with pytest.raises(ValueError, match="BTC-USDT-SWAP"):
        compute_metrics(FILLS, [], [], [], 1000.0)


def test_same_inputs_give_identical_metrics_whatever_order_the_equity_samples_arrive_in():
    a = crafted().to_dict()
    b = compute_metrics(list(FILLS), list(reversed(EQUITY)), ORDERS, FUNDING, 1000.0, ct_val=CT).to_dict()
    assert a == b
    assert a["round_trips"] == 2


def test_metric_rows_show_the_figures_with_units():
    rows = dict(metric_rows(crafted()))
    assert rows["Net PnL (realized)"] == "+4.03 USDT"
    assert rows["Fees (negative = paid)"] == "-1.27 USDT"
    assert rows["Win rate"] == "50.00 %"
    assert rows["Max drawdown"] == "-30.00 USDT (-2.91 %)"
    assert rows["Fill ratio"] == "66.67 % (2 of 3 accepted)"
    assert rows["Average holding time"] == "5,400.0 s"
