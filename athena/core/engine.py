"""The Engine: holds the clock, the bus, the gateway and the components, and runs their lifecycles.

Owns: wiring by injection (no globals) and the start/stop order — components start in the order
they were added and stop in reverse, so the OMS is up before a strategy can submit and outlives it.
A clock callback that fails becomes an ERROR event on the bus.
Never: contains trading logic, reads the wall clock, or knows whether it runs live or in a backtest.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol, runtime_checkable

from athena.core.bus import EventBus
from athena.core.clock import Clock
from athena.core.events import ErrorEvent
from athena.model.instrument import InstrumentSpec

log = logging.getLogger(__name__)


@runtime_checkable
class Component(Protocol):
    """Anything with a lifecycle: the OMS parts, strategies, gateways, recorders."""

    def start(self) -> None: ...
    def stop(self) -> None: ...


class Engine:
    def __init__(self, clock: Clock, bus: EventBus | None = None, gateway: Any = None) -> None:
        self.clock = clock
        self.bus = bus or EventBus()
        self.bus.set_time_source(clock.now_ns)
        self.gateway = gateway
        self.instruments: dict[str, InstrumentSpec] = {}
        self.books: dict[str, Any] = {}
        self._components: list[Component] = []
        self._started: list[Component] = []
        if hasattr(clock, "on_error"):
            clock.on_error = self._clock_error  # type: ignore[attr-defined]

    def add_instrument(self, spec: InstrumentSpec, book: Any = None) -> None:
        self.instruments[spec.inst_id] = spec
        if book is not None:
            self.books[spec.inst_id] = book

    def add(self, component: Component) -> Component:
        if self._started:
            raise RuntimeError("components must be added before Engine.start()")
        self._components.append(component)
        return component

    @property
    def components(self) -> tuple[Component, ...]:
        return tuple(self._components)

    @property
    def running(self) -> bool:
        return bool(self._started)

    def start(self) -> None:
        for c in self._components:
            c.start()
            self._started.append(c)

    def stop(self) -> None:
        """Stop in reverse order; a component that fails to stop does not keep the others up."""
        while self._started:
            c = self._started.pop()
            try:
                c.stop()
            except Exception as exc:
                log.error("stopping %s failed: %r", type(c).__name__, exc, exc_info=exc)

    def _clock_error(self, where: str, exc: BaseException) -> None:
        now = self.clock.now_ns()
        self.bus.publish(
            ErrorEvent(
                source=where,
                message=f"{where} raised {type(exc).__name__}: {exc}",
                ts_event=now,
                ts_recv=now,
                code="callback_failed",
            )
        )
