"""Real OKX payloads map to core events in exact ticks, lots and ns; commands map to exact strings."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from athena.core.events import PositionSource, ReportSource
from athena.gateways.okx.mapping import (
    account_update,
    algo_args,
    algo_report,
    amend_args,
    cancel_args,
    candle_event,
    fill_report,
    funding_event,
    mark_price_event,
    order_ack,
    order_args,
    order_report,
    position_update,
    tick_event,
    ticker_event,
)
from athena.gateways.okx.parsers import (
    AccountPush,
    AlgoOrder,
    CandlesPush,
    Fill,
    FundingRatePush,
    MarkPrice,
    OpResponse,
    Order,
    OrdersPush,
    PositionsPush,
    TickersPush,
    TradesPush,
    parse_ws,
)
from athena.model.enums import Liquidity, OrderState, OrderType, Side
from athena.model.instrument import BTC_USDT_SWAP, InstrumentSpec
from athena.model.orders import AlgoOrder as CoreAlgo
from athena.model.orders import Order as CoreOrder
from tests.conftest import load_fixture

SPEC = BTC_USDT_SWAP
LTC = InstrumentSpec("LTC-USDT-SWAP", tick_sz=Decimal("0.01"), lot_sz=Decimal("1"), min_sz=Decimal("1"))
RECV = 7


def frame(name: str) -> str:
    return json.dumps(load_fixture(name), separators=(",", ":"))


def test_swap_fill_push_becomes_a_report_with_exact_lots_ticks_and_fee():
    push = parse_ws(frame("ws_orders_swap_fill.json"))
    assert isinstance(push, OrdersPush)
    r = order_report(SPEC, push.data[0], ReportSource.PUSH, RECV)
    # accFillSz 0.03 ct / lotSz 0.01 = 3 lots; fillPx 103698.9 / tickSz 0.1 = 1036989 ticks
    assert (r.acc_fill_lots, r.fill_lots, r.size_lots) == (3, 3, 3)
    assert r.fill_ticks == 1036989
    assert r.price_ticks is None  # a market order: px ""
    assert r.acc_fee == -0.021776769
    assert r.avg_px == 103698.9
    assert r.trade_id == 1518905529
    assert r.liquidity is Liquidity.MAKER  # execType "M" in this capture
    assert (r.state, r.ord_type, r.side, r.source) == (OrderState.FILLED, OrderType.MARKET, Side.BUY, ReportSource.PUSH)
    assert (r.cl_ord_id, r.ord_id) == ("001BTCUSDT20250106001", "2497956918703120384")
    assert r.ts_event == 1746947317402 * 1_000_000  # fillTime, ms -> ns
    assert (r.ts_recv, r.reduce_only, r.s_code) == (RECV, False, "0")


def test_non_fill_push_carries_no_fill():
    o = Order(
        inst_id="BTC-USDT-SWAP",
        ord_id="1",
        side=Side.SELL,
        cl_ord_id="a1",
        px="60000.1",
        sz="0.05",
        ord_type="post_only",
        state="live",
        acc_fill_sz="0",
        fill_sz="0",
        fill_px="",
        trade_id="",
        u_time="1",
    )
    r = order_report(SPEC, o, ReportSource.PUSH, RECV)
    assert (r.fill_lots, r.fill_ticks, r.trade_id, r.liquidity) == (0, None, None, None)
    assert (r.price_ticks, r.size_lots, r.state, r.ord_type) == (600001, 5, OrderState.LIVE, OrderType.POST_ONLY)


def test_okx_states_map_to_order_states():
    def state(s: str) -> OrderState | None:
        o = Order(inst_id="BTC-USDT-SWAP", ord_id="1", side=Side.BUY, state=s, sz="0.01")
        return order_report(SPEC, o, ReportSource.QUERY, RECV).state

    assert [state(s) for s in ("live", "partially_filled", "filled", "canceled", "mmp_canceled")] == [
        OrderState.LIVE, OrderState.PARTIALLY_FILLED, OrderState.FILLED, OrderState.CANCELED, OrderState.CANCELED,
    ]  # fmt: skip


def test_stop_child_without_cl_ord_id_is_reported_under_the_stop_algo_cl_ord_id():
    o = Order(
        inst_id="BTC-USDT-SWAP",
        ord_id="9",
        side=Side.SELL,
        cl_ord_id="",
        algo_cl_ord_id="stop1",
        algo_id="77",
        ord_type="market",
        sz="0.02",
        state="filled",
        acc_fill_sz="0.02",
    )
    r = order_report(SPEC, o, ReportSource.PUSH, RECV)
    assert (r.cl_ord_id, r.ord_id, r.ord_type, r.acc_fill_lots) == ("stop1", "9", OrderType.MARKET, 2)


def test_cancel_source_and_amend_source_pass_through():
    o = Order(
        inst_id="BTC-USDT-SWAP",
        ord_id="1",
        side=Side.BUY,
        sz="0.01",
        state="canceled",
        cancel_source="31",
        amend_source="2",
    )
    r = order_report(SPEC, o, ReportSource.PUSH, RECV)
    assert (r.cancel_source, r.amend_source) == ("31", "2")


def test_trade_push_becomes_a_tick():
    push = parse_ws(frame("ws_trades.json"))
    assert isinstance(push, TradesPush)
    t = tick_event(SPEC, push.data[0], RECV)
    # px 91467.1 -> 914671 ticks; sz 0.03 ct -> 3 lots; taker sold
    assert (t.inst_id, t.trade_id, t.ticks, t.lots, t.side) == ("BTC-USDT-SWAP", 2005639579, 914671, 3, Side.SELL)
    assert (t.ts_event, t.ts_recv) == (1765201257145 * 1_000_000, RECV)
    assert SPEC.notional(t.ticks, t.lots) == pytest.approx(27.44013)  # 0.03 × 0.01 × 91467.1 USDT


def test_positions_push_becomes_an_exchange_position_with_trade_id_watermark():
    push = parse_ws(frame("ws_positions.json"))
    assert isinstance(push, PositionsPush)
    p = position_update(SPEC, push.data[0], RECV, req_id="r1", snapshot_end=True)
    # pos "1" contract / lotSz 0.01 = 100 lots, net long
    assert (p.inst_id, p.lots, p.avg_px, p.source) == ("BTC-USDT-SWAP", 100, 43684.0, PositionSource.EXCHANGE)
    assert (p.watermark, p.req_id, p.snapshot_end) == (186646171, "r1", True)
    assert p.ts_event == 1644330337903 * 1_000_000


def test_long_short_mode_short_position_is_negative():
    push = parse_ws(frame("ws_positions.json"))
    assert isinstance(push, PositionsPush)
    short = json.loads(frame("ws_positions.json"))
    short["data"][0]["posSide"] = "short"
    p = position_update(SPEC, parse_ws(json.dumps(short)).data[0], RECV)  # type: ignore[union-attr]
    assert p.lots == -100


def test_op_answers_become_acks_with_scode():
    ok = parse_ws(frame("ws_op_order_ok.json"))
    fail = parse_ws(frame("ws_op_order_fail.json"))
    assert isinstance(ok, OpResponse) and isinstance(fail, OpResponse)
    a = order_ack("BTC-USDT-SWAP", ok.data[0], RECV)
    b = order_ack("BTC-USDT-SWAP", fail.data[0], RECV)
    assert (a.source, a.state, a.s_code, a.ord_id, a.cl_ord_id) == (
        ReportSource.ACK, None, "0", "393513242072608785", "abcABC123",
    )  # fmt: skip
    assert (b.s_code, b.s_msg, b.ord_id, b.cl_ord_id) == ("51016", "Duplicated client order ID", "", "abcABC125")


def test_refused_item_without_cl_ord_id_takes_the_one_we_sent():
    fail = parse_ws(frame("ws_op_order_fail_51008_2025.json"))
    assert isinstance(fail, OpResponse)
    r = order_ack("BTC-USDT-SWAP", fail.data[0], RECV, cl_ord_id="mine1")
    assert (r.cl_ord_id, r.s_code, r.ts_event) == ("mine1", "51008", 1753714603721 * 1_000_000)


def test_account_push_becomes_usdt_account_update():
    push = parse_ws(frame("ws_account_2025.json"))
    assert isinstance(push, AccountPush)
    a = account_update(push.data[0], RECV, req_id="b1")
    assert (a.equity, a.balance, a.available, a.req_id) == (
        100.52768569797846,
        100.52768569797846,
        100.52768569797846,
        "b1",
    )


def test_ticker_push_becomes_ticker_event_in_ticks_and_lots():
    push = parse_ws(frame("ws_tickers_swap_2026.json"))
    assert isinstance(push, TickersPush)
    t = ticker_event(SPEC, push.data[0], RECV)
    # bid 63921 x 779.3 ct, ask 63921.1 x 1871.75 ct, last 63921
    assert (t.bid_ticks, t.bid_lots, t.ask_ticks, t.ask_lots, t.last_ticks) == (639210, 77930, 639211, 187175, 639210)
    assert t.ts_event == 1786540471710 * 1_000_000


def test_candle_row_becomes_candle_event():
    push = parse_ws(frame("ws_candle1m_swap_2026.json"))
    assert isinstance(push, CandlesPush)
    c = candle_event(SPEC, "1m", push.data[0], RECV)
    assert (c.open, c.high, c.low, c.close) == (639130, 639518, 639130, 639518)
    assert (c.volume, c.confirm, c.bar, c.ts_event) == (1803.61, False, "1m", 1786540440000 * 1_000_000)


def test_funding_push_becomes_funding_event():
    push = parse_ws(frame("ws_funding_rate.json"))
    assert isinstance(push, FundingRatePush)
    f = funding_event(push.data[0], RECV)
    assert (f.inst_id, f.rate, f.payment) == ("LTC-USDT-SWAP", 0.0001, None)
    assert (f.funding_time, f.ts_event) == (1765209600000 * 1_000_000, 1765201461438 * 1_000_000)


def test_mark_price_off_the_tick_grid_rounds_to_the_nearest_tick():
    m = MarkPrice(inst_id="BTC-USDT-SWAP", mark_px="43691.043152768407", ts="1644330793928")
    assert mark_price_event(SPEC, m, RECV).mark_ticks == 436910  # 436910.43... -> 436910


def test_fill_record_becomes_query_report_of_that_fill():
    f = Fill(
        inst_id="BTC-USDT-SWAP",
        trade_id="42",
        ord_id="5",
        side=Side.BUY,
        fill_px="60000.5",
        fill_sz="0.04",
        cl_ord_id="c1",
        exec_type="T",
        fee="-0.0168014",
        fill_pnl="1.5",
        fill_time="1700000000000",
    )
    r = fill_report(SPEC, f, RECV, req_id="f1", snapshot_end=True)
    assert (r.fill_ticks, r.fill_lots, r.trade_id, r.fill_fee, r.fill_pnl) == (600005, 4, 42, -0.0168014, 1.5)
    assert (r.liquidity, r.source, r.state, r.req_id, r.snapshot_end) == (
        Liquidity.TAKER, ReportSource.QUERY, None, "f1", True,
    )  # fmt: skip


def test_algo_record_is_an_algo_report_with_algo_id_and_no_ord_type():
    a = AlgoOrder(
        algo_id="880",
        inst_id="BTC-USDT-SWAP",
        algo_cl_ord_id="stop1",
        state="effective",
        side="sell",
        sz="0.02",
        sl_trigger_px="59000",
        reduce_only="true",
    )
    r = algo_report(SPEC, a, ReportSource.PUSH, RECV)
    assert (r.cl_ord_id, r.ord_id, r.ord_type, r.state, r.price_ticks, r.size_lots, r.reduce_only) == (
        "stop1", "880", None, OrderState.FILLED, 590000, 2, True,
    )  # fmt: skip


def test_order_args_format_prices_and_sizes_exactly():
    # 0.1 * 601237 in floats is 60123.700000000004; the string must be exact.
    o = CoreOrder("cl1", "BTC-USDT-SWAP", Side.BUY, OrderType.LIMIT, size_lots=7, price_ticks=601237, reduce_only=True)
    assert order_args(SPEC, o) == {
        "instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "buy", "ordType": "limit",
        "sz": "0.07", "clOrdId": "cl1", "px": "60123.7", "reduceOnly": True,
    }  # fmt: skip


def test_ws_order_args_name_the_instrument_by_inst_id_code():
    o = CoreOrder("cl2", "BTC-USDT-SWAP", Side.SELL, OrderType.MARKET, size_lots=100)
    args = order_args(SPEC, o, ws=True)
    assert args == {
        "instIdCode": 10459,
        "tdMode": "cross",
        "side": "sell",
        "ordType": "market",
        "sz": "1",
        "clOrdId": "cl2",
    }
    assert cancel_args(SPEC, "cl2", "123", ws=True) == {"instIdCode": 10459, "ordId": "123"}
    assert amend_args(SPEC, "cl2", None, new_price_ticks=600000, new_size_lots=3, req_id="a1") == {
        "instId": "BTC-USDT-SWAP", "clOrdId": "cl2", "newSz": "0.03", "newPx": "60000", "reqId": "a1",
    }  # fmt: skip


def test_algo_args_are_a_reduce_only_conditional_stop_at_market():
    a = CoreAlgo("stop7", "BTC-USDT-SWAP", Side.SELL, size_lots=1, trigger_ticks=590000)
    assert algo_args(SPEC, a) == {
        "instId": "BTC-USDT-SWAP", "tdMode": "cross", "side": "sell", "ordType": "conditional", "sz": "0.01",
        "reduceOnly": True, "slTriggerPx": "59000", "slTriggerPxType": "last", "slOrdPx": "-1", "algoClOrdId": "stop7",
    }  # fmt: skip
