"""The swap point between a backtest and live trading: ``BaseGateway``.

Owns: what every gateway offers the engine — the core's command port (``core.ports.CommandPort``:
submit, cancel, amend, algo stops, close-position, queries), a lifecycle (``start``/``stop``),
market-data subscriptions and the instrument specs it trades — and the rules every gateway shares:
our ``clOrdId`` is 1–32 ASCII letters and digits (OKX's rule), commands are fire-and-forget, and
what the exchange says comes back as events: ORDER_SUBMITTED when a command leaves, ORDER_REPORT
for every ack, push and query answer (with OKX's ``sCode``/``sMsg`` and cumulative
``accFillSz``/``avgPx``/fee, so OrderManager can reconcile partial fills from any source),
POSITION_UPDATE / ACCOUNT_UPDATE for position and balance requests, ERROR when a command could not
even be sent. ``SimGateway`` (gateways/sim) and ``OkxGateway`` (gateways/okx) implement it.
Never: decides anything about orders (the OMS does), blocks, or imports anything but ``core`` and
``model``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Sequence

from athena.model.enums import Channel
from athena.model.instrument import InstrumentSpec
from athena.model.orders import AlgoOrder, Order

__all__ = ["CL_ORD_ID_PATTERN", "BaseGateway", "valid_cl_ord_id"]

# OKX: clOrdId / algoClOrdId are 1-32 letters and digits, case-sensitive, no '-' or '_' (reference §7).
CL_ORD_ID_PATTERN = re.compile(r"[A-Za-z0-9]{1,32}")


def valid_cl_ord_id(cl_ord_id: str) -> bool:
    """True when OKX would accept ``cl_ord_id`` (1-32 ASCII letters and digits)."""
    return CL_ORD_ID_PATTERN.fullmatch(cl_ord_id) is not None


class BaseGateway(ABC):
    """A gateway: the core's command port plus lifecycle, subscriptions and instrument specs.

    Every command returns at once; its outcome is an event published later on the bus
    (DESIGN.md §1, §4). A gateway never retries a placement by itself: a placement with an unknown
    outcome is resolved by the OMS with a status query under the same clOrdId (DESIGN.md §7)."""

    # -- lifecycle ----------------------------------------------------------------------------

    @abstractmethod
    def start(self) -> None:
        """Connect (live) or arm the simulator (backtest); idempotent."""

    @abstractmethod
    def stop(self) -> None:
        """Disconnect cleanly; commands after stop are refused with an ERROR event."""

    @abstractmethod
    def subscribe(self, inst_id: str, channels: Sequence[Channel]) -> None:
        """Market data for ``inst_id`` on ``channels`` (live: WS subscriptions; backtest: the
        replay already streams the catalog, so this only records what was asked)."""

    @abstractmethod
    def instruments(self) -> dict[str, InstrumentSpec]:
        """The specs of the instruments this gateway trades, by instId."""

    # -- commands (core.ports.CommandPort) ----------------------------------------------------

    @abstractmethod
    def submit_order(self, order: Order) -> None:
        """Send a new order (``order.cl_ord_id`` is its identity until OKX's ordId is known)."""

    @abstractmethod
    def cancel_order(self, inst_id: str, cl_ord_id: str, ord_id: str | None = None) -> None:
        """Cancel by ordId when known (it wins), else by clOrdId."""

    @abstractmethod
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
        """OKX amend: ``new_size_lots`` is the new total size, filled part included."""

    @abstractmethod
    def place_algo_order(self, algo: AlgoOrder) -> None:
        """Place a conditional stop (OKX ``order-algo``, ``ordType`` conditional)."""

    @abstractmethod
    def cancel_algo_order(self, inst_id: str, algo_id: str | None, algo_cl_ord_id: str | None) -> None: ...

    @abstractmethod
    def close_position(self, inst_id: str, cl_ord_id: str, *, auto_cxl: bool = True) -> None:
        """OKX ``close-position`` at market; ``auto_cxl`` cancels pending close orders first."""

    @abstractmethod
    def request_positions(self, req_id: str, inst_id: str | None = None) -> None:
        """Answer: POSITION_UPDATE events (source EXCHANGE) carrying ``req_id``, the last one with
        ``snapshot_end``; a flat account is one event with lots 0."""

    @abstractmethod
    def request_balance(self, req_id: str) -> None:
        """Answer: one ACCOUNT_UPDATE carrying ``req_id``."""

    @abstractmethod
    def request_open_orders(self, req_id: str, inst_id: str | None = None) -> None:
        """Answer: ORDER_REPORT (source QUERY) per live order, the last with ``snapshot_end``."""

    @abstractmethod
    def request_order_status(self, req_id: str, inst_id: str, cl_ord_id: str | None, ord_id: str | None) -> None:
        """Answer: one ORDER_REPORT (source QUERY); an unknown order has sCode 51603."""

    @abstractmethod
    def request_fills(self, req_id: str, inst_id: str, ord_id: str | None = None) -> None:
        """Answer: one ORDER_REPORT (source QUERY) per fill with its own fillPx/fillSz/tradeId."""
