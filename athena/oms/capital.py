"""CapitalCommander: the account's money, per strategy and in total.

Owns: total capital and each strategy's allocation (a share of the balance); the margin reserved
by open orders and used by open positions; realized PnL (exact, via ``Position`` per strategy and
instrument), fees and funding, per strategy and in total; the equity curve and its peak.
A non-reduce-only order reserves the initial margin of its whole size, notional ÷ leverage — the
worst case, since a position it might reduce can be gone by the time it fills; a reduce-only order
reserves nothing and is never refused for capital (DESIGN.md §6a). A reservation shrinks as fills
convert it into position margin and is released when the order ends.
Never: sends commands, decides risk, or reads the clock (times come with the calls). OrderManager
calls ``reserve`` synchronously inside ``submit_order``, so two submits in one handler cannot both
pass the allocation check.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from athena.core.bus import EventBus, Priority
from athena.core.events import EventType, FundingEvent, MarkPriceEvent
from athena.model.enums import RejectReason
from athena.model.instrument import InstrumentSpec
from athena.model.orders import Fill
from athena.model.position import Position

_EPS = 1e-9


@dataclass(slots=True)
class _Reservation:
    strategy_id: str
    spec: InstrumentSpec
    price_ticks: int
    lots: int  # still reserved (the order's unfilled size)


@dataclass(slots=True)
class StrategyBook:
    """One strategy's money: its positions per instrument (for exact realized PnL), fees, funding."""

    strategy_id: str
    allocation: float
    positions: dict[str, Position]
    fees: float = 0.0
    funding: float = 0.0


class CapitalCommander:
    """Reservations, allocation checks and PnL. ``allocations`` maps strategy id → share of the
    balance; None lets every strategy use the whole balance; a strategy missing from a given mapping
    has none (its entries are refused with NO_CAPITAL)."""

    def __init__(
        self,
        total_capital: float,
        allocations: Mapping[str, float] | None = None,
        *,
        leverage: float = 3.0,
        instruments: Mapping[str, InstrumentSpec] | None = None,
    ) -> None:
        if total_capital <= 0:
            raise ValueError(f"total capital must be positive, got {total_capital}")
        if leverage <= 0:
            raise ValueError(f"leverage must be positive, got {leverage}")
        if allocations is not None:
            total = math.fsum(allocations.values())
            if any(a < 0 for a in allocations.values()) or total > 1 + _EPS:
                raise ValueError(f"allocations must be ≥ 0 and sum to at most 1, got {dict(allocations)}")
        self.total_capital = total_capital
        self.leverage = leverage
        self._allocations = dict(allocations) if allocations is not None else None
        self._instruments: dict[str, InstrumentSpec] = dict(instruments or {})
        self._books: dict[str, StrategyBook] = {}
        self._res: dict[str, _Reservation] = {}
        self._marks: dict[str, int] = {}
        self.unattributed_funding = 0.0
        self.equity_curve: list[tuple[int, float]] = []
        self.peak_equity = total_capital

    @classmethod
    def from_config(cls, obj: Any, instruments: Mapping[str, InstrumentSpec] | None = None) -> CapitalCommander:
        """From a config object with ``total_capital``, optional ``allocations`` and ``leverage``."""
        return cls(
            float(obj.total_capital),
            getattr(obj, "allocations", None) or None,
            leverage=float(getattr(obj, "leverage", 3.0)),
            instruments=instruments,
        )

    def attach(self, bus: EventBus) -> None:
        """Follow funding payments and mark prices (for unrealized PnL in the equity)."""
        bus.subscribe(EventType.FUNDING, self._on_funding, Priority.CAPITAL)
        bus.subscribe(EventType.MARK_PRICE, self._on_mark, Priority.CAPITAL)

    # -- books ----------------------------------------------------------------------------------

    def book(self, strategy_id: str) -> StrategyBook:
        b = self._books.get(strategy_id)
        if b is None:
            if self._allocations is None:
                alloc = 1.0
            else:
                alloc = self._allocations.get(strategy_id, 0.0)
            b = StrategyBook(strategy_id, alloc, {})
            self._books[strategy_id] = b
        return b

    def _position(self, strategy_id: str, inst_id: str) -> Position:
        positions = self.book(strategy_id).positions
        p = positions.get(inst_id)
        if p is None:
            p = positions[inst_id] = Position(inst_id)
        return p

    def _spec(self, inst_id: str) -> InstrumentSpec | None:
        return self._instruments.get(inst_id)

    # -- figures --------------------------------------------------------------------------------

    def margin(self, spec: InstrumentSpec, price_ticks: int, lots: int) -> float:
        """Initial margin of ``lots`` at ``price_ticks``: notional ÷ leverage."""
        return spec.notional(price_ticks, lots) / self.leverage

    def reserved(self, strategy_id: str | None = None) -> float:
        return math.fsum(
            self.margin(r.spec, r.price_ticks, r.lots)
            for r in self._res.values()
            if strategy_id is None or r.strategy_id == strategy_id
        )

    def used_margin(self, strategy_id: str) -> float:
        """Margin of the strategy's open positions, at their entry cost."""
        out = []
        for inst_id, p in self.book(strategy_id).positions.items():
            spec = self._spec(inst_id)
            if spec is not None and p.lots != 0:
                out.append(spec.pnl_value(abs(p.cost)) / self.leverage)
        return math.fsum(out)

    def realized_pnl(self, strategy_id: str | None = None) -> float:
        """Realized trading PnL in quote currency (fees and funding apart)."""
        out = []
        for b in self._books.values() if strategy_id is None else [self.book(strategy_id)]:
            for inst_id, p in b.positions.items():
                spec = self._spec(inst_id)
                if spec is not None:
                    out.append(spec.pnl_value(p.realized))
        return math.fsum(out)

    def fees(self, strategy_id: str | None = None) -> float:
        if strategy_id is not None:
            return self.book(strategy_id).fees
        return math.fsum(b.fees for b in self._books.values())

    def funding(self, strategy_id: str | None = None) -> float:
        if strategy_id is not None:
            return self.book(strategy_id).funding
        return math.fsum([*(b.funding for b in self._books.values()), self.unattributed_funding])

    def unrealized_pnl(self) -> float:
        out = []
        for b in self._books.values():
            for inst_id, p in b.positions.items():
                spec = self._spec(inst_id)
                mark = self._marks.get(inst_id)
                if spec is not None and mark is not None and p.lots != 0:
                    out.append(spec.pnl_value(p.unrealized(mark)))
        return math.fsum(out)

    def balance(self) -> float:
        """Cash: capital + realized PnL + fees (OKX sign) + funding."""
        return math.fsum([self.total_capital, self.realized_pnl(), self.fees(), self.funding()])

    def equity(self) -> float:
        return self.balance() + self.unrealized_pnl()

    def free(self, strategy_id: str) -> float:
        """Allocation left for new reservations: share × balance − reserved − position margin."""
        b = self.book(strategy_id)
        return b.allocation * self.balance() - self.reserved(strategy_id) - self.used_margin(strategy_id)

    def drawdown(self) -> float:
        peak = self.peak_equity
        return (peak - self.equity()) / peak if peak > 0 else 0.0

    def record_point(self, ts_ns: int) -> float:
        """Append an equity-curve point and move the peak."""
        eq = self.equity()
        self.equity_curve.append((ts_ns, eq))
        if eq > self.peak_equity:
            self.peak_equity = eq
        return eq

    # -- reservations ---------------------------------------------------------------------------

    def reserve(
        self, strategy_id: str, cl_ord_id: str, spec: InstrumentSpec, price_ticks: int, lots: int
    ) -> RejectReason | None:
        """Reserve the initial margin of a non-reduce-only order, or refuse with NO_CAPITAL."""
        self._instruments.setdefault(spec.inst_id, spec)
        need = self.margin(spec, price_ticks, lots)
        free = self.free(strategy_id)
        if need > free * (1 + _EPS) + _EPS:
            return RejectReason.NO_CAPITAL
        self._res[cl_ord_id] = _Reservation(strategy_id, spec, price_ticks, lots)
        return None

    def resize(self, cl_ord_id: str, price_ticks: int | None, lots: int, *, check: bool = True) -> RejectReason | None:
        """Change a reservation (an amend); with ``check`` refuse an increase the allocation cannot carry."""
        r = self._res.get(cl_ord_id)
        if r is None:
            return None
        new_px = r.price_ticks if price_ticks is None else price_ticks
        if check:
            extra = self.margin(r.spec, new_px, lots) - self.margin(r.spec, r.price_ticks, r.lots)
            if extra > 0 and extra > self.free(r.strategy_id) * (1 + _EPS) + _EPS:
                return RejectReason.NO_CAPITAL
        r.price_ticks = new_px
        r.lots = lots
        return None

    def release(self, cl_ord_id: str) -> None:
        self._res.pop(cl_ord_id, None)

    def is_reserved(self, cl_ord_id: str) -> bool:
        return cl_ord_id in self._res

    # -- fills and funding ----------------------------------------------------------------------

    def on_fill(self, fill: Fill, spec: InstrumentSpec | None = None) -> None:
        """Convert the filled part of the reservation into position (and PnL, fees)."""
        if spec is not None:
            self._instruments.setdefault(spec.inst_id, spec)
        r = self._res.get(fill.cl_ord_id)
        if r is not None:
            r.lots = max(0, r.lots - fill.lots)
        b = self.book(fill.strategy_id)
        b.fees += fill.fee
        self._position(fill.strategy_id, fill.inst_id).apply_fill(fill.side, fill.ticks, fill.lots)
        self.record_point(fill.ts_event)

    def on_funding(self, inst_id: str, payment: float, ts_ns: int) -> None:
        """Share a funding payment among the strategies holding the instrument, by |lots|."""
        holders = [
            (b, abs(b.positions[inst_id].lots))
            for b in self._books.values()
            if inst_id in b.positions and b.positions[inst_id].lots != 0
        ]
        total = sum(lots for _, lots in holders)  # ints: exact
        if total == 0:
            self.unattributed_funding += payment
        else:
            for b, lots in holders:
                b.funding += payment * lots / total
        self.record_point(ts_ns)

    def _on_funding(self, ev: FundingEvent) -> None:
        if ev.payment is not None:
            self.on_funding(ev.inst_id, ev.payment, ev.ts_recv)

    def _on_mark(self, ev: MarkPriceEvent) -> None:
        self._marks[ev.inst_id] = ev.mark_ticks
