"""The simulated OKX exchange: matching, queues, account, funding, answers in OKX's own terms.

Owns: one ``SimMarket`` per instrument (the exchange-side ``L2Book`` the replay loop mutates, our
resting orders as FIFO lists per price, the liquidity our aggressive orders consumed, algo stops,
the net position) and the account (USDT balance, cross margin with leverage). It implements
DESIGN.md §6 and §6a: orders arrive after entry latency and match the book as it is *then*;
aggressive orders walk the book and consume what they take until a book update restores it;
passive orders wait behind the public size that was resting when they arrived, interleaved FIFO
with our other orders at that price; a level shrink is clamped into the size ahead and remembered
as a credit tagged with the message's raw ``ts_event`` so that the trade that caused it is not
counted twice; fills get ids minted here; reduce-only orders are trimmed or canceled as OKX does;
funding settles on the SimClock heap. Every answer and push is an ``OrderReport`` (or a
``FundingEvent`` for a settlement) handed to ``emit`` with ``ts_event`` = exchange time;
SimGateway delivers it after the response latency.

The replay loop's contract (athena/sim/replay.py): it applies book rows to ``market.book`` itself
and calls ``on_book_level`` only when ``market.active`` and the level concerns us (see
``SimMarket.apply_level``, which is that contract in one call), ``on_book_reset`` after a snapshot,
``on_trade`` when ``market.watch_trades``, ``on_mark_price`` and ``on_funding_rate`` per row of
those channels; the SimClock is set to the row's exchange time before any hook.

Conventions of the reports (for OrderManager): an accepted command's ACK has ``s_code`` "0" and
``state`` None (the truth comes on the pushes); a placement ACK mirrors the order (``ord_type``
set), cancel and amend ACKs carry no ``ord_type``; a refused placement is an ACK with state
REJECTED. Algo (stop) orders report with ``ord_type`` None, ``cl_ord_id`` = algoClOrdId and
``ord_id`` = algoId: state LIVE once placed, CANCELED, or FILLED meaning OKX's ``effective`` (its
child was placed); the child order reports under ``cl_ord_id`` = the algo's algoClOrdId, with pushes
only (no ACK: nobody requested it).

Never: reads the wall clock, draws random numbers, iterates a set, or sums floats with ``sum()``;
it never uses a public trade's id for our fill.
"""

from __future__ import annotations

import logging
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from typing import Any, NamedTuple

from athena.book.l2 import L2Book
from athena.core.clock import SimClock
from athena.core.events import Event, FundingEvent, OrderReport, ReportSource
from athena.core.ports import ASK, BID, NO_ASK, NO_BID
from athena.model.enums import Liquidity, OrderState, OrderType, Side
from athena.model.instrument import InstrumentSpec
from athena.model.orders import AlgoOrder, Order, TriggerPxType
from athena.model.position import Position
from athena.sim.fees import FeeModel
from athena.sim.funding import FundingRates, FundingSchedule, funding_payment
from athena.sim.queue import QueueModel, RiskAverseQueue

log = logging.getLogger(__name__)

__all__ = [
    "AccountSnapshot",
    "PositionSnapshot",
    "SimExchange",
    "SimExchangeConfig",
    "SimMarket",
    "SimReject",
]

# -- OKX's answers (okx-v5-reference §4.1, §6.6) ---------------------------------------------------

S_OK = "0"
MSG_PLACED = "Order placed"
C_PARAM, C_NO_INST, C_MARGIN, C_DUP, C_MIN_SZ, C_LOT = "51000", "51001", "51008", "51016", "51020", "51121"
C_NO_POS, C_CANCEL_FAIL, C_AMEND_FAIL, C_NO_ORDER, C_RATE = "51023", "51400", "51503", "51603", "50011"
MSG_NO_INST = "Instrument ID, Instrument ID code, or Spread ID doesn't exist."
MSG_MARGIN = "Order failed. Insufficient USDT balance in account."
MSG_DUP = "Duplicated client order ID"
MSG_MIN_SZ = "Your order should meet or exceed the minimum order amount."
MSG_LOT = "Order quantity must be a multiple of the lot size."
MSG_NO_POS = "Position does not exist."
MSG_CANCEL_FAIL = "Order cancellation failed as the order has been filled, canceled or does not exist."
MSG_AMEND_FAIL = "Order modification failed as the order has been filled, canceled or does not exist."
MSG_NO_ORDER = "Order does not exist"
MSG_RATE = "Too Many Requests"

# cancelSource / amendSource values (reference §4.1, DESIGN.md §6a)
CXL_BY_USER = "1"
CXL_FOK = "13"
CXL_IOC = "14"  # also the unfilled rest of a market order that ran out of book
CXL_CLOSE_AUTO = "17"  # a pending close order canceled by close-position's autoCxl
CXL_RO_NEW = "22"
CXL_RO_EXISTING = "23"
CXL_POST_ONLY = "31"
CXL_SELF_TRADE = "32"
AMD_BY_USER = "1"
AMD_RO_AMEND = "2"
AMD_RO_PLACE = "3"

_CL_ORD_ID = re.compile(r"[A-Za-z0-9]{1,32}")
_PRICED = frozenset({OrderType.LIMIT, OrderType.POST_ONLY, OrderType.IOC, OrderType.FOK})
_NO_CREDIT = 1 << 62  # "no clamp credit outstanding": any raw ts is below it
_MAX_CREDITS = 8  # per order; see SimMarket._credit


def param_error(name: str) -> str:
    return f"Parameter {name} error"


class SimReject(Exception):
    """An OKX-style refusal (``code``/``msg`` are OKX's sCode/sMsg)."""

    def __init__(self, code: str, msg: str) -> None:
        super().__init__(f"{code}: {msg}")
        self.code = code
        self.msg = msg


def parse_px_sz(spec: InstrumentSpec, px: str, sz: str) -> tuple[int | None, int]:
    """OKX's decimal strings -> (ticks or None for an empty px, lots), refusing as OKX does:
    51000 for a price that is not a tickSz multiple, 51121 for a size that is not a lotSz
    multiple, 51000 for anything that is not a positive number (the wire emulator's entry)."""
    try:
        d_sz = Decimal(sz)
    except ArithmeticError:
        raise SimReject(C_PARAM, param_error("sz")) from None
    if not d_sz.is_finite() or d_sz <= 0:
        raise SimReject(C_PARAM, param_error("sz"))
    q = d_sz / spec.lot_sz
    if q != q.to_integral_value():
        raise SimReject(C_LOT, MSG_LOT)
    ticks: int | None = None
    if px not in ("", "-1"):
        try:
            d_px = Decimal(px)
        except ArithmeticError:
            raise SimReject(C_PARAM, param_error("px")) from None
        if not d_px.is_finite() or d_px <= 0:
            raise SimReject(C_PARAM, param_error("px"))
        t = d_px / spec.tick_sz
        if t != t.to_integral_value():
            raise SimReject(C_PARAM, param_error("px"))
        ticks = int(t)
    return ticks, int(q)


# -- configuration and snapshots -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SimExchangeConfig:
    """The account and venue rules of one simulated exchange."""

    initial_balance: float = 10_000.0  # USDT
    leverage: float = 3.0  # cross margin: initial margin = notional ÷ leverage
    place_limit: int = 60  # requests per instrument per rate window (reference §6.5)
    cancel_limit: int = 60
    amend_limit: int = 60
    algo_limit: int = 20
    rate_window_ns: int = 2_000_000_000
    funding: FundingSchedule = field(default_factory=FundingSchedule)
    default_funding_rate: float = 0.0  # used when no funding channel published a rate
    first_ord_id: int = 1_000_000_000_000_000_001  # ordIds are numeric strings, ~19 digits like OKX's


class PositionSnapshot(NamedTuple):
    inst_id: str
    lots: int
    avg_px: float  # price units, display only
    last_trade_id: int | None


class AccountSnapshot(NamedTuple):
    equity: float
    balance: float
    available: float


class _Fill:
    """One of our fills with the order's cumulative figures as of it (for fills queries)."""

    __slots__ = ("acc_fee", "acc_lots", "acc_tl", "fee", "liquidity", "lots", "pnl", "ticks", "trade_id", "ts")

    def __init__(
        self,
        trade_id: int,
        ticks: int,
        lots: int,
        fee: float,
        liquidity: Liquidity,
        pnl: float,
        ts: int,
        acc_lots: int,
        acc_tl: int,
        acc_fee: float,
    ) -> None:
        self.trade_id = trade_id
        self.ticks = ticks
        self.lots = lots
        self.fee = fee
        self.liquidity = liquidity
        self.pnl = pnl
        self.ts = ts
        self.acc_lots = acc_lots
        self.acc_tl = acc_tl
        self.acc_fee = acc_fee


class SimOrder:
    """The exchange's record of one order (never the OMS's ``Order`` object, which it only reads)."""

    __slots__ = (
        "acc_fee",
        "acc_tl",
        "ahead",
        "c_time",
        "cl_ord_id",
        "code",
        "credits",
        "filled_lots",
        "fills",
        "foreign",
        "inst_id",
        "ord_id",
        "ord_type",
        "price_ticks",
        "reduce_only",
        "side",
        "size_lots",
        "state",
    )

    def __init__(
        self,
        inst_id: str,
        cl_ord_id: str,
        ord_id: str,
        side: Side,
        ord_type: OrderType,
        size_lots: int,
        price_ticks: int | None,
        reduce_only: bool,
        c_time: int,
    ) -> None:
        self.inst_id = inst_id
        self.cl_ord_id = cl_ord_id
        self.ord_id = ord_id
        self.side = side
        self.code = BID if side is Side.BUY else ASK
        self.ord_type = ord_type
        self.size_lots = size_lots
        self.price_ticks = price_ticks
        self.reduce_only = reduce_only
        self.c_time = c_time
        self.state = OrderState.LIVE
        self.filled_lots = 0
        self.acc_tl = 0  # Σ ticks × lots of the fills (exact)
        self.acc_fee = 0.0
        self.ahead: float = 0  # public lots ahead of us at our price (int under the risk-averse model)
        self.credits: list[list[Any]] = []  # [raw ts_event, lots] removed by clamps / shrinks
        self.fills: list[_Fill] = []
        self.foreign = False

    @property
    def remaining(self) -> int:
        return self.size_lots - self.filled_lots

    def __repr__(self) -> str:
        return (
            f"SimOrder({self.cl_ord_id!r} {self.side.value} {self.ord_type.value} {self.size_lots}@"
            f"{self.price_ticks} filled {self.filled_lots} {self.state.value} ahead {self.ahead})"
        )


class _SimAlgo:
    __slots__ = ("algo_cl_ord_id", "algo_id", "inst_id", "order_ticks", "side", "size_lots", "trigger", "trigger_ticks")

    def __init__(self, algo: AlgoOrder, algo_id: str) -> None:
        self.algo_cl_ord_id = algo.algo_cl_ord_id
        self.algo_id = algo_id
        self.inst_id = algo.inst_id
        self.side = algo.side
        self.size_lots = algo.size_lots
        self.trigger_ticks = algo.trigger_ticks
        self.order_ticks = algo.order_ticks
        # No index feed in the catalog: an index-price stop watches the mark, its closest proxy.
        trig = algo.trigger_px_type
        self.trigger = TriggerPxType.MARK if trig is TriggerPxType.INDEX else trig

    def triggered_by(self, ticks: float) -> bool:
        if self.side is Side.SELL:
            return ticks <= self.trigger_ticks
        return ticks >= self.trigger_ticks


def _goodness(o: SimOrder) -> float:
    """How good an order's price is for us (higher = better); a market order is the worst."""
    if o.price_ticks is None:
        return float("-inf")
    return o.price_ticks if o.side is Side.SELL else -o.price_ticks


# -- one instrument ------------------------------------------------------------------------------


class SimMarket:
    """One instrument at the exchange: its book, our resting orders and its position.

    Plain attributes the replay loop reads per row: ``book``, ``resting``, ``consumed``,
    ``our_best_bid``, ``our_best_ask``, ``active``, ``watch_trades`` (see the module docstring)."""

    __slots__ = (
        "_credit_min_ts",
        "_ex",
        "_funding_at",
        "_funding_handle",
        "_last_trade_raw",
        "_trade_seq",
        "_traded",
        "active",
        "algos",
        "book",
        "consumed",
        "inst_id",
        "last_trade_ticks",
        "mark_ticks",
        "orders",
        "our_best_ask",
        "our_best_bid",
        "pos_dirty",
        "position",
        "rates",
        "resting",
        "spec",
        "watch_trades",
    )

    def __init__(self, ex: SimExchange, spec: InstrumentSpec) -> None:
        self._ex = ex
        self.spec = spec
        self.inst_id = spec.inst_id
        self.book = L2Book(spec)
        self.resting: tuple[dict[int, list[SimOrder]], dict[int, list[SimOrder]]] = ({}, {})
        self.consumed: tuple[dict[int, int], dict[int, int]] = ({}, {})
        self.our_best_bid = NO_BID
        self.our_best_ask = NO_ASK
        self.active = False
        self.watch_trades = False
        self.orders: dict[str, SimOrder] = {}  # pending (live / partially filled) by ordId
        self.algos: dict[str, _SimAlgo] = {}  # untriggered stops by algoId
        self.position = Position(spec.inst_id)
        self.pos_dirty = False  # a fill happened since the reduce-only rules last ran
        self.last_trade_ticks: int | None = None
        self.mark_ticks: int | None = None
        self.rates = FundingRates(ex.config.default_funding_rate)
        self._trade_seq = 0
        self._traded: tuple[dict[int, int], dict[int, int]] = (
            {},
            {},
        )  # trade volume at our levels not yet seen in the book
        self._credit_min_ts = _NO_CREDIT
        self._last_trade_raw = -1  # raw ts_event of the last trade seen (the trade stream's position)
        self._funding_handle: list[Any] | None = None
        self._funding_at = 0

    # -- flags the loop reads ---------------------------------------------------------------

    def _refresh(self) -> None:
        bids, asks = self.resting
        self.our_best_bid = max(bids) if bids else NO_BID
        self.our_best_ask = min(asks) if asks else NO_ASK
        has_rest = bool(bids) or bool(asks)
        self.active = has_rest or bool(self.consumed[BID]) or bool(self.consumed[ASK])
        self.watch_trades = has_rest or bool(self.algos)

    def reference_ticks(self) -> float | None:
        """Mark price, else the book's mid, else the last trade seen (ticks): what positions and
        funding are valued at. The mid comes before the last trade because the loop shows us
        trades only while we watch them, so a last trade may be stale; the book is always current."""
        if self.mark_ticks is not None:
            return self.mark_ticks
        mid = self.book.mid_ticks()
        if mid is not None:
            return mid
        return self.last_trade_ticks

    # -- the loop's hooks -------------------------------------------------------------------

    def apply_level(self, side: int, ticks: int, lots: int, ts_raw: int) -> None:
        """Apply one book row and call ``on_book_level`` exactly when the replay loop would
        (the loop inlines this; tests and the wire emulator call it)."""
        book = self.book
        old = (book.bids if side == BID else book.asks).get(ticks, 0)
        book.set_level(side, ticks, lots)
        if self.active and (
            ticks in self.resting[side]
            or ticks in self.consumed[side]
            or (side == ASK and lots > 0 and ticks <= self.our_best_bid)
            or (side == BID and lots > 0 and ticks >= self.our_best_ask)
        ):
            self.on_book_level(side, ticks, old, lots, ts_raw)

    def on_book_level(self, side: int, ticks: int, old_lots: int, new_lots: int, ts_raw: int) -> None:
        """A book row changed (side, ticks) from ``old_lots`` to ``new_lots`` (already applied)."""
        seq = self._trade_seq
        cons = self.consumed[side]
        restored = ticks in cons
        if restored:
            del cons[ticks]  # the update restores the level: its size is the market's again
        q = self.resting[side].get(ticks)
        if q is not None:
            self._level_changed(side, ticks, q, old_lots, new_lots, ts_raw)
        if new_lots > 0:
            if side == ASK and ticks <= self.our_best_bid:
                self._cross(BID, ticks, new_lots)
            elif side == BID and ticks >= self.our_best_ask:
                self._cross(ASK, ticks, new_lots)
        if restored or seq != self._trade_seq:  # the loop's flags change only with these
            self._refresh()
            self._ex._after_fills(self)

    def on_book_reset(self) -> None:
        """The book was replaced by a snapshot: clamp every queue to its level, forget consumed
        liquidity, and fill resting orders the new book crosses."""
        self.consumed[BID].clear()
        self.consumed[ASK].clear()
        self._traded[BID].clear()
        self._traded[ASK].clear()
        for side, levels in ((BID, self.book.bids), (ASK, self.book.asks)):
            for ticks, q in self.resting[side].items():
                level = levels.get(ticks, 0)
                for o in q:
                    if o.ahead > level:
                        o.ahead = level
        self._refresh()
        if self.our_best_bid != NO_BID:
            for t in sorted(p for p in self.book.asks if p <= self.our_best_bid):
                self._cross(BID, t, self.book.asks[t])
        if self.our_best_ask != NO_ASK:
            for t in sorted((p for p in self.book.bids if p >= self.our_best_ask), reverse=True):
                self._cross(ASK, t, self.book.bids[t])
        self._refresh()
        self._ex._after_fills(self)

    def on_trade(self, ticks: int, lots: int, taker_side: int, trade_id: int, ts_raw: int) -> None:
        """A public trade (``taker_side`` BID: the buyer took). Fills our orders it reaches and
        triggers stops on the last price. ``trade_id`` is the market's, never used for our fills."""
        self.last_trade_ticks = ticks
        self._last_trade_raw = ts_raw
        seq = self._trade_seq
        n_algos = len(self.algos)
        if ts_raw > self._credit_min_ts:
            self._lapse_credits(ts_raw)
        bids, asks = self.resting
        if bids and ticks <= self.our_best_bid:
            through = [p for p in bids if p > ticks]
            if through:
                through.sort(reverse=True)
                self._fill_through(BID, through)
            if taker_side == ASK and ticks in bids:
                self._queue_trade(BID, ticks, lots, ts_raw)
        if asks and ticks >= self.our_best_ask:
            through = [p for p in asks if p < ticks]
            if through:
                through.sort()
                self._fill_through(ASK, through)
            if taker_side == BID and ticks in asks:
                self._queue_trade(ASK, ticks, lots, ts_raw)
        if self.algos:
            self._check_stops(ticks, TriggerPxType.LAST)
        if seq != self._trade_seq or n_algos != len(self.algos):  # flags change only with these
            self._refresh()
            self._ex._after_fills(self)

    def on_mark_price(self, ticks: int) -> None:
        self.mark_ticks = ticks
        if self.algos:
            n_algos = len(self.algos)
            self._check_stops(ticks, TriggerPxType.MARK)
            if n_algos != len(self.algos):
                self._refresh()
                self._ex._after_fills(self)

    def on_funding_rate(self, rate: float, funding_time_ns: int) -> None:
        """A published rate for the settlement at ``funding_time_ns`` (in force if published before it)."""
        self.rates.publish(rate, funding_time_ns, self._ex.clock.now_ns())

    def settle_funding_if_due(self, now_ns: int) -> None:
        """Run a settlement that is due at or before ``now_ns`` if the heap has not run it yet."""
        if self._funding_handle is not None and self._funding_at <= now_ns:
            SimClock.cancel(self._funding_handle)
            self._funding_due(self._funding_at)

    # -- queues -----------------------------------------------------------------------------

    def _level_changed(self, side: int, ticks: int, q: list[SimOrder], old: int, new: int, ts_raw: int) -> None:
        traded = self._traded[side].pop(ticks, 0)
        shrink = old - new
        if shrink <= 0:
            return  # growth never moves us forward
        unexplained = shrink - traded if shrink > traded else 0
        model = self._ex.queue
        prob = not isinstance(model, RiskAverseQueue)
        for o in q:
            before = o.ahead
            a = before
            if prob and unexplained > 0:
                back = old - a
                a = model.after_shrink(a, back if back > 0 else 0, unexplained)
            if a > new:
                a = new  # the level holds less than we thought was ahead: those were ahead of us
            if a != before:
                o.ahead = a
                self._credit(o, ts_raw, before - a)

    def _credit(self, o: SimOrder, ts_raw: int, lots: float) -> None:
        """Remember that a book message at raw ``ts_raw`` took ``lots`` off ``o``'s size ahead.

        Bounded: credits the trade stream has already passed are dropped, one message gives one
        credit, and beyond ``_MAX_CREDITS`` the two oldest merge under the newer time — which can
        only let a trade use more credit (advance us less), never flatter the fill."""
        cr = o.credits
        last = self._last_trade_raw
        while cr and cr[0][0] < last:
            del cr[0]
        if cr and cr[-1][0] == ts_raw:
            cr[-1][1] += lots
        else:
            cr.append([ts_raw, lots])
            if len(cr) > _MAX_CREDITS:
                cr[1][1] += cr[0][1]
                del cr[0]
        if cr[0][0] < self._credit_min_ts:
            self._credit_min_ts = cr[0][0]

    def _lapse_credits(self, ts_raw: int) -> None:
        """The trade stream passed these credits' times: a later trade may not use them."""
        low = _NO_CREDIT
        for side in (BID, ASK):
            for q in self.resting[side].values():
                for o in q:
                    if o.credits:
                        o.credits = [c for c in o.credits if c[0] >= ts_raw]
                        for c in o.credits:
                            if c[0] < low:
                                low = c[0]
        self._credit_min_ts = low

    @staticmethod
    def _use_credit(o: SimOrder, lots: int, ts_raw: int) -> float:
        """Volume of this trade that a clamp already took off ``o``'s size ahead."""
        used: float = 0
        keep: list[list[Any]] = []
        for c in o.credits:
            if c[0] >= ts_raw and used < lots:
                take = c[1] if c[1] < lots - used else lots - used
                used += take
                c[1] -= take
            if c[1] > 0:
                keep.append(c)
        o.credits = keep
        return used

    def _queue_trade(self, side: int, ticks: int, lots: int, ts_raw: int) -> None:
        """A trade at our price: it consumes, front to back, public volume and our orders in
        queue order (each order keeps the public size ahead of it)."""
        q = self.resting[side][ticks]
        tr = self._traded[side]
        tr[ticks] = tr.get(ticks, 0) + lots
        ahead = [o.ahead for o in q]
        rem = [o.remaining for o in q]
        results: list[tuple[float, int]] = []
        for i, o in enumerate(q):
            w: float = lots - self._use_credit(o, lots, ts_raw)
            ai = ahead[i]
            pub: float = 0
            fill = 0
            prev: float = 0
            for j in range(i + 1):
                aj = ahead[j] if ahead[j] < ai else ai
                gap = aj - prev
                if gap > 0:
                    take = gap if gap < w else w
                    pub += take
                    w -= take
                    prev = aj
                if w <= 0:
                    break
                if j < i:
                    w -= rem[j] if rem[j] < w else w
                    if w <= 0:
                        break
                else:
                    fill = int(w) if w < rem[i] else rem[i]
            results.append((pub, fill))
        done: list[SimOrder] = []
        for o, (pub, fill) in zip(q, results, strict=True):
            a = o.ahead - pub
            o.ahead = a if a > 0 else 0
            if fill > 0:
                self._ex._fill(self, o, ticks, fill, Liquidity.MAKER)
                if o.remaining == 0:
                    done.append(o)
        for o in done:
            self._unrest(o)

    def _fill_through(self, side: int, prices: list[int]) -> None:
        """A trade through our price: every order of ours at those prices fills at its price."""
        levels = self.resting[side]
        for p in prices:
            for o in list(levels.get(p, ())):
                self._ex._fill(self, o, p, o.remaining, Liquidity.MAKER)
                self._unrest(o)

    def _cross(self, our_side: int, level_ticks: int, level_lots: int) -> None:
        """Public liquidity at ``level_ticks`` crossed our resting orders: they fill as makers at
        their own price, best price first, FIFO, up to the level's unconsumed size."""
        opp = ASK if our_side == BID else BID
        cons = self.consumed[opp]
        avail = level_lots - cons.get(level_ticks, 0)
        if avail <= 0:
            return
        levels = self.resting[our_side]
        if our_side == BID:
            prices = sorted((p for p in levels if p >= level_ticks), reverse=True)
        else:
            prices = sorted(p for p in levels if p <= level_ticks)
        taken = 0
        for p in prices:
            for o in list(levels.get(p, ())):
                if avail <= 0:
                    break
                lots = o.remaining if o.remaining < avail else avail
                avail -= lots
                taken += lots
                self._ex._fill(self, o, p, lots, Liquidity.MAKER)
                if o.remaining == 0:
                    self._unrest(o)
        if taken:
            cons[level_ticks] = cons.get(level_ticks, 0) + taken

    def _rest(self, o: SimOrder) -> None:
        assert o.price_ticks is not None
        book_side = self.book.bids if o.code == BID else self.book.asks
        o.ahead = book_side.get(o.price_ticks, 0)
        o.credits = []
        levels = self.resting[o.code]
        q = levels.get(o.price_ticks)
        if q is None:
            levels[o.price_ticks] = [o]
        else:
            q.append(o)
        self._refresh()

    def _unrest(self, o: SimOrder) -> None:
        if o.price_ticks is None:
            return
        levels = self.resting[o.code]
        q = levels.get(o.price_ticks)
        if q is None or o not in q:
            return
        q.remove(o)
        if not q:
            del levels[o.price_ticks]
            self._traded[o.code].pop(o.price_ticks, None)
        self._refresh()

    # -- aggressive matching ----------------------------------------------------------------

    def _levels_for(self, o: SimOrder, limit: int | None) -> list[int]:
        if o.side is Side.BUY:
            asks = self.book.asks
            return sorted(p for p in asks if limit is None or p <= limit)
        bids = self.book.bids
        return sorted((p for p in bids if limit is None or p >= limit), reverse=True)

    def _available(self, o: SimOrder, limit: int | None) -> int:
        opp = ASK if o.side is Side.BUY else BID
        levels = self.book.asks if opp == ASK else self.book.bids
        cons = self.consumed[opp]
        total = 0
        for p in self._levels_for(o, limit):
            a = levels[p] - cons.get(p, 0)
            if a > 0:
                total += a
        return total

    def _would_cross(self, o: SimOrder) -> bool:
        p = o.price_ticks
        assert p is not None
        if o.side is Side.BUY and self.book.best_ask > p:
            return False
        if o.side is Side.SELL and self.book.best_bid < p:
            return False
        return self._available(o, p) > 0

    def _take(self, o: SimOrder, limit: int | None) -> None:
        """Walk the book from the best level, consuming what we take (DESIGN.md §6)."""
        opp = ASK if o.side is Side.BUY else BID
        levels = self.book.asks if opp == ASK else self.book.bids
        cons = self.consumed[opp]
        for p in self._levels_for(o, limit):
            if o.remaining <= 0:
                break
            avail = levels[p] - cons.get(p, 0)
            if avail <= 0:
                continue
            self._self_trade_check(opp, p)
            lots = o.remaining if o.remaining < avail else avail
            cons[p] = cons.get(p, 0) + lots
            self._ex._fill(self, o, p, lots, Liquidity.TAKER)
        self._refresh()

    def _self_trade_check(self, maker_side: int, p: int) -> None:
        """OKX's default self-trade prevention (cancel_maker): our own resting orders the taker
        would reach are canceled with cancelSource 32."""
        levels = self.resting[maker_side]
        if not levels:
            return
        hit = [t for t in levels if (t <= p if maker_side == ASK else t >= p)]
        for t in sorted(hit):
            for m in list(levels[t]):
                self._ex._cancel(self, m, CXL_SELF_TRADE)

    # -- stops ------------------------------------------------------------------------------

    def _check_stops(self, ticks: int, kind: TriggerPxType) -> None:
        fired = [a for a in self.algos.values() if a.trigger is kind and a.triggered_by(ticks)]
        for a in fired:
            del self.algos[a.algo_id]
            self._ex._trigger(self, a)

    # -- funding ----------------------------------------------------------------------------

    def _arm_funding(self) -> None:
        if self._funding_handle is not None:
            return
        clock = self._ex.clock
        at = self._ex.config.funding.next_after(clock.now_ns())
        self._funding_at = at
        self._funding_handle = clock.schedule(at, self._funding_due, at)

    def _funding_due(self, at_ns: int) -> None:
        self._funding_handle = None
        self._ex._settle_funding(self, at_ns)
        if self.position.lots != 0:
            self._arm_funding()


# -- the exchange --------------------------------------------------------------------------------


class SimExchange:
    """The simulated OKX account and matching engine over one ``SimMarket`` per instrument.

    Commands are called by SimGateway when a command *arrives* (the clock is at arrival time).
    Every answer is handed to ``emit`` (SimGateway sets it)."""

    def __init__(
        self,
        clock: SimClock,
        instruments: Iterable[InstrumentSpec],
        *,
        config: SimExchangeConfig | None = None,
        queue_model: QueueModel | None = None,
        fees: FeeModel | None = None,
        emit: Callable[[Event], None] | None = None,
    ) -> None:
        self.clock = clock
        self.config = config or SimExchangeConfig()
        self.queue: QueueModel = queue_model or RiskAverseQueue()
        self.fees = fees or FeeModel()
        self.emit: Callable[[Event], None] = emit or (lambda ev: None)
        self.balance: float = self.config.initial_balance
        self.specs: dict[str, InstrumentSpec] = {}
        self.markets: dict[str, SimMarket] = {}
        for spec in instruments:
            self.specs[spec.inst_id] = spec
            self.markets[spec.inst_id] = SimMarket(self, spec)
        self._ord_seq = self.config.first_ord_id - 1
        self._algo_seq = self.config.first_ord_id - 1
        self._all: dict[str, SimOrder] = {}  # every order by ordId (history, for queries)
        self._pending_cl: dict[tuple[str, str], SimOrder] = {}
        self._last_cl: dict[tuple[str, str], SimOrder] = {}
        self._rates: dict[tuple[str, str], deque[int]] = {}

    def describe(self) -> str:
        c = self.config
        return (
            f"exchange: cross margin, leverage {c.leverage:g}, balance {c.initial_balance:g} USDT; "
            f"{self.queue.describe()}; {self.fees.describe()}; {c.funding.describe()}, "
            f"default rate {c.default_funding_rate:g}; rate limits {c.place_limit} place / "
            f"{c.cancel_limit} cancel / {c.amend_limit} amend / {c.algo_limit} algo per "
            f"{c.rate_window_ns / 1e9:g} s per instrument"
        )

    # -- reports ----------------------------------------------------------------------------

    def _report(
        self,
        o: SimOrder,
        source: ReportSource,
        *,
        state: OrderState | None = None,
        fill: _Fill | None = None,
        as_of: _Fill | None = None,
        s_code: str = S_OK,
        s_msg: str = "",
        cancel_source: str = "",
        amend_source: str = "",
        req_id: str = "",
        snapshot_end: bool = False,
        with_state: bool = True,
    ) -> OrderReport:
        now = self.clock.now_ns()
        ref = as_of or fill
        if ref is not None:
            acc_lots, acc_tl, acc_fee = ref.acc_lots, ref.acc_tl, ref.acc_fee
        else:
            acc_lots, acc_tl, acc_fee = o.filled_lots, o.acc_tl, o.acc_fee
        spec = self.specs[o.inst_id]
        avg = float(Decimal(acc_tl) * spec.tick_sz / Decimal(acc_lots)) if acc_lots else 0.0
        return OrderReport(
            inst_id=o.inst_id,
            cl_ord_id=o.cl_ord_id,
            ord_id=o.ord_id,
            state=(state or o.state) if with_state else None,
            source=source,
            ts_event=now,
            ts_recv=now,
            side=o.side,
            ord_type=o.ord_type,
            price_ticks=o.price_ticks,
            size_lots=o.size_lots,
            acc_fill_lots=acc_lots,
            avg_px=avg,
            acc_fee=acc_fee,
            fill_ticks=fill.ticks if fill else None,
            fill_lots=fill.lots if fill else 0,
            fill_fee=fill.fee if fill else 0.0,
            fill_pnl=fill.pnl if fill else 0.0,
            trade_id=fill.trade_id if fill else None,
            liquidity=fill.liquidity if fill else None,
            reduce_only=o.reduce_only,
            s_code=s_code,
            s_msg=s_msg,
            cancel_source=cancel_source,
            amend_source=amend_source,
            req_id=req_id,
            snapshot_end=snapshot_end,
        )

    def _bare(
        self,
        inst_id: str,
        cl_ord_id: str,
        ord_id: str,
        source: ReportSource,
        *,
        state: OrderState | None = None,
        s_code: str = S_OK,
        s_msg: str = "",
        req_id: str = "",
        snapshot_end: bool = False,
        ord_type: OrderType | None = None,
        side: Side | None = None,
        price_ticks: int | None = None,
        size_lots: int = 0,
    ) -> OrderReport:
        now = self.clock.now_ns()
        return OrderReport(
            inst_id=inst_id,
            cl_ord_id=cl_ord_id,
            ord_id=ord_id,
            state=state,
            source=source,
            ts_event=now,
            ts_recv=now,
            side=side,
            ord_type=ord_type,
            price_ticks=price_ticks,
            size_lots=size_lots,
            s_code=s_code,
            s_msg=s_msg,
            req_id=req_id,
            snapshot_end=snapshot_end,
        )

    # -- rate limits ------------------------------------------------------------------------

    def _rate_ok(self, op: str, inst_id: str, limit: int) -> bool:
        """OKX counts requests per instrument in a sliding window; refused ones count too."""
        now = self.clock.now_ns()
        key = (op, inst_id)
        times = self._rates.get(key)
        if times is None:
            times = self._rates[key] = deque()
        cutoff = now - self.config.rate_window_ns
        while times and times[0] <= cutoff:
            times.popleft()
        times.append(now)
        return len(times) <= limit

    # -- commands ---------------------------------------------------------------------------

    def place_order(self, order: Order) -> None:
        """A placement arrives (limit, market, post_only, ioc, fok; reduce-only or not)."""
        self._place(
            order.inst_id,
            order.cl_ord_id,
            order.side,
            order.ord_type,
            order.size_lots,
            order.price_ticks,
            order.reduce_only,
            check_rate=True,
        )

    def _refuse(
        self,
        inst_id: str,
        cl_ord_id: str,
        side: Side,
        ord_type: OrderType,
        price: int | None,
        size: int,
        code: str,
        msg: str,
    ) -> None:
        self.emit(
            self._bare(
                inst_id,
                cl_ord_id,
                "",
                ReportSource.ACK,
                state=OrderState.REJECTED,
                s_code=code,
                s_msg=msg,
                ord_type=ord_type,
                side=side,
                price_ticks=price,
                size_lots=size,
            )
        )

    def _place(
        self,
        inst_id: str,
        cl_ord_id: str,
        side: Side,
        ord_type: OrderType,
        size: int,
        price: int | None,
        reduce_only: bool,
        *,
        check_rate: bool,
        is_child: bool = False,
    ) -> SimOrder | None:
        m = self.markets.get(inst_id)
        if ord_type is OrderType.MARKET:
            price = None
        if m is None:
            self._refuse(inst_id, cl_ord_id, side, ord_type, price, size, C_NO_INST, MSG_NO_INST)
            return None
        if check_rate and not self._rate_ok("place", inst_id, self.config.place_limit):
            self._refuse(inst_id, cl_ord_id, side, ord_type, price, size, C_RATE, MSG_RATE)
            return None
        if not is_child:
            if cl_ord_id and not _CL_ORD_ID.fullmatch(cl_ord_id):
                self._refuse(inst_id, cl_ord_id, side, ord_type, price, size, C_PARAM, param_error("clOrdId"))
                return None
            if cl_ord_id and (inst_id, cl_ord_id) in self._pending_cl:
                self._refuse(inst_id, cl_ord_id, side, ord_type, price, size, C_DUP, MSG_DUP)
                return None
        if size <= 0:
            self._refuse(inst_id, cl_ord_id, side, ord_type, price, size, C_PARAM, param_error("sz"))
            return None
        if size < m.spec.min_lots:
            self._refuse(inst_id, cl_ord_id, side, ord_type, price, size, C_MIN_SZ, MSG_MIN_SZ)
            return None
        if ord_type in _PRICED and (price is None or price <= 0):
            self._refuse(inst_id, cl_ord_id, side, ord_type, price, size, C_PARAM, param_error("px"))
            return None
        amend_source = ""
        ro_cancel = ""
        pos = m.position.lots
        if reduce_only:
            if (side is Side.SELL and pos <= 0) or (side is Side.BUY and pos >= 0):
                ro_cancel = CXL_RO_NEW  # nothing to reduce: accepted, then canceled
            elif size > abs(pos):
                size = abs(pos)
                amend_source = AMD_RO_PLACE
        else:
            need = self._margin_needed(m, side, price, size)
            if need > 0 and need > self.available():
                self._refuse(inst_id, cl_ord_id, side, ord_type, price, size, C_MARGIN, MSG_MARGIN)
                return None
        self._ord_seq += 1
        now = self.clock.now_ns()
        o = SimOrder(inst_id, cl_ord_id, str(self._ord_seq), side, ord_type, size, price, reduce_only, now)
        self._all[o.ord_id] = o
        m.orders[o.ord_id] = o
        if cl_ord_id:
            self._pending_cl[(inst_id, cl_ord_id)] = o
            self._last_cl[(inst_id, cl_ord_id)] = o
        if not is_child:  # a stop's child was not requested by us: it only shows on the orders channel
            self.emit(self._report(o, ReportSource.ACK, s_msg=MSG_PLACED, with_state=False))
        self.emit(self._report(o, ReportSource.PUSH, amend_source=amend_source))
        if reduce_only and not ro_cancel:
            ro_cancel = self._reduce_only_on_place(m, o)
        if ro_cancel:
            self._cancel(m, o, ro_cancel)
            return o
        self._execute(m, o)
        self._after_fills(m)
        return o

    def _execute(self, m: SimMarket, o: SimOrder) -> None:
        """Match a live order against the book: take what it may, then rest or cancel the rest."""
        t = o.ord_type
        if t is OrderType.POST_ONLY:
            if m._would_cross(o):
                self._cancel(m, o, CXL_POST_ONLY)
            else:
                m._rest(o)
            return
        if t is OrderType.FOK and m._available(o, o.price_ticks) < o.remaining:
            self._cancel(m, o, CXL_FOK)
            return
        m._take(o, o.price_ticks)
        if o.remaining == 0:
            return
        if t is OrderType.LIMIT:
            m._rest(o)
        else:
            self._cancel(m, o, CXL_IOC)

    def cancel_order(self, inst_id: str, cl_ord_id: str, ord_id: str | None = None) -> None:
        m = self.markets.get(inst_id)
        code, msg = "", ""
        o: SimOrder | None = None
        if m is None:
            code, msg = C_NO_INST, MSG_NO_INST
        elif not self._rate_ok("cancel", inst_id, self.config.cancel_limit):
            code, msg = C_RATE, MSG_RATE
        else:
            o = self._find_pending(inst_id, cl_ord_id, ord_id)
            if o is None:
                code, msg = C_CANCEL_FAIL, MSG_CANCEL_FAIL
        if m is None or o is None:
            self.emit(self._bare(inst_id, cl_ord_id, ord_id or "", ReportSource.ACK, s_code=code, s_msg=msg))
            return
        self.emit(self._bare(inst_id, o.cl_ord_id, o.ord_id, ReportSource.ACK))
        self._cancel(m, o, CXL_BY_USER)

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
        """OKX's amend: a size decrease keeps queue priority; a price change or a size increase
        loses it (the order goes behind what rests at its price now)."""
        m = self.markets.get(inst_id)

        def refuse(code: str, msg: str, o: SimOrder | None = None) -> None:
            self.emit(
                self._bare(
                    inst_id,
                    o.cl_ord_id if o else cl_ord_id,
                    o.ord_id if o else (ord_id or ""),
                    ReportSource.ACK,
                    s_code=code,
                    s_msg=msg,
                    req_id=req_id,
                )
            )

        if m is None:
            refuse(C_NO_INST, MSG_NO_INST)
            return
        if not self._rate_ok("amend", inst_id, self.config.amend_limit):
            refuse(C_RATE, MSG_RATE)
            return
        o = self._find_pending(inst_id, cl_ord_id, ord_id)
        if o is None:
            refuse(C_AMEND_FAIL, MSG_AMEND_FAIL)
            return
        if new_price_ticks is None and new_size_lots is None:
            refuse(C_PARAM, param_error("newSz"), o)
            return
        size = o.size_lots if new_size_lots is None else new_size_lots
        price = o.price_ticks if new_price_ticks is None else new_price_ticks
        if size <= o.filled_lots or size < m.spec.min_lots:
            refuse(C_PARAM, param_error("newSz"), o)
            return
        if new_price_ticks is not None and (o.price_ticks is None or new_price_ticks <= 0):
            refuse(C_PARAM, param_error("newPx"), o)
            return
        amend_source = AMD_BY_USER
        if o.reduce_only:
            pos = abs(m.position.lots)
            if size - o.filled_lots > pos:
                size = o.filled_lots + pos
                amend_source = AMD_RO_AMEND
        else:
            extra = self._margin_needed(m, o.side, price, size - o.filled_lots) - self._margin_needed(
                m, o.side, o.price_ticks, o.remaining
            )
            if extra > 0 and extra > self.available():
                refuse(C_MARGIN, MSG_MARGIN, o)
                return
        self.emit(self._bare(inst_id, o.cl_ord_id, o.ord_id, ReportSource.ACK, req_id=req_id))
        price_changed = price != o.price_ticks
        size_up = size > o.size_lots
        if price_changed or size_up:
            m._unrest(o)
            o.price_ticks = price
            o.size_lots = size
            self.emit(self._report(o, ReportSource.PUSH, amend_source=amend_source, req_id=req_id))
            if price_changed:
                self._execute(m, o)
            else:
                m._rest(o)
        else:
            o.size_lots = size  # a decrease keeps the order's place in the queue
            self.emit(self._report(o, ReportSource.PUSH, amend_source=amend_source, req_id=req_id))
        self._after_fills(m)

    def place_algo(self, algo: AlgoOrder) -> None:
        """A conditional stop: when the last (or mark) price touches the trigger, a market (or
        limit) reduce-only child is placed."""
        inst_id = algo.inst_id
        m = self.markets.get(inst_id)

        def refuse(code: str, msg: str) -> None:
            self.emit(
                self._bare(
                    inst_id,
                    algo.algo_cl_ord_id,
                    "",
                    ReportSource.ACK,
                    state=OrderState.REJECTED,
                    s_code=code,
                    s_msg=msg,
                    side=algo.side,
                    price_ticks=algo.trigger_ticks,
                    size_lots=algo.size_lots,
                )
            )

        if m is None:
            refuse(C_NO_INST, MSG_NO_INST)
            return
        if not self._rate_ok("algo", inst_id, self.config.algo_limit):
            refuse(C_RATE, MSG_RATE)
            return
        if algo.algo_cl_ord_id and not _CL_ORD_ID.fullmatch(algo.algo_cl_ord_id):
            refuse(C_PARAM, param_error("algoClOrdId"))
            return
        if algo.size_lots <= 0:
            refuse(C_PARAM, param_error("sz"))
            return
        if algo.trigger_ticks <= 0:
            refuse(C_PARAM, param_error("slTriggerPx"))
            return
        self._algo_seq += 1
        a = _SimAlgo(algo, str(self._algo_seq))
        m.algos[a.algo_id] = a
        m._refresh()
        self.emit(self._algo_report(a, ReportSource.ACK, None))
        self.emit(self._algo_report(a, ReportSource.PUSH, OrderState.LIVE))

    def _algo_report(self, a: _SimAlgo, source: ReportSource, state: OrderState | None, **kw: Any) -> OrderReport:
        return self._bare(
            a.inst_id,
            a.algo_cl_ord_id,
            a.algo_id,
            source,
            state=state,
            side=a.side,
            price_ticks=a.trigger_ticks,
            size_lots=a.size_lots,
            **kw,
        )

    def cancel_algo(self, inst_id: str, algo_id: str | None, algo_cl_ord_id: str | None) -> None:
        m = self.markets.get(inst_id)
        found: _SimAlgo | None = None
        if m is not None:
            for a in m.algos.values():
                if (algo_id and a.algo_id == algo_id) or (
                    not algo_id and algo_cl_ord_id and a.algo_cl_ord_id == algo_cl_ord_id
                ):
                    found = a
                    break
        if m is None or found is None:
            self.emit(
                self._bare(
                    inst_id,
                    algo_cl_ord_id or "",
                    algo_id or "",
                    ReportSource.ACK,
                    s_code=C_NO_ORDER,
                    s_msg=MSG_NO_ORDER,
                )
            )
            return
        if not self._rate_ok("algo", inst_id, self.config.algo_limit):
            self.emit(self._algo_report(found, ReportSource.ACK, None, s_code=C_RATE, s_msg=MSG_RATE))
            return
        del m.algos[found.algo_id]
        m._refresh()
        self.emit(self._algo_report(found, ReportSource.ACK, None))
        self.emit(self._algo_report(found, ReportSource.PUSH, OrderState.CANCELED))

    def _trigger(self, m: SimMarket, a: _SimAlgo) -> None:
        self.emit(self._algo_report(a, ReportSource.PUSH, OrderState.FILLED))
        ord_type = OrderType.MARKET if a.order_ticks is None else OrderType.LIMIT
        self._place(
            a.inst_id,
            a.algo_cl_ord_id,
            a.side,
            ord_type,
            a.size_lots,
            a.order_ticks,
            True,
            check_rate=False,
            is_child=True,
        )

    def close_position(self, inst_id: str, cl_ord_id: str, *, auto_cxl: bool = True) -> None:
        """Close the whole position at market, reduce-only; ``auto_cxl`` first cancels the
        pending close (reduce-only) orders of the instrument."""
        m = self.markets.get(inst_id)
        if m is None:
            self._refuse(inst_id, cl_ord_id, Side.SELL, OrderType.MARKET, None, 0, C_NO_INST, MSG_NO_INST)
            return
        pos = m.position.lots
        side = Side.SELL if pos > 0 else Side.BUY
        if pos == 0:
            self._refuse(inst_id, cl_ord_id, side, OrderType.MARKET, None, 0, C_NO_POS, MSG_NO_POS)
            return
        if auto_cxl:
            for o in [o for o in m.orders.values() if o.reduce_only]:
                self._cancel(m, o, CXL_CLOSE_AUTO)
        self._place(inst_id, cl_ord_id, side, OrderType.MARKET, abs(pos), None, True, check_rate=True)

    # -- plumbing of orders -----------------------------------------------------------------

    def _find_pending(self, inst_id: str, cl_ord_id: str | None, ord_id: str | None) -> SimOrder | None:
        if ord_id:
            o = self._all.get(ord_id)
            if o is not None and o.inst_id == inst_id and o.ord_id in self.markets[inst_id].orders:
                return o
            return None
        if cl_ord_id:
            return self._pending_cl.get((inst_id, cl_ord_id))
        return None

    def _find_any(self, inst_id: str, cl_ord_id: str | None, ord_id: str | None) -> SimOrder | None:
        if ord_id:
            o = self._all.get(ord_id)
            return o if o is not None and o.inst_id == inst_id else None
        if cl_ord_id:
            return self._last_cl.get((inst_id, cl_ord_id))
        return None

    def _close(self, m: SimMarket, o: SimOrder) -> None:
        m.orders.pop(o.ord_id, None)
        key = (o.inst_id, o.cl_ord_id)
        if self._pending_cl.get(key) is o:
            del self._pending_cl[key]

    def _cancel(self, m: SimMarket, o: SimOrder, source: str) -> None:
        m._unrest(o)
        o.state = OrderState.CANCELED
        self._close(m, o)
        self.emit(self._report(o, ReportSource.PUSH, cancel_source=source))

    def _fill(self, m: SimMarket, o: SimOrder, ticks: int, lots: int, liquidity: Liquidity) -> None:
        """Book one fill of ours: fee, position, realized PnL, balance; push the report."""
        spec = m.spec
        fee = self.fees.fee(spec.notional(ticks, lots), liquidity)
        m._trade_seq += 1
        trade_id = m._trade_seq
        pnl = spec.pnl_value(float(m.position.apply_fill(o.side, ticks, lots, fee)))
        m.position.last_trade_id = trade_id
        m.pos_dirty = True
        self.balance += pnl
        self.balance += fee
        o.filled_lots += lots
        o.acc_tl += ticks * lots
        o.acc_fee += fee
        f = _Fill(trade_id, ticks, lots, fee, liquidity, pnl, self.clock.now_ns(), o.filled_lots, o.acc_tl, o.acc_fee)
        o.fills.append(f)
        if o.remaining == 0:
            o.state = OrderState.FILLED
            self._close(m, o)
        else:
            o.state = OrderState.PARTIALLY_FILLED
        self.emit(self._report(o, ReportSource.PUSH, fill=f))
        if m.position.lots != 0:
            m._arm_funding()

    # -- reduce-only (DESIGN.md §6a) --------------------------------------------------------

    def _reduce_only_on_place(self, m: SimMarket, new: SimOrder) -> str:
        """Pending reduce-only size may not exceed the position: keep the better-priced orders;
        returns "22" when the new order is the one to cancel (existing ones get "23")."""
        room = abs(m.position.lots)
        others = [o for o in m.orders.values() if o.reduce_only and o is not new and o.side is new.side]
        if not others:
            return ""
        ranked = sorted([*others, new], key=_goodness, reverse=True)  # stable: existing first on ties
        total = 0
        verdict = ""
        for o in ranked:
            if total + o.remaining <= room:
                total += o.remaining
            elif o is new:
                verdict = CXL_RO_NEW
            else:
                self._cancel(m, o, CXL_RO_EXISTING)
        return verdict

    def _after_fills(self, m: SimMarket) -> None:
        """After the position changed: existing reduce-only orders that no longer reduce it, or
        whose total exceeds it, are canceled (23), worst-priced first."""
        if not m.pos_dirty:
            return
        m.pos_dirty = False
        ro = [o for o in m.orders.values() if o.reduce_only]
        if not ro:
            return
        pos = m.position.lots
        reducing = Side.SELL if pos > 0 else Side.BUY
        keep = sorted((o for o in ro if pos != 0 and o.side is reducing), key=_goodness, reverse=True)
        room = abs(pos)
        total = 0
        for o in ro:
            if pos == 0 or o.side is not reducing:
                self._cancel(m, o, CXL_RO_EXISTING)
        for o in keep:
            if total + o.remaining <= room:
                total += o.remaining
            else:
                self._cancel(m, o, CXL_RO_EXISTING)

    # -- account ----------------------------------------------------------------------------

    def _margin_needed(self, m: SimMarket, side: Side, price: int | None, lots: int) -> float:
        if price is None:
            best = m.book.best_ask if side is Side.BUY else m.book.best_bid
            if best not in (NO_ASK, NO_BID):
                price = best
            else:
                ref = m.reference_ticks()
                if ref is None:
                    return 0.0
                return abs(ref * lots) * m.spec.quote_per_tick_lot / self.config.leverage
        return m.spec.notional(price, lots) / self.config.leverage

    def equity(self) -> float:
        eq = self.balance
        for m in self.markets.values():
            if m.position.lots:
                ref = m.reference_ticks()
                if ref is not None:
                    eq += m.spec.pnl_value(float(m.position.unrealized(ref)))  # type: ignore[arg-type]
        return eq

    def available(self) -> float:
        """Equity − initial margin of positions − initial margin of open non-reduce-only orders."""
        avail = self.equity()
        lev = self.config.leverage
        for m in self.markets.values():
            if m.position.lots:
                ref = m.reference_ticks()
                if ref is not None:
                    avail -= abs(ref * m.position.lots) * m.spec.quote_per_tick_lot / lev
            for o in m.orders.values():
                if not o.reduce_only and o.price_ticks is not None:
                    avail -= m.spec.notional(o.price_ticks, o.remaining) / lev
        return avail

    def _settle_funding(self, m: SimMarket, at_ns: int) -> None:
        rate = m.rates.rate_for(at_ns)
        lots = m.position.lots
        if lots == 0:
            return
        ref = m.reference_ticks()
        if ref is None:
            log.warning("%s: funding at %d skipped: no mark, trade or book price", m.inst_id, at_ns)
            return
        pay = funding_payment(m.spec, lots, ref, rate)
        self.balance += pay
        m.position.funding += pay
        now = self.clock.now_ns()
        self.emit(FundingEvent(m.inst_id, rate, at_ns, now, now, payment=pay))

    # -- queries ----------------------------------------------------------------------------

    def query_order(self, req_id: str, inst_id: str, cl_ord_id: str | None, ord_id: str | None) -> None:
        o = self._find_any(inst_id, cl_ord_id, ord_id)
        if o is None:
            self.emit(
                self._bare(
                    inst_id,
                    cl_ord_id or "",
                    ord_id or "",
                    ReportSource.QUERY,
                    s_code=C_NO_ORDER,
                    s_msg=MSG_NO_ORDER,
                    req_id=req_id,
                    snapshot_end=True,
                )
            )
            return
        self.emit(self._report(o, ReportSource.QUERY, req_id=req_id, snapshot_end=True))

    def query_open_orders(self, req_id: str, inst_id: str | None = None) -> None:
        """Live and partially filled orders, newest first (as OKX lists them)."""
        found: list[SimOrder] = []
        for m in self.markets.values():
            if inst_id is None or m.inst_id == inst_id:
                found.extend(m.orders.values())
        found.sort(key=lambda o: int(o.ord_id), reverse=True)
        if not found:
            self.emit(self._bare(inst_id or "", "", "", ReportSource.QUERY, req_id=req_id, snapshot_end=True))
            return
        for i, o in enumerate(found):
            self.emit(self._report(o, ReportSource.QUERY, req_id=req_id, snapshot_end=i == len(found) - 1))

    def query_fills(self, req_id: str, inst_id: str, ord_id: str | None = None) -> None:
        """Our fills of one order (or of the instrument), oldest first, each with the order's
        cumulative figures as of that fill."""
        rows: list[tuple[SimOrder, _Fill]] = []
        for o in self._all.values():
            if o.inst_id == inst_id and (ord_id is None or o.ord_id == ord_id):
                rows.extend((o, f) for f in o.fills)
        rows.sort(key=lambda r: r[1].trade_id)
        if not rows:
            self.emit(self._bare(inst_id, "", ord_id or "", ReportSource.QUERY, req_id=req_id, snapshot_end=True))
            return
        for i, (o, f) in enumerate(rows):
            state = OrderState.FILLED if f.acc_lots == o.size_lots else OrderState.PARTIALLY_FILLED
            if o.state is OrderState.CANCELED and f is o.fills[-1]:
                state = OrderState.CANCELED
            self.emit(
                self._report(o, ReportSource.QUERY, state=state, fill=f, req_id=req_id, snapshot_end=i == len(rows) - 1)
            )

    def positions(self, inst_id: str | None = None) -> list[PositionSnapshot]:
        """Non-flat positions (OKX returns no record for a flat instrument)."""
        out: list[PositionSnapshot] = []
        for m in self.markets.values():
            if (inst_id is None or m.inst_id == inst_id) and m.position.lots != 0:
                avg = m.position.avg_ticks
                avg_px = float(Decimal(avg.numerator) * m.spec.tick_sz / Decimal(avg.denominator)) if avg else 0.0
                out.append(PositionSnapshot(m.inst_id, m.position.lots, avg_px, m.position.last_trade_id))
        return out

    def last_trade_id(self, inst_id: str) -> int | None:
        m = self.markets.get(inst_id)
        return m.position.last_trade_id if m is not None else None

    def account(self) -> AccountSnapshot:
        return AccountSnapshot(self.equity(), self.balance, self.available())

    # -- faults (SimGateway's fault plan) ---------------------------------------------------

    def plant_foreign_order(
        self, inst_id: str, side: Side, price_ticks: int, size_lots: int, cl_ord_id: str = ""
    ) -> SimOrder:
        """A resting order Athena never placed (a ghost): pushed as live, listed by queries."""
        m = self.markets[inst_id]
        self._ord_seq += 1
        o = SimOrder(
            inst_id,
            cl_ord_id,
            str(self._ord_seq),
            side,
            OrderType.LIMIT,
            size_lots,
            price_ticks,
            False,
            self.clock.now_ns(),
        )
        o.foreign = True
        self._all[o.ord_id] = o
        m.orders[o.ord_id] = o
        if cl_ord_id:
            self._pending_cl[(inst_id, cl_ord_id)] = o
            self._last_cl[(inst_id, cl_ord_id)] = o
        m._rest(o)
        self.emit(self._report(o, ReportSource.PUSH))
        return o

    def shift_position(self, inst_id: str, lots: int) -> None:
        """The exchange's position moves by ``lots`` with no fill reported (at the current
        average, or the reference price when it opens)."""
        m = self.markets[inst_id]
        pos = m.position
        new = pos.lots + lots
        avg = pos.avg_ticks
        if avg is None or new == 0 or (new > 0) != (pos.lots > 0):
            ref = m.reference_ticks()
            avg = None if ref is None else Fraction(ref)
        pos.reset_to(new, avg)
        m.pos_dirty = True
        self._after_fills(m)
        if new != 0:
            m._arm_funding()
