"""The protocols the core calls through: a read-only book view, changed levels, the command port.

Owns: the shapes that cross the core's boundary. ``book.L2Book`` satisfies ``BookView``; a
replay batch slice or a parser's small list satisfies ``ChangedLevels``; a gateway satisfies
``CommandPort``.
Never: implements any of them, or imports anything but ``model``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from athena.model.orders import AlgoOrder, Order

# Sentinels of an empty book side, chosen so comparisons need no None checks on the hot path:
# any real bid is > NO_BID and any real ask is < NO_ASK.
NO_BID: int = -1
NO_ASK: int = 1 << 62

BID: int = 0  # side code in ChangedLevels and catalog rows
ASK: int = 1


@runtime_checkable
class BookView(Protocol):
    """Read-only view of an L2 book in int ticks/lots. Valid as long as its owner keeps it."""

    inst_id: str
    best_bid: int  # ticks; NO_BID when the bid side is empty
    best_ask: int  # ticks; NO_ASK when the ask side is empty

    def bid_size(self, ticks: int) -> int: ...
    def ask_size(self, ticks: int) -> int: ...
    def depth(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]: ...
    def mid_ticks(self) -> float | None: ...
    def spread_ticks(self) -> int | None: ...
    def imbalance(self, n: int) -> float | None: ...


class ChangedLevels(Protocol):
    """The level changes of one book message: index ``i`` is (side, ticks, lots); lots 0 deletes.

    Valid only while the event carrying it is being dispatched (it may view a reused batch)."""

    def __len__(self) -> int: ...
    def side(self, i: int) -> int: ...
    def ticks(self, i: int) -> int: ...
    def lots(self, i: int) -> int: ...


class ListLevels:
    """A ChangedLevels over three plain lists (live parsers, tests)."""

    __slots__ = ("_lots", "_sides", "_ticks")

    def __init__(self, sides: list[int], ticks: list[int], lots: list[int]) -> None:
        self._sides = sides
        self._ticks = ticks
        self._lots = lots

    def __len__(self) -> int:
        return len(self._sides)

    def side(self, i: int) -> int:
        return self._sides[i]

    def ticks(self, i: int) -> int:
        return self._ticks[i]

    def lots(self, i: int) -> int:
        return self._lots[i]


class SliceLevels:
    """A ChangedLevels over ``[start, stop)`` of a replay batch's column lists (no copy)."""

    __slots__ = ("_lots", "_sides", "_start", "_stop", "_ticks")

    def __init__(self, sides: list[int], ticks: list[int], lots: list[int], start: int, stop: int) -> None:
        self._sides = sides
        self._ticks = ticks
        self._lots = lots
        self._start = start
        self._stop = stop

    def __len__(self) -> int:
        return self._stop - self._start

    def side(self, i: int) -> int:
        return self._sides[self._start + i]

    def ticks(self, i: int) -> int:
        return self._ticks[self._start + i]

    def lots(self, i: int) -> int:
        return self._lots[self._start + i]


class CommandPort(Protocol):
    """The command side of a gateway, as the OMS sees it. Every call returns at once (fire and
    forget); its outcome comes back later as ORDER_REPORT / POSITION_UPDATE / ACCOUNT_UPDATE /
    ERROR events (DESIGN.md §1, §4)."""

    def submit_order(self, order: Order) -> None: ...
    def cancel_order(self, inst_id: str, cl_ord_id: str, ord_id: str | None = None) -> None: ...
    def amend_order(
        self,
        inst_id: str,
        cl_ord_id: str,
        ord_id: str | None = None,
        *,
        new_price_ticks: int | None = None,
        new_size_lots: int | None = None,
        req_id: str = "",
    ) -> None: ...
    def place_algo_order(self, algo: AlgoOrder) -> None: ...
    def cancel_algo_order(self, inst_id: str, algo_id: str | None, algo_cl_ord_id: str | None) -> None: ...
    def close_position(self, inst_id: str, cl_ord_id: str, *, auto_cxl: bool = True) -> None: ...
    def request_positions(self, req_id: str, inst_id: str | None = None) -> None: ...
    def request_balance(self, req_id: str) -> None: ...
    def request_open_orders(self, req_id: str, inst_id: str | None = None) -> None: ...
    def request_order_status(
        self, req_id: str, inst_id: str, cl_ord_id: str | None, ord_id: str | None
    ) -> None: ...
    def request_fills(self, req_id: str, inst_id: str, ord_id: str | None = None) -> None: ...
