"""PositionManager: the shadow ledger of net positions and its periodic reconciliation.

Owns: the net position per instrument built from ORDER_FILLED (``Position``, exact), the highest
trade id applied, the periodic sync (positions and open orders, with a request id each), the
comparison of the exchange's snapshot with the ledger and the adoption rules of DESIGN.md §4
(adopt only from a snapshot whose trade-id watermark covers every fill applied while no order of
the instrument is in flight, or when the same mismatch shows on two consecutive syncs), the
POSITION_UPDATE (LEDGER) stream, ghost-order protection when a position goes flat, and the sync
backoff (1, 2, 4, … 60 s) with the circuit breaker after repeated failures.
Never: sends orders, waits for an answer, reads the wall clock, or applies the size of a fill the
adopted snapshot already covered (its fee and the exchange's ``fillPnl`` are still booked).
Convention with gateways: a request that fails is answered by an ERROR event whose ``source`` is
the request id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction

from athena.core.bus import EventBus, Priority
from athena.core.clock import Clock, TimerFired
from athena.core.events import ErrorEvent, EventType, OrderFilled, PositionSource, PositionUpdate
from athena.core.ports import CommandPort
from athena.model.instrument import InstrumentSpec
from athena.model.position import Position
from athena.oms.orders import OrderManager
from athena.oms.risk import CircuitBreaker

_NS = 1_000_000_000
SYNC_TIMER = "oms.position_sync"


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One sync where the exchange and the ledger disagreed."""

    ts_ns: int
    inst_id: str
    ledger_lots: int
    exchange_lots: int
    watermark: int | None
    highest_applied: int | None
    adopted: bool


@dataclass(slots=True)
class _Sync:
    pos_req: str
    orders_req: str
    sent_ns: int
    records: dict[str, PositionUpdate] = field(default_factory=dict)
    pos_done: bool = False
    orders_done: bool = False


def backoff_s(failures: int, cap_s: float = 60.0) -> float:
    """Delay before the next sync after ``failures`` consecutive failures: 1, 2, 4, … capped."""
    if failures <= 0:
        return 0.0
    return min(cap_s, float(1 << min(failures - 1, 40)))  # a shift, not **: exact and portable


class PositionManager:
    def __init__(
        self,
        clock: Clock,
        bus: EventBus,
        gateway: CommandPort,
        orders: OrderManager,
        instruments: dict[str, InstrumentSpec],
        *,
        breaker: CircuitBreaker | None = None,
        position_sync_s: float = 15.0,
        backoff_max_s: float = 60.0,
        breaker_failures: int = 10,
        breaker_pause_s: float = 60.0,
    ) -> None:
        self._clock = clock
        self._bus = bus
        self._gw = gateway
        self._orders = orders
        self._instruments = dict(instruments)
        self.breaker = breaker if breaker is not None else orders.risk.breaker
        self._sync_ns = int(position_sync_s * _NS)
        self._backoff_max_s = backoff_max_s
        self._breaker_failures = breaker_failures
        self._breaker_pause_ns = int(breaker_pause_s * _NS)
        self.positions: dict[str, Position] = {}
        self.highest_trade_id: dict[str, int] = {}
        self.adopted_watermark: dict[str, int] = {}
        self.adopted_fill_pnl: dict[str, float] = {}  # exchange fillPnl of fills whose size an adoption covered
        self.mismatches: list[Mismatch] = []
        self.failures = 0
        self.syncs_ok = 0
        self._pending: _Sync | None = None
        self._last_mismatch: dict[str, tuple[int, int]] = {}
        self._flat_seq: dict[str, int] = {}
        orders.position_source = self.lots

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        self._bus.subscribe(EventType.ORDER_FILLED, self._on_fill, Priority.POSITIONS)
        self._bus.subscribe(EventType.POSITION_UPDATE, self._on_position, Priority.POSITIONS)
        self._bus.subscribe(EventType.ERROR, self._on_error, Priority.POSITIONS)
        self._arm(self._sync_ns)

    def stop(self) -> None:
        self._bus.unsubscribe(EventType.ORDER_FILLED, self._on_fill)
        self._bus.unsubscribe(EventType.POSITION_UPDATE, self._on_position)
        self._bus.unsubscribe(EventType.ERROR, self._on_error)
        self._clock.cancel_timer(SYNC_TIMER)

    # -- the ledger -------------------------------------------------------------------------------

    def lots(self, inst_id: str) -> int:
        p = self.positions.get(inst_id)
        return 0 if p is None else p.lots

    def position(self, inst_id: str) -> Position:
        p = self.positions.get(inst_id)
        if p is None:
            p = self.positions[inst_id] = Position(inst_id)
        return p

    def _on_fill(self, ev: OrderFilled) -> None:
        f = ev.fill
        p = self.position(f.inst_id)
        before = p.lots
        wm = self.adopted_watermark.get(f.inst_id)
        if wm is not None and f.trade_id <= wm:
            # The adopted snapshot already holds this fill's size; book only its money.
            p.fees += f.fee
            self.adopted_fill_pnl[f.inst_id] = self.adopted_fill_pnl.get(f.inst_id, 0.0) + f.fill_pnl
        else:
            p.apply_fill(f.side, f.ticks, f.lots, f.fee)
            if f.trade_id > self.highest_trade_id.get(f.inst_id, -1):
                self.highest_trade_id[f.inst_id] = f.trade_id
            p.last_trade_id = self.highest_trade_id[f.inst_id]
        self._publish_ledger(f.inst_id, ev.ts_event)
        if before != 0 and p.lots == 0:
            self._went_flat(f.inst_id)

    def _went_flat(self, inst_id: str) -> None:
        # Ghost-order protection: whatever rests for this instrument now can only open exposure
        # nobody asked for (an entry's remainder, an exit with nothing to exit, the stop).
        self._flat_seq[inst_id] = self._orders.last_seq
        self._orders.cancel_all(inst_id)

    def _publish_ledger(self, inst_id: str, ts_event: int) -> None:
        p = self.position(inst_id)
        spec = self._instruments.get(inst_id)
        avg = p.avg_ticks
        avg_px = spec.ticks_to_float(float(avg)) if spec is not None and avg is not None else 0.0
        now = self._clock.now_ns()
        self._bus.publish(
            PositionUpdate(
                inst_id,
                p.lots,
                avg_px,
                PositionSource.LEDGER,
                ts_event,
                now,
                watermark=self.highest_trade_id.get(inst_id),
            )
        )

    # -- sync -------------------------------------------------------------------------------------

    def _arm(self, delay_ns: int) -> None:
        self._clock.set_timer(SYNC_TIMER, self._on_timer, at_ns=self._clock.now_ns() + delay_ns)

    def _on_timer(self, fired: TimerFired) -> None:
        self.sync_now()

    def sync_now(self) -> None:
        """Send one sync (positions + open orders); an unanswered previous one counts as a failure."""
        if self._pending is not None:
            self._fail(self._pending, "no answer before the next sync")
        ids = self._orders.ids
        s = _Sync(ids.new_req(), ids.new_req(), self._clock.now_ns())
        self._pending = s
        self._arm(self._next_delay_ns())
        self._gw.request_positions(s.pos_req)
        self._orders.sync_open_orders(s.orders_req, on_done=self._orders_done)

    def _next_delay_ns(self) -> int:
        if self.failures == 0:
            return self._sync_ns
        return int(backoff_s(self.failures, self._backoff_max_s) * _NS)

    def _fail(self, s: _Sync, why: str) -> None:
        self._pending = None
        self._orders.abandon_request(s.orders_req)
        self.failures += 1
        now = self._clock.now_ns()
        msg = f"position sync failed ({why}); {self.failures} in a row"
        if self.failures >= self._breaker_failures:
            self.breaker.pause(now + self._breaker_pause_ns, msg)
            msg += f"; new entries paused until {now + self._breaker_pause_ns} ns"
        self._bus.publish(ErrorEvent("PositionManager", msg, now, now, code="sync_failed"))

    def _on_error(self, ev: ErrorEvent) -> None:
        s = self._pending
        if s is not None and ev.source in (s.pos_req, s.orders_req):
            self._fail(s, f"{ev.code or 'error'}: {ev.message}")
            self._arm(self._next_delay_ns())

    def _orders_done(self, req_id: str) -> None:
        s = self._pending
        if s is not None and req_id == s.orders_req:
            s.orders_done = True
            self._maybe_done(s)

    def _maybe_done(self, s: _Sync) -> None:
        if s.pos_done and s.orders_done:
            self._pending = None
            self.failures = 0
            self.syncs_ok += 1

    def _on_position(self, ev: PositionUpdate) -> None:
        if ev.source is not PositionSource.EXCHANGE:
            return
        s = self._pending
        if s is None or ev.req_id != s.pos_req:
            return
        if ev.inst_id:
            s.records[ev.inst_id] = ev
        if ev.snapshot_end:
            s.pos_done = True
            self._compare(s, ev.ts_event)
            self._maybe_done(s)

    def _compare(self, s: _Sync, ts_event: int) -> None:
        insts = set(self._instruments) | set(s.records) | {i for i, p in self.positions.items() if p.lots}
        for inst in sorted(insts):
            rec = s.records.get(inst)
            ex_lots = rec.lots if rec is not None else 0  # OKX sends no record for a flat instrument
            ledger = self.lots(inst)
            if ex_lots == ledger:
                self._last_mismatch.pop(inst, None)
            else:
                self._mismatch(inst, ledger, ex_lots, rec, ts_event)
            if self.lots(inst) == 0:
                self._orders.sweep_flat(inst, self._flat_seq.get(inst, 0))

    def _mismatch(self, inst: str, ledger: int, ex_lots: int, rec: PositionUpdate | None, ts_event: int) -> None:
        wm = rec.watermark if rec is not None else None
        highest = self.highest_trade_id.get(inst)
        covers = wm is not None and (highest is None or wm >= highest)
        in_flight = self._orders.in_flight(inst)
        repeated = self._last_mismatch.get(inst) == (ledger, ex_lots)
        adopt = (covers and not in_flight) or repeated
        now = self._clock.now_ns()
        self.mismatches.append(Mismatch(now, inst, ledger, ex_lots, wm, highest, adopt))
        if adopt:
            fresh = covers and not in_flight
            why = "snapshot covers every fill" if fresh else "same mismatch on two syncs"
            outcome = f"adopted the exchange's position ({why})"
        else:
            why = "an order is in flight" if in_flight else "snapshot older than the fills applied"
            outcome = f"not adopted yet ({why})"
        self._bus.publish(
            ErrorEvent(
                "PositionManager",
                f"{inst}: ledger {ledger} lots, exchange {ex_lots} lots (snapshot watermark {wm},"
                f" highest trade applied {highest}); {outcome}",
                ts_event,
                now,
                code="position_mismatch",
            )
        )
        if not adopt:
            self._last_mismatch[inst] = (ledger, ex_lots)
            return
        self._last_mismatch.pop(inst, None)
        p = self.position(inst)
        spec = self._instruments.get(inst)
        avg: Fraction | None = None
        if rec is not None and ex_lots != 0 and spec is not None and rec.avg_px > 0:
            avg = Fraction(Decimal(repr(rec.avg_px))) / Fraction(spec.tick_sz)
        p.reset_to(ex_lots, avg)
        if wm is not None:
            self.adopted_watermark[inst] = max(wm, self.adopted_watermark.get(inst, wm))
            if wm > self.highest_trade_id.get(inst, -1):
                self.highest_trade_id[inst] = wm
            p.last_trade_id = self.highest_trade_id[inst]
        self._publish_ledger(inst, ts_event)
        if ledger != 0 and ex_lots == 0:
            self._went_flat(inst)
