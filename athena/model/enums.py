"""Enumerations shared by every layer: sides, order types and states, channels, reasons.

Owns: the closed vocabularies of the system. Values of exchange-facing enums are OKX's own
strings, so mapping at the edge is a lookup, never a rename.
Never: holds logic beyond tiny lookups; imports nothing of Athena's.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    """OKX ordType values Athena places."""

    MARKET = "market"
    LIMIT = "limit"
    POST_ONLY = "post_only"
    IOC = "ioc"
    FOK = "fok"


class OrderState(StrEnum):
    """Athena's order states; the exchange-facing ones carry OKX's state strings."""

    INITIALIZED = "initialized"  # built by the OMS, not yet checked or sent
    SUBMITTED = "submitted"  # handed to the gateway, no answer yet
    LIVE = "live"
    PARTIALLY_FILLED = "partially_filled"
    PENDING_CANCEL = "pending_cancel"  # cancel sent, not confirmed
    FILLED = "filled"
    CANCELED = "canceled"
    REJECTED = "rejected"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    @property
    def is_open(self) -> bool:
        return self not in _TERMINAL and self is not OrderState.INITIALIZED


_TERMINAL = frozenset({OrderState.FILLED, OrderState.CANCELED, OrderState.REJECTED})


class Liquidity(StrEnum):
    """OKX execType: T taker, M maker."""

    TAKER = "T"
    MAKER = "M"


class BookAction(IntEnum):
    UPDATE = 0
    SNAPSHOT = 1
    CHECKPOINT = 2  # a writer's flagged copy of its checked book (DESIGN.md §5): seeds, never dispatched


class Channel(IntEnum):
    """Catalog channels; the value is the replay rank at equal ts_recv (DESIGN.md §5)."""

    SESSIONS = 0
    TRADES = 1
    BOOKS = 2
    BBO = 3
    TICKERS = 4
    MARK_PRICE = 5
    FUNDING = 6
    CANDLES = 7

    @property
    def dirname(self) -> str:
        return self.name.lower()


class ConnectionStatus(StrEnum):
    UP = "up"
    DOWN = "down"
    RESYNCED = "resynced"
    GAP = "gap"
    CHECKSUM_FAILED = "checksum_failed"


class RejectReason(StrEnum):
    """Athena's own pre-trade refusal codes (OKX's rejections keep OKX's sCode)."""

    NO_PRICE = "no_price"
    NO_CAPITAL = "no_capital"
    RISK_PER_TRADE = "risk_per_trade"
    LEVERAGE_CAP = "leverage_cap"
    ORDER_RATE = "order_rate"
    MAX_OPEN_ORDERS = "max_open_orders"
    PRICE_BAND = "price_band"
    NOTIONAL = "notional"
    DRAWDOWN_HALT = "drawdown_halt"
    CIRCUIT_BREAKER = "circuit_breaker"
    KILL_SWITCH = "kill_switch"
    INVALID = "invalid"
    EXCHANGE = "exchange"  # OKX refused: see the event's s_code / s_msg
