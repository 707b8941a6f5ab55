"""BaseStrategy: the lifecycle, typed handlers and order helpers every strategy builds on, and the registry.

Owns: subscribing a strategy's handlers to the bus (Priority.STRATEGY, after the OMS), the
``buy``/``sell``/``cancel`` helpers — which go through OrderManager, the one order path — and
``--strategy NAME`` lookup. A strategy sees the clock, its instruments' local books and specs,
and events; it cannot tell a backtest from live.
Never: talks to a gateway, reads the wall clock, or runs the OMS's own loops (TTL queries,
position sync, ghost sweeps, protective stops are configured, not reimplemented).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from athena.core.bus import EventBus, Priority
from athena.core.clock import Clock, TimerFired
from athena.core.events import (
    BookEvent,
    CandleEvent,
    EventType,
    FundingEvent,
    MarkPriceEvent,
    OrderCancelled,
    OrderFilled,
    OrderUpdate,
    PositionUpdate,
    TickerEvent,
    TickEvent,
)
from athena.core.ports import BookView
from athena.errors import ConfigError
from athena.model.enums import OrderType, Side
from athena.model.instrument import InstrumentSpec
from athena.model.orders import Order

if TYPE_CHECKING:
    from athena.oms.orders import OrderManager


@dataclass(slots=True)
class StrategyContext:
    """What the composition root hands a strategy (the same live and in a backtest)."""

    clock: Clock
    bus: EventBus
    oms: OrderManager
    instruments: dict[str, InstrumentSpec]
    books: dict[str, BookView]


class BaseStrategy:
    """Subclass, set ``name``, override the ``on_*`` handlers you need, register with ``@register``.

    Handlers for order events receive only this strategy's own orders."""

    name: ClassVar[str] = "base"

    def __init__(self, ctx: StrategyContext, strategy_id: str | None = None, config: dict[str, Any] | None = None):
        self.ctx = ctx
        self.clock = ctx.clock
        self.bus = ctx.bus
        self.oms = ctx.oms
        self.strategy_id = strategy_id or self.name
        self.config = config or {}
        self._subscribed: list[tuple[EventType, Callable[[Any], None]]] = []

    # -- lifecycle ----------------------------------------------------------------------------

    _WIRING: ClassVar[tuple[tuple[EventType, str, bool], ...]] = (
        (EventType.TICK, "on_tick", False),
        (EventType.BOOK_EVENT, "on_book", False),
        (EventType.TICKER, "on_ticker", False),
        (EventType.MARK_PRICE, "on_mark_price", False),
        (EventType.CANDLE_EVENT, "on_candle", False),
        (EventType.FUNDING, "on_funding", False),
        (EventType.POSITION_UPDATE, "on_position", False),
        (EventType.ORDER_UPDATE, "on_order_update", True),
        (EventType.ORDER_FILLED, "on_fill", True),
        (EventType.ORDER_CANCELLED, "on_order_cancelled", True),
    )

    def start(self) -> None:
        # Only overridden handlers are subscribed: a strategy that ignores books costs nothing per book.
        for etype, name, own_orders_only in self._WIRING:
            if getattr(type(self), name) is getattr(BaseStrategy, name):
                continue
            handler: Callable[[Any], None] = getattr(self, name)
            if own_orders_only:
                handler = self._only_mine(handler)
            self.bus.subscribe(etype, handler, Priority.STRATEGY)
            self._subscribed.append((etype, handler))
        self.on_start()

    def stop(self) -> None:
        self.on_stop()
        for etype, handler in self._subscribed:
            self.bus.unsubscribe(etype, handler)
        self._subscribed.clear()

    def _only_mine(self, handler: Callable[[Any], None]) -> Callable[[Any], None]:
        sid = self.strategy_id

        def mine(event: Any) -> None:
            if event.order.strategy_id == sid:
                handler(event)

        return mine

    # -- handlers (override) ------------------------------------------------------------------

    def on_start(self) -> None: ...
    def on_stop(self) -> None: ...
    def on_tick(self, event: TickEvent) -> None: ...
    def on_book(self, event: BookEvent) -> None: ...
    def on_ticker(self, event: TickerEvent) -> None: ...
    def on_mark_price(self, event: MarkPriceEvent) -> None: ...
    def on_candle(self, event: CandleEvent) -> None: ...
    def on_funding(self, event: FundingEvent) -> None: ...
    def on_position(self, event: PositionUpdate) -> None: ...
    def on_order_update(self, event: OrderUpdate) -> None: ...
    def on_fill(self, event: OrderFilled) -> None: ...
    def on_order_cancelled(self, event: OrderCancelled) -> None: ...
    def on_timer(self, fired: TimerFired) -> None: ...

    # -- helpers ------------------------------------------------------------------------------

    def spec(self, inst_id: str) -> InstrumentSpec:
        return self.ctx.instruments[inst_id]

    def book(self, inst_id: str) -> BookView:
        return self.ctx.books[inst_id]

    def buy(self, inst_id: str, lots: int, price_ticks: int | None = None, *,
            ord_type: OrderType = OrderType.LIMIT, reduce_only: bool = False, tag: str = "",
            stop_ticks: int | None = None) -> Order:
        return self.oms.submit_order(self.strategy_id, inst_id, Side.BUY, ord_type, lots, price_ticks,
                                     reduce_only=reduce_only, tag=tag, stop_ticks=stop_ticks)

    def sell(self, inst_id: str, lots: int, price_ticks: int | None = None, *,
             ord_type: OrderType = OrderType.LIMIT, reduce_only: bool = False, tag: str = "",
             stop_ticks: int | None = None) -> Order:
        return self.oms.submit_order(self.strategy_id, inst_id, Side.SELL, ord_type, lots, price_ticks,
                                     reduce_only=reduce_only, tag=tag, stop_ticks=stop_ticks)

    def cancel(self, order: Order) -> None:
        self.oms.cancel_order(order.cl_ord_id)

    def set_timer(self, name: str, *, at_ns: int | None = None, interval_ns: int | None = None) -> None:
        """Timers of a strategy call its ``on_timer``; names are scoped to the strategy."""
        self.clock.set_timer(f"{self.strategy_id}:{name}", self._timer, at_ns=at_ns, interval_ns=interval_ns)

    def cancel_timer(self, name: str) -> None:
        self.clock.cancel_timer(f"{self.strategy_id}:{name}")

    def _timer(self, fired: TimerFired) -> None:
        self.on_timer(TimerFired(fired.name.split(":", 1)[1], fired.at_ns))


_REGISTRY: dict[str, type[BaseStrategy]] = {}


def register(cls: type[BaseStrategy]) -> type[BaseStrategy]:
    """Class decorator: make a strategy findable by ``--strategy NAME``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ConfigError(f"two strategies are named {cls.name!r}: rename one")
    _REGISTRY[cls.name] = cls
    return cls


def strategy_class(name: str) -> type[BaseStrategy]:
    _load_builtin()
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none"
        raise ConfigError(f"unknown strategy {name!r}; known strategies: {known}") from None


def registered() -> list[str]:
    _load_builtin()
    return sorted(_REGISTRY)


def _load_builtin() -> None:
    # Importing the built-in strategy modules runs their @register.
    import importlib

    for mod in ("athena.strategies.maker", "athena.strategies.scalper_v1.strategy"):
        try:
            importlib.import_module(mod)
        except ModuleNotFoundError as exc:
            if exc.name != mod:
                raise
