"""OrderManager: every order's life, from the pre-trade check to its last fill.

Owns: ``submit_order`` (price from the local book when none is given, pre-trade rules, capital
reserved synchronously before the gateway sees the order), cancel / cancel_all / amend, the one
subscription to ORDER_REPORT and its reconciliation by cumulative figures (a fill counts once
whatever the source or order of arrival: trade ids skip exact repeats, ``accFillSz`` not increased
adds nothing, states never move backwards), the normalized ORDER_UPDATE / ORDER_FILLED /
ORDER_CANCELLED stream, fills requests when a cumulative jump covers several fills, the order TTL
status query, ghost orders found in open-orders answers, the protective conditional stop after an
entry fill (kept at the position's size), the gating of reduce-only exits behind the cancels of the
other pending reduce-only orders (with its close-position fallback), and the kill switch
(DESIGN.md §1, §4, §6a).
Never: waits for an answer, resubmits an order blindly, prices a fill by back-solving from avgPx,
reads the wall clock (time is ``clock.now_ns()``; delays are clock timers), or subscribes to book
events (the books are read-only references handed in by the composition root).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from athena.core.bus import EventBus, Priority
from athena.core.clock import Clock, TimerFired
from athena.core.events import (
    ErrorEvent,
    EventType,
    MarkPriceEvent,
    OrderCancelled,
    OrderFilled,
    OrderReport,
    OrderUpdate,
    PositionSource,
    PositionUpdate,
    ReportSource,
)
from athena.core.ports import NO_ASK, NO_BID, BookView, CommandPort
from athena.model.enums import Liquidity, OrderState, OrderType, RejectReason, Side
from athena.model.instrument import InstrumentSpec
from athena.model.orders import AlgoOrder, AlgoState, Fill, Order
from athena.oms.capital import CapitalCommander
from athena.oms.ids import ClOrdIdFactory
from athena.oms.risk import OrderIntent, PreTradeCheck, RiskContext, RiskProfile

S = OrderState
_NS = 1_000_000_000
_RANK = {S.SUBMITTED: 0, S.LIVE: 1, S.PARTIALLY_FILLED: 2}
_NOT_FOUND = "51603"  # OKX: order does not exist
_CANCEL_PENDING = "51410"  # OKX: a cancel is already pending
_MAX_CANCEL_RETRIES = 3

TAG_ENTRY = "entry"
TAG_STOP_CHILD = "stop_child"
TAG_CLOSE = "close"
TAG_ADOPTED = "adopted"


class GhostPolicy(StrEnum):
    """What to do with an open order on the exchange that the OMS does not know."""

    CANCEL = "cancel"
    ADOPT = "adopt"


@dataclass(slots=True)
class _Track:
    """The OMS's bookkeeping beside one order."""

    order: Order
    key: str  # clOrdId, or "#<ordId>" for an adopted order that has none
    seq: int  # submit order, for "orders placed before the position went flat"
    stop_ticks: int | None = None
    acked: bool = False  # the exchange has confirmed it knows the order
    priced_lots: int = 0  # Σ lots published as ORDER_FILLED
    fills_req: str = ""
    fills_attempts: int = 0
    amend_pending: bool = False
    cancel_wanted: bool = False
    cancel_attempts: int = 0
    held: bool = False  # a reduce-only exit waiting for the cancels of other reduce-only orders


@dataclass(slots=True)
class _StopPlan:
    strategy_id: str
    entry_side: Side
    trigger_ticks: int
    entry_cl_ord_id: str


@dataclass(slots=True)
class _OpenSnap:
    inst_id: str | None
    seq: int
    on_done: Callable[[str], None] | None
    seen: set[str] = field(default_factory=set)


@dataclass(slots=True)
class KillState:
    inst_id: str
    pos_req: str = ""
    seen_lots: int | None = None
    last_flat: bool = False  # the answer to the latest positions request showed flat
    rounds: int = 0
    done: bool = False


class OrderManager:
    """The OMS's order side. ``profiles`` gives each strategy's protective stop distance."""

    def __init__(
        self,
        clock: Clock,
        bus: EventBus,
        gateway: CommandPort,
        capital: CapitalCommander,
        risk: PreTradeCheck,
        instruments: Mapping[str, InstrumentSpec],
        books: Mapping[str, BookView] | None = None,
        *,
        profiles: Mapping[str, RiskProfile] | None = None,
        ids: ClOrdIdFactory | None = None,
        order_ttl_s: float = 10.0,
        fills_retry_s: float = 1.0,
        fills_max_attempts: int = 5,
        kill_retry_s: float = 2.0,
        ghost_policy: GhostPolicy = GhostPolicy.CANCEL,
        exit_confirm_timeout_ms: int = 2000,
    ) -> None:
        self._clock = clock
        self._bus = bus
        self._gw = gateway
        self.capital = capital
        self.risk = risk
        self._instruments = dict(instruments)
        self._books: dict[str, BookView] = dict(books or {})
        self._profiles = dict(profiles or {})
        self.ids = ids or ClOrdIdFactory()
        self._ttl_ns = int(order_ttl_s * _NS)
        self._fills_retry_ns = int(fills_retry_s * _NS)
        self._fills_max = fills_max_attempts
        self._kill_ns = int(kill_retry_s * _NS)
        self._gate_ns = exit_confirm_timeout_ms * 1_000_000
        self.ghost_policy = ghost_policy
        # Set by PositionManager: the ledger's net lots, already updated when a strategy sees a fill.
        self.position_source: Callable[[str], int] | None = None

        self._tracks: dict[str, _Track] = {}
        self._open: dict[str, _Track] = {}
        self._by_ord: dict[str, str] = {}
        self._seq = 0
        self._marks: dict[str, int] = {}
        self._ledger_lots: dict[str, int] = {}
        self._status_reqs: dict[str, str] = {}
        self._fills_reqs: dict[str, str] = {}
        self._open_snaps: dict[str, _OpenSnap] = {}
        self._plans: dict[str, _StopPlan] = {}
        self._stops: dict[str, AlgoOrder] = {}
        self._algos: dict[str, AlgoOrder] = {}  # every stop we placed, by algoClOrdId (its child's clOrdId)
        self._close_ids: dict[str, str] = {}  # close-position clOrdId -> inst_id
        self._close_owner: dict[str, str] = {}  # close-position clOrdId -> strategy whose exit it replaced
        self._held: dict[str, _Track] = {}  # exits held by the reduce-only gate, by clOrdId
        self._kills: dict[str, KillState] = {}
        self._kill_reqs: dict[str, str] = {}
        self._kill_all = False
        self._unknown_seen: set[str] = set()
        self.ghosts: list[OrderReport] = []  # unknown open orders found by syncs (canceled or adopted)

    # -- lifecycle --------------------------------------------------------------------------------

    def start(self) -> None:
        self._bus.subscribe(EventType.ORDER_REPORT, self._on_report, Priority.OMS)
        self._bus.subscribe(EventType.POSITION_UPDATE, self._on_position, Priority.OMS)
        self._bus.subscribe(EventType.MARK_PRICE, self._on_mark, Priority.OMS)
        self._bus.subscribe(EventType.ERROR, self._on_error, Priority.OMS)

    def stop(self) -> None:
        self._bus.unsubscribe(EventType.ORDER_REPORT, self._on_report)
        self._bus.unsubscribe(EventType.POSITION_UPDATE, self._on_position)
        self._bus.unsubscribe(EventType.MARK_PRICE, self._on_mark)
        self._bus.unsubscribe(EventType.ERROR, self._on_error)
        for t in self._tracks.values():
            self._clock.cancel_timer(self._ttl_name(t))
            self._clock.cancel_timer(self._fills_name(t))
        for inst in self._kills:
            self._clock.cancel_timer(self._kill_name(inst))
        for t in self._held.values():
            self._clock.cancel_timer(self._gate_name(t))

    # -- lookups ----------------------------------------------------------------------------------

    def get(self, cl_ord_id: str) -> Order | None:
        t = self._tracks.get(cl_ord_id)
        return t.order if t is not None else None

    def by_ord_id(self, ord_id: str) -> Order | None:
        key = self._by_ord.get(ord_id)
        return self._tracks[key].order if key is not None else None

    def open_orders(self, inst_id: str | None = None) -> list[Order]:
        return [t.order for t in self._open.values() if inst_id is None or t.order.inst_id == inst_id]

    def stop_order(self, inst_id: str) -> AlgoOrder | None:
        """The protective stop currently resting for the instrument."""
        return self._stops.get(inst_id)

    @property
    def last_seq(self) -> int:
        return self._seq

    def position_lots(self, inst_id: str) -> int:
        if self.position_source is not None:
            return self.position_source(inst_id)
        return self._ledger_lots.get(inst_id, 0)

    def unpriced_lots(self, cl_ord_id: str) -> int:
        t = self._tracks.get(cl_ord_id)
        return 0 if t is None else t.order.filled_lots - t.priced_lots

    def in_flight(self, inst_id: str) -> bool:
        """An order of the instrument is open, or has fills the exchange reported that are not yet
        priced and published: a position snapshot may not reflect it."""
        if any(t.order.inst_id == inst_id for t in self._open.values()):
            return True
        return any(t.order.inst_id == inst_id and t.order.filled_lots > t.priced_lots for t in self._tracks.values())

    def is_killed(self, inst_id: str) -> bool:
        return self._kill_all or inst_id in self._kills

    def kill_state(self, inst_id: str) -> KillState | None:
        return self._kills.get(inst_id)

    # -- submit -----------------------------------------------------------------------------------

    def submit_order(
        self,
        strategy_id: str,
        inst_id: str,
        side: Side,
        ord_type: OrderType,
        size_lots: int,
        price_ticks: int | None = None,
        reduce_only: bool = False,
        tag: str = "",
        stop_ticks: int | None = None,
    ) -> Order:
        """Check, reserve and send an order; returns at once. A refusal is an ORDER_UPDATE with
        state REJECTED and Athena's reason code, and nothing is sent.

        A reduce-only exit that would take the instrument's pending reduce-only size (same side,
        OKX trimming each to the position) beyond |position| is *held* (§6a): the returned order is
        SUBMITTED and open (``open_orders``, ``is_held``) but the gateway has not seen it, so no
        ORDER_SUBMITTED is published yet. The other pending reduce-only orders that do not fit are
        canceled (the better-priced ones are kept, as OKX would); the exit is sent once their
        cancels are confirmed and the total fits. After ``exit_confirm_timeout_ms`` without that,
        the held exit ends CANCELED (locally, with an ``exit_gate_timeout`` ERROR) and one
        ``close-position`` + ``autoCxl`` is sent instead, owned by the same strategy. Canceling a
        held exit ends it locally. The protective stop (an algo order) is never touched by this."""
        now = self._clock.now_ns()
        cl = self.ids.new(strategy_id)
        order = Order(
            cl_ord_id=cl,
            inst_id=inst_id,
            side=side,
            ord_type=ord_type,
            size_lots=size_lots,
            price_ticks=price_ticks,
            reduce_only=reduce_only,
            strategy_id=strategy_id,
            tag=tag,
            ts_created=now,
            ts_last=now,
        )
        self._seq += 1
        t = _Track(order, cl, self._seq)
        self._tracks[cl] = t
        spec = self._instruments.get(inst_id)
        if spec is None:
            return self._refuse(t, RejectReason.INVALID, f"unknown instrument {inst_id}")
        if self.is_killed(inst_id):
            return self._refuse(t, RejectReason.KILL_SWITCH, f"kill switch engaged for {inst_id}")
        if size_lots < spec.min_lots:
            return self._refuse(t, RejectReason.INVALID, f"size {size_lots} lots below the minimum {spec.min_lots}")
        if ord_type is OrderType.MARKET:
            order.price_ticks = None
            value_ticks = self._touch(inst_id, side)
            if value_ticks is None:
                mark = self._marks.get(inst_id)
                value_ticks = mark
            if value_ticks is None and not reduce_only:
                return self._refuse(t, RejectReason.NO_PRICE, f"no {inst_id} price to value a market order at")
        else:
            if price_ticks is None:
                price_ticks = self._touch(inst_id, side)
                if price_ticks is None:
                    opp = "ask" if side is Side.BUY else "bid"
                    return self._refuse(t, RejectReason.NO_PRICE, f"no price given and no best {opp} in the book")
                order.price_ticks = price_ticks
            elif price_ticks <= 0:
                return self._refuse(t, RejectReason.INVALID, f"price {price_ticks} ticks is not positive")
            value_ticks = price_ticks
        if stop_ticks is None and not reduce_only:
            profile = self._profiles.get(strategy_id)
            if profile is not None:
                stop_ticks = profile.stop_distance(value_ticks)
        t.stop_ticks = stop_ticks
        intent = OrderIntent(strategy_id, inst_id, side, ord_type, size_lots, value_ticks, reduce_only, stop_ticks)
        ctx = self._context(spec, now)
        reason = self.risk.check(intent, ctx)
        if reason is not None:
            return self._refuse(t, reason, self.risk.last_detail)
        if not reduce_only:
            assert value_ticks is not None  # a priceless non-reduce-only order was refused above
            refused = self.capital.reserve(strategy_id, cl, spec, value_ticks, size_lots)
            if refused is not None:
                need = self.capital.margin(spec, value_ticks, size_lots)
                free = self.capital.free(strategy_id)
                return self._refuse(
                    t, refused, f"needs {need:.4f} USDT initial margin, {free:.4f} free in {strategy_id!r}'s allocation"
                )
        self.risk.on_sent(intent, ctx)
        order.transition(S.SUBMITTED)
        self._open[cl] = t
        if reduce_only and not self._exit_fits(t, cancel=True):
            t.held = True
            self._held[cl] = t
            self._clock.set_timer(self._gate_name(t), self._on_gate_timeout, at_ns=now + self._gate_ns)
            return order
        self._arm_ttl(t)
        self._gw.submit_order(order)
        return order

    # -- the reduce-only exit gate (§6a) ----------------------------------------------------------

    def is_held(self, cl_ord_id: str) -> bool:
        """The exit is held by the reduce-only gate: open here, not sent to the exchange yet."""
        return cl_ord_id in self._held

    def _exit_fits(self, t: _Track, *, cancel: bool) -> bool:
        """True when the exit plus the other pending reduce-only orders of its side fit in
        |position|. With ``cancel``, the others that do not fit (worst-priced first, OKX's rule) get
        a cancel unless one is already on its way; a close-position or a stop's child is never
        canceled here, only waited for."""
        o = t.order
        room = abs(self.position_lots(o.inst_id))
        others = [
            x
            for x in self._open.values()
            if x is not t and x.order.inst_id == o.inst_id and x.order.reduce_only and x.order.side is o.side
        ]
        if not others:
            return True  # alone: OKX at most trims it to the position (amendSource 3)
        # OKX trims each reduce-only order to the position on placement: none counts for more.
        mine = min(o.remaining_lots, room)
        total = sum(min(x.order.remaining_lots, room) for x in others)
        if total + mine <= room:
            return True
        if cancel:
            fixed = [x for x in others if x.order.tag in (TAG_CLOSE, TAG_STOP_CHILD)]
            free = room - mine - sum(min(x.order.remaining_lots, room) for x in fixed)
            movable = sorted(
                (x for x in others if x.order.tag not in (TAG_CLOSE, TAG_STOP_CHILD) and not x.cancel_wanted),
                key=lambda x: self._goodness(x.order),
                reverse=True,
            )
            for x in movable:
                if x.order.remaining_lots <= free:
                    free -= x.order.remaining_lots
                else:
                    self._send_cancel(x)
        return False

    @staticmethod
    def _goodness(o: Order) -> float:
        if o.price_ticks is None:
            return float("-inf")
        return float(o.price_ticks if o.side is Side.SELL else -o.price_ticks)

    def _release_held(self, inst_id: str) -> None:
        """Send each held exit of the instrument whose gate is now satisfied (cancels confirmed)."""
        for t in [t for t in self._held.values() if t.order.inst_id == inst_id]:
            if self._exit_fits(t, cancel=False):
                del self._held[t.key]
                t.held = False
                self._clock.cancel_timer(self._gate_name(t))
                self._arm_ttl(t)
                self._gw.submit_order(t.order)

    @staticmethod
    def _gate_name(t: _Track) -> str:
        return f"oms.gate.{t.key}"

    def _on_gate_timeout(self, fired: TimerFired) -> None:
        t = self._held.get(fired.name[len("oms.gate.") :])
        if t is None:
            return
        o = t.order
        self._drop_held(t)
        cl = self._close_position(o.inst_id, o.strategy_id)
        self._error(
            "exit_gate_timeout",
            f"{o.inst_id} {o.cl_ord_id}: the other reduce-only orders were not confirmed canceled within"
            f" {self._gate_ns // 1_000_000} ms; exit replaced by close-position {cl} with autoCxl",
            0,
        )

    def _drop_held(self, t: _Track) -> None:
        """End a held (never sent) exit locally: CANCELED, nothing to ask the exchange."""
        self._held.pop(t.key, None)
        t.held = False
        self._clock.cancel_timer(self._gate_name(t))
        o = t.order
        o.transition(S.CANCELED)
        self._terminal(t)
        now = self._clock.now_ns()
        self._bus.publish(OrderCancelled(o, now, now))

    def _refuse(self, t: _Track, reason: RejectReason, detail: str) -> Order:
        o = t.order
        o.transition(S.REJECTED)
        o.reject_code = reason.value
        o.reject_msg = detail
        now = self._clock.now_ns()
        self._bus.publish(OrderUpdate(o, now, now, reason=reason, s_msg=detail))
        return o

    def _touch(self, inst_id: str, side: Side) -> int | None:
        """Best opposite price of the local book: a buy is valued at the ask, a sell at the bid."""
        book = self._books.get(inst_id)
        if book is None:
            return None
        if side is Side.BUY:
            a = book.best_ask
            return a if a != NO_ASK else None
        b = book.best_bid
        return b if b != NO_BID else None

    def _ref_ticks(self, inst_id: str) -> float | None:
        mark = self._marks.get(inst_id)
        if mark is not None:
            return float(mark)
        book = self._books.get(inst_id)
        return book.mid_ticks() if book is not None else None

    def _context(self, spec: InstrumentSpec, now: int) -> RiskContext:
        inst = spec.inst_id
        buys = sells = 0
        for t in self._open.values():
            o = t.order
            if o.inst_id == inst:
                if o.side is Side.BUY:
                    buys += o.remaining_lots
                else:
                    sells += o.remaining_lots
        equity = self.capital.equity()
        return RiskContext(
            spec=spec,
            now_ns=now,
            equity=equity,
            peak_equity=max(self.capital.peak_equity, equity),
            position_lots=self.position_lots(inst),
            open_buy_lots=buys,
            open_sell_lots=sells,
            open_orders=len(self._open),
            ref_ticks=self._ref_ticks(inst),
        )

    # -- cancel / amend ---------------------------------------------------------------------------

    def cancel_order(self, cl_ord_id: str) -> bool:
        """Ask the exchange to cancel; False when the order is unknown or already ended."""
        t = self._tracks.get(cl_ord_id)
        if t is None or not t.order.is_open:
            return False
        self._send_cancel(t)
        return True

    def _send_cancel(self, t: _Track) -> None:
        if t.held:
            self._drop_held(t)
            return
        o = t.order
        t.cancel_wanted = True
        if o.state is not S.PENDING_CANCEL:
            o.transition(S.PENDING_CANCEL)
        self._gw.cancel_order(o.inst_id, o.cl_ord_id, o.ord_id or None)

    def cancel_all(self, inst_id: str | None = None, *, stops: bool = True) -> int:
        """Cancel every open order (and protective stop) of the instrument, or of all; returns how
        many cancels were sent."""
        n = 0
        for t in list(self._open.values()):
            if (inst_id is None or t.order.inst_id == inst_id) and t.order.tag != TAG_CLOSE:
                self._send_cancel(t)
                n += 1
        if stops:
            for inst in [inst_id] if inst_id is not None else list(self._stops):
                self._plans.pop(inst, None)
                n += self._cancel_stop(inst)
        return n

    def sweep_flat(self, inst_id: str, up_to_seq: int) -> int:
        """Ghost-order protection for a flat instrument: cancel (again) every open order placed up
        to ``up_to_seq`` (when it went flat), every open reduce-only order, and the stop."""
        n = 0
        for t in list(self._open.values()):
            o = t.order
            if o.inst_id == inst_id and o.tag != TAG_CLOSE and (t.seq <= up_to_seq or o.reduce_only):
                self._send_cancel(t)
                n += 1
        self._plans.pop(inst_id, None)
        return n + self._cancel_stop(inst_id)

    def amend_order(
        self, cl_ord_id: str, *, new_price_ticks: int | None = None, new_size_lots: int | None = None
    ) -> bool:
        """Ask for a new price and/or total size. An increase of the reservation is checked against
        the allocation first (refused: an ORDER_UPDATE with NO_CAPITAL, the order unchanged)."""
        t = self._tracks.get(cl_ord_id)
        if t is None or not t.order.is_open or t.order.state is S.PENDING_CANCEL or t.held:
            return False
        o = t.order
        if (new_price_ticks is None and new_size_lots is None) or o.ord_type is OrderType.MARKET:
            return False
        if new_size_lots is not None and new_size_lots <= o.filled_lots:
            return False
        px = o.price_ticks if new_price_ticks is None else new_price_ticks
        size = o.size_lots if new_size_lots is None else new_size_lots
        if not o.reduce_only and px is not None and o.price_ticks is not None:
            new_rem = size - o.filled_lots
            if px * new_rem > o.price_ticks * o.remaining_lots:
                refused = self.capital.resize(cl_ord_id, px, new_rem)
                if refused is not None:
                    now = self._clock.now_ns()
                    self._bus.publish(
                        OrderUpdate(o, now, now, reason=refused, s_msg="amend needs more margin than is free")
                    )
                    return False
        t.amend_pending = True
        self._gw.amend_order(
            o.inst_id,
            o.cl_ord_id,
            o.ord_id or None,
            new_price_ticks=new_price_ticks,
            new_size_lots=new_size_lots,
            req_id=self.ids.new_req(),
        )
        return True

    # -- requests ---------------------------------------------------------------------------------

    def sync_open_orders(
        self, req_id: str, inst_id: str | None = None, on_done: Callable[[str], None] | None = None
    ) -> None:
        """Ask for the exchange's open orders; unknown ones are canceled or adopted (``ghost_policy``),
        known open ones missing from the answer are queried by status. ``on_done(req_id)`` runs at
        the answer's end."""
        self._open_snaps[req_id] = _OpenSnap(inst_id, self._seq, on_done)
        self._gw.request_open_orders(req_id, inst_id)

    def abandon_request(self, req_id: str) -> None:
        """Forget a request whose answer will not be waited for (it failed or timed out)."""
        self._open_snaps.pop(req_id, None)

    def _request_fills(self, t: _Track) -> None:
        if t.fills_req:
            return
        req = self.ids.new_req()
        t.fills_req = req
        t.fills_attempts += 1
        self._fills_reqs[req] = t.key
        o = t.order
        # Unanswered within a TTL: the timer drops this request and asks again.
        self._clock.set_timer(self._fills_name(t), self._on_fills_retry, at_ns=self._clock.now_ns() + self._ttl_ns)
        self._gw.request_fills(req, o.inst_id, o.ord_id or None)

    def _request_status(self, t: _Track) -> None:
        req = self.ids.new_req()
        self._status_reqs[req] = t.key
        o = t.order
        self._gw.request_order_status(req, o.inst_id, o.cl_ord_id or None, o.ord_id or None)

    # -- timers -----------------------------------------------------------------------------------

    @staticmethod
    def _ttl_name(t: _Track) -> str:
        return f"oms.ttl.{t.key}"

    @staticmethod
    def _fills_name(t: _Track) -> str:
        return f"oms.fills.{t.key}"

    @staticmethod
    def _kill_name(inst_id: str) -> str:
        return f"oms.kill.{inst_id}"

    def _arm_ttl(self, t: _Track) -> None:
        self._clock.set_timer(self._ttl_name(t), self._on_ttl, at_ns=self._clock.now_ns() + self._ttl_ns)

    def _on_ttl(self, fired: TimerFired) -> None:
        t = self._tracks.get(fired.name[len("oms.ttl.") :])
        if t is None or not t.order.is_open:
            return
        # Silent for a whole TTL (a lost ack or push): ask, by clOrdId so a lost ack is found too.
        self._request_status(t)
        self._arm_ttl(t)

    def _on_fills_retry(self, fired: TimerFired) -> None:
        t = self._tracks.get(fired.name[len("oms.fills.") :])
        if t is None:
            return
        if t.fills_req:  # no answer came: forget it
            self._fills_reqs.pop(t.fills_req, None)
            t.fills_req = ""
        if t.order.filled_lots > t.priced_lots:
            if t.fills_attempts < self._fills_max:
                self._request_fills(t)
            else:
                self._error(
                    "fills_unpriced",
                    f"{t.order.inst_id} {t.order.cl_ord_id}: {t.order.filled_lots - t.priced_lots} filled lots"
                    f" still unpriced after {t.fills_attempts} fills requests",
                    0,
                )

    def _on_error(self, ev: ErrorEvent) -> None:
        """A failed request is answered by an ERROR whose ``source`` is its request id."""
        key = self._fills_reqs.pop(ev.source, None)
        if key is not None:
            t = self._tracks[key]
            t.fills_req = ""
            self._clock.set_timer(
                self._fills_name(t), self._on_fills_retry, at_ns=self._clock.now_ns() + self._fills_retry_ns
            )
            return
        self._status_reqs.pop(ev.source, None)  # the TTL timer asks again

    # -- reports ----------------------------------------------------------------------------------

    def _on_report(self, r: OrderReport) -> None:
        req = r.req_id
        if req:
            snap = self._open_snaps.get(req)
            if snap is not None:
                self._on_open_orders_row(req, snap, r)
                return
            if req in self._fills_reqs:
                self._on_fills_row(req, r)
                return
        algo = self._algos.get(r.cl_ord_id) if r.cl_ord_id else None
        if algo is not None and r.ord_type is None and (not algo.algo_id or r.ord_id in ("", algo.algo_id)):
            self._on_algo_report(algo, r)
            return
        t = self._find(r)
        if t is None:
            t = self._adopt_own(r)
            if t is None:
                if req and r.source is ReportSource.QUERY and req not in self._status_reqs:
                    return  # another component's query (PositionManager's fills watermark): not ours to judge
                self._unknown(r)
                return
        self._reconcile(t, r)
        if self._held:
            self._release_held(t.order.inst_id)

    def _find(self, r: OrderReport) -> _Track | None:
        if r.cl_ord_id:
            t = self._tracks.get(r.cl_ord_id)
            if t is not None:
                return t
        if r.ord_id:
            key = self._by_ord.get(r.ord_id)
            if key is not None:
                return self._tracks[key]
        if r.req_id:
            key = self._status_reqs.get(r.req_id)
            if key is not None:
                return self._tracks.get(key)
        return None

    def _adopt_own(self, r: OrderReport) -> _Track | None:
        """Orders we caused but did not place as orders: a stop's child (reported under the stop's
        algoClOrdId) and a close-position order (under the clOrdId we gave it)."""
        cl = r.cl_ord_id
        algo = self._algos.get(cl)
        if algo is not None:
            o = Order(
                cl_ord_id=cl,
                inst_id=algo.inst_id,
                side=r.side or algo.side,
                ord_type=r.ord_type or OrderType.MARKET,
                size_lots=r.size_lots or algo.size_lots,
                reduce_only=True,
                strategy_id=algo.strategy_id,
                tag=TAG_STOP_CHILD,
            )
            algo.state = AlgoState.TRIGGERED
            if self._stops.get(algo.inst_id) is algo:
                del self._stops[algo.inst_id]
            return self._new_track(o)
        inst = self._close_ids.get(cl)
        if inst is not None:
            lots = self.position_lots(inst)
            side = r.side or (Side.SELL if lots > 0 else Side.BUY)
            o = Order(
                cl_ord_id=cl,
                inst_id=inst,
                side=side,
                ord_type=OrderType.MARKET,
                size_lots=r.size_lots or max(abs(lots), r.acc_fill_lots, 1),
                reduce_only=True,
                strategy_id=self._close_owner.get(cl, "kill"),
                tag=TAG_CLOSE,
            )
            # A refused close-position (51023 when the account is already flat) was never placed:
            # unacked, so the refusal ends it instead of leaving it open forever.
            return self._new_track(o, acked=r.s_code == "0")
        return None

    def _new_track(self, o: Order, key: str | None = None, *, acked: bool = True) -> _Track:
        now = self._clock.now_ns()
        o.ts_created = o.ts_last = now
        o.transition(S.SUBMITTED)
        self._seq += 1
        t = _Track(o, key or o.cl_ord_id, self._seq, acked=acked)
        self._tracks[t.key] = t
        self._open[t.key] = t
        return t

    def _unknown(self, r: OrderReport) -> None:
        ident = r.cl_ord_id or r.ord_id
        if not ident or ident in self._unknown_seen:
            return
        self._unknown_seen.add(ident)
        self._error(
            "unknown_order",
            f"{r.inst_id}: report for an order the OMS does not know (clOrdId {r.cl_ord_id!r}, ordId {r.ord_id!r},"
            f" state {r.state}); the next sync cancels or adopts it",
            r.ts_event,
        )

    def _reconcile(self, t: _Track, r: OrderReport) -> None:
        o = t.order
        if r.ord_id and not o.ord_id:
            o.ord_id = r.ord_id
            self._by_ord[r.ord_id] = t.key
        status_req = self._status_reqs.pop(r.req_id, None) if r.req_id else None
        o.ts_last = self._clock.now_ns()
        if r.s_code != "0":
            self._on_refusal(t, r, status_req is not None)
        else:
            t.acked = True
            amended = self._apply_amend(t, r)
            self._apply_fill_figures(t, r)
            published = self._settle_state(t, r, req_id=r.req_id if status_req is not None else "")
            if (amended or status_req is not None) and not published:
                self._update(o, r, req_id=r.req_id if status_req is not None else "", end=status_req is not None)
            if (
                status_req is not None
                and t.cancel_wanted
                and o.is_open
                and o.state is not S.PENDING_CANCEL
                and t.cancel_attempts < _MAX_CANCEL_RETRIES
            ):
                t.cancel_attempts += 1
                self._send_cancel(t)
        if o.is_open:
            self._arm_ttl(t)

    def _on_refusal(self, t: _Track, r: OrderReport, is_status: bool) -> None:
        """A non-zero sCode: the placement, a cancel or an amend was refused, or a query found nothing."""
        o = t.order
        if o.state.is_terminal:
            return
        code = r.s_code
        if code == _NOT_FOUND and is_status:
            if not t.acked and o.filled_lots == 0:
                # Never reached the exchange: resolved by the clOrdId query, not resubmitted.
                self._end_unplaced(t, r)
            else:
                self._error(
                    "order_vanished",
                    f"{o.inst_id} {o.cl_ord_id}: the exchange no longer finds an order it had acknowledged",
                    r.ts_event,
                )
            return
        if code.startswith("514"):  # cancel refused: 51400 filled/canceled/absent, 51401, 51402, 51410
            if code == _CANCEL_PENDING:
                return
            if o.state is S.PENDING_CANCEL:
                o.transition(S.PARTIALLY_FILLED if o.filled_lots > 0 else S.LIVE)
            self._update(o, r)
            if t.cancel_attempts < _MAX_CANCEL_RETRIES:
                self._request_status(t)  # learn whether it ended; a live answer resends the cancel
            return
        if code.startswith("515") or (t.amend_pending and t.acked):  # amend refused
            t.amend_pending = False
            if o.price_ticks is not None:
                self.capital.resize(o.cl_ord_id, o.price_ticks, o.remaining_lots, check=False)
            self._update(o, r)
            return
        if not t.acked:
            self._end_unplaced(t, r)
            return
        self._update(o, r)

    def _end_unplaced(self, t: _Track, r: OrderReport) -> None:
        o = t.order
        o.reject_code = r.s_code
        o.reject_msg = r.s_msg
        if o.state is S.PENDING_CANCEL:
            o.transition(S.CANCELED)  # we had asked to cancel it anyway; the table has no PENDING_CANCEL -> REJECTED
            self._terminal(t)
            self._bus.publish(OrderCancelled(o, r.ts_event, self._clock.now_ns()))
            return
        o.transition(S.REJECTED)
        self._terminal(t)
        self._update(o, r, reason=RejectReason.EXCHANGE)

    def _apply_amend(self, t: _Track, r: OrderReport) -> bool:
        """Size/price changes are taken only for an amend we asked for or one OKX made (amendSource):
        a late push from before an amend must not undo it."""
        if not (t.amend_pending or r.amend_source) or t.order.state.is_terminal:
            return False
        o = t.order
        changed = False
        if r.size_lots > 0 and r.size_lots != o.size_lots and r.size_lots >= o.filled_lots:
            o.size_lots = r.size_lots
            changed = True
        if r.price_ticks is not None and o.price_ticks is not None and r.price_ticks != o.price_ticks:
            o.price_ticks = r.price_ticks
            changed = True
        if changed:
            t.amend_pending = False
            if o.price_ticks is not None:
                self.capital.resize(o.cl_ord_id, o.price_ticks, o.remaining_lots, check=False)
        return changed

    def _apply_fill_figures(self, t: _Track, r: OrderReport) -> None:
        o = t.order
        acc = r.acc_fill_lots
        if o.tag == TAG_CLOSE and max(r.size_lots, acc) > o.size_lots:
            # A close-position's size is the exchange's position, which this process may not know
            # (a fresh `--flatten`): the exchange's figures size it, never our guess.
            o.size_lots = max(r.size_lots, acc)
        if acc > o.size_lots:
            self._error(
                "overfill",
                f"{o.inst_id} {o.cl_ord_id}: accFillSz {acc} lots exceeds the order size {o.size_lots}",
                r.ts_event,
            )
            acc = o.size_lots
        if acc > o.filled_lots:
            o.filled_lots = acc
            o.avg_px = r.avg_px
            o.fee = r.acc_fee
        if r.trade_id is not None and r.fill_lots > 0 and r.fill_ticks is not None:
            self._take_fill(t, r)
        if o.filled_lots > t.priced_lots:
            # The cumulative figure moved by more than the fills we can price: fetch them by ordId.
            self._request_fills(t)

    def _take_fill(self, t: _Track, r: OrderReport) -> None:
        """Publish one fill carried by a report or a fills answer, unless its trade id was counted."""
        o = t.order
        tid = r.trade_id
        if tid is None or r.fill_ticks is None or tid in o.trade_ids:
            return
        lots = r.fill_lots
        unpriced = o.filled_lots - t.priced_lots
        if lots > unpriced:
            # A fill bigger than the unpriced gap cannot lie inside the cumulative figure seen so far
            # (a fill is whole): it comes on top of it, and the gap keeps waiting for its own fills.
            if o.filled_lots + lots > o.size_lots:
                self._error(
                    "overfill",
                    f"{o.inst_id} {o.cl_ord_id}: fill {tid} of {lots} lots would exceed the order size",
                    r.ts_event,
                )
                return
            o.filled_lots += lots
        o.trade_ids.add(tid)
        t.priced_lots += lots
        fill = Fill(
            trade_id=tid,
            cl_ord_id=o.cl_ord_id,
            ord_id=o.ord_id or r.ord_id,
            inst_id=o.inst_id,
            side=o.side,
            ticks=r.fill_ticks,
            lots=lots,
            fee=r.fill_fee,
            liquidity=r.liquidity or Liquidity.TAKER,
            ts_event=r.ts_event,
            strategy_id=o.strategy_id,
            fill_pnl=r.fill_pnl,
        )
        self.capital.on_fill(fill, self._instruments.get(o.inst_id))
        self._plan_stop(t, fill)
        self._bus.publish(OrderFilled(o, fill, r.ts_event, self._clock.now_ns()))

    def _settle_state(self, t: _Track, r: OrderReport | None, req_id: str = "") -> bool:
        """Move the state forward from the cumulative figures and the report's state; never back.
        Returns True when an ORDER_UPDATE / ORDER_CANCELLED was published."""
        o = t.order
        cur = o.state
        if cur.is_terminal:
            return False  # a late "live" after "filled" changes nothing
        rstate = r.state if r is not None else None
        if o.filled_lots >= o.size_lots:
            target: OrderState | None = S.FILLED
        elif rstate is S.CANCELED or rstate is S.REJECTED:
            target = rstate
        elif o.filled_lots > 0:
            target = S.PARTIALLY_FILLED
        elif rstate is not None or (r is not None and r.source is ReportSource.ACK):
            target = S.LIVE  # live, or a fill state whose figures have not arrived yet
        else:
            target = None
        if target is None or target is cur:
            return False
        if not target.is_terminal and (cur is S.PENDING_CANCEL or _RANK[target] <= _RANK[cur]):
            return False
        o.transition(target)
        ts_event = r.ts_event if r is not None else self._clock.now_ns()
        if target is S.LIVE:
            self._update(o, r, req_id=req_id, end=bool(req_id))
            return True
        if target is S.PARTIALLY_FILLED:
            return False
        self._terminal(t)
        if target is S.CANCELED:
            src = r.cancel_source if r is not None else ""
            self._bus.publish(OrderCancelled(o, ts_event, self._clock.now_ns(), cancel_source=src))
            if src == "22" and o.reduce_only:
                self._failed_exit(o, ts_event)
            return True
        if target is S.REJECTED:
            self._update(o, r, reason=RejectReason.EXCHANGE, req_id=req_id, end=bool(req_id))
            return True
        return False

    def _terminal(self, t: _Track) -> None:
        self._open.pop(t.key, None)
        self.capital.release(t.order.cl_ord_id)
        self._clock.cancel_timer(self._ttl_name(t))

    def _failed_exit(self, o: Order, ts_event: int) -> None:
        """OKX canceled a reduce-only order of ours for pending reduce-only size beyond the position
        (cancelSource 22). A stop's child gets one close-position + autoCxl at once (§6a)."""
        self._error("failed_exit", f"{o.inst_id} {o.cl_ord_id} ({o.tag}): reduce-only order canceled (22)", ts_event)
        if o.tag == TAG_STOP_CHILD:
            self._close_position(o.inst_id)

    def _update(
        self,
        o: Order,
        r: OrderReport | None,
        *,
        reason: RejectReason | None = None,
        req_id: str = "",
        end: bool = False,
    ) -> None:
        now = self._clock.now_ns()
        ts_event = r.ts_event if r is not None else now
        s_code = r.s_code if r is not None else "0"
        s_msg = r.s_msg if r is not None else ""
        self._bus.publish(
            OrderUpdate(o, ts_event, now, reason=reason, s_code=s_code, s_msg=s_msg, req_id=req_id, snapshot_end=end)
        )

    # -- answers to our requests ------------------------------------------------------------------

    def _on_fills_row(self, req: str, r: OrderReport) -> None:
        key = self._fills_reqs[req]
        t = self._tracks.get(key)
        if t is not None and r.fill_lots > 0 and self._same_order(t.order, r):
            self._take_fill(t, r)
        if not r.snapshot_end:
            return
        del self._fills_reqs[req]
        if t is None:
            return
        t.fills_req = ""
        self._settle_state(t, None)
        if t.order.filled_lots > t.priced_lots:
            self._clock.set_timer(
                self._fills_name(t), self._on_fills_retry, at_ns=self._clock.now_ns() + self._fills_retry_ns
            )
        else:
            self._clock.cancel_timer(self._fills_name(t))

    @staticmethod
    def _same_order(o: Order, r: OrderReport) -> bool:
        if r.ord_id and o.ord_id:
            return r.ord_id == o.ord_id
        return bool(r.cl_ord_id) and r.cl_ord_id == o.cl_ord_id

    def _on_open_orders_row(self, req: str, snap: _OpenSnap, r: OrderReport) -> None:
        if r.cl_ord_id or r.ord_id:
            t = self._find(r) or self._adopt_own(r)
            if t is not None:
                snap.seen.add(t.key)
                self._reconcile(t, r)
            else:
                self._ghost(r)
        if not r.snapshot_end:
            return
        del self._open_snaps[req]
        for t in list(self._open.values()):
            o = t.order
            if (
                t.seq <= snap.seq
                and t.acked
                and t.key not in snap.seen
                and (snap.inst_id is None or o.inst_id == snap.inst_id)
            ):
                # Open here, absent there: it ended and we missed the push. Ask how.
                self._request_status(t)
        if snap.on_done is not None:
            snap.on_done(req)

    def _ghost(self, r: OrderReport) -> None:
        self.ghosts.append(r)
        if self.ghost_policy is GhostPolicy.ADOPT and r.side is not None and r.size_lots > 0:
            o = Order(
                cl_ord_id=r.cl_ord_id,
                inst_id=r.inst_id,
                side=r.side,
                ord_type=r.ord_type or OrderType.LIMIT,
                size_lots=r.size_lots,
                price_ticks=r.price_ticks,
                reduce_only=r.reduce_only,
                tag=TAG_ADOPTED,
                ord_id=r.ord_id,
            )
            t = self._new_track(o, key=r.cl_ord_id or f"#{r.ord_id}")
            # Its past fills are in the exchange's position already: adopt them unpublished.
            o.filled_lots = t.priced_lots = min(r.acc_fill_lots, r.size_lots)
            if r.ord_id:
                self._by_ord[r.ord_id] = t.key
            self._settle_state(t, r)
            self._arm_ttl(t)
            action = "adopted"
        else:
            self._gw.cancel_order(r.inst_id, r.cl_ord_id, r.ord_id or None)
            action = "canceled"
        self._error(
            "ghost_order",
            f"{r.inst_id}: open order unknown to the OMS (clOrdId {r.cl_ord_id!r}, ordId {r.ord_id!r},"
            f" {r.side} {r.size_lots} lots at {r.price_ticks}): {action}",
            r.ts_event,
        )

    # -- positions, stops, kill switch ------------------------------------------------------------

    def _on_mark(self, ev: MarkPriceEvent) -> None:
        self._marks[ev.inst_id] = ev.mark_ticks

    def _on_position(self, ev: PositionUpdate) -> None:
        if ev.source is PositionSource.LEDGER:
            self._ledger_lots[ev.inst_id] = ev.lots
            self._sync_stop(ev.inst_id, ev.lots)
            if self._held:
                self._release_held(ev.inst_id)
            return
        inst = self._kill_reqs.get(ev.req_id) if ev.req_id else None
        if inst is None:
            return
        k = self._kills.get(inst)
        if k is None or ev.req_id != k.pos_req:
            return
        if ev.inst_id == inst:
            k.seen_lots = ev.lots
        if ev.snapshot_end:
            del self._kill_reqs[ev.req_id]
            k.last_flat = not k.seen_lots  # no record for the instrument: flat

    def _plan_stop(self, t: _Track, fill: Fill) -> None:
        o = t.order
        if o.tag != TAG_ENTRY or o.reduce_only or t.stop_ticks is None or self.is_killed(o.inst_id):
            return
        plan = self._plans.get(o.inst_id)
        if plan is not None and plan.entry_cl_ord_id == o.cl_ord_id:
            return  # the entry's first fill set the trigger; later fills only resize
        dist = t.stop_ticks
        trigger = fill.ticks - dist if o.side is Side.BUY else fill.ticks + dist
        if trigger <= 0:
            self._error("stop_invalid", f"{o.inst_id}: stop {dist} ticks from {fill.ticks} is not a price", 0)
            return
        self._plans[o.inst_id] = _StopPlan(o.strategy_id, o.side, trigger, o.cl_ord_id)

    def _sync_stop(self, inst_id: str, lots: int) -> None:
        """Keep the protective stop's size equal to the position: cancel and re-place on change,
        cancel when flat or when the position is no longer on the entry's side."""
        if lots == 0:
            self._plans.pop(inst_id, None)
            self._cancel_stop(inst_id)
            return
        plan = self._plans.get(inst_id)
        if plan is None:
            return
        if plan.entry_side.sign * lots < 0:
            self._plans.pop(inst_id, None)
            self._cancel_stop(inst_id)
            return
        side = plan.entry_side.opposite
        size = abs(lots)
        cur = self._stops.get(inst_id)
        if cur is not None and cur.size_lots == size and cur.side is side and cur.trigger_ticks == plan.trigger_ticks:
            return
        self._cancel_stop(inst_id)
        algo = AlgoOrder(
            algo_cl_ord_id=self.ids.new(plan.strategy_id),
            inst_id=inst_id,
            side=side,
            size_lots=size,
            trigger_ticks=plan.trigger_ticks,
            reduce_only=True,
            strategy_id=plan.strategy_id,
            ts_created=self._clock.now_ns(),
        )
        self._stops[inst_id] = algo
        self._algos[algo.algo_cl_ord_id] = algo
        self._gw.place_algo_order(algo)

    def _on_algo_report(self, algo: AlgoOrder, r: OrderReport) -> None:
        """The stop's own life (ord_type None, ordId = algoId): placed, canceled, triggered, failed."""
        if r.ord_id and not algo.algo_id:
            algo.algo_id = r.ord_id
        current = self._stops.get(algo.inst_id) is algo
        if r.s_code != "0" or r.state is S.REJECTED:
            algo.state = AlgoState.FAILED
            if current:
                del self._stops[algo.inst_id]
                self._error(
                    "stop_failed",
                    f"{algo.inst_id}: protective stop {algo.algo_cl_ord_id} refused ({r.s_code} {r.s_msg});"
                    f" the position of {algo.size_lots} lots has no stop",
                    r.ts_event,
                )
            return
        if r.state is S.LIVE and algo.state is AlgoState.PENDING:
            algo.state = AlgoState.LIVE
        elif r.state is S.CANCELED:
            algo.state = AlgoState.CANCELED
            if current:
                del self._stops[algo.inst_id]
        elif r.state is S.FILLED:  # OKX "effective": the child order was placed
            algo.state = AlgoState.TRIGGERED
            if current:
                del self._stops[algo.inst_id]

    def _cancel_stop(self, inst_id: str) -> int:
        algo = self._stops.pop(inst_id, None)
        if algo is None:
            return 0
        algo.state = AlgoState.CANCELED
        self._gw.cancel_algo_order(inst_id, algo.algo_id or None, algo.algo_cl_ord_id)
        return 1

    def _close_position(self, inst_id: str, owner: str = "") -> str:
        cl = self.ids.new("close")
        self._close_ids[cl] = inst_id
        if owner:
            self._close_owner[cl] = owner
        self._gw.close_position(inst_id, cl, auto_cxl=True)
        return cl

    def kill_switch(self, inst_id: str | None = None) -> None:
        """Block new submits; cancel every pending order and the stop; close-position with autoCxl
        and a clOrdId; repeat every ``kill_retry_s`` until a positions answer shows flat and nothing
        is pending (§6a). Submits stay blocked until ``reset_kill``."""
        insts = [inst_id] if inst_id is not None else sorted(self._instruments)
        if inst_id is None:
            self._kill_all = True
        for inst in insts:
            self._kills[inst] = KillState(inst)
            self._kill_round(inst)
            if not self._kills[inst].done:
                self._clock.set_timer(self._kill_name(inst), self._on_kill_timer, interval_ns=self._kill_ns)

    def reset_kill(self, inst_id: str | None = None) -> None:
        for inst in [inst_id] if inst_id is not None else list(self._kills):
            self._kills.pop(inst, None)
            self._clock.cancel_timer(self._kill_name(inst))
        if inst_id is None:
            self._kill_all = False

    def _on_kill_timer(self, fired: TimerFired) -> None:
        self._kill_round(fired.name[len("oms.kill.") :])

    def _kill_round(self, inst_id: str) -> None:
        k = self._kills.get(inst_id)
        if k is None or k.done:
            return
        pending = [t for t in self._open.values() if t.order.inst_id == inst_id and t.order.tag != TAG_CLOSE]
        if k.rounds > 0 and k.last_flat and not pending and inst_id not in self._stops:
            k.done = True
            self._clock.cancel_timer(self._kill_name(inst_id))
            return
        k.rounds += 1
        for t in pending:
            self._send_cancel(t)
        self._plans.pop(inst_id, None)
        self._cancel_stop(inst_id)
        if not k.last_flat:
            self._close_position(inst_id)
        req = self.ids.new_req()
        k.pos_req = req
        k.seen_lots = None
        self._kill_reqs[req] = inst_id
        self._gw.request_positions(req, inst_id)

    # -- helpers ----------------------------------------------------------------------------------

    def _error(self, code: str, message: str, ts_event: int) -> None:
        now = self._clock.now_ns()
        self._bus.publish(ErrorEvent("OrderManager", message, ts_event or now, now, code=code))
