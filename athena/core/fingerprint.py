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
from typing import Any

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


_PLAIN = frozenset({int, str, float, bool, type(None)})  # their repr is already canonical
_SKIP = frozenset({"book", "changes"})  # views: covered by the book checkpoints


def _slot_names(cls: type) -> tuple[str, ...]:
    names = {n for c in cls.__mro__ for n in getattr(c, "__slots__", ())}
    return tuple(sorted(names - _SKIP))


class Fingerprint:
    """Feed it events, commands and book checkpoints; read ``hexdigest()`` at the end."""

    __slots__ = ("_h", "_names", "commands", "events")

    def __init__(self) -> None:
        self._h = hashlib.sha256()
        self._names: dict[type, tuple[str, ...]] = {}
        self.events = 0
        self.commands = 0

    def event(self, event: Event) -> None:
        cls = type(event)
        names = self._names.get(cls)
        if names is None:
            names = self._names[cls] = _slot_names(cls)
        vals = [getattr(event, n) for n in names]
        for i, v in enumerate(vals):
            t = type(v)
            if t in _PLAIN:
                continue
            if issubclass(t, Enum):
                vals[i] = v._value_
            else:
                vals[i] = canonical(v)
        self._h.update(f"E|{cls.__name__}|{vals!r}\n".encode())
        self.events += 1

    def command(self, name: str, ts_ns: int, **fields: Any) -> None:
        body = ";".join(f"{k}={canonical(v)}" for k, v in sorted(fields.items()))
        self._h.update(f"C|{name}|{ts_ns}|{body}\n".encode())
        self.commands += 1

    def book(self, count: int, book: Any) -> None:
        """A checkpoint of a book: message count, best prices, level counts and its top-25 levels."""
        bids, asks = book.depth(25)
        self._h.update(
            f"B|{count}|{book.inst_id}|{book.best_bid}|{book.best_ask}|{len(book.bids)}|{len(book.asks)}|"
            f"{bids}|{asks}\n".encode()
        )

    def hexdigest(self) -> str:
        return self._h.hexdigest()
