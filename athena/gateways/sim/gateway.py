"""SimGateway: the BaseGateway of a backtest, over a SimExchange, with latency and faults.

Owns: the two timelines of DESIGN.md §6 for commands and answers. A command returns at once: the
gateway publishes ORDER_SUBMITTED (local time) for new orders, then schedules the command's arrival
at the exchange at now + entry latency on the SimClock heap. Each report the exchange emits is
scheduled at its ``ts_event`` + response latency and published there as ORDER_REPORT (or FUNDING
for a settlement) with ``ts_recv`` = delivery time. Position and balance requests are answered
with POSITION_UPDATE / ACCOUNT_UPDATE the same way. One connection keeps order: commands arrive,
and answers are delivered, in the order they were sent/emitted (a fault plan may break that on
purpose). An optional seeded ``FaultPlan`` decides what is duplicated, lost, held or delayed, and
its timed faults (ghost order, position shift) are scheduled on the heap when it is built.
Never: touches the exchange except through its command and query methods (and the faults'
hooks), reads the wall clock, or delivers anything synchronously from inside a command.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

from athena.core.bus import EventBus
from athena.core.clock import SimClock
from athena.core.events import (
    AccountUpdate,
    ErrorEvent,
    Event,
    OrderSubmitted,
    PositionSource,
    PositionUpdate,
)
from athena.gateways.base import BaseGateway
from athena.model.enums import Channel
from athena.model.instrument import InstrumentSpec
from athena.model.orders import AlgoOrder, Order
from athena.sim.exchange import SimExchange
from athena.sim.faults import FaultPlan, GhostOrder, ShiftPosition
from athena.sim.latency import LatencyModel

__all__ = ["CommandLog", "SimGateway"]

# (time sent, command name, its arguments in a fixed order) — the determinism fingerprint's input.
CommandLog = Callable[[int, str, tuple[Any, ...]], None]


class SimGateway(BaseGateway):
    """Commands to a SimExchange after entry latency; its answers to the bus after response latency."""

    def __init__(
        self,
        clock: SimClock,
        bus: EventBus,
        exchange: SimExchange,
        latency: LatencyModel,
        faults: FaultPlan | None = None,
        *,
        command_log: CommandLog | None = None,
    ) -> None:
        self.clock = clock
        self.bus = bus
        self.exchange = exchange
        self.latency = latency
        self.faults = faults
        self.command_log = command_log
        self.subscriptions: dict[str, tuple[Channel, ...]] = {}
        self._stopped = False
        self._last_arrival = 0  # commands of one connection arrive in the order they were sent
        self._last_delivery = 0  # and answers come back in the order they were emitted
        exchange.emit = self._on_exchange_event
        # Armed here, not in start(): a composition root that never starts the gateway must not
        # silently lose its fault plan.
        if faults is not None:
            for f in faults.timed():
                clock.schedule(f.at_ns, self._timed_fault, f)

    # -- lifecycle ----------------------------------------------------------------------------

    def start(self) -> None:
        """Nothing to connect in a backtest: the gateway accepts commands from construction."""
        self._stopped = False

    def stop(self) -> None:
        """Refuse commands from now on (each with an ERROR event); answers in flight still arrive."""
        self._stopped = True

    def subscribe(self, inst_id: str, channels: Sequence[Channel]) -> None:
        # The replay streams the catalog to both books; a subscription only records the wish.
        self.subscriptions[inst_id] = tuple(channels)

    def instruments(self) -> dict[str, InstrumentSpec]:
        return dict(self.exchange.specs)

    # -- the two timelines ------------------------------------------------------------------

    def _send(self, name: str, args: tuple[Any, ...], arrive: Callable[[Any], None]) -> None:
        now = self.clock.now_ns()
        if self.command_log is not None:
            self.command_log(now, name, args)
        at = now + self.latency.entry_ns()
        if at < self._last_arrival:
            at = self._last_arrival
        self._last_arrival = at
        self.clock.schedule(at, arrive, args)

    def _on_exchange_event(self, ev: Event) -> None:
        """The exchange emitted a report: schedule its delivery after the response latency."""
        base = ev.ts_event + self.latency.response_ns()
        if self.faults is None:
            self._schedule_delivery(ev, base, 0, True)
            return
        for d in self.faults.route(ev):
            self._schedule_delivery(d.event, base, d.extra_ns, d.in_order)

    def _schedule_delivery(self, ev: Event, base: int, extra: int, in_order: bool) -> None:
        at = base + extra
        if in_order:
            if at < self._last_delivery:
                at = self._last_delivery
            self._last_delivery = at
        self.clock.schedule(at, self._deliver, ev)

    def _deliver(self, ev: Event) -> None:
        ev.ts_recv = self.clock.now_ns()
        self.bus.publish(ev)

    def _answer(self, events: list[Event]) -> None:
        """Answers built at the exchange now (positions, balance) come back after latency too."""
        for ev in events:
            self._on_exchange_event(ev)

    def _timed_fault(self, f: Any) -> None:
        if isinstance(f, GhostOrder):
            self.exchange.plant_foreign_order(f.inst_id, f.side, f.price_ticks, f.size_lots, f.cl_ord_id)
        elif isinstance(f, ShiftPosition):
            self.exchange.shift_position(f.inst_id, f.lots)
        if self.faults is not None:
            self.faults.applied.append(f"{type(f).__name__} {f.inst_id} at {f.at_ns}")

    def _refuse_stopped(self, what: str, req_id: str = "") -> bool:
        """A stopped link refuses at once. A refused request is reported under its request id (the
        OMS matches failed requests by it, DESIGN.md §4); a refused command under the gateway's name."""
        if not self._stopped:
            return False
        now = self.clock.now_ns()
        self.bus.publish(
            ErrorEvent(req_id or "SimGateway", f"{what} refused: the gateway was stopped", now, now,
                       code="gateway_stopped")
        )
        return True

    # -- commands -----------------------------------------------------------------------------

    def submit_order(self, order: Order) -> None:
        if self._refuse_stopped(f"order {order.cl_ord_id}"):
            return
        now = self.clock.now_ns()
        self.bus.publish(OrderSubmitted(order.inst_id, order.cl_ord_id, now, now))
        # The exchange reads a copy: the OMS keeps mutating its own Order while this one travels.
        sent = copy.copy(order)
        args = (
            order.inst_id,
            order.cl_ord_id,
            order.side.value,
            order.ord_type.value,
            order.size_lots,
            order.price_ticks,
            order.reduce_only,
        )
        self._send("order", args, lambda _: self.exchange.place_order(sent))

    def cancel_order(self, inst_id: str, cl_ord_id: str, ord_id: str | None = None) -> None:
        if self._refuse_stopped(f"cancel {cl_ord_id}"):
            return
        self._send(
            "cancel-order",
            (inst_id, cl_ord_id, ord_id),
            lambda _: self.exchange.cancel_order(inst_id, cl_ord_id, ord_id),
        )

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
        if self._refuse_stopped(f"amend {cl_ord_id}"):
            return
        self._send(
            "amend-order",
            (inst_id, cl_ord_id, ord_id, new_price_ticks, new_size_lots, req_id),
            lambda _: self.exchange.amend_order(
                inst_id,
                cl_ord_id,
                ord_id,
                new_price_ticks=new_price_ticks,
                new_size_lots=new_size_lots,
                req_id=req_id,
            ),
        )

    def place_algo_order(self, algo: AlgoOrder) -> None:
        if self._refuse_stopped(f"algo {algo.algo_cl_ord_id}"):
            return
        now = self.clock.now_ns()
        self.bus.publish(OrderSubmitted(algo.inst_id, algo.algo_cl_ord_id, now, now))
        sent = copy.copy(algo)
        args = (
            algo.inst_id,
            algo.algo_cl_ord_id,
            algo.side.value,
            algo.size_lots,
            algo.trigger_ticks,
            algo.order_ticks,
            algo.trigger_px_type.value,
        )
        self._send("order-algo", args, lambda _: self.exchange.place_algo(sent))

    def cancel_algo_order(self, inst_id: str, algo_id: str | None, algo_cl_ord_id: str | None) -> None:
        if self._refuse_stopped(f"cancel algo {algo_cl_ord_id or algo_id}"):
            return
        self._send(
            "cancel-algos",
            (inst_id, algo_id, algo_cl_ord_id),
            lambda _: self.exchange.cancel_algo(inst_id, algo_id, algo_cl_ord_id),
        )

    def close_position(self, inst_id: str, cl_ord_id: str, *, auto_cxl: bool = True) -> None:
        if self._refuse_stopped(f"close-position {cl_ord_id}"):
            return
        now = self.clock.now_ns()
        self.bus.publish(OrderSubmitted(inst_id, cl_ord_id, now, now))
        self._send(
            "close-position",
            (inst_id, cl_ord_id, auto_cxl),
            lambda _: self.exchange.close_position(inst_id, cl_ord_id, auto_cxl=auto_cxl),
        )

    # -- queries ------------------------------------------------------------------------------

    def request_positions(self, req_id: str, inst_id: str | None = None) -> None:
        if self._refuse_stopped(f"positions {req_id}", req_id):
            return
        self._send("positions", (req_id, inst_id), lambda _: self._answer_positions(req_id, inst_id))

    def _answer_positions(self, req_id: str, inst_id: str | None) -> None:
        now = self.clock.now_ns()
        snaps = self.exchange.positions(inst_id)
        out: list[Event] = []
        for i, p in enumerate(snaps):
            out.append(
                PositionUpdate(
                    p.inst_id,
                    p.lots,
                    p.avg_px,
                    PositionSource.EXCHANGE,
                    now,
                    now,
                    req_id=req_id,
                    snapshot_end=i == len(snaps) - 1,
                    watermark=p.last_trade_id,
                )
            )
        if not out:  # OKX returns no record for a flat instrument: one flat event ends the answer
            out.append(
                PositionUpdate(
                    inst_id or "",
                    0,
                    0.0,
                    PositionSource.EXCHANGE,
                    now,
                    now,
                    req_id=req_id,
                    snapshot_end=True,
                    watermark=None,
                )
            )
        self._answer(out)

    def request_balance(self, req_id: str) -> None:
        if self._refuse_stopped(f"balance {req_id}", req_id):
            return
        self._send("balance", (req_id,), lambda _: self._answer_balance(req_id))

    def _answer_balance(self, req_id: str) -> None:
        now = self.clock.now_ns()
        a = self.exchange.account()
        self._answer([AccountUpdate(a.equity, a.balance, a.available, now, now, req_id=req_id)])

    def request_open_orders(self, req_id: str, inst_id: str | None = None) -> None:
        if self._refuse_stopped(f"orders-pending {req_id}", req_id):
            return
        self._send("orders-pending", (req_id, inst_id), lambda _: self.exchange.query_open_orders(req_id, inst_id))

    def request_order_status(self, req_id: str, inst_id: str, cl_ord_id: str | None, ord_id: str | None) -> None:
        if self._refuse_stopped(f"order status {req_id}", req_id):
            return
        self._send(
            "order-status",
            (req_id, inst_id, cl_ord_id, ord_id),
            lambda _: self.exchange.query_order(req_id, inst_id, cl_ord_id, ord_id),
        )

    def request_fills(self, req_id: str, inst_id: str, ord_id: str | None = None) -> None:
        if self._refuse_stopped(f"fills {req_id}", req_id):
            return
        self._send(
            "fills",
            (req_id, inst_id, ord_id),
            lambda _: self.exchange.query_fills(req_id, inst_id, ord_id),
        )

    def describe(self) -> str:
        parts = [self.exchange.describe(), self.latency.describe()]
        if self.faults is not None:
            parts.append(self.faults.describe())
        return "; ".join(parts)
