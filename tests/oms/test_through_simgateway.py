"""The OMS's defences proven through the REAL SimGateway + SimExchange, with the fault plan injecting
each failure (DESIGN.md §4, §6, §6a). Unlike tests/oms/test_orders.py (a fake command port fed with
hand-made reports), every report here is the exchange's own, delivered after latency on one SimClock
heap, and each fault is one entry of SimGateway's ``FaultPlan``.

BTC-USDT-SWAP: tick 0.1 USDT, lot 0.01 contract, ctVal 0.01 BTC, so 1 tick × 1 lot = 1e-5 USDT and
100 lots (1 contract) at 60000.0 (600_000 ticks) are 600 USDT of notional. Entry latency 10 ms,
response latency 5 ms: a command sent at t reaches the exchange at t+10 ms, its answers the bus at
t+15 ms.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import pytest

from athena.book.l2 import L2Book
from athena.core.bus import EventBus, Priority
from athena.core.clock import SimClock
from athena.core.engine import Engine
from athena.core.events import (
    ErrorEvent,
    Event,
    EventType,
    OrderCancelled,
    OrderFilled,
    OrderReport,
    OrderUpdate,
    ReportSource,
)
from athena.core.ports import ASK
from athena.gateways.sim import SimGateway
from athena.model.enums import OrderState, OrderType, RejectReason, Side
from athena.model.instrument import BTC_USDT_SWAP
from athena.model.orders import Order
from athena.oms.capital import CapitalCommander
from athena.oms.orders import OrderManager
from athena.oms.positions import PositionManager
from athena.oms.risk import PreTradeCheck, RiskLimits
from athena.sim.exchange import SimExchange, SimExchangeConfig, SimMarket
from athena.sim.faults import (
    DuplicateFill,
    Fault,
    FaultPlan,
    FillBeforeAck,
    GhostOrder,
    LoseAck,
    ReorderResponse,
    ShiftPosition,
)
from athena.sim.latency import ConstantLatency

BTC = BTC_USDT_SWAP
INST = BTC.inst_id
P = 600_000  # 60000.0
T0 = 1_704_088_800_000_000_000  # 2024-01-01 06:00:00 UTC
MS = 1_000_000
SEC = 1_000_000_000
S = OrderState
_RANK = {S.SUBMITTED: 0, S.LIVE: 1, S.PENDING_CANCEL: 1, S.PARTIALLY_FILLED: 2}


class Rig:
    """Clock, bus, SimExchange behind SimGateway (with a fault plan), the OMS's three parts, and a
    hand-built book of ``depth`` levels a side (``lots`` each): bids P-1.., asks P.. ."""

    def __init__(
        self,
        *faults: Fault,
        seed: int = 0,
        balance: float = 10_000.0,
        order_ttl_s: float = 10.0,
        sync_s: float = 15.0,
        depth: int = 20,
        lots: int = 500,
    ) -> None:
        self.clock = SimClock(T0)
        self.bus = EventBus(self.clock.now_ns)
        self.engine = Engine(self.clock, self.bus)
        self.plan = FaultPlan(faults, seed)
        self.ex = SimExchange(self.clock, [BTC], config=SimExchangeConfig(initial_balance=balance))
        self.m: SimMarket = self.ex.markets[INST]
        self.commands: list[tuple[int, str, tuple[Any, ...]]] = []
        self.gw = SimGateway(
            self.clock,
            self.bus,
            self.ex,
            ConstantLatency(10 * MS, 5 * MS),
            self.plan,
            command_log=lambda t, name, args: self.commands.append((t, name, args)),
        )
        self.placements: list[str] = []  # clOrdIds of placements that reached the exchange
        place = self.ex.place_order

        def counted(order: Order) -> None:
            self.placements.append(order.cl_ord_id)
            place(order)

        self.ex.place_order = counted  # type: ignore[method-assign]
        self.book = L2Book(BTC)
        specs = {INST: BTC}
        self.capital = CapitalCommander(balance, None, leverage=3.0, instruments=specs)
        self.capital.attach(self.bus)
        self.risk = PreTradeCheck(RiskLimits())
        self.om = OrderManager(
            self.clock, self.bus, self.gw, self.capital, self.risk, specs, {INST: self.book}, order_ttl_s=order_ttl_s
        )
        self.pm = PositionManager(self.clock, self.bus, self.gw, self.om, specs, position_sync_s=sync_s)
        self.events: list[Event] = []
        self.bus.tap(self.events.append)
        # (kind, clOrdId, state, filled lots) as a strategy sees them: orders are mutable, so the
        # state is read at dispatch, after the OMS (higher priority) has updated it.
        self.seen: list[tuple[str, str, OrderState, int]] = []
        for et, kind in ((EventType.ORDER_UPDATE, "update"), (EventType.ORDER_FILLED, "filled"),
                         (EventType.ORDER_CANCELLED, "cancelled")):
            self.bus.subscribe(et, self._observer(kind), Priority.OBSERVER)
        self.set_book({P - 1 - i: lots for i in range(depth)}, {P + i: lots for i in range(depth)})
        for c in (self.gw, self.om, self.pm):
            self.engine.add(c)
        self.engine.start()

    def _observer(self, kind: str) -> Callable[[Any], None]:
        def see(ev: OrderUpdate | OrderFilled | OrderCancelled) -> None:
            o = ev.order
            self.seen.append((kind, o.cl_ord_id, o.state, o.filled_lots))

        return see

    def set_book(self, bids: dict[int, int], asks: dict[int, int]) -> None:
        """The same levels on the exchange side and in the local (OMS) book."""
        for b in (self.m.book, self.book):
            b.apply_snapshot(list(bids.items()), list(asks.items()))

    def at(self, t: int, fn: Callable[[], Any]) -> None:
        self.clock.schedule(t, lambda _: fn())

    def run(self, until: int) -> None:
        self.clock.run_due(until)

    def submit(self, side: Side, lots: int, px: int | None = None, **kw: Any) -> Order:
        ord_type = kw.pop("ord_type", OrderType.MARKET if px is None else OrderType.LIMIT)
        return self.om.submit_order("s1", INST, side, ord_type, lots, px, **kw)

    def of(self, cls: type[Event]) -> list[Any]:
        return [e for e in self.events if isinstance(e, cls)]

    def errors(self, code: str) -> list[ErrorEvent]:
        return [e for e in self.of(ErrorEvent) if e.code == code]

    def reports(self, cl: str) -> list[OrderReport]:
        return [e for e in self.of(OrderReport) if e.cl_ord_id == cl]

    def fills(self, cl: str | None = None) -> list[OrderFilled]:
        return [e for e in self.of(OrderFilled) if cl is None or e.order.cl_ord_id == cl]

    def sent(self, name: str) -> list[tuple[int, tuple[Any, ...]]]:
        return [(t, args) for t, n, args in self.commands if n == name]

    def states(self, cl: str) -> list[OrderState]:
        return [s for _, c, s, _ in self.seen if c == cl]


def never_regresses(states: list[OrderState]) -> bool:
    """No state after a terminal one, and the open states never move back down."""
    rank = -1
    for i, s in enumerate(states):
        if s.is_terminal:
            return all(x is s for x in states[i:])
        r = _RANK[s]
        if r < rank and s is not S.PENDING_CANCEL:
            return False
        rank = max(rank, r)
    return True


# -- reconciliation -------------------------------------------------------------------------------


def test_a_duplicated_fill_counts_once_in_the_order_the_ledger_and_the_capital():
    rig = Rig(DuplicateFill(nth=1, delay_ns=3 * MS))
    o = rig.submit(Side.BUY, 100)  # market: takes 100 of the 500 lots at the ask P
    rig.run(T0 + 1 * SEC)
    delivered = [r for r in rig.reports(o.cl_ord_id) if r.fill_lots]
    assert [(r.trade_id, r.fill_lots, r.ts_recv) for r in delivered] == [(1, 100, T0 + 15 * MS), (1, 100, T0 + 18 * MS)]
    assert [(f.fill.trade_id, f.fill.lots, f.fill.ticks) for f in rig.fills()] == [(1, 100, P)]
    assert (o.state, o.filled_lots) == (S.FILLED, 100)
    assert rig.pm.lots(INST) == rig.m.position.lots == 100
    assert rig.capital.book("s1").positions[INST].lots == 100
    # One taker fee: 1 contract × 0.01 × 60000 = 600 USDT × 0.05 % = 0.30 USDT, paid once.
    assert rig.capital.fees() == pytest.approx(-0.3, abs=1e-12)
    assert rig.pm.position(INST).fees == pytest.approx(-0.3, abs=1e-12)
    assert rig.capital.used_margin("s1") == pytest.approx(200.0)  # 600 ÷ 3, not 400
    assert rig.capital.reserved() == 0.0


def test_a_fill_delivered_before_its_ack_and_its_live_push_counts_once_and_never_goes_back_to_live():
    # Report 1 is the placement ack (held until the first fill), report 2 the "live" push (sent
    # 50 ms late, out of order), report 3 the fill: the OMS hears the fill first.
    rig = Rig(FillBeforeAck(nth=1), ReorderResponse(nth=2, delay_ns=50 * MS))
    o = rig.submit(Side.BUY, 100)
    rig.run(T0 + 1 * SEC)
    got = [(r.source, r.state, r.fill_lots, r.ts_recv) for r in rig.reports(o.cl_ord_id)]
    assert got == [
        (ReportSource.PUSH, S.FILLED, 100, T0 + 15 * MS),
        (ReportSource.ACK, None, 0, T0 + 15 * MS),
        (ReportSource.PUSH, S.LIVE, 0, T0 + 65 * MS),
    ]
    assert rig.states(o.cl_ord_id) == [S.FILLED]  # one ORDER_FILLED, and no "live" after it
    assert (o.state, o.filled_lots, len(rig.fills())) == (S.FILLED, 100, 1)
    assert rig.pm.lots(INST) == 100


def test_a_lost_ack_is_resolved_by_the_clordid_status_query_after_the_ttl_and_never_resubmitted():
    # The ack is lost and the "live" push comes 30 s late: for 10 s the OMS hears nothing.
    rig = Rig(LoseAck(nth=1), ReorderResponse(nth=2, delay_ns=30 * SEC))
    o = rig.submit(Side.BUY, 100, P - 50)  # rests: nothing trades there
    rig.run(T0 + 10 * SEC - 1)
    assert (o.state, o.ord_id) == (S.SUBMITTED, "")
    assert rig.sent("order-status") == []
    rig.run(T0 + 11 * SEC)
    ((t, args),) = rig.sent("order-status")
    assert t == T0 + 10 * SEC  # order_ttl_s after the submit
    assert args[1:] == (INST, o.cl_ord_id, None)  # by clOrdId: the OMS has no ordId yet
    assert o.state is S.LIVE and o.ord_id == next(iter(rig.m.orders))
    rig.run(T0 + 60 * SEC)  # the late push and four more syncs: nothing changes
    assert o.state is S.LIVE
    assert rig.placements == [o.cl_ord_id]  # placed once at the exchange
    assert len(rig.sent("order")) == 1
    assert len(rig.m.orders) == 1
    assert rig.plan.applied[0] == f"lose ack {o.cl_ord_id}"
    assert rig.errors("order_vanished") == []


def test_delayed_and_reordered_responses_never_regress_an_orders_state():
    # A resting buy of 300 lots at P-1 behind 500 public lots. Two trades fill it: 600 lots (500
    # public, then 100 of ours: trade 1) and 200 lots (ours: trade 2). The "live" push is sent
    # 300 ms late and the first fill's push 200 ms late, so the OMS sees trade 2 (acc 300) first.
    rig = Rig(ReorderResponse(nth=2, delay_ns=300 * MS), ReorderResponse(nth=3, delay_ns=200 * MS))
    o = rig.submit(Side.BUY, 300, P - 1)
    rig.at(T0 + 50 * MS, lambda: rig.m.on_trade(P - 1, 600, ASK, 9001, T0 + 50 * MS))
    rig.at(T0 + 60 * MS, lambda: rig.m.on_trade(P - 1, 200, ASK, 9002, T0 + 60 * MS))
    rig.run(T0 + 2 * SEC)
    pushes = [(r.state, r.trade_id, r.ts_recv) for r in rig.reports(o.cl_ord_id) if r.source is ReportSource.PUSH]
    assert pushes == [
        (S.FILLED, 2, T0 + 65 * MS),
        (S.PARTIALLY_FILLED, 1, T0 + 255 * MS),
        (S.LIVE, None, T0 + 315 * MS),
    ]
    # Trade 2 is priced from its own push; trade 1 (inside the cumulative jump) from the fills query.
    assert [(f.fill.trade_id, f.fill.lots) for f in rig.fills()] == [(2, 200), (1, 100)]
    assert rig.sent("fills")
    states = rig.states(o.cl_ord_id)
    assert states[0] is S.LIVE and states[-1] is S.FILLED and never_regresses(states)
    assert (o.state, o.filled_lots) == (S.FILLED, 300)
    assert rig.pm.lots(INST) == rig.m.position.lots == 300


# -- syncs: ghosts and position shifts ------------------------------------------------------------


def test_a_ghost_order_planted_on_the_exchange_is_canceled_at_the_next_sync():
    rig = Rig(GhostOrder(at_ns=T0 + 2 * SEC, inst_id=INST, side=Side.BUY, price_ticks=P - 100, size_lots=100))
    rig.run(T0 + 15 * SEC - 1)
    (ghost,) = rig.m.orders.values()
    assert (ghost.cl_ord_id, ghost.remaining) == ("ghost1", 100)
    (unknown,) = rig.errors("unknown_order")  # its live push is reported, not acted on
    assert unknown.ts_recv == T0 + 2 * SEC + 5 * MS
    rig.run(T0 + 16 * SEC)
    # The sync at 15 s: open orders asked, answered at 15.015 s; the cancel reaches it at 15.025 s.
    ((t, args),) = rig.sent("cancel-order")
    assert (t, args) == (T0 + 15 * SEC + 15 * MS, (INST, "ghost1", ghost.ord_id))
    assert rig.m.orders == {}
    assert ghost.state is S.CANCELED
    (err,) = rig.errors("ghost_order")
    assert "'ghost1'" in err.message and "canceled" in err.message
    assert rig.om.ghosts[0].ord_id == ghost.ord_id


def test_a_ghost_is_canceled_at_the_next_sync_even_when_that_answer_comes_late():
    # Reports: 1 our ack, 2 our live push, 3 the ghost's push, 4 the TTL status answer for our
    # quiet order at 10 s; the sync at 15 s lists the ghost (5, newest first) then our order (6,
    # the answer's end). Report 5 comes 1 ms late.
    rig = Rig(
        GhostOrder(at_ns=T0 + 2 * SEC, inst_id=INST, side=Side.BUY, price_ticks=P - 100, size_lots=100),
        ReorderResponse(nth=5, delay_ns=1 * MS),
    )
    ours = rig.submit(Side.BUY, 100, P - 50)
    rig.run(T0 + 16 * SEC)
    assert "reorder ghost1 live +1000000ns" in rig.plan.applied
    assert [o.cl_ord_id for o in rig.m.orders.values()] == [ours.cl_ord_id]


def test_a_position_shift_without_a_watermark_is_adopted_on_the_second_sync_with_both_numbers():
    rig = Rig(ShiftPosition(at_ns=T0 + 2 * SEC, inst_id=INST, lots=300))
    rig.run(T0 + 16 * SEC)
    (first,) = rig.errors("position_mismatch")
    assert "ledger 0 lots, exchange 300 lots" in first.message and "not adopted yet" in first.message
    assert rig.pm.lots(INST) == 0  # one snapshot with no trade id proves nothing yet
    rig.run(T0 + 31 * SEC)
    second = rig.errors("position_mismatch")[1]
    assert "ledger 0 lots, exchange 300 lots" in second.message and "same mismatch on two syncs" in second.message
    assert rig.pm.lots(INST) == rig.m.position.lots == 300
    assert [(m.ledger_lots, m.exchange_lots, m.adopted) for m in rig.pm.mismatches] == [(0, 300, False), (0, 300, True)]
    rig.run(T0 + 46 * SEC)
    assert len(rig.errors("position_mismatch")) == 2  # agreed since


def test_a_position_shift_after_a_fill_is_adopted_at_once_from_a_snapshot_covering_that_fill():
    rig = Rig(ShiftPosition(at_ns=T0 + 2 * SEC, inst_id=INST, lots=300))
    rig.submit(Side.BUY, 100)
    rig.run(T0 + 16 * SEC)
    (err,) = rig.errors("position_mismatch")
    assert "ledger 100 lots, exchange 400 lots (snapshot watermark 1, highest trade applied 1)" in err.message
    assert "adopted the exchange's position (snapshot covers every fill)" in err.message
    assert rig.pm.lots(INST) == 400


# -- the protective stop --------------------------------------------------------------------------


def test_the_protective_stop_is_placed_after_the_entry_fill_and_canceled_when_the_position_goes_flat():
    rig = Rig()
    rig.submit(Side.BUY, 100, tag="entry", stop_ticks=500)
    rig.run(T0 + 1 * SEC)
    (algo,) = rig.m.algos.values()  # resting at the exchange, not just in the OMS
    assert (algo.side, algo.size_lots, algo.trigger_ticks) == (Side.SELL, 100, P - 500)  # filled at P
    stop = rig.om.stop_order(INST)
    assert stop is not None and stop.algo_id == algo.algo_id and stop.reduce_only
    exit_ = rig.submit(Side.SELL, 100, reduce_only=True, tag="exit")
    rig.run(T0 + 2 * SEC)
    assert exit_.state is S.FILLED and rig.pm.lots(INST) == rig.m.position.lots == 0
    assert rig.m.algos == {}
    assert rig.om.stop_order(INST) is None
    ((_, args),) = rig.sent("cancel-algos")
    assert args == (INST, algo.algo_id, algo.algo_cl_ord_id)


# -- sync failures: backoff and the breaker -------------------------------------------------------


def test_syncs_against_a_stopped_gateway_back_off_1_2_4_to_60_s_and_ten_failures_trip_the_breaker():
    rig = Rig()
    rig.submit(Side.BUY, 100)
    rig.at(T0 + 20 * SEC, rig.gw.stop)  # the link goes down after the first (good) sync
    rig.run(T0 + 289 * SEC)
    refused = [(e.ts_recv - T0) // SEC for e in rig.errors("gateway_stopped") if e.message.startswith("positions")]
    # 30: refused at once (answered under its request id), so failure 1; retried 1 s later, then 2, 4, 8 …
    assert refused == [30, 31, 33, 37, 45, 61, 93, 153, 213, 273]
    assert [b - a for a, b in itertools.pairwise(refused)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    failed = [(e.ts_recv - T0) // SEC for e in rig.errors("sync_failed")]
    assert failed == refused
    assert rig.pm.failures == 10
    assert rig.pm.breaker.paused_until_ns == T0 + 333 * SEC  # failure 10 at 273 s pauses entries 60 s
    rig.gw.start()  # the link is back, but the breaker holds new entries until 333 s
    rig.run(T0 + 290 * SEC)
    entry = rig.submit(Side.BUY, 100)
    assert (entry.state, entry.reject_code) == (S.REJECTED, RejectReason.CIRCUIT_BREAKER.value)
    exit_ = rig.submit(Side.SELL, 100, reduce_only=True)  # exits always pass
    rig.run(T0 + 334 * SEC)
    assert exit_.state is S.FILLED and rig.pm.lots(INST) == 0
    # The retry at 333 s is answered: the count starts again from zero and entries pass again.
    assert rig.pm.failures == 0 and rig.pm.syncs_ok == 2  # 15 s and 333 s
    again = rig.submit(Side.BUY, 100)
    assert again.state is S.SUBMITTED


def test_a_sync_refused_by_a_stopped_gateway_is_a_failure_at_once():
    rig = Rig()
    rig.at(T0 + 20 * SEC, rig.gw.stop)
    rig.run(T0 + 30 * SEC)
    assert rig.pm.failures == 1


# -- pre-trade risk -------------------------------------------------------------------------------


def test_the_one_percent_rule_refuses_with_its_reason_code_and_nothing_reaches_the_exchange():
    rig = Rig()  # equity 10 000 USDT: 1 % is 100 USDT
    # 1000 lots (10 contracts, 0.1 BTC) with the stop 10 001 ticks (1000.1 USDT) away: 100.01 USDT.
    o = rig.submit(Side.BUY, 1000, P - 1, stop_ticks=10_001)
    assert (o.state, o.reject_code) == (S.REJECTED, RejectReason.RISK_PER_TRADE.value)
    assert "loss at stop 100.0100 USDT" in o.reject_msg and "= 100.0000" in o.reject_msg
    (upd,) = rig.of(OrderUpdate)
    assert upd.reason is RejectReason.RISK_PER_TRADE
    ok = rig.submit(Side.BUY, 1000, P - 1, stop_ticks=10_000)  # exactly 100.00 USDT: allowed
    rig.run(T0 + 1 * SEC)
    assert rig.placements == [ok.cl_ord_id] and ok.state is S.LIVE


def test_the_leverage_cap_counts_resting_orders_and_refuses_with_its_reason_code():
    rig = Rig()  # 3 × 10 000 = 30 000 USDT; 1 lot at P-1 is 5.99999 USDT
    rest = rig.submit(Side.BUY, 3000, P - 1)
    rig.run(T0 + 1 * SEC)
    assert rest.state is S.LIVE
    # worst long = 3000 resting + 2001 = 5001 lots × 599 999 ticks × 1e-5 = 30 005.95 USDT > 30 000
    o = rig.submit(Side.BUY, 2001, P - 1)
    assert (o.state, o.reject_code) == (S.REJECTED, RejectReason.LEVERAGE_CAP.value)
    assert "worst exposure 5001 lots" in o.reject_msg and "30005.95 USDT" in o.reject_msg
    assert rig.placements == [rest.cl_ord_id]


def test_reduce_only_bypasses_the_cap_and_the_one_percent_rule_and_okx_trims_it_to_the_position():
    rig = Rig()
    rig.submit(Side.BUY, 100)
    rig.run(T0 + 1 * SEC)
    # A sell of 6000 lots: worst short |100 − 6000| = 5900 lots ≈ 35 400 USDT, over the cap …
    plain = rig.submit(Side.SELL, 6000, P - 1)
    assert plain.reject_code == RejectReason.LEVERAGE_CAP.value
    # … and with a stop whose loss is 6000 lots × 10^6 ticks × 1e-5 = 60 000 USDT, far over 1 %.
    exit_ = rig.submit(Side.SELL, 6000, P - 1, reduce_only=True, stop_ticks=1_000_000)
    assert exit_.state is S.SUBMITTED
    rig.run(T0 + 2 * SEC)
    # OKX trims a reduce-only order to the position (amendSource 3): it fills 100 lots and is done.
    assert (exit_.state, exit_.size_lots, exit_.filled_lots) == (S.FILLED, 100, 100)
    assert rig.pm.lots(INST) == rig.m.position.lots == 0
    assert rig.placements[-1] == exit_.cl_ord_id and plain.cl_ord_id not in rig.placements
