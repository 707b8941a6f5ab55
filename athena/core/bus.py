"""The EventBus: synchronous, prioritized, run-to-completion dispatch with failure isolation.

Owns: who gets which event in which order. Subscribers of a type are called in ascending
``priority`` (OMS before strategies), ties in subscription order. An event published from inside
a handler is queued and dispatched only after every subscriber of the current event has run.
A handler that raises is logged and reported as an ERROR event; the other subscribers still get
the event and the bus keeps running.
Never: reads a clock (ERROR events take their time from the injected ``now`` function), awaits,
or drops an event silently.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from enum import IntEnum
from typing import Any

from athena.core.events import MARKET_TYPES, ErrorEvent, Event, EventType

log = logging.getLogger(__name__)

Handler = Callable[[Any], None]


class Priority(IntEnum):
    """Lower runs first. The OMS must have updated its records before a strategy sees an event."""

    OMS = 10
    POSITIONS = 20
    CAPITAL = 30
    RISK = 40
    STRATEGY = 100
    OBSERVER = 200  # recorders, reports, the event log


class EventBus:
    __slots__ = ("_dispatching", "_entries", "_now", "_queue", "_seq", "_subs", "_taps", "errors")

    def __init__(self, now: Callable[[], int] | None = None) -> None:
        self._now: Callable[[], int] = now or (lambda: 0)
        n = len(EventType)
        self._entries: list[list[tuple[int, int, Handler]]] = [[] for _ in range(n)]
        # Resolved once per (un)subscribe, read per event: a tuple per type, indexed by the int enum.
        self._subs: list[tuple[Handler, ...]] = [() for _ in range(n)]
        self._queue: deque[Event] = deque()
        self._dispatching = False
        self._seq = 0
        self._taps: tuple[Handler, ...] = ()
        self.errors = 0

    def set_time_source(self, now: Callable[[], int]) -> None:
        self._now = now

    def subscribe(self, event_type: EventType, handler: Handler, priority: int = Priority.STRATEGY) -> None:
        self._seq += 1
        entries = self._entries[event_type]
        entries.append((int(priority), self._seq, handler))
        entries.sort(key=lambda e: (e[0], e[1]))
        self._subs[event_type] = tuple(e[2] for e in entries)

    def unsubscribe(self, event_type: EventType, handler: Handler) -> None:
        entries = [e for e in self._entries[event_type] if e[2] != handler]
        self._entries[event_type] = entries
        self._subs[event_type] = tuple(e[2] for e in entries)

    def subscribers(self, event_type: EventType) -> tuple[Handler, ...]:
        return self._subs[event_type]

    def tap(self, handler: Handler) -> None:
        """Observe every non-market event as it is dispatched (the determinism log)."""
        self._taps = (*self._taps, handler)

    @property
    def dispatching(self) -> bool:
        return self._dispatching

    def publish(self, event: Event) -> None:
        if self._dispatching:
            self._queue.append(event)
            return
        self._dispatching = True
        try:
            self._dispatch(event)
            queue = self._queue
            while queue:
                self._dispatch(queue.popleft())
        finally:
            self._dispatching = False

    def _dispatch(self, event: Event) -> None:
        etype = event.type
        if self._taps and etype not in MARKET_TYPES:
            for t in self._taps:
                t(event)
        for handler in self._subs[etype]:
            try:
                handler(event)
            except Exception as exc:
                self._handler_failed(handler, event, exc)

    def _handler_failed(self, handler: Handler, event: Event, exc: Exception) -> None:
        self.errors += 1
        name = getattr(handler, "__qualname__", repr(handler))
        log.error("handler %s failed on %s: %r", name, event.type.name, exc, exc_info=exc)
        if event.type is EventType.ERROR:
            return  # an ERROR handler that fails must not feed itself
        now = self._now()
        self._queue.append(
            ErrorEvent(
                source=name,
                message=f"{name} raised {type(exc).__name__}: {exc} while handling {event.type.name}",
                ts_event=now,
                ts_recv=now,
                code="handler_failed",
            )
        )
