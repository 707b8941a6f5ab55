"""Pre-trade risk: the limits, the per-strategy risk profile, and one small class per rule.

Owns: ``RiskLimits`` (account-wide, the defaults of DESIGN.md §6a), ``RiskProfile`` (what a strategy
asks of the OMS: its protective stop distance), ``OrderIntent``/``RiskContext`` (what a rule sees),
the rules — each with a ``reason`` code and ``check(intent, ctx) -> RejectReason | None`` — and
``PreTradeCheck``, which runs them in order. Reduce-only orders skip the 1 % rule and the leverage
cap, and nothing else does (§6a). Rules that stop *new entries* (drawdown halt, circuit breaker)
by their own definition do not apply to reduce-only exits.
Never: sends, cancels or reads the clock (the time comes in ``RiskContext.now_ns``); a rule only
answers yes or no and, on no, leaves the numbers behind in ``detail``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any, ClassVar

from athena.model.enums import OrderType, RejectReason, Side
from athena.model.instrument import InstrumentSpec

# Float sums of exact quantities can land a hair above a limit they meet exactly.
_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class RiskLimits:
    """Account-wide limits; the defaults are DESIGN.md §6a's."""

    risk_per_trade: float = 0.01  # loss at the protective stop ≤ this share of equity
    max_leverage: float = 3.0  # worst exposure after the order ÷ equity
    max_drawdown: float = 0.2  # (peak − equity) ÷ peak at which new entries halt
    price_band_pct: float = 0.05  # a limit price within ± this share of the reference price
    max_open_orders: int = 20
    max_order_rate: int = 10  # orders sent per window
    order_rate_window_s: float = 1.0
    max_notional_usdt: float | None = None  # per order; None: no limit

    @classmethod
    def from_config(cls, obj: Any) -> RiskLimits:
        """Read the fields of the same names from a config object (``RiskConfig``); absent ones keep
        their defaults."""
        return cls(**{f.name: getattr(obj, f.name) for f in fields(cls) if hasattr(obj, f.name)})


@dataclass(frozen=True, slots=True)
class RiskProfile:
    """Per strategy: the protective stop distance used by the 1 % rule and the OMS's stop.
    ``stop_ticks`` wins over ``stop_pct`` (a share of the entry price, rounded up to whole ticks)."""

    stop_ticks: int | None = None
    stop_pct: float | None = None

    def stop_distance(self, entry_ticks: int | None) -> int | None:
        if self.stop_ticks is not None:
            return self.stop_ticks
        if self.stop_pct is not None and entry_ticks is not None:
            d = entry_ticks * self.stop_pct
            whole = int(d)
            return max(1, whole if whole == d else whole + 1)  # round up: never understate the risk
        return None

    @classmethod
    def from_config(cls, obj: Any) -> RiskProfile:
        """From a config object's attributes or a mapping's keys of the same names (a strategy's
        settings are a dict); absent ones keep their defaults."""
        if isinstance(obj, Mapping):
            return cls(**{f.name: obj[f.name] for f in fields(cls) if f.name in obj})
        return cls(**{f.name: getattr(obj, f.name) for f in fields(cls) if hasattr(obj, f.name)})


@dataclass(slots=True)
class OrderIntent:
    """An order as the rules see it. ``price_ticks`` is the price it is valued at (its limit, or the
    book's opposite best for a market order); ``stop_ticks`` the protective stop distance, if any."""

    strategy_id: str
    inst_id: str
    side: Side
    ord_type: OrderType
    size_lots: int
    price_ticks: int | None
    reduce_only: bool = False
    stop_ticks: int | None = None


@dataclass(slots=True)
class RiskContext:
    """The account as it stands before the order. Open lots are the remaining sizes of every open
    order of the instrument (reduce-only ones too: they can fill)."""

    spec: InstrumentSpec
    now_ns: int
    equity: float
    peak_equity: float
    position_lots: int = 0
    open_buy_lots: int = 0
    open_sell_lots: int = 0
    open_orders: int = 0
    ref_ticks: float | None = None  # mark price, else the book's mid


class Rule:
    """Base of a pre-trade rule."""

    __slots__ = ("detail",)
    reason: ClassVar[RejectReason]
    exempt_reduce_only: ClassVar[bool] = False

    def __init__(self) -> None:
        self.detail = ""

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RejectReason | None:
        raise NotImplementedError

    def on_sent(self, intent: OrderIntent, ctx: RiskContext) -> None:
        """Called once the order passed every rule and left for the gateway."""

    def _no(self, detail: str) -> RejectReason:
        self.detail = detail
        return self.reason


class CircuitBreaker(Rule):
    """Reject new entries while paused (the PositionManager pauses it after repeated sync failures)."""

    __slots__ = ("paused_until_ns", "why")
    reason = RejectReason.CIRCUIT_BREAKER

    def __init__(self) -> None:
        super().__init__()
        self.paused_until_ns = 0
        self.why = ""

    def pause(self, until_ns: int, why: str) -> None:
        if until_ns > self.paused_until_ns:
            self.paused_until_ns = until_ns
            self.why = why

    def is_paused(self, now_ns: int) -> bool:
        return now_ns < self.paused_until_ns

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RejectReason | None:
        if intent.reduce_only or ctx.now_ns >= self.paused_until_ns:
            return None
        return self._no(f"new entries paused until {self.paused_until_ns} ns: {self.why}")


class DrawdownHalt(Rule):
    """Halt new entries once (peak − equity) ÷ peak ≥ ``max_drawdown``; stays halted until ``reset``."""

    __slots__ = ("halted", "max_drawdown")
    reason = RejectReason.DRAWDOWN_HALT

    def __init__(self, max_drawdown: float) -> None:
        super().__init__()
        self.max_drawdown = max_drawdown
        self.halted = False

    def reset(self) -> None:
        self.halted = False

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RejectReason | None:
        if intent.reduce_only:
            return None
        peak = ctx.peak_equity
        dd = (peak - ctx.equity) / peak if peak > 0 else 0.0
        if not self.halted and dd + _EPS < self.max_drawdown:
            return None
        self.halted = True
        return self._no(f"drawdown {dd:.2%} (peak {peak:.2f}, equity {ctx.equity:.2f}) reached {self.max_drawdown:.2%}")


class MaxOrderRate(Rule):
    """Reject a new order when ``limit`` were sent in the last ``window_ns``."""

    __slots__ = ("_sent", "limit", "window_ns")
    reason = RejectReason.ORDER_RATE

    def __init__(self, limit: int, window_ns: int) -> None:
        super().__init__()
        self.limit = limit
        self.window_ns = window_ns
        self._sent: deque[int] = deque()

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RejectReason | None:
        sent = self._sent
        start = ctx.now_ns - self.window_ns
        while sent and sent[0] <= start:
            sent.popleft()
        if len(sent) < self.limit:
            return None
        return self._no(f"{len(sent)} orders sent in the last {self.window_ns} ns (limit {self.limit})")

    def on_sent(self, intent: OrderIntent, ctx: RiskContext) -> None:
        self._sent.append(ctx.now_ns)


class MaxOpenOrders(Rule):
    """Reject a new order while ``limit`` orders are open."""

    __slots__ = ("limit",)
    reason = RejectReason.MAX_OPEN_ORDERS

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RejectReason | None:
        if ctx.open_orders < self.limit:
            return None
        return self._no(f"{ctx.open_orders} orders open (limit {self.limit})")


class PriceBand(Rule):
    """A limit price must lie within ± ``pct`` of the reference (mark, else mid): |p − ref| ≤ pct × ref."""

    __slots__ = ("pct",)
    reason = RejectReason.PRICE_BAND

    def __init__(self, pct: float) -> None:
        super().__init__()
        self.pct = pct

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RejectReason | None:
        ref = ctx.ref_ticks
        p = intent.price_ticks
        if intent.ord_type is OrderType.MARKET or ref is None or p is None:
            return None
        if abs(p - ref) <= self.pct * ref * (1 + _EPS):
            return None
        return self._no(f"price {p} ticks is {abs(p - ref) / ref:.2%} from reference {ref} (band {self.pct:.2%})")


class Notional(Rule):
    """One order's value, contracts × ctVal × price, must not exceed ``max_usdt``."""

    __slots__ = ("max_usdt",)
    reason = RejectReason.NOTIONAL

    def __init__(self, max_usdt: float | None) -> None:
        super().__init__()
        self.max_usdt = max_usdt

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RejectReason | None:
        if self.max_usdt is None or intent.price_ticks is None:
            return None
        value = ctx.spec.notional(intent.price_ticks, intent.size_lots)
        if value <= self.max_usdt * (1 + _EPS):
            return None
        return self._no(f"notional {value:.2f} USDT > limit {self.max_usdt:.2f}")


class RiskPerTrade(Rule):
    """The 1 % rule: |entry − stop| × contracts × ctVal ≤ ``pct`` × equity (the loss if the stop is hit).
    An order with no stop distance has no such loss to measure and passes (the leverage cap still
    bounds it)."""

    __slots__ = ("pct",)
    reason = RejectReason.RISK_PER_TRADE
    exempt_reduce_only = True

    def __init__(self, pct: float) -> None:
        super().__init__()
        self.pct = pct

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RejectReason | None:
        if intent.stop_ticks is None:
            return None
        loss = ctx.spec.notional(intent.stop_ticks, intent.size_lots)
        limit = self.pct * ctx.equity
        if ctx.equity > 0 and loss <= limit * (1 + _EPS):
            return None
        return self._no(
            f"loss at stop {loss:.4f} USDT (|entry − stop| {intent.stop_ticks} ticks × {intent.size_lots} lots)"
            f" > {self.pct:.2%} of equity {ctx.equity:.2f} = {limit:.4f}"
        )


class LeverageCap(Rule):
    """Worst exposure after the order, max(|pos + open buys + this buy|, |pos − open sells − this sell|)
    × ctVal × price ÷ equity ≤ ``max_leverage``."""

    __slots__ = ("max_leverage",)
    reason = RejectReason.LEVERAGE_CAP
    exempt_reduce_only = True

    def __init__(self, max_leverage: float) -> None:
        super().__init__()
        self.max_leverage = max_leverage

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RejectReason | None:
        p = intent.price_ticks
        if p is None:
            return self._no("no price to value the exposure at")
        buy = intent.size_lots if intent.side is Side.BUY else 0
        sell = intent.size_lots - buy
        pos = ctx.position_lots
        worst = max(abs(pos + ctx.open_buy_lots + buy), abs(pos - ctx.open_sell_lots - sell))
        exposure = ctx.spec.notional(p, worst)
        if ctx.equity > 0 and exposure <= self.max_leverage * ctx.equity * (1 + _EPS):
            return None
        lev = exposure / ctx.equity if ctx.equity > 0 else float("inf")
        return self._no(
            f"worst exposure {worst} lots × price {p} ticks = {exposure:.2f} USDT is {lev:.3f}× equity"
            f" {ctx.equity:.2f} (cap {self.max_leverage}×)"
        )


def default_rules(limits: RiskLimits, breaker: CircuitBreaker, drawdown: DrawdownHalt) -> list[Rule]:
    """The standard list, cheapest and most absolute first."""
    return [
        breaker,
        drawdown,
        MaxOrderRate(limits.max_order_rate, int(limits.order_rate_window_s * 1_000_000_000)),
        MaxOpenOrders(limits.max_open_orders),
        PriceBand(limits.price_band_pct),
        Notional(limits.max_notional_usdt),
        RiskPerTrade(limits.risk_per_trade),
        LeverageCap(limits.max_leverage),
    ]


class PreTradeCheck:
    """Runs the rules in order; the first refusal wins and its numbers are in ``last_detail``."""

    __slots__ = ("breaker", "drawdown", "last_detail", "limits", "rules")

    def __init__(self, limits: RiskLimits | None = None, rules: Sequence[Rule] | None = None) -> None:
        self.limits = limits or RiskLimits()
        if rules is None:
            self.breaker = CircuitBreaker()
            self.drawdown = DrawdownHalt(self.limits.max_drawdown)
            self.rules: list[Rule] = default_rules(self.limits, self.breaker, self.drawdown)
        else:
            self.rules = list(rules)
            self.breaker = next((r for r in self.rules if isinstance(r, CircuitBreaker)), CircuitBreaker())
            self.drawdown = next(
                (r for r in self.rules if isinstance(r, DrawdownHalt)), DrawdownHalt(self.limits.max_drawdown)
            )
        self.last_detail = ""

    def check(self, intent: OrderIntent, ctx: RiskContext) -> RejectReason | None:
        reduce_only = intent.reduce_only
        for rule in self.rules:
            if reduce_only and rule.exempt_reduce_only:
                continue
            reason = rule.check(intent, ctx)
            if reason is not None:
                self.last_detail = rule.detail
                return reason
        self.last_detail = ""
        return None

    def on_sent(self, intent: OrderIntent, ctx: RiskContext) -> None:
        for rule in self.rules:
            rule.on_sent(intent, ctx)
