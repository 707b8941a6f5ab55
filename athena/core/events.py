"""Every event the core dispatches: ``EventType`` and one slotted payload class per type.

Owns: the event vocabulary of DESIGN.md §4. Every event carries ``ts_event`` (exchange time) and
``ts_recv`` (when Athena saw it), int ns UTC. Prices are int ticks, sizes int lots.
Never: holds behaviour, copies a book (BOOK_EVENT carries a read-only reference), or reads a clock.

Market events are plain ``__slots__`` classes (not frozen) so a replay may reuse one object per
instrument: they are valid only while being dispatched. Order/position events are immutable in
practice: nobody mutates them after publishing.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, ClassVar

from athena.model.enums import ConnectionStatus, Liquidity, OrderState, OrderType, RejectReason, Side

if TYPE_CHECKING:
    from athena.core.ports import BookView, ChangedLevels
    from athena.model.orders import Fill, Order


class EventType(IntEnum):
    TICK = 0  # one public trade
    BOOK_EVENT = 1  # one book message (many level changes)
    TICKER = 2
    MARK_PRICE = 3
    CANDLE_EVENT = 4
    ORDER_REPORT = 5  # raw exchange report, for OrderManager only
    ORDER_SUBMITTED = 6
    ORDER_UPDATE = 7
    ORDER_FILLED = 8
    ORDER_CANCELLED = 9
    POSITION_UPDATE = 10
    ACCOUNT_UPDATE = 11
    FUNDING = 12
    CONNECTION = 13
    TIMER = 14
    ERROR = 15


MARKET_TYPES = frozenset(
    {EventType.TICK, EventType.BOOK_EVENT, EventType.TICKER, EventType.MARK_PRICE, EventType.CANDLE_EVENT}
)


class Event:
    """Base: every event has a type and two timestamps."""

    __slots__ = ("ts_event", "ts_recv")
    type: ClassVar[EventType]

    def __init__(self, ts_event: int, ts_recv: int) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv

    def fields(self) -> dict[str, object]:
        """All slot values, for the event log and debugging (not used on the hot path)."""
        out: dict[str, object] = {}
        for cls in type(self).__mro__:
            for name in getattr(cls, "__slots__", ()):
                out[name] = getattr(self, name)
        return out

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={v!r}" for k, v in self.fields().items() if k != "book")
        return f"{type(self).__name__}({body})"


# -- market data ---------------------------------------------------------------------------------


class TickEvent(Event):
    """One public trade; ``side`` is the taker's side."""

    __slots__ = ("inst_id", "lots", "side", "ticks", "trade_id")
    type = EventType.TICK

    def __init__(
        self, inst_id: str, trade_id: int, ticks: int, lots: int, side: Side, ts_event: int, ts_recv: int
    ) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.inst_id = inst_id
        self.trade_id = trade_id
        self.ticks = ticks
        self.lots = lots
        self.side = side


class BookEvent(Event):
    """One book message, applied already: ``book`` is the updated local book (read-only),
    ``changes`` the levels this message changed. Both valid only during dispatch."""

    __slots__ = ("book", "changes", "inst_id", "is_snapshot")
    type = EventType.BOOK_EVENT

    def __init__(
        self,
        inst_id: str,
        book: BookView,
        changes: ChangedLevels,
        is_snapshot: bool,
        ts_event: int,
        ts_recv: int,
    ) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.inst_id = inst_id
        self.book = book
        self.changes = changes
        self.is_snapshot = is_snapshot


class TickerEvent(Event):
    """Top of book and last trade (OKX tickers or bbo-tbt); absent fields are -1."""

    __slots__ = ("ask_lots", "ask_ticks", "bid_lots", "bid_ticks", "inst_id", "last_ticks")
    type = EventType.TICKER

    def __init__(
        self,
        inst_id: str,
        bid_ticks: int,
        bid_lots: int,
        ask_ticks: int,
        ask_lots: int,
        last_ticks: int,
        ts_event: int,
        ts_recv: int,
    ) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.inst_id = inst_id
        self.bid_ticks = bid_ticks
        self.bid_lots = bid_lots
        self.ask_ticks = ask_ticks
        self.ask_lots = ask_lots
        self.last_ticks = last_ticks


class MarkPriceEvent(Event):
    __slots__ = ("inst_id", "mark_ticks")
    type = EventType.MARK_PRICE

    def __init__(self, inst_id: str, mark_ticks: int, ts_event: int, ts_recv: int) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.inst_id = inst_id
        self.mark_ticks = mark_ticks


class CandleEvent(Event):
    __slots__ = ("bar", "close", "confirm", "high", "inst_id", "low", "open", "volume")
    type = EventType.CANDLE_EVENT

    def __init__(
        self,
        inst_id: str,
        bar: str,
        open: int,
        high: int,
        low: int,
        close: int,
        volume: float,
        confirm: bool,
        ts_event: int,
        ts_recv: int,
    ) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.inst_id = inst_id
        self.bar = bar
        self.open = open
        self.high = high
        self.low = low
        self.close = close
        self.volume = volume
        self.confirm = confirm


class FundingEvent(Event):
    """A funding rate published (``payment`` is None) or a funding settled on our position
    (``payment`` in quote currency, OKX sign: negative = we paid)."""

    __slots__ = ("funding_time", "inst_id", "payment", "rate")
    type = EventType.FUNDING

    def __init__(
        self,
        inst_id: str,
        rate: float,
        funding_time: int,
        ts_event: int,
        ts_recv: int,
        payment: float | None = None,
    ) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.inst_id = inst_id
        self.rate = rate
        self.funding_time = funding_time
        self.payment = payment


# -- orders --------------------------------------------------------------------------------------


class ReportSource(StrEnum):
    PUSH = "push"  # the orders channel
    ACK = "ack"  # the answer to our own place/cancel/amend
    QUERY = "query"  # the answer to a status / open-orders / fills request


class OrderReport(Event):
    """What the exchange said about one order, in its own cumulative terms (for OrderManager only).

    ``acc_fill_lots``/``avg_px``/``acc_fee`` are cumulative; ``fill_*``/``trade_id`` describe the
    latest single fill when the report carries one. ``s_code`` "0" means accepted. A report that
    answers a request carries ``req_id``; ``snapshot_end`` marks the last one of that answer (an
    empty answer is one report with ``cl_ord_id`` "" and ``snapshot_end`` True)."""

    __slots__ = (
        "acc_fee",
        "acc_fill_lots",
        "amend_source",
        "avg_px",
        "cancel_source",
        "cl_ord_id",
        "fill_fee",
        "fill_lots",
        "fill_pnl",
        "fill_ticks",
        "inst_id",
        "liquidity",
        "ord_id",
        "ord_type",
        "price_ticks",
        "reduce_only",
        "req_id",
        "s_code",
        "s_msg",
        "side",
        "size_lots",
        "snapshot_end",
        "source",
        "state",
        "trade_id",
    )
    type = EventType.ORDER_REPORT

    def __init__(
        self,
        *,
        inst_id: str,
        cl_ord_id: str,
        ord_id: str,
        state: OrderState | None,
        source: ReportSource,
        ts_event: int,
        ts_recv: int,
        side: Side | None = None,
        ord_type: OrderType | None = None,
        price_ticks: int | None = None,
        size_lots: int = 0,
        acc_fill_lots: int = 0,
        avg_px: float = 0.0,
        acc_fee: float = 0.0,
        fill_ticks: int | None = None,
        fill_lots: int = 0,
        fill_fee: float = 0.0,
        fill_pnl: float = 0.0,
        trade_id: int | None = None,
        liquidity: Liquidity | None = None,
        reduce_only: bool = False,
        s_code: str = "0",
        s_msg: str = "",
        cancel_source: str = "",
        amend_source: str = "",
        req_id: str = "",
        snapshot_end: bool = False,
    ) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.inst_id = inst_id
        self.cl_ord_id = cl_ord_id
        self.ord_id = ord_id
        self.state = state
        self.source = source
        self.side = side
        self.ord_type = ord_type
        self.price_ticks = price_ticks
        self.size_lots = size_lots
        self.acc_fill_lots = acc_fill_lots
        self.avg_px = avg_px
        self.acc_fee = acc_fee
        self.fill_ticks = fill_ticks
        self.fill_lots = fill_lots
        self.fill_fee = fill_fee
        self.fill_pnl = fill_pnl
        self.trade_id = trade_id
        self.liquidity = liquidity
        self.reduce_only = reduce_only
        self.s_code = s_code
        self.s_msg = s_msg
        self.cancel_source = cancel_source
        self.amend_source = amend_source
        self.req_id = req_id
        self.snapshot_end = snapshot_end


class OrderSubmitted(Event):
    """The command left Athena (published by the gateway)."""

    __slots__ = ("cl_ord_id", "inst_id")
    type = EventType.ORDER_SUBMITTED

    def __init__(self, inst_id: str, cl_ord_id: str, ts_event: int, ts_recv: int) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.inst_id = inst_id
        self.cl_ord_id = cl_ord_id


class OrderUpdate(Event):
    """The OMS's normalized order state change (acknowledged, amended, rejected, or a query
    answer); ``order`` is the OMS's record, already updated."""

    __slots__ = ("order", "reason", "req_id", "s_code", "s_msg", "snapshot_end")
    type = EventType.ORDER_UPDATE

    def __init__(
        self,
        order: Order,
        ts_event: int,
        ts_recv: int,
        *,
        reason: RejectReason | None = None,
        s_code: str = "0",
        s_msg: str = "",
        req_id: str = "",
        snapshot_end: bool = False,
    ) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.order = order
        self.reason = reason
        self.s_code = s_code
        self.s_msg = s_msg
        self.req_id = req_id
        self.snapshot_end = snapshot_end


class OrderFilled(Event):
    """Newly filled quantity of one order (published once per fill by the OMS)."""

    __slots__ = ("fill", "order")
    type = EventType.ORDER_FILLED

    def __init__(self, order: Order, fill: Fill, ts_event: int, ts_recv: int) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.order = order
        self.fill = fill


class OrderCancelled(Event):
    __slots__ = ("cancel_source", "order")
    type = EventType.ORDER_CANCELLED

    def __init__(self, order: Order, ts_event: int, ts_recv: int, cancel_source: str = "") -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.order = order
        self.cancel_source = cancel_source


# -- positions and account -----------------------------------------------------------------------


class PositionSource(StrEnum):
    EXCHANGE = "exchange"  # the exchange's report (a sync answer or a push)
    LEDGER = "ledger"  # the shadow ledger's own position (after a fill or an adoption)


class PositionUpdate(Event):
    """A net position. ``avg_px`` in price units (float, display); ``watermark`` is the last
    trade id the snapshot covers (None when unknown)."""

    __slots__ = ("avg_px", "inst_id", "lots", "req_id", "snapshot_end", "source", "watermark")
    type = EventType.POSITION_UPDATE

    def __init__(
        self,
        inst_id: str,
        lots: int,
        avg_px: float,
        source: PositionSource,
        ts_event: int,
        ts_recv: int,
        *,
        req_id: str = "",
        snapshot_end: bool = False,
        watermark: int | None = None,
    ) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.inst_id = inst_id
        self.lots = lots
        self.avg_px = avg_px
        self.source = source
        self.req_id = req_id
        self.snapshot_end = snapshot_end
        self.watermark = watermark


class AccountUpdate(Event):
    """Account figures in the settle currency (USDT): equity, cash balance, free margin."""

    __slots__ = ("available", "balance", "equity", "req_id")
    type = EventType.ACCOUNT_UPDATE

    def __init__(
        self, equity: float, balance: float, available: float, ts_event: int, ts_recv: int, req_id: str = ""
    ) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.equity = equity
        self.balance = balance
        self.available = available
        self.req_id = req_id


# -- infrastructure ------------------------------------------------------------------------------


class ConnectionEvent(Event):
    __slots__ = ("channel", "detail", "status")
    type = EventType.CONNECTION

    def __init__(
        self, status: ConnectionStatus, channel: str, detail: str, ts_event: int, ts_recv: int
    ) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.status = status
        self.channel = channel
        self.detail = detail


class TimerEvent(Event):
    __slots__ = ("name",)
    type = EventType.TIMER

    def __init__(self, name: str, ts_event: int, ts_recv: int) -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.name = name


class ErrorEvent(Event):
    """Something failed and the system went on: a handler that raised, a position mismatch, a
    rejected command. ``source`` says who; ``message`` is one readable line."""

    __slots__ = ("code", "message", "source")
    type = EventType.ERROR

    def __init__(self, source: str, message: str, ts_event: int, ts_recv: int, code: str = "") -> None:
        self.ts_event = ts_event
        self.ts_recv = ts_recv
        self.source = source
        self.message = message
        self.code = code
