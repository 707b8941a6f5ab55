"""The determinism fingerprint: SHA-256 over a canonical log of what the core did (DESIGN.md §10).

Owns: a canonical, platform-independent text form of every non-market event dispatched (tap the
bus), of every command sent (the gateway's command log), and of a book checkpoint every N book
messages and at the end, fed into one running SHA-256.
Never: hashes market rows one by one (that would cost more than the loop), wall-clock figures, or
anything whose text depends on object identity (ids, reprs of objects with addresses).
"""

from __future__ import annotations

import hashlib
from enum import Enum
from fractions import Fraction
from operator import attrgetter
from typing import Any

import msgspec

from athena.core.events import Event
from athena.model.orders import Fill, Order


def canonical(value: Any) -> str:
    """A stable text for a value: floats by repr (shortest round-trip), enums by value,
    orders by their identity and state, containers element-wise."""
    if isinstance(value, Enum):  # first: str- and int-valued enums are str/int too
        return repr(value.value)
    if value is None or isinstance(value, bool | int | str | float):
        return repr(value)
    if isinstance(value, Fraction):
        return f"{value.numerator}/{value.denominator}"
    if isinstance(value, Order):
        return (f"Order({value.cl_ord_id},{value.ord_id},{value.state.value},{value.filled_lots},"
                f"{value.price_ticks},{value.size_lots})")
    if isinstance(value, Fill):
        return (f"Fill({value.trade_id},{value.cl_ord_id},{value.side.value},{value.ticks},{value.lots},"
                f"{value.fee!r},{value.liquidity.value})")
    if isinstance(value, list | tuple):
        return "[" + ",".join(canonical(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ",".join(f"{canonical(k)}:{canonical(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, set | frozenset):
        return "{" + ",".join(sorted(canonical(v) for v in value)) + "}"
    return type(value).__name__  # views (books, levels) are covered by checkpoints, not by repr


_SKIP = frozenset({"book", "changes"})  # views: covered by the book checkpoints


def _fallback(value: Any) -> Any:
    """Types msgspec does not encode itself (Fractions, views) get their canonical text."""
    return canonical(value)


# JSON with sorted sets and dict keys; enums by value, dataclasses (Order, Fill) field by field,
# floats in their shortest round-trip form. Far cheaper per event than building text in Python.
_ENCODE = msgspec.json.Encoder(enc_hook=_fallback, order="deterministic").encode


def _getter(cls: type) -> Any:
    names = sorted({n for c in cls.__mro__ for n in getattr(c, "__slots__", ())} - _SKIP)
    return attrgetter(*names)


class Fingerprint:
    """Feed it events, commands and book checkpoints; read ``hexdigest()`` at the end."""

    __slots__ = ("_getters", "_h", "commands", "events")

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self._getters: dict[type, Any] = {}
        self.events = 0
        self.commands = 0

    def event(self, event: Event) -> None:
        cls = type(event)
        get = self._getters.get(cls)
        if get is None:
            get = self._getters[cls] = _getter(cls)
        self._h.update(_ENCODE((cls.__name__, get(event))))
        self._h.update(b"\n")
        self.events += 1

    def command(self, name: str, ts_ns: int, **fields: Any) -> None:
        self._h.update(_ENCODE(("C", name, ts_ns, fields)))
        self._h.update(b"\n")
        self.commands += 1

    def book(self, count: int, book: Any) -> None:
        """A checkpoint of a book: message count, best prices, level counts and its top-25 levels."""
        bids, asks = book.depth(25)
        self._h.update(_ENCODE(("B", count, book.inst_id, book.best_bid, book.best_ask, len(book.bids),
                                len(book.asks), bids, asks)))
        self._h.update(b"\n")

    def hexdigest(self) -> str:
        return self._h.hexdigest()
