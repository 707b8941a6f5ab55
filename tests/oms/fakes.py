"""Test doubles for the OMS: a CommandPort that records every command, a tiny book, and builders of
OrderReports shaped like the exchange's (cumulative figures, latest fill only)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from athena.core.bus import EventBus, Priority
from athena.core.clock import SimClock
from athena.core.events import EventType, OrderReport, PositionSource, PositionUpdate, ReportSource
from athena.core.ports import NO_ASK, NO_BID
from athena.model.enums import Liquidity, OrderState, OrderType, Side
from athena.model.instrument import InstrumentSpec
from athena.model.orders import AlgoOrder, Order
from athena.oms.capital import CapitalCommander
from athena.oms.orders import GhostPolicy, OrderManager
from athena.oms.positions import PositionManager
from athena.oms.risk import PreTradeCheck, RiskLimits, RiskProfile

INST = "BTC-USDT-SWAP"
# BTC-USDT-SWAP's real figures: tick 0.1 USDT, lot 0.01 contract, ctVal 0.01 BTC.
# So one tick × one lot is 0.1 × 0.01 × 0.01 = 0.00001 USDT, and 1 lot at 60 000 USDT is 6 USDT.
SPEC = InstrumentSpec(
    inst_id=INST, tick_sz=Decimal("0.1"), lot_sz=Decimal("0.01"), min_sz=Decimal("0.01"), ct_val=Decimal("0.01")
)
PX = 600_000  # 60 000.0 USDT in ticks
SEC = 1_000_000_000


class FakePort:
    """A CommandPort that records each command as (name, args), and its time when given a clock;
    it answers nothing by itself."""

    def __init__(self, clock: SimClock | None = None) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []
        self.times: list[int] = []
        self._clock = clock

    def _rec(self, name: str, **kw: Any) -> None:
        self.commands.append((name, kw))
        self.times.append(self._clock.now_ns() if self._clock is not None else 0)

    def times_of(self, name: str) -> list[int]:
        return [t for (n, _), t in zip(self.commands, self.times, strict=True) if n == name]

    def submit_order(self, order: Order) -> None:
        self._rec("submit_order", order=order)

    def cancel_order(self, inst_id: str, cl_ord_id: str, ord_id: str | None = None) -> None:
        self._rec("cancel_order", inst_id=inst_id, cl_ord_id=cl_ord_id, ord_id=ord_id)

    def amend_order(
        self,
        inst_id: str,
        cl_ord_id: str,
        ord_id: str | None = None,
        *,
        new_price_ticks: int | None = None,
        new_size_lots: int | None = None,
        req_id: str = "",
    ) -> None:
        self._rec(
            "amend_order",
            inst_id=inst_id,
            cl_ord_id=cl_ord_id,
            ord_id=ord_id,
            new_price_ticks=new_price_ticks,
            new_size_lots=new_size_lots,
            req_id=req_id,
        )

    def place_algo_order(self, algo: AlgoOrder) -> None:
        self._rec("place_algo_order", algo=algo)

    def cancel_algo_order(self, inst_id: str, algo_id: str | None, algo_cl_ord_id: str | None) -> None:
        self._rec("cancel_algo_order", inst_id=inst_id, algo_id=algo_id, algo_cl_ord_id=algo_cl_ord_id)

    def close_position(self, inst_id: str, cl_ord_id: str, *, auto_cxl: bool = True) -> None:
        self._rec("close_position", inst_id=inst_id, cl_ord_id=cl_ord_id, auto_cxl=auto_cxl)

    def request_positions(self, req_id: str, inst_id: str | None = None) -> None:
        self._rec("request_positions", req_id=req_id, inst_id=inst_id)

    def request_balance(self, req_id: str) -> None:
        self._rec("request_balance", req_id=req_id)

    def request_open_orders(self, req_id: str, inst_id: str | None = None) -> None:
        self._rec("request_open_orders", req_id=req_id, inst_id=inst_id)

    def request_order_status(self, req_id: str, inst_id: str, cl_ord_id: str | None, ord_id: str | None) -> None:
        self._rec("request_order_status", req_id=req_id, inst_id=inst_id, cl_ord_id=cl_ord_id, ord_id=ord_id)

    def request_fills(self, req_id: str, inst_id: str, ord_id: str | None = None) -> None:
        self._rec("request_fills", req_id=req_id, inst_id=inst_id, ord_id=ord_id)

    # -- reading what was sent --------------------------------------------------------------------

    def of(self, name: str) -> list[dict[str, Any]]:
        return [kw for n, kw in self.commands if n == name]

    def last(self, name: str) -> dict[str, Any]:
        found = self.of(name)
        assert found, f"no {name} command was sent; sent: {[n for n, _ in self.commands]}"
        return found[-1]

    def names(self) -> list[str]:
        return [n for n, _ in self.commands]

    def clear(self) -> None:
        self.commands.clear()
        self.times.clear()


class FakeBook:
    """A BookView with only a top of book."""

    def __init__(self, inst_id: str = INST, bid: int = NO_BID, ask: int = NO_ASK) -> None:
        self.inst_id = inst_id
        self.best_bid = bid
        self.best_ask = ask

    def bid_size(self, ticks: int) -> int:
        return 0

    def ask_size(self, ticks: int) -> int:
        return 0

    def depth(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        return [], []

    def mid_ticks(self) -> float | None:
        if self.best_bid == NO_BID or self.best_ask == NO_ASK:
            return None
        return (self.best_bid + self.best_ask) / 2

    def spread_ticks(self) -> int | None:
        return None

    def imbalance(self, n: int) -> float | None:
        return None


@dataclass
class Rig:
    """A real SimClock and EventBus around an OrderManager (+ PositionManager) and a FakePort;
    ``seen`` records every event dispatched, by type."""

    clock: SimClock
    bus: EventBus
    port: FakePort
    capital: CapitalCommander
    risk: PreTradeCheck
    om: OrderManager
    pm: PositionManager | None
    book: FakeBook
    seen: dict[EventType, list[Any]] = field(default_factory=dict)

    def events(self, etype: EventType) -> list[Any]:
        return self.seen.get(etype, [])

    def feed(self, *reports: OrderReport) -> None:
        for r in reports:
            self.bus.publish(r)

    def advance(self, seconds: float) -> None:
        self.clock.run_due(self.clock.now_ns() + int(seconds * SEC))

    def filled_lots_published(self, cl_ord_id: str) -> int:
        return sum(e.fill.lots for e in self.events(EventType.ORDER_FILLED) if e.order.cl_ord_id == cl_ord_id)

    def answer_positions(self, req_id: str, lots: int = 0, avg_px: float = 0.0, watermark: int | None = None) -> None:
        """The exchange's positions answer: one record, or for a flat instrument the empty marker."""
        now = self.clock.now_ns()
        if lots:
            ev = PositionUpdate(
                INST,
                lots,
                avg_px,
                PositionSource.EXCHANGE,
                now,
                now,
                req_id=req_id,
                snapshot_end=True,
                watermark=watermark,
            )
        else:
            ev = PositionUpdate("", 0, 0.0, PositionSource.EXCHANGE, now, now, req_id=req_id, snapshot_end=True)
        self.bus.publish(ev)

    def answer_open_orders(self, req_id: str, *rows: OrderReport) -> None:
        """Rows of the open-orders answer (each given ``req_id``); the last is marked as the end."""
        now = self.clock.now_ns()
        if not rows:
            self.bus.publish(report("", "", None, ReportSource.QUERY, req_id=req_id, snapshot_end=True, ts=now))
            return
        for i, r in enumerate(rows):
            r.req_id = req_id
            r.snapshot_end = i == len(rows) - 1
            self.bus.publish(r)


def make_rig(
    *,
    capital: float = 10_000.0,
    allocations: dict[str, float] | None = None,
    limits: RiskLimits | None = None,
    profiles: dict[str, RiskProfile] | None = None,
    with_positions: bool = True,
    bid: int = PX - 1,
    ask: int = PX + 1,
    ghost_policy: GhostPolicy = GhostPolicy.CANCEL,
    start_ns: int = 1_000 * SEC,
) -> Rig:
    clock = SimClock(start_ns)
    bus = EventBus(clock.now_ns)
    port = FakePort(clock)
    cap = CapitalCommander(capital, allocations, leverage=3.0, instruments={INST: SPEC})
    risk = PreTradeCheck(limits or RiskLimits(max_order_rate=1000, max_open_orders=1000))
    book = FakeBook(bid=bid, ask=ask)
    om = OrderManager(
        clock, bus, port, cap, risk, {INST: SPEC}, {INST: book}, profiles=profiles, ghost_policy=ghost_policy
    )
    pm = PositionManager(clock, bus, port, om, {INST: SPEC}) if with_positions else None
    rig = Rig(clock, bus, port, cap, risk, om, pm, book)

    def record(ev: Any) -> None:
        rig.seen.setdefault(ev.type, []).append(ev)

    for et in EventType:
        bus.subscribe(et, record, Priority.OBSERVER)
    om.start()
    if pm is not None:
        pm.start()
    return rig


def report(
    cl_ord_id: str,
    ord_id: str,
    state: OrderState | None,
    source: ReportSource = ReportSource.PUSH,
    *,
    side: Side | None = Side.BUY,
    size: int = 0,
    acc: int = 0,
    fill_px: int | None = None,
    fill_sz: int = 0,
    trade_id: int | None = None,
    fee: float = 0.0,
    acc_fee: float = 0.0,
    s_code: str = "0",
    s_msg: str = "",
    cancel_source: str = "",
    req_id: str = "",
    snapshot_end: bool = False,
    price: int | None = None,
    ord_type: OrderType | None = OrderType.LIMIT,
    reduce_only: bool = False,
    ts: int = 0,
) -> OrderReport:
    return OrderReport(
        inst_id=INST,
        cl_ord_id=cl_ord_id,
        ord_id=ord_id,
        state=state,
        source=source,
        ts_event=ts,
        ts_recv=ts,
        side=side,
        ord_type=ord_type,
        price_ticks=price,
        size_lots=size,
        acc_fill_lots=acc,
        acc_fee=acc_fee,
        fill_ticks=fill_px,
        fill_lots=fill_sz,
        fill_fee=fee,
        trade_id=trade_id,
        liquidity=Liquidity.MAKER if fill_px is not None else None,
        reduce_only=reduce_only,
        s_code=s_code,
        s_msg=s_msg,
        cancel_source=cancel_source,
        req_id=req_id,
        snapshot_end=snapshot_end,
    )
