from __future__ import annotations

from athena.core.events import ErrorEvent, EventType, ReportSource
from athena.core.ports import NO_ASK, NO_BID
from athena.model.enums import OrderState, OrderType, RejectReason, Side
from athena.oms.ids import ClOrdIdFactory, is_valid_cl_ord_id
from athena.oms.orders import GhostPolicy
from athena.oms.risk import RiskProfile
from tests.oms.fakes import INST, PX, SEC, make_rig, report

S = OrderState
Q = ReportSource.QUERY
ACK = ReportSource.ACK


def placed(rig, size=10, side=Side.BUY, price=PX, **kw):
    return rig.om.submit_order("s1", INST, side, OrderType.LIMIT, size, price, **kw)


def acked(rig, size=10, side=Side.BUY, ord_id="9001", **kw):
    o = placed(rig, size, side, **kw)
    rig.feed(report(o.cl_ord_id, ord_id, None, ACK, side=side))
    return o


# -- ids ------------------------------------------------------------------------------------------


def test_client_order_ids_follow_okx_rules_and_are_unique_and_deterministic():
    a, b = ClOrdIdFactory(), ClOrdIdFactory()
    ids_a = [a.new(s) for s in ("scalper-v1", "scalper_v1", "x" * 40, "") * 50]
    ids_b = [b.new(s) for s in ("scalper-v1", "scalper_v1", "x" * 40, "") * 50]
    assert ids_a == ids_b  # no clock, no randomness
    assert len(set(ids_a)) == 200
    assert all(is_valid_cl_ord_id(i) for i in ids_a)
    assert ids_a[0] == "scalperv100000001"  # "-" is not allowed by OKX: dropped
    assert ids_a[2] == "x" * 24 + "00000003"  # 32 characters, the maximum
    assert not is_valid_cl_ord_id("a-b") and not is_valid_cl_ord_id("") and not is_valid_cl_ord_id("a" * 33)


# -- submit ---------------------------------------------------------------------------------------


def test_limit_order_is_sent_with_capital_reserved_and_becomes_live_on_the_ack():
    rig = make_rig()
    o = placed(rig, size=10)
    assert rig.port.last("submit_order")["order"] is o and o.state is S.SUBMITTED
    # 10 lots at 60 000 USDT: 10 × 0.01 × 0.01 × 60 000 = 60 USDT notional, ÷ 3 = 20 USDT margin.
    assert abs(rig.capital.reserved("s1") - 20.0) < 1e-9
    rig.feed(report(o.cl_ord_id, "9001", None, ACK))
    assert o.state is S.LIVE and o.ord_id == "9001"
    assert [u.order.state for u in rig.events(EventType.ORDER_UPDATE)] == [S.LIVE]
    assert rig.om.by_ord_id("9001") is o


def test_price_none_takes_the_best_opposite_price_of_the_local_book():
    rig = make_rig(bid=PX - 3, ask=PX + 4)
    buy = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 1)
    sell = rig.om.submit_order("s1", INST, Side.SELL, OrderType.LIMIT, 1)
    assert (buy.price_ticks, sell.price_ticks) == (PX + 4, PX - 3)


def test_price_none_with_an_empty_book_is_rejected_no_price_and_nothing_is_sent():
    rig = make_rig(bid=NO_BID, ask=NO_ASK)
    o = rig.om.submit_order("s1", INST, Side.BUY, OrderType.POST_ONLY, 5)
    assert o.state is S.REJECTED and o.price_ticks is None
    (upd,) = rig.events(EventType.ORDER_UPDATE)
    assert upd.order is o and upd.reason is RejectReason.NO_PRICE and "best ask" in upd.s_msg
    assert rig.port.of("submit_order") == []
    assert rig.capital.reserved() == 0.0


def test_a_non_reduce_only_market_order_with_no_price_at_all_is_rejected_no_price():
    rig = make_rig(bid=NO_BID, ask=NO_ASK)
    o = rig.om.submit_order("s1", INST, Side.SELL, OrderType.MARKET, 5)
    assert o.state is S.REJECTED and o.reject_code == "no_price"
    exit_ = rig.om.submit_order("s1", INST, Side.SELL, OrderType.MARKET, 5, reduce_only=True)
    assert exit_.state is S.SUBMITTED  # an exit needs no price: it reserves nothing and skips the value rules
    assert len(rig.port.of("submit_order")) == 1


# -- reconciliation -------------------------------------------------------------------------------


def test_fill_seen_twice_counts_once():
    rig = make_rig()
    o = acked(rig)
    push = report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, size=10, acc=4, fill_px=PX, fill_sz=4, trade_id=71)
    rig.feed(push, push)
    query = report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, Q, size=10, acc=4)  # same figures via a query
    rig.feed(query)
    assert o.filled_lots == 4 and rig.filled_lots_published(o.cl_ord_id) == 4
    assert len(rig.events(EventType.ORDER_FILLED)) == 1
    assert rig.pm.lots(INST) == 4
    assert rig.port.of("request_fills") == []  # nothing unpriced


def test_fills_arriving_before_the_ack_work_and_the_late_ack_changes_nothing():
    rig = make_rig()
    o = placed(rig)
    rig.feed(report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, size=10, acc=3, fill_px=PX - 1, fill_sz=3, trade_id=5))
    assert o.state is S.PARTIALLY_FILLED and o.filled_lots == 3
    rig.feed(report(o.cl_ord_id, "9001", None, ACK))
    rig.feed(report(o.cl_ord_id, "9001", S.LIVE, size=10))
    assert o.state is S.PARTIALLY_FILLED
    rig.feed(report(o.cl_ord_id, "9001", S.FILLED, size=10, acc=10, fill_px=PX, fill_sz=7, trade_id=6))
    assert o.state is S.FILLED
    assert [(f.fill.ticks, f.fill.lots) for f in rig.events(EventType.ORDER_FILLED)] == [(PX - 1, 3), (PX, 7)]
    assert rig.events(EventType.ORDER_UPDATE) == []  # no "live" was ever published: it filled first
    assert rig.capital.reserved() == 0.0


def test_a_late_live_after_filled_changes_nothing():
    rig = make_rig()
    o = acked(rig, size=2)
    rig.feed(report(o.cl_ord_id, "9001", S.FILLED, size=2, acc=2, fill_px=PX, fill_sz=2, trade_id=8))
    n_updates = len(rig.events(EventType.ORDER_UPDATE))
    rig.feed(report(o.cl_ord_id, "9001", S.LIVE, size=2))
    rig.feed(report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, size=2, acc=1, fill_px=PX, fill_sz=1, trade_id=7))
    assert o.state is S.FILLED and o.filled_lots == 2
    assert len(rig.events(EventType.ORDER_UPDATE)) == n_updates
    # trade 7 is a real fill id we never saw, but the order's 2 lots are all priced: it cannot be ours twice
    assert rig.filled_lots_published(o.cl_ord_id) == 2


def test_out_of_order_pushes_never_regress_the_state():
    rig = make_rig()
    o = acked(rig)
    rig.feed(report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, size=10, acc=5, fill_px=PX, fill_sz=5, trade_id=3))
    rig.feed(report(o.cl_ord_id, "9001", S.LIVE, size=10, acc=0))
    assert o.state is S.PARTIALLY_FILLED and o.filled_lots == 5


def test_design_example_t2_then_query_then_late_t1_shows_seven_filled_never_eleven():
    rig = make_rig()
    o = acked(rig)
    # t1 (4 lots) and t2 (3 lots) fill; t2's push arrives first, carrying accFillSz 7.
    rig.feed(report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, size=10, acc=7, fill_px=PX - 2, fill_sz=3, trade_id=102))
    assert rig.filled_lots_published(o.cl_ord_id) == 3  # t2 priced from its own fillPx/fillSz
    req = rig.port.last("request_fills")
    assert req["ord_id"] == "9001"  # the other 4 lots are fetched, not back-solved from avgPx
    rig.feed(report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, Q, size=10, acc=7))
    rig.feed(report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, size=10, acc=4, fill_px=PX - 5, fill_sz=4, trade_id=101))
    assert o.filled_lots == 7 and rig.filled_lots_published(o.cl_ord_id) == 7
    # The fills answer lists both; both were counted already.
    rig.feed(
        report(o.cl_ord_id, "9001", None, Q, fill_px=PX - 5, fill_sz=4, trade_id=101, req_id=req["req_id"]),
        report(
            o.cl_ord_id,
            "9001",
            None,
            Q,
            fill_px=PX - 2,
            fill_sz=3,
            trade_id=102,
            req_id=req["req_id"],
            snapshot_end=True,
        ),
    )
    assert rig.filled_lots_published(o.cl_ord_id) == 7 and rig.pm.lots(INST) == 7
    assert sorted(f.fill.trade_id for f in rig.events(EventType.ORDER_FILLED)) == [101, 102]


def test_two_fills_in_one_cumulative_jump_are_priced_from_the_fills_answer():
    rig = make_rig()
    o = acked(rig)
    # A status answer says 7 filled at avgPx 59999.7 (rounded by OKX); it carries no single fill.
    jump = report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, Q, size=10, acc=7)
    jump.avg_px = 59999.7
    rig.feed(jump)
    assert o.filled_lots == 7 and rig.events(EventType.ORDER_FILLED) == []
    req = rig.port.last("request_fills")
    assert (req["inst_id"], req["ord_id"]) == (INST, "9001")
    rig.feed(
        report(
            o.cl_ord_id, "9001", None, Q, fill_px=PX - 4, fill_sz=4, trade_id=201, fee=-0.0096, req_id=req["req_id"]
        ),
        report(
            o.cl_ord_id,
            "9001",
            None,
            Q,
            fill_px=PX - 1,
            fill_sz=3,
            trade_id=202,
            fee=-0.0072,
            req_id=req["req_id"],
            snapshot_end=True,
        ),
    )
    fills = [e.fill for e in rig.events(EventType.ORDER_FILLED)]
    assert [(f.trade_id, f.ticks, f.lots, f.fee) for f in fills] == [
        (201, PX - 4, 4, -0.0096),
        (202, PX - 1, 3, -0.0072),
    ]
    # Ledger: cost 4×599996 + 3×599999 = 4 199 981 tick-lots over 7 lots.
    assert rig.pm.position(INST).cost == 4 * (PX - 4) + 3 * (PX - 1)


def test_unpriced_fills_are_requested_again_after_an_incomplete_fills_answer():
    rig = make_rig()
    o = acked(rig)
    rig.feed(report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, Q, size=10, acc=5))
    first = rig.port.last("request_fills")["req_id"]
    rig.feed(
        report(o.cl_ord_id, "9001", None, Q, fill_px=PX, fill_sz=2, trade_id=1, req_id=first),
        report("", "", None, Q, req_id=first, snapshot_end=True),
    )
    assert rig.om.unpriced_lots(o.cl_ord_id) == 3
    rig.advance(1.0)
    assert len(rig.port.of("request_fills")) == 2


def test_a_lost_ack_is_resolved_by_a_clordid_query_after_the_ttl_never_resubmitted():
    rig = make_rig()
    o = placed(rig)
    rig.advance(9.9)
    assert rig.port.of("request_order_status") == []
    rig.advance(0.1)
    q = rig.port.last("request_order_status")
    assert (q["cl_ord_id"], q["ord_id"]) == (o.cl_ord_id, None)
    # The exchange never got it: 51603. The order is rejected and its margin freed; not re-sent.
    rig.feed(report("", "", None, Q, s_code="51603", s_msg="Order does not exist", req_id=q["req_id"]))
    assert o.state is S.REJECTED and o.reject_code == "51603"
    assert rig.events(EventType.ORDER_UPDATE)[-1].reason is RejectReason.EXCHANGE
    assert len(rig.port.of("submit_order")) == 1
    assert rig.capital.reserved() == 0.0


def test_a_lost_ack_of_an_order_that_landed_is_found_live_by_the_query():
    rig = make_rig()
    o = placed(rig)
    rig.advance(10)
    q = rig.port.last("request_order_status")
    rig.feed(report(o.cl_ord_id, "9001", S.LIVE, Q, size=10, req_id=q["req_id"]))
    assert o.state is S.LIVE and o.ord_id == "9001"
    upd = rig.events(EventType.ORDER_UPDATE)[-1]
    assert (upd.req_id, upd.snapshot_end) == (q["req_id"], True)  # the answer carries the request's id
    rig.advance(10)  # still silent: asked again, by the same clOrdId and now the ordId
    assert rig.port.last("request_order_status")["ord_id"] == "9001"
    assert len(rig.port.of("submit_order")) == 1


def test_an_exchange_rejection_on_placement_frees_the_margin_and_keeps_okx_code():
    rig = make_rig()
    o = placed(rig)
    rig.feed(report(o.cl_ord_id, "", None, ACK, s_code="51008", s_msg="Insufficient USDT balance"))
    assert o.state is S.REJECTED and (o.reject_code, o.reject_msg) == ("51008", "Insufficient USDT balance")
    upd = rig.events(EventType.ORDER_UPDATE)[-1]
    assert (upd.reason, upd.s_code) == (RejectReason.EXCHANGE, "51008")
    assert rig.capital.reserved() == 0.0


# -- cancel and amend -----------------------------------------------------------------------------


def test_cancel_then_canceled_push_releases_the_margin_and_publishes_order_cancelled():
    rig = make_rig()
    o = acked(rig)
    rig.feed(report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, size=10, acc=2, fill_px=PX, fill_sz=2, trade_id=4))
    assert rig.om.cancel_order(o.cl_ord_id) and o.state is S.PENDING_CANCEL
    assert rig.port.last("cancel_order") == {"inst_id": INST, "cl_ord_id": o.cl_ord_id, "ord_id": "9001"}
    rig.feed(report(o.cl_ord_id, "9001", S.CANCELED, size=10, acc=2, cancel_source="1"))
    assert o.state is S.CANCELED
    (c,) = rig.events(EventType.ORDER_CANCELLED)
    assert c.order is o and c.cancel_source == "1"
    assert rig.capital.reserved() == 0.0 and not rig.om.cancel_order(o.cl_ord_id)


def test_a_refused_cancel_asks_the_status_and_resends_when_the_order_is_still_live():
    rig = make_rig()
    o = acked(rig)
    rig.om.cancel_order(o.cl_ord_id)
    rig.feed(report(o.cl_ord_id, "9001", None, ACK, s_code="51400", s_msg="cancel failed"))
    assert o.state is S.LIVE
    q = rig.port.last("request_order_status")
    rig.feed(report(o.cl_ord_id, "9001", S.LIVE, Q, size=10, req_id=q["req_id"]))
    assert len(rig.port.of("cancel_order")) == 2 and o.state is S.PENDING_CANCEL


def test_cancel_all_cancels_every_open_order_of_the_instrument():
    rig = make_rig()
    a, b = acked(rig, ord_id="1"), acked(rig, ord_id="2")
    assert rig.om.cancel_all(INST) == 2
    assert {c["cl_ord_id"] for c in rig.port.of("cancel_order")} == {a.cl_ord_id, b.cl_ord_id}


def test_amend_is_applied_when_the_exchange_confirms_it():
    rig = make_rig()
    o = acked(rig)
    assert rig.om.amend_order(o.cl_ord_id, new_price_ticks=PX - 10, new_size_lots=12)
    sent = rig.port.last("amend_order")
    assert (sent["new_price_ticks"], sent["new_size_lots"], sent["ord_id"]) == (PX - 10, 12, "9001")
    assert (o.price_ticks, o.size_lots) == (PX, 10)  # unchanged until confirmed
    rig.feed(report(o.cl_ord_id, "9001", S.LIVE, size=12, price=PX - 10))
    assert (o.price_ticks, o.size_lots) == (PX - 10, 12)
    # 12 lots at 59 999.0 USDT: 12 × 0.0001 × 59 999 = 71.9988 USDT notional, ÷ 3 = 23.9996 margin.
    assert abs(rig.capital.reserved("s1") - 23.9996) < 1e-9
    assert rig.events(EventType.ORDER_UPDATE)[-1].order.size_lots == 12


def test_amend_beyond_the_allocation_is_refused_before_sending():
    # 1 lot at 60 000 USDT is 6 USDT notional, 2 USDT margin: 100 USDT carries 50 lots, not 60.
    rig = make_rig(capital=100.0)
    o = acked(rig, size=40)
    assert not rig.om.amend_order(o.cl_ord_id, new_size_lots=60)
    assert rig.port.of("amend_order") == []
    assert rig.events(EventType.ORDER_UPDATE)[-1].reason is RejectReason.NO_CAPITAL


# -- protective stop ------------------------------------------------------------------------------


def test_stop_is_placed_after_an_entry_fill_resized_with_the_position_and_canceled_when_flat():
    rig = make_rig()
    o = acked(rig, size=10, tag="entry", stop_ticks=500)
    assert rig.port.of("place_algo_order") == []  # nothing to protect before a fill
    rig.feed(report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, size=10, acc=4, fill_px=PX, fill_sz=4, trade_id=1))
    stop1 = rig.port.last("place_algo_order")["algo"]
    assert (stop1.side, stop1.size_lots, stop1.trigger_ticks, stop1.reduce_only) == (Side.SELL, 4, PX - 500, True)
    rig.feed(report(o.cl_ord_id, "9001", S.FILLED, size=10, acc=10, fill_px=PX + 3, fill_sz=6, trade_id=2))
    assert rig.port.last("cancel_algo_order")["algo_cl_ord_id"] == stop1.algo_cl_ord_id
    stop2 = rig.port.last("place_algo_order")["algo"]
    assert (stop2.size_lots, stop2.trigger_ticks) == (10, PX - 500)  # the first fill set the trigger
    ex = rig.om.submit_order("s1", INST, Side.SELL, OrderType.MARKET, 10, reduce_only=True, tag="exit")
    rig.feed(
        report(
            ex.cl_ord_id,
            "9002",
            S.FILLED,
            side=Side.SELL,
            size=10,
            acc=10,
            fill_px=PX + 50,
            fill_sz=10,
            trade_id=3,
            ord_type=OrderType.MARKET,
        )
    )
    assert rig.pm.lots(INST) == 0
    assert rig.port.last("cancel_algo_order")["algo_cl_ord_id"] == stop2.algo_cl_ord_id
    assert rig.om.stop_order(INST) is None
    assert len(rig.port.of("place_algo_order")) == 2


def test_stop_distance_comes_from_the_strategy_risk_profile_when_not_given():
    rig = make_rig(profiles={"s1": RiskProfile(stop_ticks=300)})
    o = rig.om.submit_order("s1", INST, Side.SELL, OrderType.LIMIT, 3, PX, tag="entry")
    rig.feed(report(o.cl_ord_id, "7", S.FILLED, side=Side.SELL, size=3, acc=3, fill_px=PX, fill_sz=3, trade_id=9))
    stop = rig.port.last("place_algo_order")["algo"]
    assert (stop.side, stop.size_lots, stop.trigger_ticks) == (Side.BUY, 3, PX + 300)


def test_a_stop_child_canceled_with_source_22_is_answered_by_close_position_at_once():
    rig = make_rig()
    o = acked(rig, size=5, tag="entry", stop_ticks=100)
    rig.feed(report(o.cl_ord_id, "9001", S.FILLED, size=5, acc=5, fill_px=PX, fill_sz=5, trade_id=1))
    stop = rig.om.stop_order(INST)
    rig.feed(
        report(
            stop.algo_cl_ord_id,
            "9100",
            S.CANCELED,
            side=Side.SELL,
            size=5,
            cancel_source="22",
            ord_type=OrderType.MARKET,
            reduce_only=True,
        )
    )
    close = rig.port.last("close_position")
    assert close["auto_cxl"] is True and close["inst_id"] == INST
    assert any(e.code == "failed_exit" for e in rig.events(EventType.ERROR))


# -- kill switch ----------------------------------------------------------------------------------


def test_kill_switch_cancels_closes_and_repeats_until_a_snapshot_shows_flat():
    rig = make_rig()
    entry = acked(rig, size=5, tag="entry", stop_ticks=100, ord_id="1")
    rig.feed(report(entry.cl_ord_id, "1", S.PARTIALLY_FILLED, size=5, acc=2, fill_px=PX, fill_sz=2, trade_id=1))
    rig.port.clear()
    rig.om.kill_switch(INST)
    assert rig.port.names() == ["cancel_order", "cancel_algo_order", "close_position", "request_positions"]
    close = rig.port.last("close_position")
    assert close["auto_cxl"] is True and len(close["cl_ord_id"]) <= 32
    refused = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 1, PX)
    assert refused.reject_code == RejectReason.KILL_SWITCH.value
    # The snapshot still shows the position: the next round closes again.
    rig.answer_positions(rig.port.last("request_positions")["req_id"], lots=2, avg_px=60000.0, watermark=1)
    rig.port.clear()
    rig.advance(2)
    assert rig.port.names() == ["cancel_order", "close_position", "request_positions"]
    # The close fills (its report comes under the clOrdId we gave), the entry is canceled, a flat snapshot.
    rig.feed(
        report(
            close["cl_ord_id"],
            "55",
            S.FILLED,
            side=Side.SELL,
            size=2,
            acc=2,
            fill_px=PX - 10,
            fill_sz=2,
            trade_id=2,
            ord_type=OrderType.MARKET,
        )
    )
    rig.feed(report(entry.cl_ord_id, "1", S.CANCELED, size=5, acc=2))
    assert rig.pm.lots(INST) == 0
    rig.answer_positions(rig.port.last("request_positions")["req_id"])
    rig.port.clear()
    rig.advance(2)
    assert rig.om.kill_state(INST).done and rig.port.names() == []
    rig.advance(10)
    assert "close_position" not in rig.port.names()


# -- ghosts ---------------------------------------------------------------------------------------


def test_a_push_for_an_unknown_order_is_reported_once():
    rig = make_rig()
    r = report("foreign1", "77", S.LIVE, size=1)
    rig.feed(r, r)
    errs = [e for e in rig.events(EventType.ERROR) if e.code == "unknown_order"]
    assert len(errs) == 1 and "foreign1" in errs[0].message


def test_ghost_order_adopted_when_configured():
    rig = make_rig(ghost_policy=GhostPolicy.ADOPT)
    rig.om.sync_open_orders("oo1")
    rig.answer_open_orders(
        "oo1", report("", "4242", S.PARTIALLY_FILLED, Q, side=Side.SELL, size=6, acc=2, price=PX + 100)
    )
    (o,) = rig.om.open_orders(INST)
    assert (o.ord_id, o.side, o.size_lots, o.filled_lots, o.state) == ("4242", Side.SELL, 6, 2, S.PARTIALLY_FILLED)
    assert rig.events(EventType.ORDER_FILLED) == []  # its past fills are in the exchange position already
    assert rig.port.of("cancel_order") == []
    rig.om.cancel_order("#4242")
    assert rig.port.last("cancel_order") == {"inst_id": INST, "cl_ord_id": "", "ord_id": "4242"}


def test_ttl_query_is_rearmed_by_every_update():
    rig = make_rig()
    o = acked(rig)
    rig.advance(6)
    rig.feed(report(o.cl_ord_id, "9001", S.LIVE, size=10))
    rig.advance(6)
    assert rig.port.of("request_order_status") == []
    rig.advance(4)
    assert len(rig.port.of("request_order_status")) == 1
    assert rig.clock.now_ns() == 1_000 * SEC + 16 * SEC


def test_a_fills_request_that_fails_or_is_never_answered_is_asked_again():
    rig = make_rig()
    o = acked(rig)
    rig.feed(report(o.cl_ord_id, "9001", S.PARTIALLY_FILLED, Q, size=10, acc=5))
    first = rig.port.last("request_fills")["req_id"]
    now = rig.clock.now_ns()
    rig.bus.publish(ErrorEvent(first, "HTTP 500", now, now, code="request_failed"))
    rig.advance(1)
    second = rig.port.last("request_fills")["req_id"]
    assert second != first
    rig.advance(9.9)
    assert len(rig.port.of("request_fills")) == 2
    rig.advance(0.1)  # no answer within the TTL: dropped and asked again
    assert len(rig.port.of("request_fills")) == 3
    late = report(o.cl_ord_id, "9001", None, Q, fill_px=PX, fill_sz=5, trade_id=1, req_id=second, snapshot_end=True)
    rig.feed(late)  # an answer to a forgotten request is not taken as a fills answer, yet its fill is known by id
    assert rig.filled_lots_published(o.cl_ord_id) == 5


def test_the_stops_own_reports_are_told_apart_from_its_childs():
    # As the SimExchange reports them: the algo under its algoClOrdId with ord_type None and ordId =
    # algoId; the child (after the trigger) under the same algoClOrdId with its own ordId and ord_type.
    rig = make_rig()
    o = acked(rig, size=5, tag="entry", stop_ticks=100)
    rig.feed(report(o.cl_ord_id, "9001", S.FILLED, size=5, acc=5, fill_px=PX, fill_sz=5, trade_id=1))
    stop = rig.om.stop_order(INST)
    cl = stop.algo_cl_ord_id
    rig.feed(report(cl, "A1", None, ACK, side=Side.SELL, size=5, ord_type=None))
    rig.feed(report(cl, "A1", S.LIVE, side=Side.SELL, size=5, ord_type=None))
    assert (stop.algo_id, stop.state.value) == ("A1", "live") and rig.om.get(cl) is None
    rig.feed(report(cl, "A1", S.FILLED, side=Side.SELL, size=5, ord_type=None))  # OKX "effective"
    assert rig.om.stop_order(INST) is None
    rig.feed(
        report(
            cl,
            "C7",
            S.FILLED,
            side=Side.SELL,
            size=5,
            acc=5,
            fill_px=PX - 100,
            fill_sz=5,
            trade_id=2,
            ord_type=OrderType.MARKET,
            reduce_only=True,
        )
    )
    child = rig.om.get(cl)
    assert (child.tag, child.ord_id, child.state, child.filled_lots) == ("stop_child", "C7", S.FILLED, 5)
    assert rig.pm.lots(INST) == 0
    assert rig.port.of("cancel_algo_order") == []  # the stop was spent, not canceled


def test_a_refused_stop_is_reported_as_an_unprotected_position():
    rig = make_rig()
    o = acked(rig, size=5, tag="entry", stop_ticks=100)
    rig.feed(report(o.cl_ord_id, "9001", S.FILLED, size=5, acc=5, fill_px=PX, fill_sz=5, trade_id=1))
    cl = rig.om.stop_order(INST).algo_cl_ord_id
    rig.feed(report(cl, "", S.REJECTED, ACK, side=Side.SELL, size=5, ord_type=None, s_code="51000", s_msg="bad"))
    assert rig.om.stop_order(INST) is None
    (err,) = [e for e in rig.events(EventType.ERROR) if e.code == "stop_failed"]
    assert "5 lots has no stop" in err.message
