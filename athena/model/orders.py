"""Orders, algo (stop) orders and fills, with the order state machine as an explicit table.

Owns: ``Order`` (what we asked for and what the exchange has told us about it), the legal state
transitions (an illegal one raises ``OrderStateError``), ``AlgoOrder`` (a conditional stop) and
``Fill`` (one execution). Sizes are int lots, prices int ticks.
Never: decides whether an exchange update is a duplicate or stale — OrderManager recognises those
by cumulative size and trade id and never forces them through the table.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from athena.errors import OrderStateError
from athena.model.enums import Liquidity, OrderState, OrderType, Side

S = OrderState

_TRANSITIONS: dict[OrderState, frozenset[OrderState]] = {
    S.INITIALIZED: frozenset({S.SUBMITTED, S.REJECTED}),
    S.SUBMITTED: frozenset({S.LIVE, S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.REJECTED, S.PENDING_CANCEL}),
    S.LIVE: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.PENDING_CANCEL}),
    S.PARTIALLY_FILLED: frozenset({S.PARTIALLY_FILLED, S.FILLED, S.CANCELED, S.PENDING_CANCEL}),
    # A cancel can lose the race against fills, or be refused (order stays live / partially filled).
    S.PENDING_CANCEL: frozenset({S.CANCELED, S.FILLED, S.PARTIALLY_FILLED, S.LIVE}),
    S.FILLED: frozenset(),
    S.CANCELED: frozenset(),
    S.REJECTED: frozenset(),
}


def can_transition(src: OrderState, dst: OrderState) -> bool:
    return dst in _TRANSITIONS[src]


@dataclass(slots=True)
class Order:
    """One order of ours. ``price_ticks`` is None for market orders."""

    cl_ord_id: str
    inst_id: str
    side: Side
    ord_type: OrderType
    size_lots: int
    price_ticks: int | None = None
    reduce_only: bool = False
    strategy_id: str = ""
    tag: str = ""  # what the order is for: "entry", "exit", "stop_child", ... (the OMS's business)
    ord_id: str = ""
    state: OrderState = OrderState.INITIALIZED
    filled_lots: int = 0
    avg_px: float = 0.0  # exchange's average fill price, display only
    fee: float = 0.0  # cumulative, OKX sign: negative = paid
    ts_created: int = 0
    ts_last: int = 0  # time of the last exchange update (the TTL query uses it)
    reject_code: str = ""
    reject_msg: str = ""
    trade_ids: set[int] = field(default_factory=set)

    @property
    def remaining_lots(self) -> int:
        return self.size_lots - self.filled_lots

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    @property
    def signed_remaining(self) -> int:
        return self.side.sign * self.remaining_lots

    def transition(self, dst: OrderState) -> None:
        """Move to ``dst``; raises OrderStateError on an illegal move."""
        if dst not in _TRANSITIONS[self.state]:
            raise OrderStateError(
                f"order {self.cl_ord_id} ({self.inst_id}): illegal transition {self.state.value} -> {dst.value}"
            )
        self.state = dst


class AlgoState(StrEnum):
    PENDING = "pending"  # sent, no answer
    LIVE = "live"  # untriggered, resting at the exchange
    TRIGGERED = "effective"  # OKX's word: triggered, its child order was placed
    CANCELED = "canceled"
    FAILED = "order_failed"


class TriggerPxType(StrEnum):
    LAST = "last"
    MARK = "mark"
    INDEX = "index"


@dataclass(slots=True)
class AlgoOrder:
    """A conditional stop: when the trigger price is touched, a market order (``order_ticks``
    None) or a limit order at ``order_ticks`` is placed. Always reduce-only in Athena."""

    algo_cl_ord_id: str
    inst_id: str
    side: Side
    size_lots: int
    trigger_ticks: int
    order_ticks: int | None = None
    trigger_px_type: TriggerPxType = TriggerPxType.LAST
    reduce_only: bool = True
    strategy_id: str = ""
    algo_id: str = ""
    state: AlgoState = AlgoState.PENDING
    ts_created: int = 0

    def triggered_by(self, ticks: int) -> bool:
        """A sell stop triggers at or below its price, a buy stop at or above."""
        if self.side is Side.SELL:
            return ticks <= self.trigger_ticks
        return ticks >= self.trigger_ticks


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution of one of our orders. ``fee`` uses OKX's sign (negative = paid, positive =
    rebate); ``fill_pnl`` is the exchange's realized PnL of this fill (quote currency)."""

    trade_id: int
    cl_ord_id: str
    ord_id: str
    inst_id: str
    side: Side
    ticks: int
    lots: int
    fee: float
    liquidity: Liquidity
    ts_event: int
    strategy_id: str = ""
    fill_pnl: float = 0.0

    @property
    def signed_lots(self) -> int:
        return self.side.sign * self.lots
