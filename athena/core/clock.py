"""Time for the core: the ``Clock`` protocol, ``SimClock`` (the backtest's one heap) and ``LiveClock``.

Owns: the current time as int nanoseconds since the epoch (UTC), named timers, and — in a
backtest — the single heap of everything that is not market data (exchange responses after
latency, order arrivals at the exchange, timers), ordered by (time, sequence number).
Never: lets simulated time move backwards, breaks ties on object identity or hash order, or lets a
failing callback stop the run (it is isolated like a bus handler). Only ``LiveClock`` reads the
wall clock and touches asyncio.
"""

from __future__ import annotations

import heapq
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from athena.errors import AthenaError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class TimerFired:
    """What a timer callback receives: its name and the time it was due."""

    name: str
    at_ns: int


TimerCallback = Callable[[TimerFired], None]


class ClockError(AthenaError):
    """Simulated time was asked to move backwards (a bug in the runner that drives it)."""


class Clock(Protocol):
    def now_ns(self) -> int: ...

    def set_timer(
        self, name: str, callback: TimerCallback, *, at_ns: int | None = None, interval_ns: int | None = None
    ) -> None: ...

    def cancel_timer(self, name: str) -> None: ...


ErrorHook = Callable[[str, BaseException], None]


class SimClock:
    """Simulated time, advanced only by the runner; owns the heap of due work.

    Heap items are ``(at_ns, seq, entry)`` where ``entry`` is ``[callback, arg, alive]``; ``seq``
    grows by one per schedule, so equal times run in scheduling order on every run. Canceling
    marks the entry dead (lazy deletion), which keeps ``schedule`` and ``cancel`` O(log n)/O(1).
    The replay loop peeks ``heap[0][0]`` directly: one integer comparison per market row.
    """

    __slots__ = ("_now", "_seq", "_timers", "heap", "on_error")

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns
        self._seq = 0
        self.heap: list[tuple[int, int, list[Any]]] = []
        self._timers: dict[str, list[Any]] = {}
        self.on_error: ErrorHook | None = None

    # -- time ---------------------------------------------------------------------------------

    def now_ns(self) -> int:
        return self._now

    def advance_to(self, t_ns: int) -> None:
        """Set the time; raises ClockError if ``t_ns`` is earlier than now."""
        if t_ns < self._now:
            raise ClockError(f"SimClock cannot move backwards: now {self._now}, asked {t_ns}")
        self._now = t_ns

    # -- the heap -----------------------------------------------------------------------------

    def schedule(self, at_ns: int, callback: Callable[[Any], None], arg: Any = None) -> list[Any]:
        """Run ``callback(arg)`` at ``at_ns`` (never earlier than now). Returns a handle for ``cancel``."""
        if at_ns < self._now:
            at_ns = self._now
        entry = [callback, arg, True]
        self._seq += 1
        heapq.heappush(self.heap, (at_ns, self._seq, entry))
        return entry

    @staticmethod
    def cancel(handle: list[Any]) -> None:
        handle[2] = False

    def next_due_ns(self) -> int | None:
        """Time of the earliest live item, or None when nothing is scheduled."""
        heap = self.heap
        while heap and not heap[0][2][2]:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def run_due(self, t_ns: int) -> int:
        """Run every item due at or before ``t_ns`` in (time, seq) order, setting the clock to
        each item's time first. Items scheduled while running are run too if due. Returns the
        number of callbacks run."""
        heap = self.heap
        ran = 0
        while heap and heap[0][0] <= t_ns:
            at_ns, _, entry = heapq.heappop(heap)
            if not entry[2]:
                continue
            entry[2] = False
            if at_ns > self._now:
                self._now = at_ns
            ran += 1
            try:
                entry[0](entry[1])
            except Exception as exc:  # isolated: one failing callback must not stop the run
                self._report(getattr(entry[0], "__qualname__", repr(entry[0])), exc)
        if t_ns > self._now:
            self._now = t_ns
        return ran

    def _report(self, where: str, exc: BaseException) -> None:
        log.error("scheduled callback %s failed: %r", where, exc, exc_info=exc)
        if self.on_error is not None:
            self.on_error(where, exc)

    # -- named timers -------------------------------------------------------------------------

    def set_timer(
        self, name: str, callback: TimerCallback, *, at_ns: int | None = None, interval_ns: int | None = None
    ) -> None:
        """One-shot at ``at_ns``, or repeating every ``interval_ns`` (first firing one interval
        from now; drift-free: each next time is the previous due time plus the interval).
        Setting a timer with an existing name replaces it."""
        if (at_ns is None) == (interval_ns is None):
            raise ValueError("set_timer takes exactly one of at_ns and interval_ns")
        if interval_ns is not None and interval_ns <= 0:
            raise ValueError(f"timer {name!r}: interval_ns must be positive, got {interval_ns}")
        self.cancel_timer(name)
        first = at_ns if at_ns is not None else self._now + interval_ns  # type: ignore[operator]
        self._arm(name, callback, first, interval_ns)

    def _arm(self, name: str, callback: TimerCallback, at_ns: int, interval_ns: int | None) -> None:
        def fire(_: Any) -> None:
            if interval_ns is not None:
                self._arm(name, callback, at_ns + interval_ns, interval_ns)
            else:
                self._timers.pop(name, None)
            callback(TimerFired(name, at_ns))

        self._timers[name] = self.schedule(at_ns, fire)

    def cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle[2] = False

    def has_timer(self, name: str) -> bool:
        return name in self._timers


class LiveClock:
    """Wall-clock time and timers on the running asyncio loop (live mode only)."""

    def __init__(self, loop: Any | None = None) -> None:
        import asyncio  # live edge only: the sync core never reaches this

        self._asyncio = asyncio
        self._loop = loop
        self._timers: dict[str, Any] = {}
        self.on_error: ErrorHook | None = None

    def now_ns(self) -> int:
        import time

        return time.time_ns()

    def _get_loop(self) -> Any:
        if self._loop is None:
            self._loop = self._asyncio.get_running_loop()
        return self._loop

    def set_timer(
        self, name: str, callback: TimerCallback, *, at_ns: int | None = None, interval_ns: int | None = None
    ) -> None:
        if (at_ns is None) == (interval_ns is None):
            raise ValueError("set_timer takes exactly one of at_ns and interval_ns")
        self.cancel_timer(name)
        due = at_ns if at_ns is not None else self.now_ns() + interval_ns  # type: ignore[operator]
        self._arm(name, callback, due, interval_ns)

    def _arm(self, name: str, callback: TimerCallback, due_ns: int, interval_ns: int | None) -> None:
        loop = self._get_loop()
        delay_s = max(0.0, (due_ns - self.now_ns()) / 1e9)

        def fire() -> None:
            if interval_ns is not None:
                self._arm(name, callback, due_ns + interval_ns, interval_ns)
            else:
                self._timers.pop(name, None)
            try:
                callback(TimerFired(name, due_ns))
            except Exception as exc:
                log.error("timer %s failed: %r", name, exc, exc_info=exc)
                if self.on_error is not None:
                    self.on_error(name, exc)

        self._timers[name] = loop.call_later(delay_s, fire)

    def cancel_timer(self, name: str) -> None:
        handle = self._timers.pop(name, None)
        if handle is not None:
            handle.cancel()
