"""Pre-trade rules with numbers worked by hand.

BTC-USDT-SWAP: one tick × one lot is 0.1 USDT × 0.01 contract × 0.01 BTC = 0.00001 USDT.
At 60 000 USDT (600 000 ticks) one lot is worth 6 USDT. Equity 10 000 USDT throughout.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from athena.core.events import EventType
from athena.model.enums import OrderState, OrderType, RejectReason, Side
from athena.oms.risk import (
    CircuitBreaker,
    DrawdownHalt,
    LeverageCap,
    MaxOpenOrders,
    MaxOrderRate,
    Notional,
    OrderIntent,
    PreTradeCheck,
    PriceBand,
    RiskContext,
    RiskLimits,
    RiskPerTrade,
    RiskProfile,
)
from tests.oms.fakes import INST, PX, SEC, SPEC, make_rig, report

EQ = 10_000.0


def intent(
    size: int,
    side: Side = Side.BUY,
    *,
    price: int | None = PX,
    stop: int | None = None,
    reduce_only: bool = False,
    ord_type: OrderType = OrderType.LIMIT,
) -> OrderIntent:
    return OrderIntent("s1", INST, side, ord_type, size, price, reduce_only, stop)


def ctx(**kw) -> RiskContext:
    base = {"spec": SPEC, "now_ns": 0, "equity": EQ, "peak_equity": EQ}
    base.update(kw)
    return RiskContext(**base)


# -- the 1 % rule ---------------------------------------------------------------------------------


def test_one_percent_rule_limits_the_loss_at_the_stop_not_the_notional():
    rule = RiskPerTrade(0.01)
    # Stop 6 000 ticks (600 USDT) away: 0.06 USDT per lot; 1 % of 10 000 is 100 USDT.
    assert rule.check(intent(1666, stop=6000), ctx()) is None  # 99.96 USDT
    assert rule.check(intent(1667, stop=6000), ctx()) is RejectReason.RISK_PER_TRADE  # 100.02 USDT
    assert "100.0200" in rule.detail and "100.0000" in rule.detail
    # Exactly at the limit passes: 5 000 ticks × 2 000 lots × 0.00001 = 100 USDT.
    assert rule.check(intent(2000, stop=5000), ctx()) is None


def test_one_percent_rule_rejection_through_submit_carries_the_reason_and_the_numbers():
    rig = make_rig()
    o = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 1667, PX, tag="entry", stop_ticks=6000)
    assert o.state is OrderState.REJECTED
    upd = rig.events(EventType.ORDER_UPDATE)[-1]
    assert upd.reason is RejectReason.RISK_PER_TRADE and "100.0200" in upd.s_msg
    assert rig.port.of("submit_order") == [] and rig.capital.reserved() == 0.0
    ok = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 1666, PX, tag="entry", stop_ticks=6000)
    assert ok.state is OrderState.SUBMITTED


# -- leverage cap ---------------------------------------------------------------------------------


def test_leverage_cap_uses_the_worst_side_after_the_order():
    rule = LeverageCap(3.0)
    c = ctx(position_lots=3000, open_buy_lots=1000, open_sell_lots=0)
    # Buys: |3000 + 1000 + 1000| = 5000 lots × 6 USDT = 30 000 USDT = 3.0× — the cap itself passes.
    assert rule.check(intent(1000), c) is None
    # 1001: 5001 lots = 30 006 USDT = 3.0006×.
    assert rule.check(intent(1001), c) is RejectReason.LEVERAGE_CAP
    assert "5001 lots" in rule.detail and "3.001×" in rule.detail
    # Sells: |3000 − 0 − 8000| = 5000 passes; 8001 sells leave 5001 short.
    assert rule.check(intent(8000, Side.SELL), c) is None
    assert rule.check(intent(8001, Side.SELL), c) is RejectReason.LEVERAGE_CAP


def test_leverage_cap_counts_open_orders_on_the_exchange_through_submit():
    rig = make_rig(capital=10_000.0)
    a = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 3000, PX)
    assert a.state is OrderState.SUBMITTED
    b = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 2001, PX)
    assert b.state is OrderState.REJECTED and b.reject_code == "leverage_cap"
    assert "5001 lots" in rig.events(EventType.ORDER_UPDATE)[-1].s_msg


# -- the reduce-only exemption --------------------------------------------------------------------


def test_reduce_only_bypasses_the_one_percent_rule_and_the_leverage_cap_and_nothing_else_does():
    check = PreTradeCheck(RiskLimits(max_order_rate=1000, max_open_orders=1000))
    huge = {"stop": 6000, "price": PX}
    c = ctx(position_lots=6000)
    assert check.check(intent(9000, Side.SELL, reduce_only=True, **huge), c) is None
    assert check.check(intent(9000, Side.SELL, **huge), c) is RejectReason.RISK_PER_TRADE
    assert check.check(intent(9000, Side.SELL, price=PX), c) is RejectReason.LEVERAGE_CAP
    # The other rules still apply to reduce-only orders: a price far outside the band is refused.
    assert check.check(intent(10, Side.SELL, price=PX * 2, reduce_only=True), ctx(ref_ticks=PX)) is (
        RejectReason.PRICE_BAND
    )


# -- the other rules ------------------------------------------------------------------------------


def test_order_rate_counts_orders_sent_in_the_window():
    rule = MaxOrderRate(2, SEC)
    for t in (0, SEC // 2):
        assert rule.check(intent(1), ctx(now_ns=t)) is None
        rule.on_sent(intent(1), ctx(now_ns=t))
    assert rule.check(intent(1), ctx(now_ns=SEC - 1)) is RejectReason.ORDER_RATE
    assert rule.check(intent(1), ctx(now_ns=SEC)) is None  # the first left the window


def test_max_open_orders():
    rule = MaxOpenOrders(3)
    assert rule.check(intent(1), ctx(open_orders=2)) is None
    assert rule.check(intent(1), ctx(open_orders=3)) is RejectReason.MAX_OPEN_ORDERS


def test_price_band_is_five_percent_of_the_reference():
    rule = PriceBand(0.05)
    c = ctx(ref_ticks=float(PX))  # 5 % of 600 000 ticks is 30 000
    assert rule.check(intent(1, price=PX + 30_000), c) is None
    assert rule.check(intent(1, price=PX + 30_001), c) is RejectReason.PRICE_BAND
    assert rule.check(intent(1, price=PX - 30_001), c) is RejectReason.PRICE_BAND
    assert rule.check(intent(1, price=None, ord_type=OrderType.MARKET), c) is None


def test_notional_limit_per_order():
    rule = Notional(600.0)
    assert rule.check(intent(100), ctx()) is None  # 100 × 6 = 600 USDT
    assert rule.check(intent(101), ctx()) is RejectReason.NOTIONAL
    assert Notional(None).check(intent(10**9), ctx()) is None


def test_drawdown_halt_latches_and_spares_exits():
    rule = DrawdownHalt(0.2)
    assert rule.check(intent(1), ctx(equity=8_001.0, peak_equity=EQ)) is None  # 19.99 %
    assert rule.check(intent(1), ctx(equity=8_000.0, peak_equity=EQ)) is RejectReason.DRAWDOWN_HALT
    assert rule.check(intent(1, reduce_only=True), ctx(equity=8_000.0, peak_equity=EQ)) is None
    assert rule.check(intent(1), ctx(equity=9_500.0, peak_equity=EQ)) is RejectReason.DRAWDOWN_HALT
    rule.reset()
    assert rule.check(intent(1), ctx(equity=9_500.0, peak_equity=EQ)) is None


def test_circuit_breaker_pauses_entries_until_its_time():
    rule = CircuitBreaker()
    rule.pause(60 * SEC, "sync failing")
    assert rule.check(intent(1), ctx(now_ns=59 * SEC)) is RejectReason.CIRCUIT_BREAKER
    assert "sync failing" in rule.detail
    assert rule.check(intent(1, reduce_only=True), ctx(now_ns=59 * SEC)) is None
    assert rule.check(intent(1), ctx(now_ns=60 * SEC)) is None


def test_rules_run_in_order_and_the_first_refusal_wins():
    check = PreTradeCheck(RiskLimits(max_open_orders=0))
    check.breaker.pause(SEC, "test")
    assert check.check(intent(1), ctx()) is RejectReason.CIRCUIT_BREAKER
    assert check.check(intent(1), ctx(now_ns=SEC)) is RejectReason.MAX_OPEN_ORDERS


def test_a_market_order_is_valued_at_the_book_for_the_cap():
    rig = make_rig(ask=PX)
    o = rig.om.submit_order("s1", INST, Side.BUY, OrderType.MARKET, 5001)
    assert o.reject_code == "leverage_cap" and o.price_ticks is None
    assert rig.om.submit_order("s1", INST, Side.BUY, OrderType.MARKET, 5000).state is OrderState.SUBMITTED


# -- limits and profiles --------------------------------------------------------------------------


def test_limits_and_profile_read_config_attributes_by_name():
    cfg = SimpleNamespace(risk_per_trade=0.005, max_leverage=2.0, unrelated="x")
    lim = RiskLimits.from_config(cfg)
    assert (lim.risk_per_trade, lim.max_leverage, lim.max_drawdown, lim.price_band_pct) == (0.005, 2.0, 0.2, 0.05)
    assert RiskLimits() == RiskLimits.from_config(object())
    prof = RiskProfile.from_config(SimpleNamespace(stop_pct=0.001))
    assert prof.stop_distance(PX) == 600  # 0.1 % of 600 000 ticks
    assert prof.stop_distance(PX + 1) == 601  # 600.001 rounds up: never understate the risk
    assert RiskProfile(stop_ticks=40, stop_pct=0.5).stop_distance(PX) == 40


@pytest.mark.parametrize("reduce_only", [False, True])
def test_drawdown_halt_through_submit_blocks_entries_only(reduce_only):
    limits = RiskLimits(max_drawdown=0.01, max_order_rate=1000, max_open_orders=1000)
    rig = make_rig(capital=1_000.0, limits=limits)
    # A round trip of 100 lots bought at 600 000 ticks and sold 12 500 ticks lower:
    # 100 × 12 500 × 0.00001 = 12.5 USDT lost, 1.25 % of the 1 000 USDT peak (limit 1 %).
    buy = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 100, PX)
    rig.feed(report(buy.cl_ord_id, "1", OrderState.FILLED, size=100, acc=100, fill_px=PX, fill_sz=100, trade_id=1))
    sell = rig.om.submit_order("s1", INST, Side.SELL, OrderType.LIMIT, 100, PX - 12_500, reduce_only=True)
    rig.feed(
        report(
            sell.cl_ord_id,
            "2",
            OrderState.FILLED,
            side=Side.SELL,
            size=100,
            acc=100,
            fill_px=PX - 12_500,
            fill_sz=100,
            trade_id=2,
        )
    )
    assert abs(rig.capital.realized_pnl("s1") - (-12.5)) < 1e-9
    o = rig.om.submit_order("s1", INST, Side.SELL, OrderType.LIMIT, 1, PX, reduce_only=reduce_only)
    if reduce_only:
        assert o.state is OrderState.SUBMITTED
    else:
        assert o.reject_code == "drawdown_halt" and "1.25%" in o.reject_msg
