"""Capital: reservations inside submit_order, allocations, PnL, fees, funding. At 60 000 USDT one
BTC-USDT-SWAP lot is 6 USDT of notional and, at 3× leverage, 2 USDT of initial margin."""

from __future__ import annotations

import pytest

from athena.core.bus import Priority
from athena.core.events import EventType, FundingEvent, MarkPriceEvent, TimerEvent
from athena.model.enums import Liquidity, OrderState, OrderType, RejectReason, Side
from athena.model.orders import Fill
from athena.oms.capital import CapitalCommander
from tests.oms.fakes import INST, PX, SPEC, make_rig, report


def fill(strategy: str, side: Side, ticks: int, lots: int, fee: float = 0.0, tid: int = 1, cl: str = "c") -> Fill:
    return Fill(tid, cl, "o", INST, side, ticks, lots, fee, Liquidity.TAKER, 0, strategy)


def test_two_submits_in_one_handler_cannot_both_pass_the_allocation():
    rig = make_rig(capital=1_000.0, allocations={"s1": 0.5, "s2": 0.5})
    results = []

    def handler(_ev):
        # s1 may reserve 500 USDT: 200 lots need 400, so the second 200 cannot fit.
        results.append(rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 200, PX))
        results.append(rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 200, PX))

    rig.bus.subscribe(EventType.TIMER, handler, Priority.STRATEGY)
    rig.bus.publish(TimerEvent("go", 0, 0))
    first, second = results
    assert first.state is OrderState.SUBMITTED and second.state is OrderState.REJECTED
    upd = next(u for u in rig.events(EventType.ORDER_UPDATE) if u.order is second)
    assert upd.reason is RejectReason.NO_CAPITAL
    assert "needs 400.0000" in upd.s_msg and "100.0000 free" in upd.s_msg
    assert len(rig.port.of("submit_order")) == 1
    # s2's half is untouched by s1's orders.
    assert rig.capital.free("s2") == pytest.approx(500.0)


def test_reduce_only_orders_reserve_nothing_and_are_never_refused_for_capital():
    rig = make_rig(capital=1_000.0, allocations={"s1": 1.0})
    entry = rig.om.submit_order("other", INST, Side.BUY, OrderType.LIMIT, 1, PX)
    assert entry.reject_code == "no_capital"  # "other" has no allocation
    exit_ = rig.om.submit_order("other", INST, Side.SELL, OrderType.LIMIT, 10, PX, reduce_only=True)
    assert exit_.state is OrderState.SUBMITTED
    assert rig.capital.reserved() == 0.0


def test_reservation_is_converted_on_fill_and_released_on_cancel():
    rig = make_rig(capital=1_000.0)
    o = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 10, PX)
    assert rig.capital.reserved("s1") == pytest.approx(20.0)
    rig.feed(report(o.cl_ord_id, "1", OrderState.PARTIALLY_FILLED, size=10, acc=4, fill_px=PX, fill_sz=4, trade_id=1))
    assert rig.capital.reserved("s1") == pytest.approx(12.0)  # 6 lots left
    assert rig.capital.used_margin("s1") == pytest.approx(8.0)  # 4 lots held
    rig.feed(report(o.cl_ord_id, "1", OrderState.CANCELED, size=10, acc=4))
    assert rig.capital.reserved("s1") == 0.0
    assert rig.capital.free("s1") == pytest.approx(1_000.0 - 8.0)


def test_reservation_released_on_exchange_rejection():
    rig = make_rig(capital=1_000.0)
    o = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 10, PX)
    rig.feed(report(o.cl_ord_id, "", None, s_code="51008", s_msg="Insufficient margin"))
    assert o.state is OrderState.REJECTED and rig.capital.reserved() == 0.0


def test_realized_pnl_fees_and_funding_per_strategy_and_in_total():
    cap = CapitalCommander(10_000.0, {"a": 0.5, "b": 0.5}, instruments={INST: SPEC})
    cap.on_fill(fill("a", Side.BUY, PX, 100, fee=-0.3, tid=1))
    cap.on_fill(fill("b", Side.BUY, PX, 300, fee=-0.9, tid=2))
    # Funding of −3 USDT shared by |lots|: a holds 100 of 400, b 300 of 400.
    cap.on_funding(INST, -3.0, 5)
    assert (cap.funding("a"), cap.funding("b"), cap.funding()) == pytest.approx((-0.75, -2.25, -3.0))
    # a sells 100 lots 1 000 ticks higher: 100 × 1 000 × 0.00001 = 1 USDT.
    cap.on_fill(fill("a", Side.SELL, PX + 1_000, 100, fee=-0.3, tid=3))
    assert cap.realized_pnl("a") == pytest.approx(1.0) and cap.realized_pnl("b") == 0.0
    assert (cap.fees("a"), cap.fees("b"), cap.fees()) == pytest.approx((-0.6, -0.9, -1.5))
    # Balance: 10 000 + 1 − 1.5 − 3 = 9 996.5
    assert cap.balance() == pytest.approx(9_996.5)
    assert [t for t, _ in cap.equity_curve] == [0, 0, 5, 0]
    assert cap.equity_curve[-1][1] == pytest.approx(9_996.5)


def test_unrealized_pnl_follows_mark_prices_and_the_peak_gives_the_drawdown():
    rig = make_rig(capital=1_000.0)
    cap = rig.capital
    cap.attach(rig.bus)
    cap.on_fill(fill("s1", Side.BUY, PX, 1_000))
    rig.bus.publish(MarkPriceEvent(INST, PX - 10_000, 0, 0))  # 1 000 lots × 10 000 ticks × 0.00001 = 100 USDT
    assert cap.unrealized_pnl() == pytest.approx(-100.0)
    assert cap.equity() == pytest.approx(900.0)
    assert cap.drawdown() == pytest.approx(0.1)
    rig.bus.publish(FundingEvent(INST, 0.0001, 0, 0, 0, payment=-6.0))
    assert cap.funding("s1") == pytest.approx(-6.0)


def test_allocations_must_not_exceed_the_whole():
    with pytest.raises(ValueError, match="sum to at most 1"):
        CapitalCommander(1_000.0, {"a": 0.7, "b": 0.4})
    with pytest.raises(ValueError, match="positive"):
        CapitalCommander(0.0)
