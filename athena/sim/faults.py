"""A seeded fault plan for SimGateway: the exchange misbehaving the ways OKX can (DESIGN.md §6).

Owns: one small frozen dataclass per fault kind and ``FaultPlan``, which decides, report by report,
what SimGateway delivers: the report as is, a duplicate, nothing (a lost ack), a report held back
until its order's first fill (a fill before its ack), extra latency in order (a slow patch) or out
of order (a reordered report). Timed faults — a foreign (ghost) order planted at the exchange, the
exchange's position shifted — are handed to SimGateway to schedule on the SimClock heap. A fault
hits either the ``nth`` candidate report (1-based) or each candidate with ``probability``, drawn
from the plan's own ``random.Random(seed)`` (uniform draws only: identical on every machine).
The vocabulary matches ``athena sim-server``'s fault injection.
Never: reads the clock, changes a report's content (a duplicate is a copy), or draws from a global
random state.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from athena.core.events import Event, OrderReport, ReportSource
from athena.model.enums import Side

__all__ = [
    "DelayResponses",
    "Delivery",
    "DuplicateFill",
    "Fault",
    "FaultPlan",
    "FillBeforeAck",
    "GhostOrder",
    "LoseAck",
    "ReorderResponse",
    "ShiftPosition",
]


@dataclass(frozen=True, slots=True)
class DuplicateFill:
    """A fill report is delivered twice; the copy comes ``delay_ns`` after the original."""

    nth: int | None = None  # of fill reports
    probability: float = 0.0
    delay_ns: int = 0


@dataclass(frozen=True, slots=True)
class FillBeforeAck:
    """An accepted placement's ack is held until its order's first fill (or its end) was delivered."""

    nth: int | None = None  # of accepted placement acks
    probability: float = 0.0


@dataclass(frozen=True, slots=True)
class LoseAck:
    """An accepted placement's ack is never delivered (its pushes still are)."""

    nth: int | None = None  # of accepted placement acks
    probability: float = 0.0


@dataclass(frozen=True, slots=True)
class DelayResponses:
    """Every report emitted in [start_ns, end_ns) of exchange time comes ``extra_ns`` later, in order."""

    start_ns: int
    end_ns: int
    extra_ns: int


@dataclass(frozen=True, slots=True)
class ReorderResponse:
    """A report comes ``delay_ns`` late out of order: reports emitted after it may overtake it."""

    nth: int | None = None  # of all reports
    probability: float = 0.0
    delay_ns: int = 1_000_000


@dataclass(frozen=True, slots=True)
class GhostOrder:
    """At ``at_ns`` a foreign order (not placed by Athena) appears resting at the exchange."""

    at_ns: int
    inst_id: str
    side: Side
    price_ticks: int
    size_lots: int
    cl_ord_id: str = "ghost1"


@dataclass(frozen=True, slots=True)
class ShiftPosition:
    """At ``at_ns`` the exchange's position changes by ``lots`` with no fill reported."""

    at_ns: int
    inst_id: str
    lots: int


Fault = DuplicateFill | FillBeforeAck | LoseAck | DelayResponses | ReorderResponse | GhostOrder | ShiftPosition
TimedFault = GhostOrder | ShiftPosition


class Delivery(NamedTuple):
    """One delivery SimGateway schedules: ``extra_ns`` on top of the response latency; ``in_order``
    False lets later reports overtake it (and it does not hold them back)."""

    event: Event
    extra_ns: int
    in_order: bool


def _is_place_ack(ev: OrderReport) -> bool:
    # A placement ack mirrors the order (ord_type set); cancel/amend acks carry no ord_type.
    return ev.source is ReportSource.ACK and ev.ord_type is not None and ev.s_code == "0"


class FaultPlan:
    """Applies its faults to the reports SimGateway is about to deliver, deterministically."""

    __slots__ = ("_answers", "_counts", "_faults", "_held", "_rng", "applied", "seed")

    def __init__(self, faults: Sequence[Fault] = (), seed: int = 0) -> None:
        self._faults = tuple(faults)
        self.seed = seed
        self._rng = random.Random(seed)
        self._counts = {"fill": 0, "place_ack": 0, "report": 0}
        self._held: dict[str, OrderReport] = {}  # ord_id -> ack held for FillBeforeAck
        # req_id -> extra delay of a query answer being emitted: an answer (a REST response) moves
        # as one piece, so a reorder delays all its rows together, never one row past its end.
        self._answers: dict[str, int] = {}
        self.applied: list[str] = []  # what was done, in order (for the run's manifest and tests)

    def timed(self) -> list[TimedFault]:
        """Faults SimGateway schedules on the clock itself, in plan order."""
        return [f for f in self._faults if isinstance(f, GhostOrder | ShiftPosition)]

    def _hit(self, nth: int | None, probability: float, count: int) -> bool:
        if nth is not None:
            return count == nth
        return probability > 0.0 and self._rng.random() < probability

    def route(self, ev: Event) -> list[Delivery]:
        """The deliveries to schedule for ``ev`` now (possibly none, possibly a held ack too)."""
        if not isinstance(ev, OrderReport):
            return [Delivery(ev, self._in_order_extra(ev), True)]
        counts = self._counts
        in_order = True
        extra = self._in_order_extra(ev)
        answer_extra = self._answers.get(ev.req_id) if ev.req_id else None
        if answer_extra is not None:  # a later row of an answer already routed
            extra += answer_extra
            in_order = answer_extra == 0
        else:
            counts["report"] += 1
            delay = 0
            for f in self._faults:
                if isinstance(f, ReorderResponse) and self._hit(f.nth, f.probability, counts["report"]):
                    in_order = False
                    delay = f.delay_ns
                    self.applied.append(f"reorder {ev.cl_ord_id or ev.req_id} {ev.state} +{f.delay_ns}ns")
                    break
            extra += delay
            if ev.req_id and ev.source is ReportSource.QUERY:
                self._answers[ev.req_id] = delay
        if ev.req_id and ev.snapshot_end:
            self._answers.pop(ev.req_id, None)
        if _is_place_ack(ev):
            counts["place_ack"] += 1
            for f in self._faults:
                if isinstance(f, LoseAck) and self._hit(f.nth, f.probability, counts["place_ack"]):
                    self.applied.append(f"lose ack {ev.cl_ord_id}")
                    return []
                if isinstance(f, FillBeforeAck) and self._hit(f.nth, f.probability, counts["place_ack"]):
                    self.applied.append(f"hold ack {ev.cl_ord_id} until its first fill")
                    self._held[ev.ord_id] = ev
                    return []
        out = [Delivery(ev, extra, in_order)]
        if ev.fill_lots > 0:
            counts["fill"] += 1
            for f in self._faults:
                if isinstance(f, DuplicateFill) and self._hit(f.nth, f.probability, counts["fill"]):
                    self.applied.append(f"duplicate fill {ev.cl_ord_id} trade {ev.trade_id}")
                    out.append(Delivery(copy.copy(ev), extra + f.delay_ns, False))
                    break
        if self._held and (ev.fill_lots > 0 or (ev.state is not None and ev.state.is_terminal)):
            held = self._held.pop(ev.ord_id, None)
            if held is not None:
                out.append(Delivery(held, extra, in_order))
        return out

    def _in_order_extra(self, ev: Event) -> int:
        extra = 0
        for f in self._faults:
            if isinstance(f, DelayResponses) and f.start_ns <= ev.ts_event < f.end_ns:
                extra += f.extra_ns
        return extra

    def describe(self) -> str:
        if not self._faults:
            return "faults: none"
        return f"faults (seed {self.seed}): " + "; ".join(repr(f) for f in self._faults)
