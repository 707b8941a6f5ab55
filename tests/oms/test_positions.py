from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from athena.core.events import ErrorEvent, EventType, PositionSource, ReportSource
from athena.model.enums import OrderState, OrderType, RejectReason, Side
from athena.oms.positions import backoff_s
from tests.oms.fakes import INST, PX, SEC, make_rig, report

S = OrderState
Q = ReportSource.QUERY
T0 = 1_000 * SEC  # the rig's start time; the first sync is 15 s later


def buy_filled(rig, size, trade_id, *, ord_id="1", tag="", stop_ticks=None, px=PX):
    o = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, size, px, tag=tag, stop_ticks=stop_ticks)
    rig.feed(report(o.cl_ord_id, ord_id, S.FILLED, size=size, acc=size, fill_px=px, fill_sz=size, trade_id=trade_id))
    return o


def sync(rig):
    """Run the clock to the next sync; return its (positions, open orders) request ids."""
    before = len(rig.port.of("request_positions"))
    while len(rig.port.of("request_positions")) == before:
        rig.advance(1)
    return rig.port.last("request_positions")["req_id"], rig.port.last("request_open_orders")["req_id"]


def errors(rig, code):
    return [e for e in rig.events(EventType.ERROR) if e.code == code]


# -- ledger ---------------------------------------------------------------------------------------


def test_ledger_follows_fills_and_publishes_ledger_positions():
    rig = make_rig()
    buy_filled(rig, 7, 11)
    s = rig.om.submit_order("s1", INST, Side.SELL, OrderType.LIMIT, 3, PX + 20, reduce_only=True)
    rig.feed(report(s.cl_ord_id, "2", S.FILLED, side=Side.SELL, size=3, acc=3, fill_px=PX + 20, fill_sz=3, trade_id=12))
    p = rig.pm.position(INST)
    assert (p.lots, p.realized, rig.pm.highest_trade_id[INST]) == (4, 3 * 20, 12)
    led = [e for e in rig.events(EventType.POSITION_UPDATE) if e.source is PositionSource.LEDGER]
    assert [(e.lots, e.watermark) for e in led] == [(7, 11), (4, 12)]
    assert led[-1].avg_px == 60000.0


# -- sync: ghosts ---------------------------------------------------------------------------------


def test_sync_requests_positions_and_open_orders_every_15_seconds():
    rig = make_rig()
    pos_req, oo_req = sync(rig)
    assert rig.clock.now_ns() == T0 + 15 * SEC
    rig.answer_positions(pos_req)
    rig.answer_open_orders(oo_req)
    assert rig.pm.syncs_ok == 1 and rig.pm.failures == 0
    sync(rig)
    assert rig.port.times_of("request_positions") == [T0 + 15 * SEC, T0 + 30 * SEC]


def test_ghost_order_on_the_exchange_is_canceled_on_sync():
    rig = make_rig()
    mine = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 2, PX - 50)
    _pos_req, oo_req = sync(rig)
    rig.answer_open_orders(
        oo_req,
        report(mine.cl_ord_id, "1", S.LIVE, Q, size=2, price=PX - 50),
        report("web123", "888", S.LIVE, Q, side=Side.SELL, size=9, price=PX + 500),
    )
    assert rig.port.last("cancel_order") == {"inst_id": INST, "cl_ord_id": "web123", "ord_id": "888"}
    assert mine.state is S.LIVE and mine.ord_id == "1"  # ours is reconciled, not canceled
    (err,) = errors(rig, "ghost_order")
    assert "web123" in err.message and "canceled" in err.message


def test_an_open_order_missing_from_the_open_orders_answer_is_queried():
    rig = make_rig()
    o = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 2, PX - 50)
    rig.feed(report(o.cl_ord_id, "1", None, ReportSource.ACK))
    _, oo_req = sync(rig)
    rig.answer_open_orders(oo_req)  # empty: the order ended and we missed the push
    q = rig.port.last("request_order_status")
    assert (q["cl_ord_id"], q["ord_id"]) == (o.cl_ord_id, "1")
    rig.feed(report(o.cl_ord_id, "1", S.CANCELED, Q, size=2, cancel_source="13", req_id=q["req_id"]))
    assert o.state is S.CANCELED


# -- sync: mismatches -----------------------------------------------------------------------------


def test_a_position_mismatch_is_adopted_with_an_error_carrying_both_numbers():
    rig = make_rig()
    buy_filled(rig, 4, 7)
    pos_req, oo_req = sync(rig)
    # The exchange holds 6 lots and its snapshot covers trade 9 ≥ 7, the highest we applied; nothing in flight.
    rig.answer_positions(pos_req, lots=6, avg_px=60000.5, watermark=9)
    rig.answer_open_orders(oo_req)
    assert rig.pm.lots(INST) == 6
    assert rig.pm.position(INST).avg_ticks == 600_005  # 60 000.5 USDT in 0.1 ticks, exact
    (err,) = errors(rig, "position_mismatch")
    assert "ledger 4 lots, exchange 6 lots" in err.message and "adopted" in err.message
    led = [e for e in rig.events(EventType.POSITION_UPDATE) if e.source is PositionSource.LEDGER]
    assert (led[-1].lots, led[-1].watermark) == (6, 9)
    assert rig.pm.mismatches[-1].adopted
    # A late fill at or below the watermark (trade 8) books its fee but not its size again.
    late = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 2, PX)
    rig.feed(report(late.cl_ord_id, "3", S.FILLED, size=2, acc=2, fill_px=PX, fill_sz=2, trade_id=8, fee=-0.01))
    assert rig.pm.lots(INST) == 6 and rig.pm.position(INST).fees == -0.01


def answer_flat_fills(rig, buy, trade_id):
    """Answer the fills queries sent around a flat positions answer: both newest fill ``trade_id``."""
    for kw in [kw for kw in rig.port.of("request_fills") if kw["ord_id"] is None][-2:]:
        rig.feed(report(buy.cl_ord_id, "1", S.FILLED, Q, size=4, acc=4, fill_px=PX, fill_sz=4, trade_id=trade_id,
                        req_id=kw["req_id"], snapshot_end=True))


def test_a_stale_snapshot_is_not_adopted_while_an_order_is_in_flight_but_a_repeated_mismatch_is():
    rig = make_rig()
    buy = buy_filled(rig, 4, 7)
    working = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 1, PX - 100)  # in flight
    pos_req, oo_req = sync(rig)
    # Taken before our fill reached the position system: flat, no watermark.
    rig.answer_positions(pos_req)
    rig.answer_open_orders(oo_req, report(working.cl_ord_id, "2", S.LIVE, Q, size=1, price=PX - 100))
    answer_flat_fills(rig, buy, 7)  # an exact watermark, but an order is in flight
    assert rig.pm.lots(INST) == 4
    (err,) = errors(rig, "position_mismatch")
    assert "ledger 4 lots, exchange 0 lots" in err.message and "not adopted" in err.message
    assert rig.port.of("cancel_order") == []  # the real position (and its orders) kept
    # The same mismatch on the next sync: adopted.
    pos_req, oo_req = sync(rig)
    rig.answer_positions(pos_req)
    rig.answer_open_orders(oo_req, report(working.cl_ord_id, "2", S.LIVE, Q, size=1, price=PX - 100))
    answer_flat_fills(rig, buy, 7)
    assert rig.pm.lots(INST) == 0 and rig.pm.mismatches[-1].adopted


def test_a_snapshot_older_than_the_fills_applied_is_not_adopted_even_with_nothing_in_flight():
    rig = make_rig()
    buy_filled(rig, 4, 7)
    pos_req, oo_req = sync(rig)
    rig.answer_positions(pos_req, lots=1, avg_px=60000.0, watermark=5)
    rig.answer_open_orders(oo_req)
    assert rig.pm.lots(INST) == 4 and not rig.pm.mismatches[-1].adopted


# -- ghost-order protection when flat -------------------------------------------------------------


def test_going_flat_cancels_every_open_order_and_the_stop_and_the_sync_repeats_it():
    rig = make_rig()
    buy_filled(rig, 5, 1, tag="entry", stop_ticks=200)
    assert rig.om.stop_order(INST) is not None
    leftover = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 3, PX - 300)
    exit_ = rig.om.submit_order("s1", INST, Side.SELL, OrderType.MARKET, 5, reduce_only=True)
    rig.feed(
        report(
            exit_.cl_ord_id,
            "9",
            S.FILLED,
            side=Side.SELL,
            size=5,
            acc=5,
            fill_px=PX + 10,
            fill_sz=5,
            trade_id=2,
            ord_type=OrderType.MARKET,
        )
    )
    assert rig.pm.lots(INST) == 0
    assert [c["cl_ord_id"] for c in rig.port.of("cancel_order")] == [leftover.cl_ord_id]
    assert rig.om.stop_order(INST) is None and len(rig.port.of("cancel_algo_order")) == 1
    fresh = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 1, PX - 400)  # placed after: an entry
    pos_req, _oo_req = sync(rig)
    rig.answer_positions(pos_req)
    # The leftover's cancel got lost: it is still open; the sync sends it again, the fresh entry stays.
    assert [c["cl_ord_id"] for c in rig.port.of("cancel_order")] == [leftover.cl_ord_id, leftover.cl_ord_id]
    assert fresh.state is S.SUBMITTED


# -- sync failures --------------------------------------------------------------------------------


def test_backoff_delays():
    assert [backoff_s(k) for k in range(1, 10)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]


def test_unanswered_syncs_back_off_1_2_4_to_60_s_and_ten_failures_pause_new_entries():
    rig = make_rig()
    rig.advance(300)
    times = [(t - T0) // SEC for t in rig.port.times_of("request_positions")]
    # Sent at 15; unanswered by 30 → failure 1, retry after 1 s, then 2, 4, 8, 16, 32, 60 …
    assert times == [15, 30, 31, 33, 37, 45, 61, 93, 153, 213, 273]
    assert rig.pm.failures == 10
    assert rig.pm.breaker.paused_until_ns == T0 + (273 + 60) * SEC
    entry = rig.om.submit_order("s1", INST, Side.BUY, OrderType.LIMIT, 1, PX)
    assert entry.reject_code == RejectReason.CIRCUIT_BREAKER.value
    exit_ = rig.om.submit_order("s1", INST, Side.SELL, OrderType.LIMIT, 1, PX, reduce_only=True)
    assert exit_.state is S.SUBMITTED
    assert len(errors(rig, "sync_failed")) == 10


def test_an_error_answer_is_a_failure_at_once_and_a_full_answer_resets_the_count():
    rig = make_rig()
    pos_req, _ = sync(rig)
    now = rig.clock.now_ns()
    rig.bus.publish(ErrorEvent(pos_req, "HTTP 503", now, now, code="request_failed"))
    assert rig.pm.failures == 1
    pos_req, oo_req = sync(rig)
    assert rig.clock.now_ns() == now + 1 * SEC  # retried after 1 s, not 15
    rig.answer_positions(pos_req)
    rig.answer_open_orders(oo_req)
    assert rig.pm.failures == 0 and rig.pm.syncs_ok == 1


# -- property: no double count, no wrong position, no orphan after a sync -------------------------


@st.composite
def scenarios(draw):
    n = draw(st.integers(1, 4))
    orders = []
    tid = 100
    for _ in range(n):
        side = draw(st.sampled_from([Side.BUY, Side.SELL]))
        size = draw(st.integers(1, 10))
        filled = draw(st.integers(0, size))
        parts = []
        left = filled
        while left:
            k = draw(st.integers(1, left))
            tid += draw(st.integers(1, 3))
            parts.append((tid, k, PX + draw(st.integers(-20, 20))))
            left -= k
        cancel = filled < size and draw(st.booleans())
        orders.append((side, size, parts, cancel))
    return orders


def messages_of(cl, ord_id, side, size, parts, cancel, with_query):
    msgs = []
    acc = 0
    for tid, k, px in parts:
        acc += k
        state = S.FILLED if acc == size else S.PARTIALLY_FILLED
        msgs.append(report(cl, ord_id, state, side=side, size=size, acc=acc, fill_px=px, fill_sz=k, trade_id=tid))
    if with_query:
        msgs.append(
            report(
                cl,
                ord_id,
                S.FILLED if acc == size else (S.PARTIALLY_FILLED if acc else S.LIVE),
                Q,
                side=side,
                size=size,
                acc=acc,
            )
        )
    if cancel:
        msgs.append(report(cl, ord_id, S.CANCELED, side=side, size=size, acc=acc))
    return msgs


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scen=scenarios(), data=st.data())
def test_random_fills_duplicates_and_reorders_never_double_count_nor_leave_orphans(scen, data):
    rig = make_rig()
    truth = {}
    msgs = []
    for i, (side, size, parts, cancel) in enumerate(scen):
        tag = "entry" if i == 0 else ""
        o = rig.om.submit_order("s1", INST, side, OrderType.LIMIT, size, PX, tag=tag, stop_ticks=100 if tag else None)
        assert o.state is S.SUBMITTED
        truth[o.cl_ord_id] = (o, str(i + 1), parts, cancel)
        msgs += messages_of(o.cl_ord_id, str(i + 1), side, size, parts, cancel, data.draw(st.booleans()))
    dups = data.draw(st.lists(st.sampled_from(msgs), max_size=6)) if msgs else []
    stream = data.draw(st.permutations(msgs + dups))

    def answer_fills(only_some: bool):
        pending = [c for c in rig.port.of("request_fills") if c["req_id"] in rig.om._fills_reqs]
        for c in pending:
            if only_some and not data.draw(st.booleans()):
                continue
            o, ord_id, parts, _ = next(v for v in truth.values() if v[1] == c["ord_id"])
            rows = [
                report(o.cl_ord_id, ord_id, None, Q, side=o.side, fill_px=px, fill_sz=k, trade_id=t, req_id=c["req_id"])
                for t, k, px in parts
            ]
            rows.append(report("", "", None, Q, req_id=c["req_id"], snapshot_end=True))
            rig.feed(*rows)

    def check_never_double_counted():
        for cl, (o, _, parts, _) in truth.items():
            published = [e.fill for e in rig.events(EventType.ORDER_FILLED) if e.order.cl_ord_id == cl]
            ids = [f.trade_id for f in published]
            assert len(ids) == len(set(ids)) and set(ids) <= {t for t, _, _ in parts}
            assert sum(f.lots for f in published) <= sum(k for _, k, _ in parts)
            assert o.filled_lots <= o.size_lots
        signed = sum(e.fill.signed_lots for e in rig.events(EventType.ORDER_FILLED))
        assert rig.pm.lots(INST) == signed and isinstance(rig.pm.lots(INST), int)

    for m in stream:
        rig.feed(m)
        check_never_double_counted()
        if data.draw(st.booleans()):
            answer_fills(only_some=True)
            check_never_double_counted()
    for _ in range(3):
        answer_fills(only_some=False)
    check_never_double_counted()

    # Every fill counted exactly once; the ledger holds the exchange's net position.
    net = 0
    for cl, (o, _, parts, cancel) in truth.items():
        assert rig.filled_lots_published(cl) == sum(k for _, k, _ in parts) == o.filled_lots
        net += o.side.sign * o.filled_lots
        if o.filled_lots == o.size_lots:
            assert o.state is S.FILLED
        elif cancel:
            assert o.state is S.CANCELED
    assert rig.pm.lots(INST) == net

    # The next sync: the exchange's truth agrees, and a flat position keeps no order placed before it
    # went flat, no reduce-only order and no stop.
    pos_req, oo_req = sync(rig)
    high = max((t for v in truth.values() for t, _, _ in v[2]), default=None)
    rig.answer_positions(pos_req, lots=net, avg_px=60000.0, watermark=high)
    still_open = [
        report(
            cl,
            ord_id,
            S.PARTIALLY_FILLED if o.filled_lots else S.LIVE,
            Q,
            side=o.side,
            size=o.size_lots,
            acc=sum(k for _, k, _ in parts),
        )
        for cl, (o, ord_id, parts, cancel) in truth.items()
        if sum(k for _, k, _ in parts) < o.size_lots and not cancel
    ]
    rig.answer_open_orders(oo_req, *still_open)
    assert rig.pm.lots(INST) == net
    assert errors(rig, "position_mismatch") == []
    if net == 0:
        assert rig.om.stop_order(INST) is None
        went_flat = any(e.lots != 0 for e in rig.events(EventType.POSITION_UPDATE) if e.source is PositionSource.LEDGER)
        for o in rig.om.open_orders(INST):
            if went_flat or o.reduce_only:
                assert o.state is S.PENDING_CANCEL, f"{o.cl_ord_id} left open with a flat position"
