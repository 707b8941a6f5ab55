"""Client-side rate limiting of OKX requests: one token bucket per endpoint (and rule key).

Owns: OKX's published request limits (okx-v5-reference.md §6.5, per 2 s unless stated), the
``TokenBucket`` arithmetic and ``RateLimiter.acquire``, which waits (asynchronously) until the
request may go. Place / cancel / amend limits are shared between REST and the WebSocket ops, so
both paths acquire under the same endpoint name; trade endpoints are keyed per instrument (OKX's
rule: User ID + instrument), batches count their orders.
Never: sends anything, reads the wall clock (time is the loop's monotonic clock, injectable), or
drops a request — it only delays it. Exceeding anyway (another process on the same key) is
answered by OKX with 50011, which the REST client backs off on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from enum import StrEnum
from typing import Final

__all__ = ["OKX_LIMITS", "Endpoint", "RateLimiter", "TokenBucket"]


class Endpoint(StrEnum):
    """Rate-limit rule names (REST paths without ``/api/v5/``; WS ops map onto the REST name)."""

    PLACE_ORDER = "trade/order"  # POST, and WS "order"
    CANCEL_ORDER = "trade/cancel-order"  # and WS "cancel-order"
    AMEND_ORDER = "trade/amend-order"  # and WS "amend-order"
    BATCH_ORDERS = "trade/batch-orders"  # counted in orders
    CANCEL_BATCH = "trade/cancel-batch-orders"
    AMEND_BATCH = "trade/amend-batch-orders"
    ORDER_STATUS = "trade/order#get"
    ORDERS_PENDING = "trade/orders-pending"
    FILLS = "trade/fills"
    ALGO_ORDER = "trade/order-algo"
    CANCEL_ALGOS = "trade/cancel-algos"
    ALGO_PENDING = "trade/orders-algo-pending"
    CLOSE_POSITION = "trade/close-position"
    BALANCE = "account/balance"
    POSITIONS = "account/positions"
    SET_LEVERAGE = "account/set-leverage"
    ACCOUNT_CONFIG = "account/config"
    INSTRUMENTS = "public/instruments"
    TICKER = "market/ticker"
    BOOKS = "market/books"
    FUNDING_RATE = "public/funding-rate"
    TIME = "public/time"


# (requests, window seconds) — reference §6.5. close-position: 20/2 s (OKX docs; not in §6.5's table).
OKX_LIMITS: Final[Mapping[str, tuple[int, float]]] = {
    Endpoint.PLACE_ORDER: (60, 2.0),
    Endpoint.CANCEL_ORDER: (60, 2.0),
    Endpoint.AMEND_ORDER: (60, 2.0),
    Endpoint.BATCH_ORDERS: (300, 2.0),
    Endpoint.CANCEL_BATCH: (300, 2.0),
    Endpoint.AMEND_BATCH: (300, 2.0),
    Endpoint.ORDER_STATUS: (60, 2.0),
    Endpoint.ORDERS_PENDING: (60, 2.0),
    Endpoint.FILLS: (60, 2.0),
    Endpoint.ALGO_ORDER: (20, 2.0),
    Endpoint.CANCEL_ALGOS: (20, 2.0),
    Endpoint.ALGO_PENDING: (20, 2.0),
    Endpoint.CLOSE_POSITION: (20, 2.0),
    Endpoint.BALANCE: (10, 2.0),
    Endpoint.POSITIONS: (10, 2.0),
    Endpoint.SET_LEVERAGE: (20, 2.0),
    Endpoint.ACCOUNT_CONFIG: (5, 2.0),
    Endpoint.INSTRUMENTS: (20, 2.0),
    Endpoint.TICKER: (20, 2.0),
    Endpoint.BOOKS: (40, 2.0),
    Endpoint.FUNDING_RATE: (20, 2.0),
    Endpoint.TIME: (10, 2.0),
}

# An endpoint missing from the table gets OKX's smallest common limit rather than none.
_DEFAULT_LIMIT: Final = (5, 2.0)
_EPS: Final = 1e-9  # tokens


class TokenBucket:
    """``capacity`` tokens refilled continuously at ``capacity / window_s`` per second.

    A full bucket lets a burst of ``capacity`` through, then one request per refill interval —
    never more than OKX's count in any window of ``window_s`` after the first."""

    __slots__ = ("capacity", "rate", "stamp", "tokens")

    def __init__(self, capacity: int, window_s: float, now: float) -> None:
        if capacity <= 0 or window_s <= 0:
            raise ValueError(f"a token bucket needs a positive capacity and window, got {capacity}/{window_s}s")
        self.capacity = float(capacity)
        self.rate = capacity / window_s
        self.tokens = float(capacity)
        self.stamp = now

    def take(self, now: float, n: int = 1) -> float:
        """Take ``n`` tokens and return 0.0, or take nothing and return the seconds until ``n`` are
        there. ``n`` larger than the capacity is clamped (a batch of 20 on a small bucket waits
        for a full bucket rather than forever)."""
        if now > self.stamp:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
            self.stamp = now
        need = min(float(n), self.capacity)
        # The epsilon absorbs float rounding of the refill: without it a bucket a hair short of
        # ``need`` asks for a wait below the clock's resolution, and the waiter never progresses.
        if self.tokens >= need - _EPS:
            self.tokens = max(0.0, self.tokens - need)
            return 0.0
        return (need - self.tokens) / self.rate


class RateLimiter:
    """Buckets per (endpoint, key), created on first use with the endpoint's OKX limit.

    ``clock`` returns monotonic seconds (default: the running loop's ``time()``); ``sleep`` is
    ``asyncio.sleep`` unless a test injects a fake."""

    __slots__ = ("_buckets", "_clock", "_limits", "_sleep", "waited_s")

    def __init__(
        self,
        limits: Mapping[str, tuple[int, float]] = OKX_LIMITS,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], Awaitable[None]] | None = None,
    ) -> None:
        self._limits = dict(limits)
        self._clock = clock
        self._sleep = sleep or asyncio.sleep
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self.waited_s = 0.0  # total time requests were held back (a figure for logs and tests)

    def _now(self) -> float:
        if self._clock is not None:
            return self._clock()
        return asyncio.get_running_loop().time()

    def bucket(self, endpoint: str, key: str = "") -> TokenBucket:
        b = self._buckets.get((endpoint, key))
        if b is None:
            capacity, window = self._limits.get(endpoint, _DEFAULT_LIMIT)
            b = self._buckets[(endpoint, key)] = TokenBucket(capacity, window, self._now())
        return b

    async def acquire(self, endpoint: str, key: str = "", n: int = 1) -> float:
        """Wait until ``n`` requests (orders, for a batch) may be sent on ``endpoint``/``key``;
        returns the seconds waited."""
        b = self.bucket(endpoint, key)
        waited = 0.0
        while True:
            wait = b.take(self._now(), n)
            if wait <= 0.0:
                self.waited_s += waited
                return waited
            await self._sleep(wait)
            waited += wait
