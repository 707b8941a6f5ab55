"""SimGateway: the two timelines (entry and response latency on the SimClock heap), answers as
bus events, the fault plan observable on the bus, and determinism."""

from __future__ import annotations

from typing import Any

from athena.core.bus import EventBus
from athena.core.clock import SimClock
from athena.core.events import (
    AccountUpdate,
    Event,
    EventType,
    OrderReport,
    OrderSubmitted,
    PositionSource,
    PositionUpdate,
    ReportSource,
)
from athena.core.ports import ASK, BID
from athena.gateways.base import BaseGateway
from athena.gateways.sim import SimGateway
from athena.model.enums import OrderState, OrderType, Side
from athena.model.instrument import BTC_USDT_SWAP
from athena.model.orders import Order
from athena.sim.exchange import SimExchange, SimExchangeConfig, SimMarket
from athena.sim.faults import (
    DelayResponses,
    DuplicateFill,
    FaultPlan,
    FillBeforeAck,
    GhostOrder,
    LoseAck,
    ReorderResponse,
    ShiftPosition,
)
from athena.sim.latency import ConstantLatency, LatencyModel, LogNormalLatency

INST = BTC_USDT_SWAP.inst_id
P = 600_000
T0 = 1_704_088_800_000_000_000
MS = 1_000_000


class Rig:
    def __init__(self, latency: LatencyModel | None = None, faults: FaultPlan | None = None) -> None:
        self.clock = SimClock(T0)
        self.bus = EventBus(self.clock.now_ns)
        self.ex = SimExchange(self.clock, [BTC_USDT_SWAP], config=SimExchangeConfig(initial_balance=100_000.0))
        self.m: SimMarket = self.ex.markets[INST]
        self.commands: list[tuple[int, str, tuple[Any, ...]]] = []
        self.gw = SimGateway(
            self.clock,
            self.bus,
            self.ex,
            latency or ConstantLatency(10 * MS, 5 * MS),
            faults,
            command_log=lambda t, name, args: self.commands.append((t, name, args)),
        )
        self.seen: list[Event] = []
        for et in (
            EventType.ORDER_REPORT,
            EventType.ORDER_SUBMITTED,
            EventType.POSITION_UPDATE,
            EventType.ACCOUNT_UPDATE,
        ):
            self.bus.subscribe(et, self.seen.append)
        self.gw.start()

    def book(self, bids: dict[int, int], asks: dict[int, int]) -> None:
        self.m.book.apply_snapshot(list(bids.items()), list(asks.items()))

    def at(self, t: int, fn: Any) -> None:
        self.clock.schedule(t, lambda _: fn())

    def run(self, until: int) -> None:
        self.clock.run_due(until)

    def reports(self, cl: str | None = None) -> list[OrderReport]:
        return [e for e in self.seen if isinstance(e, OrderReport) and (cl is None or e.cl_ord_id == cl)]


def order(cl: str, side: Side, ord_type: OrderType, lots: int, px: int | None = None) -> Order:
    return Order(cl_ord_id=cl, inst_id=INST, side=side, ord_type=ord_type, size_lots=lots, price_ticks=px)


def test_sim_gateway_is_a_base_gateway():
    assert isinstance(Rig().gw, BaseGateway)


def test_order_submitted_is_published_at_once_and_the_command_logged():
    r = Rig()
    r.gw.submit_order(order("a1", Side.BUY, OrderType.LIMIT, 1, P - 10))
    (sub,) = [e for e in r.seen if isinstance(e, OrderSubmitted)]
    assert (sub.cl_ord_id, sub.ts_event, sub.ts_recv) == ("a1", T0, T0)
    assert r.reports() == []  # nothing from the exchange before the latencies pass
    assert r.commands == [(T0, "order", (INST, "a1", "buy", "limit", 1, P - 10, False))]


def test_a_stopped_gateway_refuses_commands_with_an_error_event():
    r = Rig()
    errors: list[Event] = []
    r.bus.subscribe(EventType.ERROR, errors.append)
    r.gw.stop()
    r.gw.submit_order(order("late", Side.BUY, OrderType.LIMIT, 1, P - 10))
    r.run(T0 + 100 * MS)
    assert r.reports() == [] and r.commands == []
    assert [(e.code, e.message) for e in errors] == [("gateway_stopped", "order late refused: the gateway was stopped")]


def test_an_order_meets_the_book_as_it_was_entry_latency_after_submission():
    r = Rig(ConstantLatency(10 * MS, 5 * MS))
    r.book({P - 10: 50}, {P: 10})
    # +5 ms: the ask at P leaves and one appears at P+10; +15 ms: that one leaves for P+20
    r.at(T0 + 5 * MS, lambda: (r.m.apply_level(ASK, P, 0, T0 + 5 * MS), r.m.apply_level(ASK, P + 10, 10, T0 + 5 * MS)))
    r.at(
        T0 + 15 * MS,
        lambda: (r.m.apply_level(ASK, P + 10, 0, T0 + 15 * MS), r.m.apply_level(ASK, P + 20, 10, T0 + 15 * MS)),
    )
    r.gw.submit_order(order("m1", Side.BUY, OrderType.MARKET, 1))
    r.run(T0 + 100 * MS)
    (fill,) = [x for x in r.reports("m1") if x.fill_lots]
    assert fill.fill_ticks == P + 10  # the book of +10 ms: after the +5 ms change, before +15 ms
    assert (fill.ts_event, fill.ts_recv) == (T0 + 10 * MS, T0 + 15 * MS)


def test_the_fill_report_reaches_the_bus_response_latency_after_the_fill():
    r = Rig(ConstantLatency(10 * MS, 5 * MS))
    r.book({P - 10: 2}, {P: 10})
    r.gw.submit_order(order("p1", Side.BUY, OrderType.LIMIT, 1, P - 10))
    t_fill = T0 + 40 * MS
    r.at(t_fill, lambda: r.m.on_trade(P - 10, 3, ASK, 77, t_fill))
    r.run(t_fill + 4 * MS)
    assert [x for x in r.reports("p1") if x.fill_lots] == []  # still on its way
    r.run(t_fill + 5 * MS)
    (fill,) = [x for x in r.reports("p1") if x.fill_lots]
    assert (fill.ts_event, fill.ts_recv, fill.trade_id) == (t_fill, t_fill + 5 * MS, 1)


def test_answers_keep_the_order_of_one_connection():
    r = Rig(ConstantLatency(10 * MS, 5 * MS))
    r.book({P - 10: 5}, {P: 10})
    r.gw.submit_order(order("a", Side.BUY, OrderType.LIMIT, 1, P - 10))
    r.gw.cancel_order(INST, "a")
    r.run(T0 + 100 * MS)
    got = [(x.source, x.state, x.ts_recv) for x in r.reports("a")]
    assert got == [
        (ReportSource.ACK, None, T0 + 15 * MS),
        (ReportSource.PUSH, OrderState.LIVE, T0 + 15 * MS),
        (ReportSource.ACK, None, T0 + 15 * MS),
        (ReportSource.PUSH, OrderState.CANCELED, T0 + 15 * MS),
    ]


def test_position_request_is_answered_with_exchange_positions_and_a_trade_id_watermark():
    r = Rig()
    r.book({P - 10: 500}, {P: 500})
    r.gw.submit_order(order("l", Side.BUY, OrderType.MARKET, 30))
    r.run(T0 + 20 * MS)
    r.gw.request_positions("sync1", INST)
    r.run(T0 + 100 * MS)
    (pu,) = [e for e in r.seen if isinstance(e, PositionUpdate)]
    assert (pu.lots, pu.avg_px, pu.source, pu.req_id, pu.snapshot_end, pu.watermark) == (
        30,
        60000.0,
        PositionSource.EXCHANGE,
        "sync1",
        True,
        1,
    )
    assert (pu.ts_event, pu.ts_recv) == (T0 + 30 * MS, T0 + 35 * MS)


def test_a_flat_account_answers_one_flat_snapshot_end():
    r = Rig()
    r.gw.request_positions("s", INST)
    r.gw.request_balance("b")
    r.run(T0 + 100 * MS)
    pu = [e for e in r.seen if isinstance(e, PositionUpdate)]
    assert [(p.inst_id, p.lots, p.snapshot_end, p.watermark) for p in pu] == [(INST, 0, True, None)]
    (acc,) = [e for e in r.seen if isinstance(e, AccountUpdate)]
    assert (acc.equity, acc.balance, acc.available, acc.req_id) == (100_000.0, 100_000.0, 100_000.0, "b")


def test_queries_come_back_as_order_reports_with_their_request_id():
    r = Rig()
    r.book({P - 10: 5}, {P: 10})
    r.gw.submit_order(order("q", Side.BUY, OrderType.LIMIT, 1, P - 10))
    r.run(T0 + 20 * MS)
    r.gw.request_order_status("s1", INST, "q", None)
    r.gw.request_open_orders("o1", INST)
    r.gw.request_fills("f1", INST, None)
    r.run(T0 + 100 * MS)
    q = [(x.req_id, x.cl_ord_id, x.state, x.snapshot_end) for x in r.reports() if x.source is ReportSource.QUERY]
    assert q == [("s1", "q", OrderState.LIVE, True), ("o1", "q", OrderState.LIVE, True), ("f1", "", None, True)]


# -- faults ---------------------------------------------------------------------------------------


def _market_fill(r: Rig, cl: str = "m") -> None:
    r.book({P - 10: 50}, {P: 50})
    r.gw.submit_order(order(cl, Side.BUY, OrderType.MARKET, 2))
    r.run(T0 + 100 * MS)


def test_duplicate_fill_fault_delivers_the_same_fill_twice():
    r = Rig(faults=FaultPlan([DuplicateFill(nth=1, delay_ns=3 * MS)]))
    _market_fill(r)
    f = [x for x in r.reports("m") if x.fill_lots]
    assert [(x.trade_id, x.ts_recv) for x in f] == [(1, T0 + 15 * MS), (1, T0 + 18 * MS)]
    assert r.gw.faults is not None and r.gw.faults.applied == ["duplicate fill m trade 1"]


def test_fill_before_ack_fault_delivers_the_ack_after_the_first_fill():
    r = Rig(faults=FaultPlan([FillBeforeAck(nth=1)]))
    _market_fill(r)
    assert [(x.source, x.state) for x in r.reports("m")] == [
        (ReportSource.PUSH, OrderState.LIVE),
        (ReportSource.PUSH, OrderState.FILLED),
        (ReportSource.ACK, None),
    ]


def test_lose_ack_fault_drops_the_placement_ack_but_not_the_pushes():
    r = Rig(faults=FaultPlan([LoseAck(nth=2)]))
    r.book({P - 10: 50}, {P: 50})
    r.gw.submit_order(order("a", Side.BUY, OrderType.LIMIT, 1, P - 20))
    r.gw.submit_order(order("b", Side.BUY, OrderType.LIMIT, 1, P - 20))
    r.run(T0 + 100 * MS)
    assert [x.source for x in r.reports("a")] == [ReportSource.ACK, ReportSource.PUSH]
    assert [x.source for x in r.reports("b")] == [ReportSource.PUSH]


def test_delay_fault_shifts_responses_in_its_window_and_keeps_their_order():
    r = Rig(faults=FaultPlan([DelayResponses(T0, T0 + 12 * MS, extra_ns=50 * MS)]))
    _market_fill(r)
    assert [x.ts_recv for x in r.reports("m")] == [T0 + 65 * MS] * 3  # emitted at +10 ms, +5 + 50
    assert [(x.source, x.state) for x in r.reports("m")] == [
        (ReportSource.ACK, None),
        (ReportSource.PUSH, OrderState.LIVE),
        (ReportSource.PUSH, OrderState.FILLED),
    ]


def test_reorder_fault_lets_a_later_report_overtake_an_earlier_one():
    r = Rig(faults=FaultPlan([ReorderResponse(nth=2, delay_ns=1 * MS)]))
    _market_fill(r)
    assert [(x.source, x.state, x.ts_recv) for x in r.reports("m")] == [
        (ReportSource.ACK, None, T0 + 15 * MS),
        (ReportSource.PUSH, OrderState.FILLED, T0 + 15 * MS),
        (ReportSource.PUSH, OrderState.LIVE, T0 + 16 * MS),
    ]


def test_ghost_order_fault_plants_a_foreign_live_order_the_queries_list():
    plan = FaultPlan([GhostOrder(T0 + 30 * MS, INST, Side.SELL, P + 100, 3, cl_ord_id="ghost7")])
    r = Rig(faults=plan)
    r.book({P - 10: 50}, {P: 50})
    r.run(T0 + 40 * MS)
    (push,) = r.reports("ghost7")
    assert (push.source, push.state, push.side, push.price_ticks, push.ts_recv) == (
        ReportSource.PUSH,
        OrderState.LIVE,
        Side.SELL,
        P + 100,
        T0 + 35 * MS,
    )
    r.gw.request_open_orders("o", INST)
    r.run(T0 + 100 * MS)
    assert [x.cl_ord_id for x in r.reports() if x.req_id == "o"] == ["ghost7"]


def test_shift_position_fault_changes_the_exchange_position_without_a_fill():
    r = Rig(faults=FaultPlan([ShiftPosition(T0 + 30 * MS, INST, 7)]))
    r.book({P - 10: 50}, {P + 10: 50})
    r.gw.request_positions("s", INST)
    r.run(T0 + 40 * MS)
    r.gw.request_positions("t", INST)
    r.run(T0 + 100 * MS)
    pu = [(e.req_id, e.lots, e.avg_px) for e in r.seen if isinstance(e, PositionUpdate)]
    assert pu == [("s", 0, 0.0), ("t", 7, 60000.0)]  # opened at the mid
    assert r.reports() == []


def test_probabilistic_faults_are_drawn_from_the_plans_seed():
    def run(seed: int) -> list[tuple[int | None, int]]:
        r = Rig(faults=FaultPlan([DuplicateFill(probability=0.5)], seed=seed))
        r.book({P - 10: 500}, {P + i: 1 for i in range(40)})
        r.gw.submit_order(order("m", Side.BUY, OrderType.MARKET, 40))
        r.run(T0 + 100 * MS)
        return [(x.trade_id, x.ts_recv) for x in r.reports("m") if x.fill_lots]

    a, b = run(5), run(5)
    assert a == b
    assert 40 < len(a) < 80  # some fills, not all, were duplicated
    assert run(6) != a


# -- determinism ---------------------------------------------------------------------------------


def _scenario(seed: int) -> list[tuple[object, ...]]:
    r = Rig(LogNormalLatency(seed, entry_median_ns=8 * MS, response_median_ns=4 * MS, sigma=0.6))
    r.book({P - 10: 5, P - 20: 8}, {P: 6, P + 10: 9})
    for i in range(6):
        r.at(
            T0 + i * 7 * MS,
            lambda i=i: r.gw.submit_order(order(f"b{i}", Side.BUY, OrderType.LIMIT, 2, P - 10 - 10 * (i % 2))),
        )
        r.at(T0 + i * 7 * MS + 3 * MS, lambda i=i: r.m.on_trade(P - 10, 4, ASK, 1000 + i, T0 + i * 7 * MS + 3 * MS))
    r.at(T0 + 20 * MS, lambda: r.gw.submit_order(order("mk", Side.SELL, OrderType.MARKET, 3)))
    r.at(T0 + 25 * MS, lambda: r.m.apply_level(BID, P - 10, 1, T0 + 25 * MS))
    r.run(T0 + 500 * MS)
    return [
        (x.cl_ord_id, x.source.value, x.state, x.ts_event, x.ts_recv, x.trade_id, x.fill_lots, x.acc_fill_lots)
        for x in r.reports()
    ]


def test_same_inputs_and_seed_give_the_same_report_sequence():
    a = _scenario(11)
    assert len(a) >= 20
    assert any(x[5] is not None for x in a)  # fills happened
    assert _scenario(11) == a
    assert _scenario(12) != a
