"""SimExchange: matching, queues, consumed liquidity, stops, amend, reduce-only, account, funding.

Every book is built by hand; numbers are computed by hand in the comments. BTC-USDT-SWAP: tick 0.1,
lot 0.01 contract, ctVal 0.01 BTC, so 60000.0 = 600_000 ticks and 1 contract = 100 lots; the value
of 1 lot at 1 tick is 0.1 × 0.01 × 0.01 = 1e-5 USDT.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from athena.core.clock import SimClock
from athena.core.events import FundingEvent, OrderReport, ReportSource
from athena.core.ports import ASK, BID
from athena.model.enums import Liquidity, OrderState, OrderType, Side
from athena.model.instrument import BTC_USDT_SWAP, InstrumentSpec
from athena.model.orders import AlgoOrder, Order, TriggerPxType
from athena.sim.exchange import SimExchange, SimExchangeConfig, SimMarket, SimReject, parse_px_sz
from athena.sim.funding import HOUR_NS
from athena.sim.queue import PowerProbQueue

BTC = BTC_USDT_SWAP
INST = BTC.inst_id
P = 600_000  # 60000.0
T0 = 1_704_088_800_000_000_000  # 2024-01-01 06:00:00 UTC
FUNDING_0800 = T0 + 2 * HOUR_NS


def make(balance: float = 1_000_000.0, spec: InstrumentSpec = BTC, **kw: object):
    clock = SimClock(T0)
    ex = SimExchange(clock, [spec], config=SimExchangeConfig(initial_balance=balance, **kw))  # type: ignore[arg-type]
    out: list[object] = []
    ex.emit = out.append
    return clock, ex, ex.markets[spec.inst_id], out


def order(
    cl: str, side: Side, ord_type: OrderType, lots: int, px: int | None = None, ro: bool = False, inst: str = INST
) -> Order:
    return Order(
        cl_ord_id=cl, inst_id=inst, side=side, ord_type=ord_type, size_lots=lots, price_ticks=px, reduce_only=ro
    )


def reports(out: list[object], cl: str | None = None) -> list[OrderReport]:
    return [r for r in out if isinstance(r, OrderReport) and (cl is None or r.cl_ord_id == cl)]


def fills(out: list[object], cl: str | None = None) -> list[OrderReport]:
    return [r for r in reports(out, cl) if r.fill_lots > 0]


def book(m: SimMarket, bids: dict[int, int], asks: dict[int, int]) -> None:
    m.book.apply_snapshot(list(bids.items()), list(asks.items()))


def resting(m: SimMarket, side: int, ticks: int) -> list[tuple[str, float, int]]:
    return [(o.cl_ord_id, o.ahead, o.remaining) for o in m.resting[side].get(ticks, [])]


# -- aggressive orders ---------------------------------------------------------------------------


def test_market_buy_walks_three_levels_at_hand_computed_average_and_fees():
    _, ex, m, out = make()
    book(m, {P - 10: 500}, {P: 100, P + 5: 100, P + 10: 200})
    ex.place_order(order("m1", Side.BUY, OrderType.MARKET, 300))
    f = fills(out, "m1")
    assert [(r.fill_ticks, r.fill_lots, r.liquidity) for r in f] == [
        (P, 100, Liquidity.TAKER),
        (P + 5, 100, Liquidity.TAKER),
        (P + 10, 100, Liquidity.TAKER),
    ]
    assert [r.trade_id for r in f] == [1, 2, 3]  # minted per instrument, increasing
    # notional per fill: 1 ct × 0.01 × px = 600.0, 600.005, 600.01; taker 0.05 %
    assert [r.fill_fee for r in f] == pytest.approx([-0.3, -0.3000025, -0.300005], abs=1e-12)
    last = f[-1]
    assert last.state is OrderState.FILLED
    assert last.acc_fill_lots == 300
    assert last.avg_px == 60000.5  # (60000 + 60000.5 + 60001) / 3
    assert last.acc_fee == pytest.approx(-0.9000075, abs=1e-12)
    assert m.position.lots == 300
    assert ex.balance == pytest.approx(1_000_000.0 - 0.9000075, abs=1e-9)


def test_every_placement_is_acked_then_pushed_live_before_it_fills():
    _, ex, m, out = make()
    book(m, {}, {P: 100})
    ex.place_order(order("m1", Side.BUY, OrderType.MARKET, 10))
    r = reports(out, "m1")
    assert [(x.source, x.state, x.s_code) for x in r] == [
        (ReportSource.ACK, None, "0"),
        (ReportSource.PUSH, OrderState.LIVE, "0"),
        (ReportSource.PUSH, OrderState.FILLED, "0"),
    ]
    assert r[0].s_msg == "Order placed"
    assert r[0].ord_id == r[1].ord_id == r[2].ord_id != ""


def test_two_market_orders_cannot_both_take_the_same_level_until_a_book_update_restores_it():
    _, ex, m, out = make()
    book(m, {}, {P: 100, P + 10: 100})
    ex.place_order(order("a", Side.BUY, OrderType.MARKET, 100))
    ex.place_order(order("b", Side.BUY, OrderType.MARKET, 100))
    assert [r.fill_ticks for r in fills(out, "a")] == [P]
    assert [r.fill_ticks for r in fills(out, "b")] == [P + 10]  # P was consumed by "a"
    assert m.consumed[ASK] == {P: 100, P + 10: 100}
    assert m.active
    m.apply_level(ASK, P, 100, T0)  # the book publishes the level again
    assert m.consumed[ASK] == {P + 10: 100}
    ex.place_order(order("c", Side.BUY, OrderType.MARKET, 100))
    assert [r.fill_ticks for r in fills(out, "c")] == [P]


def test_fok_fills_all_or_nothing():
    _, ex, m, out = make()
    book(m, {}, {P: 5, P + 10: 5})
    ex.place_order(order("f1", Side.BUY, OrderType.FOK, 11, P + 10))
    assert fills(out, "f1") == []
    assert reports(out, "f1")[-1].state is OrderState.CANCELED
    assert reports(out, "f1")[-1].cancel_source == "13"
    ex.place_order(order("f2", Side.BUY, OrderType.FOK, 10, P + 10))
    assert [(r.fill_ticks, r.fill_lots) for r in fills(out, "f2")] == [(P, 5), (P + 10, 5)]
    assert reports(out, "f2")[-1].state is OrderState.FILLED


def test_ioc_takes_what_its_limit_allows_and_cancels_the_rest():
    _, ex, m, out = make()
    book(m, {}, {P: 5, P + 10: 5})
    ex.place_order(order("i1", Side.BUY, OrderType.IOC, 8, P))
    assert [(r.fill_ticks, r.fill_lots) for r in fills(out, "i1")] == [(P, 5)]
    last = reports(out, "i1")[-1]
    assert (last.state, last.cancel_source, last.acc_fill_lots) == (OrderState.CANCELED, "14", 5)
    assert m.resting == ({}, {})


def test_marketable_limit_takes_then_rests_its_remainder_behind_the_level():
    _, ex, m, out = make()
    book(m, {P - 10: 7}, {P: 5})
    ex.place_order(order("l1", Side.BUY, OrderType.LIMIT, 8, P))
    assert [(r.fill_ticks, r.fill_lots) for r in fills(out, "l1")] == [(P, 5)]
    assert resting(m, BID, P) == [("l1", 0, 3)]  # nothing public rests on the bid at P
    assert m.our_best_bid == P


def test_post_only_that_would_cross_is_acked_live_then_canceled_with_source_31():
    _, ex, m, out = make()
    book(m, {P - 10: 5}, {P: 5})
    ex.place_order(order("po", Side.BUY, OrderType.POST_ONLY, 2, P))
    r = reports(out, "po")
    assert [(x.source, x.state, x.cancel_source) for x in r] == [
        (ReportSource.ACK, None, ""),
        (ReportSource.PUSH, OrderState.LIVE, ""),
        (ReportSource.PUSH, OrderState.CANCELED, "31"),
    ]
    assert fills(out) == []
    ex.place_order(order("po2", Side.BUY, OrderType.POST_ONLY, 2, P - 10))
    assert resting(m, BID, P - 10) == [("po2", 5, 2)]


def test_our_own_resting_order_is_canceled_by_self_trade_prevention_when_our_taker_reaches_it():
    _, ex, m, out = make()
    book(m, {P - 10: 5}, {P + 10: 5})
    ex.place_order(order("s1", Side.SELL, OrderType.LIMIT, 2, P + 5))  # rests inside the spread
    ex.place_order(order("b1", Side.BUY, OrderType.MARKET, 3))
    assert reports(out, "s1")[-1].cancel_source == "32"
    assert [(r.fill_ticks, r.fill_lots) for r in fills(out, "b1")] == [(P + 10, 3)]


# -- passive orders and the queue ----------------------------------------------------------------


def test_passive_buy_fills_only_after_the_five_lots_ahead_have_traded():
    _, ex, m, out = make()
    book(m, {P - 10: 5}, {P: 10})
    ex.place_order(order("p1", Side.BUY, OrderType.LIMIT, 2, P - 10))
    assert resting(m, BID, P - 10) == [("p1", 5, 2)]
    m.on_trade(P - 10, 3, ASK, 900, T0 + 1)
    m.on_trade(P - 10, 4, BID, 901, T0 + 2)  # a buyer-taker trade does not hit bids
    assert resting(m, BID, P - 10) == [("p1", 2, 2)]
    m.on_trade(P - 10, 2, ASK, 902, T0 + 3)
    assert fills(out) == []
    assert resting(m, BID, P - 10) == [("p1", 0, 2)]
    m.on_trade(P - 10, 1, ASK, 903, T0 + 4)
    f = fills(out, "p1")
    assert [(r.fill_ticks, r.fill_lots, r.liquidity, r.trade_id) for r in f] == [(P - 10, 1, Liquidity.MAKER, 1)]


def test_seven_lot_trade_against_five_public_and_our_a2_then_b2_fills_a_only():
    _, ex, m, out = make()
    book(m, {P - 10: 5}, {P: 10})
    ex.place_order(order("A", Side.BUY, OrderType.LIMIT, 2, P - 10))
    ex.place_order(order("B", Side.BUY, OrderType.LIMIT, 2, P - 10))
    m.on_trade(P - 10, 7, ASK, 900, T0 + 1)
    assert [(r.fill_lots, r.state) for r in fills(out, "A")] == [(2, OrderState.FILLED)]
    assert fills(out, "B") == []
    assert resting(m, BID, P - 10) == [("B", 0, 2)]
    m.on_trade(P - 10, 1, ASK, 901, T0 + 2)
    assert [r.fill_lots for r in fills(out, "B")] == [1]


def test_a_trade_through_our_price_fills_us_at_our_price_as_maker():
    _, ex, m, out = make()
    book(m, {P - 10: 50}, {P: 10})
    ex.place_order(order("t1", Side.BUY, OrderType.LIMIT, 3, P - 10))
    m.on_trade(P - 20, 1, ASK, 900, T0 + 1)
    (f,) = fills(out, "t1")
    assert (f.fill_ticks, f.fill_lots, f.liquidity, f.state) == (P - 10, 3, Liquidity.MAKER, OrderState.FILLED)
    # maker 0.02 % of 3 lots × 599_990 ticks × 1e-5 = 17.9997 USDT
    assert f.fill_fee == pytest.approx(-0.00359994, abs=1e-12)
    assert m.resting == ({}, {})
    assert not m.watch_trades


def test_an_ask_appearing_at_or_below_our_bid_fills_it_at_our_price_and_is_consumed():
    _, ex, m, out = make()
    book(m, {P - 10: 5}, {P: 10})
    ex.place_order(order("x1", Side.BUY, OrderType.LIMIT, 3, P - 10))
    m.apply_level(ASK, P - 20, 2, T0 + 1)  # crosses our bid by one tick
    assert [(r.fill_ticks, r.fill_lots) for r in fills(out, "x1")] == [(P - 10, 2)]
    assert m.consumed[ASK] == {P - 20: 2}
    m.apply_level(ASK, P - 20, 4, T0 + 2)  # the update restores the level: new size is fresh liquidity
    assert [r.fill_lots for r in fills(out, "x1")] == [2, 1]
    assert m.consumed[ASK] == {P - 20: 1}


def test_level_shrink_clamps_the_size_ahead_and_growth_never_moves_us_forward():
    _, ex, m, _ = make()
    book(m, {P - 10: 10}, {P: 10})
    ex.place_order(order("q", Side.BUY, OrderType.LIMIT, 1, P - 10))
    m.apply_level(BID, P - 10, 14, T0 + 1)
    assert resting(m, BID, P - 10) == [("q", 10, 1)]
    m.apply_level(BID, P - 10, 6, T0 + 2)
    assert resting(m, BID, P - 10) == [("q", 6, 1)]


def test_shrink_then_trade_at_the_same_raw_ts_does_not_advance_us_twice():
    _, ex, m, out = make()
    book(m, {P - 10: 10}, {P: 10})
    ex.place_order(order("c", Side.BUY, OrderType.LIMIT, 2, P - 10))
    m.apply_level(BID, P - 10, 6, T0 + 100)  # the book shows the trade first: clamp 10 -> 6, credit 4
    m.on_trade(P - 10, 4, ASK, 900, T0 + 100)  # the same 4 lots on the trades channel
    assert resting(m, BID, P - 10) == [("c", 6, 2)]
    assert fills(out) == []


def test_a_clamp_credit_lapses_once_the_trade_stream_has_passed_its_time():
    _, ex, m, out = make()
    book(m, {P - 10: 10}, {P: 10})
    ex.place_order(order("c", Side.BUY, OrderType.LIMIT, 2, P - 10))
    m.apply_level(BID, P - 10, 6, T0 + 100)  # 4 lots canceled ahead of us
    m.on_trade(P + 50, 1, BID, 899, T0 + 101)  # the trade stream moves past the clamp
    m.on_trade(P - 10, 4, ASK, 900, T0 + 102)  # a later trade: a real advance
    assert resting(m, BID, P - 10) == [("c", 2, 2)]
    m.on_trade(P - 10, 3, ASK, 901, T0 + 103)
    assert [r.fill_lots for r in fills(out, "c")] == [1]


def test_clamp_credits_stay_bounded_and_merging_them_never_flatters():
    _, ex, m, out = make()
    book(m, {P - 10: 100}, {P: 10})
    ex.place_order(order("c", Side.BUY, OrderType.LIMIT, 2, P - 10))
    for i in range(20):  # 20 messages each cancel 1 lot ahead of us, with no trade in between
        m.apply_level(BID, P - 10, 99 - i, T0 + 100 + i)
    (o,) = m.resting[BID][P - 10]
    assert o.ahead == 80
    assert len(o.credits) == 8
    assert [c[0] for c in o.credits] == [T0 + 112 + i for i in range(8)]
    assert o.credits[0][1] == 13  # the 13 oldest merged under the newer time
    # a trade at the time of the 1st of those messages still finds all 20 lots of credit usable
    m.on_trade(P - 10, 20, ASK, 900, T0 + 100)
    assert o.ahead == 80 and fills(out) == []


def test_power_prob_queue_advances_by_its_expected_share_of_an_unexplained_shrink():
    _, ex, m, _ = make()
    ex.queue = PowerProbQueue(2)
    book(m, {P - 10: 10}, {P: 10})
    ex.place_order(order("pq", Side.BUY, OrderType.LIMIT, 1, P - 10))
    m.apply_level(BID, P - 10, 16, T0 + 1)  # 6 lots join behind us
    m.apply_level(BID, P - 10, 12, T0 + 2)  # 4 lots leave, no trade explains them
    # p = 6²/(6²+10²) = 36/136; advance = 4 × (1 − p) = 4 × 100/136 = 2.941176…
    (entry,) = resting(m, BID, P - 10)
    assert entry[1] == pytest.approx(10 - 400 / 136, abs=1e-12)


def test_power_prob_queue_counts_only_the_shrink_that_trades_do_not_explain():
    _, ex, m, _ = make()
    ex.queue = PowerProbQueue(2)
    book(m, {P - 10: 10}, {P: 10})
    ex.place_order(order("pq", Side.BUY, OrderType.LIMIT, 1, P - 10))
    m.apply_level(BID, P - 10, 16, T0 + 1)
    m.on_trade(P - 10, 3, ASK, 900, T0 + 2)  # ahead 10 -> 7, behind stays 6
    m.apply_level(BID, P - 10, 12, T0 + 3)  # shrink 4 = 3 traded + 1 unexplained
    # front 7, back 16 − 7 = 9: advance = 1 × 49/(81+49)
    (entry,) = resting(m, BID, P - 10)
    assert entry[1] == pytest.approx(7 - 49 / 130, abs=1e-12)


def test_power_prob_queue_ends_where_trade_first_would_when_the_shrink_comes_before_its_trade():
    _, ex, m, _ = make()
    ex.queue = PowerProbQueue(2)
    book(m, {P - 10: 10}, {P: 10})
    ex.place_order(order("pq", Side.BUY, OrderType.LIMIT, 1, P - 10))
    m.apply_level(BID, P - 10, 16, T0 + 1)
    m.apply_level(BID, P - 10, 12, T0 + 5)  # advance 400/136 credited at raw ts 5
    m.on_trade(P - 10, 4, ASK, 900, T0 + 5)  # the trade behind that shrink: the credit absorbs 400/136
    (entry,) = resting(m, BID, P - 10)
    assert entry[1] == pytest.approx(6.0, abs=1e-9)  # 10 − 4, as if the trade had come first


def test_book_reset_clamps_every_queue_and_forgets_consumed_liquidity():
    _, ex, m, _ = make()
    book(m, {P - 10: 10}, {P: 10, P + 10: 10})
    ex.place_order(order("r", Side.BUY, OrderType.LIMIT, 1, P - 10))
    ex.place_order(order("t", Side.BUY, OrderType.MARKET, 10))
    assert m.consumed[ASK] == {P: 10}
    book(m, {P - 10: 3}, {P: 10})
    m.on_book_reset()
    assert m.consumed == ({}, {})
    assert resting(m, BID, P - 10) == [("r", 3, 1)]


# -- amend and cancel ----------------------------------------------------------------------------


def test_amend_size_down_keeps_queue_priority():
    _, ex, m, out = make()
    book(m, {P - 10: 5}, {P: 10})
    ex.place_order(order("A", Side.BUY, OrderType.LIMIT, 4, P - 10))
    ex.place_order(order("B", Side.BUY, OrderType.LIMIT, 2, P - 10))
    ex.amend_order(INST, "A", new_size_lots=3, req_id="r1")
    assert resting(m, BID, P - 10) == [("A", 5, 3), ("B", 5, 2)]
    ack, push = reports(out, "A")[-2:]
    assert (ack.source, ack.s_code, ack.req_id) == (ReportSource.ACK, "0", "r1")
    assert (push.size_lots, push.amend_source, push.state) == (3, "1", OrderState.LIVE)
    m.on_trade(P - 10, 8, ASK, 900, T0 + 1)  # 5 public, then A's 3
    assert [r.fill_lots for r in fills(out, "A")] == [3]
    assert fills(out, "B") == []


def test_amend_size_up_or_price_change_loses_queue_priority():
    _, ex, m, _ = make()
    book(m, {P - 10: 5, P - 20: 9}, {P: 10})
    ex.place_order(order("A", Side.BUY, OrderType.LIMIT, 4, P - 10))
    ex.place_order(order("B", Side.BUY, OrderType.LIMIT, 2, P - 10))
    m.apply_level(BID, P - 10, 8, T0 + 1)
    ex.amend_order(INST, "A", new_size_lots=6)
    assert resting(m, BID, P - 10) == [("B", 5, 2), ("A", 8, 6)]  # behind B and the 3 new lots
    ex.amend_order(INST, "B", new_price_ticks=P - 20)
    assert resting(m, BID, P - 20) == [("B", 9, 2)]
    assert resting(m, BID, P - 10) == [("A", 8, 6)]


def test_cancel_removes_the_order_and_frees_its_clordid():
    _, ex, m, out = make()
    book(m, {P - 10: 5}, {P: 10})
    ex.place_order(order("A", Side.BUY, OrderType.LIMIT, 4, P - 10))
    ex.cancel_order(INST, "A")
    ack, push = reports(out, "A")[-2:]
    assert (ack.source, ack.s_code) == (ReportSource.ACK, "0")
    assert (push.state, push.cancel_source) == (OrderState.CANCELED, "1")
    assert m.resting == ({}, {}) and not m.active
    ex.place_order(order("A", Side.BUY, OrderType.LIMIT, 4, P - 10))  # unique among pending only
    assert reports(out, "A")[-1].state is OrderState.LIVE


def test_unknown_orders_are_refused_with_okx_codes_on_query_cancel_and_amend():
    _, ex, _, out = make()
    ex.query_order("q1", INST, "nope", None)
    ex.cancel_order(INST, "nope")
    ex.amend_order(INST, "nope", new_size_lots=3)
    q, c, a = reports(out)
    assert (q.source, q.s_code, q.s_msg, q.req_id, q.snapshot_end) == (
        ReportSource.QUERY,
        "51603",
        "Order does not exist",
        "q1",
        True,
    )
    assert (c.s_code, c.s_msg) == (
        "51400",
        "Order cancellation failed as the order has been filled, canceled or does not exist.",
    )
    assert a.s_code == "51503"


# -- rejections ----------------------------------------------------------------------------------


def test_insufficient_margin_is_rejected_with_51008_and_okx_message():
    _, ex, m, out = make(balance=100.0, leverage=3.0)
    book(m, {P - 10: 500}, {P: 500})
    # 1 contract at 60000 = 600 USDT notional -> 200 USDT initial margin at 3x > 100
    ex.place_order(order("big", Side.BUY, OrderType.LIMIT, 100, P - 10))
    (r,) = reports(out, "big")
    assert (r.state, r.s_code, r.s_msg) == (
        OrderState.REJECTED,
        "51008",
        "Order failed. Insufficient USDT balance in account.",
    )
    # 0.5 contract at 59999.0 = 299.995 USDT -> 99.998 USDT margin: fits in 100, and rests
    ex.place_order(order("half", Side.BUY, OrderType.LIMIT, 50, P - 10))
    assert reports(out, "half")[0].s_code == "0"
    assert resting(m, BID, P - 10) == [("half", 500, 50)]
    ex.place_order(order("more", Side.BUY, OrderType.LIMIT, 1, P - 10))
    assert reports(out, "more")[0].s_code == "51008"  # the open order's margin is taken


def test_size_below_min_is_rejected_with_51020():
    spec = InstrumentSpec(
        inst_id="ETH-USDT-SWAP",
        tick_sz=Decimal("0.01"),
        lot_sz=Decimal("0.01"),
        min_sz=Decimal("0.1"),
        ct_val=Decimal("0.1"),
    )
    _, ex, _, out = make(spec=spec)
    ex.place_order(order("s", Side.BUY, OrderType.LIMIT, 9, 300_000, inst=spec.inst_id))
    assert (reports(out)[0].s_code, reports(out)[0].s_msg) == (
        "51020",
        "Your order should meet or exceed the minimum order amount.",
    )


def test_okx_strings_off_the_tick_or_lot_grid_are_refused_with_51000_and_51121():
    assert parse_px_sz(BTC, "60000.1", "0.02") == (600_001, 2)
    assert parse_px_sz(BTC, "", "1") == (None, 100)
    with pytest.raises(SimReject) as px:
        parse_px_sz(BTC, "60000.05", "0.01")
    assert (px.value.code, px.value.msg) == ("51000", "Parameter px error")
    with pytest.raises(SimReject) as sz:
        parse_px_sz(BTC, "60000", "0.015")
    assert (sz.value.code, sz.value.msg) == ("51121", "Order quantity must be a multiple of the lot size.")


@pytest.mark.parametrize("cl", ["has-dash", "under_score", "x" * 33, "spa ce"])
def test_clordid_that_is_not_1_to_32_alphanumerics_is_rejected_with_51000(cl: str):
    _, ex, _, out = make()
    ex.place_order(order(cl, Side.BUY, OrderType.LIMIT, 1, P - 10))
    (r,) = reports(out)
    assert (r.state, r.s_code, r.s_msg) == (OrderState.REJECTED, "51000", "Parameter clOrdId error")


def test_duplicate_clordid_among_pending_orders_is_rejected_with_51016():
    _, ex, m, out = make()
    book(m, {P - 10: 5}, {P: 5})
    ex.place_order(order("dup", Side.BUY, OrderType.LIMIT, 1, P - 10))
    ex.place_order(order("dup", Side.BUY, OrderType.LIMIT, 1, P - 20))
    last = reports(out, "dup")[-1]
    assert (last.state, last.s_code, last.s_msg) == (OrderState.REJECTED, "51016", "Duplicated client order ID")


def test_the_61st_placement_within_two_seconds_is_rate_limited_with_50011():
    clock, ex, _, out = make()
    for i in range(61):
        clock.advance_to(T0 + i * 10_000_000)  # 61 requests in 0.6 s
        ex.place_order(order(f"o{i}", Side.BUY, OrderType.LIMIT, 1, P - 100 - i))
    r60 = reports(out, "o60")
    assert (r60[0].s_code, r60[0].s_msg, r60[0].state) == ("50011", "Too Many Requests", OrderState.REJECTED)
    assert all(reports(out, f"o{i}")[0].s_code == "0" for i in range(60))
    clock.advance_to(T0 + 2_000_000_000 + 20_000_000)  # o0..o2 left the 2 s window
    ex.place_order(order("later", Side.BUY, OrderType.LIMIT, 1, P - 500))
    assert reports(out, "later")[0].s_code == "0"


# -- reduce-only, close-position, stops ----------------------------------------------------------


def _long_100(ex: SimExchange, m: SimMarket) -> None:
    book(m, {P - 10: 1000}, {P: 100, P + 10: 1000})
    ex.place_order(order("entry", Side.BUY, OrderType.MARKET, 100))
    assert m.position.lots == 100


def test_reduce_only_larger_than_the_position_is_trimmed_with_amend_source_3():
    _, ex, m, out = make()
    _long_100(ex, m)
    ex.place_order(order("ro", Side.SELL, OrderType.LIMIT, 150, P + 50, ro=True))
    live = reports(out, "ro")[1]
    assert (live.state, live.size_lots, live.amend_source) == (OrderState.LIVE, 100, "3")


def test_reduce_only_with_no_position_is_canceled_with_source_22():
    _, ex, m, out = make()
    book(m, {P - 10: 100}, {P: 100})
    ex.place_order(order("ro", Side.SELL, OrderType.LIMIT, 10, P + 50, ro=True))
    r = reports(out, "ro")
    assert [(x.state, x.cancel_source) for x in r[1:]] == [(OrderState.LIVE, ""), (OrderState.CANCELED, "22")]


def test_pending_reduce_only_beyond_the_position_keeps_the_better_priced_order():
    _, ex, m, out = make()
    _long_100(ex, m)
    ex.place_order(order("ro1", Side.SELL, OrderType.LIMIT, 100, P + 100, ro=True))
    ex.place_order(order("ro2", Side.SELL, OrderType.LIMIT, 100, P + 200, ro=True))  # better for a sell
    assert (reports(out, "ro1")[-1].state, reports(out, "ro1")[-1].cancel_source) == (OrderState.CANCELED, "23")
    assert reports(out, "ro2")[-1].state is OrderState.LIVE
    ex.place_order(order("ro3", Side.SELL, OrderType.MARKET, 100, ro=True))  # a market exit is the worst price
    assert (reports(out, "ro3")[-1].state, reports(out, "ro3")[-1].cancel_source) == (OrderState.CANCELED, "22")
    assert fills(out, "ro3") == []


def test_reduce_only_orders_are_canceled_once_the_position_is_gone():
    _, ex, m, out = make()
    _long_100(ex, m)
    ex.place_order(order("ro", Side.SELL, OrderType.LIMIT, 100, P + 100, ro=True))
    ex.place_order(order("flat", Side.SELL, OrderType.MARKET, 100))
    assert m.position.lots == 0
    assert (reports(out, "ro")[-1].state, reports(out, "ro")[-1].cancel_source) == (OrderState.CANCELED, "23")


def test_close_position_with_autocxl_cancels_close_orders_and_sells_at_market():
    _, ex, m, out = make()
    _long_100(ex, m)
    ex.place_order(order("tp", Side.SELL, OrderType.LIMIT, 100, P + 100, ro=True))
    ex.close_position(INST, "kill1", auto_cxl=True)
    assert reports(out, "tp")[-1].cancel_source == "17"
    assert [(r.fill_ticks, r.fill_lots) for r in fills(out, "kill1")] == [(P - 10, 100)]
    assert m.position.lots == 0
    ex.close_position(INST, "kill2")
    assert (reports(out, "kill2")[0].s_code, reports(out, "kill2")[0].state) == ("51023", OrderState.REJECTED)


def test_stop_triggered_by_a_trade_sends_a_market_child_that_fills_at_the_book():
    _, ex, m, out = make()
    _long_100(ex, m)
    book(m, {P - 1000: 50, P - 1010: 100}, {P: 100})
    ex.place_algo(AlgoOrder("sl1", INST, Side.SELL, 100, trigger_ticks=P - 990))
    algo = reports(out, "sl1")
    assert [(r.source, r.state, r.ord_type) for r in algo] == [
        (ReportSource.ACK, None, None),
        (ReportSource.PUSH, OrderState.LIVE, None),
    ]
    assert m.watch_trades
    m.on_trade(P - 980, 1, ASK, 900, T0 + 1)  # above the trigger: nothing
    assert len(reports(out, "sl1")) == 2
    m.on_trade(P - 990, 1, ASK, 901, T0 + 2)
    child = [r for r in reports(out, "sl1") if r.ord_type is OrderType.MARKET]
    assert (child[0].source, child[0].state) == (ReportSource.PUSH, OrderState.LIVE)  # no ACK: nobody asked
    assert [r.state for r in reports(out, "sl1") if r.ord_type is None][-1] is OrderState.FILLED  # "effective"
    assert [(r.fill_ticks, r.fill_lots) for r in child if r.fill_lots] == [(P - 1000, 50), (P - 1010, 50)]
    assert child[-1].state is OrderState.FILLED and child[-1].reduce_only
    assert m.position.lots == 0
    assert m.algos == {} and not m.watch_trades


def test_stop_on_mark_price_triggers_on_mark_only():
    _, ex, m, _ = make()
    _long_100(ex, m)
    ex.place_algo(AlgoOrder("sl2", INST, Side.SELL, 100, trigger_ticks=P - 500, trigger_px_type=TriggerPxType.MARK))
    m.on_trade(P - 600, 1, ASK, 900, T0 + 1)
    assert m.algos  # a last-price trade does not trigger a mark stop
    m.on_mark_price(P - 500)
    assert m.position.lots == 0


# -- account, funding, queries -------------------------------------------------------------------


def test_taker_fee_on_one_contract_at_60000_is_minus_30_cents():
    _, ex, m, out = make(balance=1000.0)
    book(m, {}, {P: 100})
    ex.place_order(order("f", Side.BUY, OrderType.MARKET, 100))
    (f,) = fills(out, "f")
    assert round(f.fill_fee, 2) == -0.30
    assert round(ex.balance, 2) == 999.70


def test_round_trip_books_exact_realized_pnl_and_both_fees():
    _, ex, m, out = make(balance=1000.0)
    book(m, {}, {P: 100})
    ex.place_order(order("buy", Side.BUY, OrderType.MARKET, 100))
    book(m, {P + 1000: 100}, {})
    ex.place_order(order("sell", Side.SELL, OrderType.MARKET, 100))
    (f,) = fills(out, "sell")
    # +100.0 USD on 1 contract × 0.01 BTC = +1.00 USDT; fees 0.30 + 0.3005
    assert f.fill_pnl == pytest.approx(1.0, abs=1e-12)
    assert ex.balance == pytest.approx(1000.0 + 1.0 - 0.30 - 0.3005, abs=1e-9)
    assert m.position.realized == 100_000  # tick×lot units: 1000 ticks × 100 lots


def test_funding_at_0800_charges_a_long_the_published_rate_on_mark_value():
    clock, ex, m, out = make(balance=1000.0)
    book(m, {}, {P: 200})
    ex.place_order(order("l", Side.BUY, OrderType.MARKET, 200))  # 2 contracts
    fee_paid = ex.balance - 1000.0
    m.on_mark_price(P)
    m.on_funding_rate(0.0001, FUNDING_0800)
    clock.run_due(FUNDING_0800 + 1)
    (ev,) = [e for e in out if isinstance(e, FundingEvent)]
    # 2 contracts × 0.01 × 60000 × 0.0001 = 0.12 USDT, paid by the long
    assert round(ev.payment, 2) == -0.12
    assert (ev.rate, ev.funding_time, ev.ts_event) == (0.0001, FUNDING_0800, FUNDING_0800)
    assert ex.balance - 1000.0 - fee_paid == pytest.approx(-0.12, abs=1e-12)
    assert m.position.funding == pytest.approx(-0.12, abs=1e-12)


def test_a_short_receives_funding_and_the_configured_rate_applies_without_a_funding_channel():
    clock, ex, m, out = make(balance=1000.0, default_funding_rate=0.0001)
    book(m, {P: 200}, {})
    ex.place_order(order("s", Side.SELL, OrderType.MARKET, 200))
    m.on_mark_price(P)
    clock.run_due(FUNDING_0800 + 8 * HOUR_NS)  # 08:00 and 16:00
    pays = [round(e.payment, 2) for e in out if isinstance(e, FundingEvent)]
    assert pays == [0.12, 0.12]


def test_a_rate_published_after_its_funding_time_is_not_used():
    clock, ex, m, out = make(balance=1000.0, default_funding_rate=0.0002)
    book(m, {P - 10: 100}, {P: 100})
    ex.place_order(order("l", Side.BUY, OrderType.MARKET, 100))
    clock.advance_to(FUNDING_0800 - 1)
    m.on_funding_rate(0.0001, FUNDING_0800)  # last published before 08:00: in force
    clock.advance_to(FUNDING_0800)
    m.on_funding_rate(0.0009, FUNDING_0800)  # too late
    m.settle_funding_if_due(FUNDING_0800)
    (ev,) = [e for e in out if isinstance(e, FundingEvent)]
    assert ev.rate == 0.0001
    # no mark price: the mid 59999.5 -> 1 contract × 0.01 × 59999.5 × 0.0001 = 0.0599995
    assert ev.payment == pytest.approx(-0.0599995, abs=1e-12)
    clock.run_due(FUNDING_0800 + 1)
    assert len([e for e in out if isinstance(e, FundingEvent)]) == 1  # settled once


def test_fills_query_returns_each_fill_with_cumulative_figures_as_of_it():
    _, ex, m, out = make()
    book(m, {}, {P: 4, P + 10: 3})
    ex.place_order(order("g", Side.BUY, OrderType.MARKET, 7))
    ord_id = reports(out, "g")[0].ord_id
    out.clear()
    ex.query_fills("f1", INST, ord_id)
    r = reports(out)
    assert [(x.trade_id, x.fill_lots, x.acc_fill_lots, x.state, x.snapshot_end) for x in r] == [
        (1, 4, 4, OrderState.PARTIALLY_FILLED, False),
        (2, 3, 7, OrderState.FILLED, True),
    ]
    assert all(x.source is ReportSource.QUERY and x.req_id == "f1" for x in r)


def test_open_orders_query_lists_pending_orders_newest_first_and_marks_the_end():
    _, ex, m, out = make()
    book(m, {P - 10: 5}, {P: 5})
    ex.place_order(order("o1", Side.BUY, OrderType.LIMIT, 1, P - 10))
    ex.place_order(order("o2", Side.BUY, OrderType.LIMIT, 1, P - 20))
    out.clear()
    ex.query_open_orders("q", INST)
    assert [(r.cl_ord_id, r.snapshot_end) for r in reports(out)] == [("o2", False), ("o1", True)]
    out.clear()
    ex.cancel_order(INST, "o1")
    ex.cancel_order(INST, "o2")
    out.clear()
    ex.query_open_orders("q2", INST)
    assert [(r.cl_ord_id, r.snapshot_end, r.req_id) for r in reports(out)] == [("", True, "q2")]


def test_positions_and_account_snapshots():
    _, ex, m, _ = make(balance=1000.0, leverage=5.0)
    book(m, {P - 10: 100}, {P: 100})
    ex.place_order(order("l", Side.BUY, OrderType.MARKET, 100))
    (p,) = ex.positions(INST)
    assert (p.lots, p.avg_px, p.last_trade_id) == (100, 60000.0, 1)
    m.on_mark_price(P + 1000)  # +100 USD on 1 contract × 0.01 = +1 USDT unrealized
    a = ex.account()
    assert a.balance == pytest.approx(999.70, abs=1e-9)
    assert a.equity == pytest.approx(1000.70, abs=1e-9)
    # initial margin at the mark: 0.01 × 60100 / 5 = 120.2
    assert a.available == pytest.approx(1000.70 - 120.2, abs=1e-9)


def test_stop_with_a_limit_child_rests_its_child_at_the_order_price():
    _, ex, m, out = make()
    _long_100(ex, m)
    book(m, {P - 1000: 50}, {P: 100})
    ex.place_algo(AlgoOrder("sl3", INST, Side.SELL, 100, trigger_ticks=P - 990, order_ticks=P - 995))
    m.on_trade(P - 990, 1, ASK, 901, T0 + 2)
    assert resting(m, ASK, P - 995) == [("sl3", 0, 100)]
    assert reports(out, "sl3")[-1].ord_type is OrderType.LIMIT


def test_cancel_algo_removes_the_stop_and_unknown_algos_are_refused():
    _, ex, m, out = make()
    _long_100(ex, m)
    ex.place_algo(AlgoOrder("sl4", INST, Side.SELL, 100, trigger_ticks=P - 990))
    algo_id = reports(out, "sl4")[0].ord_id
    ex.cancel_algo(INST, algo_id, None)
    assert [(r.source, r.state) for r in reports(out, "sl4")[-2:]] == [
        (ReportSource.ACK, None),
        (ReportSource.PUSH, OrderState.CANCELED),
    ]
    assert m.algos == {} and not m.watch_trades
    ex.cancel_algo(INST, None, "sl4")
    assert reports(out, "sl4")[-1].s_code == "51603"
