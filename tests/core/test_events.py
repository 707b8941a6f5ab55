from __future__ import annotations

from athena.core.events import MARKET_TYPES, ErrorEvent, EventType, OrderReport, ReportSource, TickEvent
from athena.model.enums import OrderState, Side


def test_every_event_type_of_design_section_4_exists_once():
    names = [t.name for t in EventType]
    assert names == ["TICK", "BOOK_EVENT", "TICKER", "MARK_PRICE", "CANDLE_EVENT", "ORDER_REPORT", "ORDER_SUBMITTED",
                     "ORDER_UPDATE", "ORDER_FILLED", "ORDER_CANCELLED", "POSITION_UPDATE", "ACCOUNT_UPDATE", "FUNDING",
                     "CONNECTION", "TIMER", "ERROR"]
    assert {t.name for t in MARKET_TYPES} == {"TICK", "BOOK_EVENT", "TICKER", "MARK_PRICE", "CANDLE_EVENT"}


def test_fields_lists_every_slot_with_both_timestamps():
    ev = TickEvent("BTC-USDT-SWAP", 7, 600000, 3, Side.SELL, 10, 12)
    assert ev.type is EventType.TICK
    assert ev.fields() == {"ts_event": 10, "ts_recv": 12, "inst_id": "BTC-USDT-SWAP", "lots": 3, "side": Side.SELL,
                           "ticks": 600000, "trade_id": 7}
    assert repr(ev).startswith("TickEvent(") and "ts_event=10" in repr(ev) and "ts_recv=12" in repr(ev)


def test_order_report_defaults_mean_accepted_with_nothing_filled():
    r = OrderReport(inst_id="X", cl_ord_id="c1", ord_id="9", state=OrderState.LIVE, source=ReportSource.PUSH,
                    ts_event=1, ts_recv=2)
    assert (r.s_code, r.acc_fill_lots, r.fill_lots, r.trade_id, r.snapshot_end) == ("0", 0, 0, None, False)


def test_events_have_no_instance_dict():
    ev = ErrorEvent("src", "msg", 1, 1)
    assert not hasattr(ev, "__dict__")
