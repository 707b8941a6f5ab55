"""PositionManager: the shadow ledger of net positions and its periodic reconciliation.

Owns: the net position per instrument built from ORDER_FILLED (``Position``, exact), the highest
trade id applied, the periodic sync (positions and open orders, with a request id each), the
comparison of the exchange's snapshot with the ledger and the adoption rules of DESIGN.md §4
(adopt only from a snapshot whose trade-id watermark covers every fill applied while no order of
the instrument is in flight, or when the same mismatch shows on two consecutive syncs), the exact
watermark of a flat snapshot (the instrument's newest fill id asked just before the positions
request and just after its answer: equal ids are the watermark, different ones mean a fill landed
in between and that sync adopts nothing), the POSITION_UPDATE (LEDGER) stream, ghost-order
protection when a position goes flat, and the sync backoff (1, 2, 4, … 60 s) with the circuit
breaker after repeated failures.
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
from athena.core.events import ErrorEvent, EventType, OrderFilled, OrderReport, PositionSource, PositionUpdate
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
class _FlatCheck:
    """The exact watermark of one instrument's flat snapshot (OKX sends no record, so no trade id):
    the newest fill id answered by a fills query sent just before the positions request and by one
    sent just after its answer. ``None`` in ``before``/``after`` is an answer with no fill."""

    inst_id: str
    before_req: str
    after_req: str = ""
    before: int | None = None
    after: int | None = None
    answered: set[str] = field(default_factory=set)
    failed: bool = False
    ledger: int | None = None  # ledger lots when the positions answer showed the instrument flat
    ts_event: int = 0

    @property
    def settled(self) -> bool:
        return self.failed or (bool(self.after_req) and {self.before_req, self.after_req} <= self.answered)

    @property
    def exact(self) -> bool:
        """Both answered with the same newest fill: no fill landed around the positions snapshot."""
        return not self.failed and self.settled and self.before == self.after

    @property
    def moved(self) -> bool:
        """Both answered but with different newest fills: a fill landed between them."""
        return not self.failed and self.settled and self.before != self.after


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
        self._checks: dict[str, _FlatCheck] = {}  # by instrument, for the latest sync only
        self._check_reqs: dict[str, _FlatCheck] = {}  # by fills request id
        orders.position_source = self.lots

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        self._bus.subscribe(EventType.ORDER_FILLED, self._on_fill, Priority.POSITIONS)
        self._bus.subscribe(EventType.POSITION_UPDATE, self._on_position, Priority.POSITIONS)
        self._bus.subscribe(EventType.ERROR, self._on_error, Priority.POSITIONS)
        self._bus.subscribe(EventType.ORDER_REPORT, self._on_report, Priority.POSITIONS)
        self._arm(self._sync_ns)

    def stop(self) -> None:
        self._bus.unsubscribe(EventType.ORDER_FILLED, self._on_fill)
        self._bus.unsubscribe(EventType.POSITION_UPDATE, self._on_position)
        self._bus.unsubscribe(EventType.ERROR, self._on_error)
        self._bus.unsubscribe(EventType.ORDER_REPORT, self._on_report)
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
        self._start_checks()
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
        c = self._check_reqs.pop(ev.source, None)
        if c is not None:
            c.failed = True
            self._maybe_decide(c)
            return
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
            check = self._checks.get(inst)
            if ex_lots == ledger:
                self._last_mismatch.pop(inst, None)
            elif rec is None and check is not None:
                self._ask_after(check, ledger, ts_event)  # decided when both fills answers are in
                continue
            else:
                self._mismatch(inst, ledger, ex_lots, rec, ts_event)
            if self.lots(inst) == 0:
                self._orders.sweep_flat(inst, self._flat_seq.get(inst, 0))

    def _mismatch(
        self,
        inst: str,
        ledger: int,
        ex_lots: int,
        rec: PositionUpdate | None,
        ts_event: int,
        flat: _FlatCheck | None = None,
    ) -> None:
        wm = rec.watermark if rec is not None else None
        fills_note = ""
        if flat is not None:
            wm = flat.before if flat.exact else None
            answers = "unanswered" if flat.failed else f"{flat.before} before, {flat.after} after"
            fills_note = f"; newest fill around the positions request: {answers}"
        moved = flat is not None and flat.moved
        highest = self.highest_trade_id.get(inst)
        covers = wm is not None and (highest is None or wm >= highest)
        in_flight = self._orders.in_flight(inst)
        repeated = self._last_mismatch.get(inst) == (ledger, ex_lots)
        # A fill between the two fills queries makes the flat snapshot's place among the fills
        # unknown: adopting it could count that fill twice or wipe it, so that sync adopts nothing.
        adopt = not moved and ((covers and not in_flight) or repeated)
        now = self._clock.now_ns()
        self.mismatches.append(Mismatch(now, inst, ledger, ex_lots, wm, highest, adopt))
        if adopt:
            fresh = covers and not in_flight
            why = "snapshot covers every fill" if fresh else "same mismatch on two syncs"
            outcome = f"adopted the exchange's position ({why})"
        else:
            if moved:
                why = "a fill landed between the fills queries"
            elif in_flight:
                why = "an order is in flight"
            else:
                why = "snapshot older than the fills applied"
            outcome = f"not adopted yet ({why})"
        self._bus.publish(
            ErrorEvent(
                "PositionManager",
                f"{inst}: ledger {ledger} lots, exchange {ex_lots} lots (snapshot watermark {wm},"
                f" highest trade applied {highest}{fills_note}); {outcome}",
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

    # -- the exact watermark of a flat snapshot ---------------------------------------------------

    def _start_checks(self) -> None:
        """Before the positions request: ask the newest fill of every instrument the ledger holds."""
        for c in list(self._checks.values()):
            # The previous sync's answers did not all come: decide without an exact watermark.
            self._maybe_decide(c, give_up=True)
        self._checks.clear()
        self._check_reqs.clear()
        for inst, p in sorted(self.positions.items()):
            if p.lots:
                c = _FlatCheck(inst, self._orders.ids.new_req())
                self._checks[inst] = self._check_reqs[c.before_req] = c
                self._gw.request_fills(c.before_req, inst)

    def _ask_after(self, c: _FlatCheck, ledger: int, ts_event: int) -> None:
        """Just after the positions answer showed ``c``'s instrument flat: ask its newest fill again."""
        c.ledger = ledger
        c.ts_event = ts_event
        c.after_req = self._orders.ids.new_req()
        self._check_reqs[c.after_req] = c
        self._gw.request_fills(c.after_req, c.inst_id)

    def _on_report(self, r: OrderReport) -> None:
        c = self._check_reqs.get(r.req_id) if r.req_id else None
        if c is None:
            return
        if r.trade_id is not None:
            tid = int(r.trade_id)
            if r.req_id == c.before_req:
                c.before = tid if c.before is None else max(c.before, tid)
            else:
                c.after = tid if c.after is None else max(c.after, tid)
        if r.snapshot_end:
            del self._check_reqs[r.req_id]
            c.answered.add(r.req_id)
            self._maybe_decide(c)

    def _maybe_decide(self, c: _FlatCheck, *, give_up: bool = False) -> None:
        if c.ledger is None or self._checks.get(c.inst_id) is not c:
            return  # the positions answer has not shown it flat (yet), or it was decided
        if give_up and not c.settled:
            c.failed = True
        if not c.settled:
            return
        del self._checks[c.inst_id]
        if self.lots(c.inst_id) != c.ledger:
            return  # a fill moved the ledger since the snapshot: the next sync compares afresh
        self._mismatch(c.inst_id, c.ledger, 0, None, c.ts_event, c)
        if self.lots(c.inst_id) == 0:
            self._orders.sweep_flat(c.inst_id, self._flat_seq.get(c.inst_id, 0))
