"""Fault injection of ``athena sim-server``: the script format and the faults' bookkeeping.

Owns: the fault vocabulary of the wire emulator (``FaultKind``), parsing a fault script — a JSON
list of ``{"at_s": s | "after_msgs": n, "kind": ..., "params": {...}}`` from ``--faults FILE`` or
``POST /admin/faults`` — into validated ``Fault`` records, and ``FaultState``: which faults are
armed, which fired, and the "next N" counters the server consults frame by frame (answer the
next REST calls with 50011 or a 5xx, lose the next order ack, delay / duplicate / reorder the next
private messages, break the next book update). Triggers: ``at_s`` seconds after the fault was
armed (the server's start for a file, the POST for the admin API); ``after_msgs`` market-data
messages (book messages and trades) the server has replayed since it was armed.
Never: touches a socket, the exchange or the clock — the server passes the time in (``now_ns``)
and carries out what fired. It imports nothing asynchronous, so the sim layer stays synchronous.

Kinds and params (all params optional unless marked):
  drop_ws            socket: public|private|business|any (any) — connections closed abruptly
  silence            seconds (required), socket — no data and no pong for that long
  notice             socket — the 64008 "service upgrade" notice
  delay_private      ms (required), count (1) — the next private pushes/acks come ms later
  duplicate_private  count (1) — the next private messages are sent twice
  reorder_private    count (1) — each of the next private messages is overtaken by the one after it
  lose_ack           count (1), via: ws|rest|any — the order lands, its ack is never sent
  rate_limit         count (1) — the next REST calls get HTTP 429 {"code":"50011"}
  server_error       count (1), status (503) — the next REST calls get that 5xx status
  ghost_order        instId (required), side (required), px (required), sz (required), clOrdId
  shift_position     instId (required), sz (required; signed contracts) — no fill reported
  corrupt_checksum   instId — the next books update carries a wrong checksum
  corrupt_book       instId — the next books update carries a wrong size (checksum of the true book)
  skip_seq           instId — the next books update is never sent (its seqId is skipped)

SimGateway's names are accepted where they mean the same on the wire (``ALIASES``):
duplicate_fill, delay_responses, reorder_response; lose_ack, ghost_order and shift_position are
shared as they are.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from athena.errors import AthenaError

__all__ = [
    "BOOK_KINDS",
    "Fault",
    "FaultKind",
    "FaultScriptError",
    "FaultState",
    "PrivateAction",
    "RestFault",
    "load_fault_file",
    "parse_faults",
]

_NS = 1_000_000_000


class FaultScriptError(AthenaError):
    """A fault script that is not a list of valid faults (the message says which entry and why)."""


class FaultKind(StrEnum):
    DROP_WS = "drop_ws"
    SILENCE = "silence"
    NOTICE = "notice"
    DELAY_PRIVATE = "delay_private"
    DUPLICATE_PRIVATE = "duplicate_private"
    REORDER_PRIVATE = "reorder_private"
    LOSE_ACK = "lose_ack"
    RATE_LIMIT = "rate_limit"
    SERVER_ERROR = "server_error"
    GHOST_ORDER = "ghost_order"
    SHIFT_POSITION = "shift_position"
    CORRUPT_CHECKSUM = "corrupt_checksum"
    CORRUPT_BOOK = "corrupt_book"
    SKIP_SEQ = "skip_seq"


# Kinds the server carries out itself the moment they fire (the rest change FaultState's counters).
ACTION_KINDS = frozenset(
    {FaultKind.DROP_WS, FaultKind.NOTICE, FaultKind.GHOST_ORDER, FaultKind.SHIFT_POSITION}
)
BOOK_KINDS = frozenset({FaultKind.CORRUPT_CHECKSUM, FaultKind.CORRUPT_BOOK, FaultKind.SKIP_SEQ})
SOCKETS = ("public", "private", "business", "any")

# kind -> {param: (type, default or _REQUIRED)}
_REQUIRED = object()
_SOCKET = ("socket", str, "any")
_COUNT = ("count", int, 1)
_PARAMS: dict[FaultKind, tuple[tuple[str, type, Any], ...]] = {
    FaultKind.DROP_WS: (_SOCKET,),
    FaultKind.SILENCE: (("seconds", float, _REQUIRED), _SOCKET),
    FaultKind.NOTICE: (_SOCKET,),
    FaultKind.DELAY_PRIVATE: (("ms", float, _REQUIRED), _COUNT),
    FaultKind.DUPLICATE_PRIVATE: (_COUNT,),
    FaultKind.REORDER_PRIVATE: (_COUNT,),
    FaultKind.LOSE_ACK: (_COUNT, ("via", str, "any")),
    FaultKind.RATE_LIMIT: (_COUNT,),
    FaultKind.SERVER_ERROR: (_COUNT, ("status", int, 503)),
    FaultKind.GHOST_ORDER: (
        ("instId", str, _REQUIRED),
        ("side", str, _REQUIRED),
        ("px", str, _REQUIRED),
        ("sz", str, _REQUIRED),
        ("clOrdId", str, "ghost1"),
    ),
    FaultKind.SHIFT_POSITION: (("instId", str, _REQUIRED), ("sz", str, _REQUIRED)),
    FaultKind.CORRUPT_CHECKSUM: (("instId", str, ""),),
    FaultKind.CORRUPT_BOOK: (("instId", str, ""),),
    FaultKind.SKIP_SEQ: (("instId", str, ""),),
}


@dataclass(frozen=True, slots=True)
class Fault:
    """One scripted fault: fires ``at_s`` seconds or ``after_msgs`` market messages after arming."""

    kind: FaultKind
    params: dict[str, Any] = field(default_factory=dict)
    at_s: float | None = None
    after_msgs: int | None = None

    def describe(self) -> str:
        when = f"at {self.at_s:g} s" if self.at_s is not None else f"after {self.after_msgs} msgs"
        args = ", ".join(f"{k}={v}" for k, v in self.params.items())
        return f"{self.kind.value}({args}) {when}"

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "params": dict(self.params)}
        if self.at_s is not None:
            out["at_s"] = self.at_s
        if self.after_msgs is not None:
            out["after_msgs"] = self.after_msgs
        return out


def _coerce(where: str, name: str, kind: type, value: Any) -> Any:
    if kind is str:
        if isinstance(value, str):
            return value
        if isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)  # {"px": 42000} is as clear as "42000"
    elif kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    raise FaultScriptError(f"{where}: param {name!r} is {value!r}; expected a {kind.__name__}")


# SimGateway's fault names (athena.sim.faults, the scenarios' vocabulary, DESIGN.md §6) that mean
# the same on the wire: a fill, a delay or a reorder of the next private messages.
ALIASES: dict[str, str] = {
    "duplicate_fill": "duplicate_private",
    "delay_responses": "delay_private",
    "reorder_response": "reorder_private",
}


def _parse_one(i: int, item: Any, where: str) -> Fault:
    at = f"{where}, fault #{i + 1}"
    if not isinstance(item, dict):
        example = '{"at_s": 2, "kind": "drop_ws"}'
        raise FaultScriptError(f"{at}: expected an object like {example}, got {item!r:.80}")
    unknown = set(item) - {"at_s", "after_msgs", "kind", "params"}
    if unknown:
        raise FaultScriptError(f"{at}: unknown keys {sorted(unknown)}; use at_s | after_msgs, kind, params")
    raw_kind = item.get("kind")
    try:
        kind = FaultKind(ALIASES.get(raw_kind, raw_kind))
    except ValueError:
        known = ", ".join(k.value for k in FaultKind)
        raise FaultScriptError(f"{at}: kind {raw_kind!r} is not one of {known}") from None
    at_s = item.get("at_s")
    after = item.get("after_msgs")
    if (at_s is None) == (after is None):
        raise FaultScriptError(f"{at}: give exactly one of at_s (seconds) and after_msgs (messages)")
    if at_s is not None:
        at_s = _coerce(at, "at_s", float, at_s)
        if at_s < 0:
            raise FaultScriptError(f"{at}: at_s is {at_s:g}; expected seconds >= 0")
    if after is not None:
        after = _coerce(at, "after_msgs", int, after)
        if after < 0:
            raise FaultScriptError(f"{at}: after_msgs is {after}; expected a count >= 0")
    raw = item.get("params") or {}
    if not isinstance(raw, dict):
        raise FaultScriptError(f"{at}: params must be an object, got {raw!r:.80}")
    spec = _PARAMS[kind]
    names = {name for name, _, _ in spec}
    extra = set(raw) - names
    if extra:
        raise FaultScriptError(f"{at}: {kind.value} takes params {sorted(names)}, not {sorted(extra)}")
    params: dict[str, Any] = {}
    for name, typ, default in spec:
        if name in raw:
            params[name] = _coerce(at, name, typ, raw[name])
        elif default is _REQUIRED:
            raise FaultScriptError(f"{at}: {kind.value} needs param {name!r}")
        else:
            params[name] = default
    if "socket" in params and params["socket"] not in SOCKETS:
        raise FaultScriptError(f"{at}: socket {params['socket']!r} is not one of {', '.join(SOCKETS)}")
    if "count" in params and params["count"] < 1:
        raise FaultScriptError(f"{at}: count is {params['count']}; expected >= 1")
    if "via" in params and params["via"] not in ("ws", "rest", "any"):
        raise FaultScriptError(f"{at}: via {params['via']!r} is not one of ws, rest, any")
    if "side" in params and params["side"] not in ("buy", "sell"):
        raise FaultScriptError(f"{at}: side {params['side']!r} is not buy or sell")
    if kind is FaultKind.SERVER_ERROR and not 500 <= params["status"] <= 599:
        raise FaultScriptError(f"{at}: status {params['status']} is not a 5xx HTTP status")
    for name in ("seconds", "ms"):
        if name in params and params[name] < 0:
            raise FaultScriptError(f"{at}: {name} is {params[name]:g}; expected >= 0")
    return Fault(kind, params, at_s, after)


def parse_faults(obj: Any, where: str = "fault script") -> list[Fault]:
    """Validate a decoded fault script (a list, or one object) into ``Fault`` records."""
    if isinstance(obj, dict):
        obj = [obj]
    if not isinstance(obj, list):
        raise FaultScriptError(f"{where}: expected a JSON list of faults, got {type(obj).__name__}")
    return [_parse_one(i, item, where) for i, item in enumerate(obj)]


def load_fault_file(path: str | Path) -> list[Fault]:
    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise FaultScriptError(f"{p}: cannot read the fault script ({exc.strerror or exc})") from None
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FaultScriptError(f"{p}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    return parse_faults(obj, str(p))


@dataclass(frozen=True, slots=True)
class RestFault:
    """How to answer one REST call instead of serving it."""

    status: int
    code: str
    msg: str


@dataclass(frozen=True, slots=True)
class PrivateAction:
    """What to do with one private message: ``delay_ms`` later, twice, or held behind the next."""

    delay_ms: float = 0.0
    duplicate: bool = False
    reorder: bool = False


_NONE = PrivateAction()


class _Armed:
    __slots__ = ("armed_msgs", "armed_ns", "fault")

    def __init__(self, fault: Fault, armed_ns: int, armed_msgs: int) -> None:
        self.fault = fault
        self.armed_ns = armed_ns
        self.armed_msgs = armed_msgs

    def due(self, now_ns: int, msgs: int) -> bool:
        f = self.fault
        if f.at_s is not None:
            return now_ns - self.armed_ns >= int(f.at_s * _NS)
        assert f.after_msgs is not None
        return msgs - self.armed_msgs >= f.after_msgs


class FaultState:
    """Armed faults and the counters of fired ones; consulted by the server, frame by frame."""

    def __init__(self) -> None:
        self._armed: list[_Armed] = []
        self.rate_limit_left = 0
        self.server_error_left = 0
        self.server_error_status = 503
        self.lose_ack: list[str] = []  # one "via" per lost ack to come
        self.delay: list[float] = []  # one delay (ms) per private message to come
        self.duplicate_left = 0
        self.reorder_left = 0
        self.silent_until: dict[str, int] = {}  # socket kind -> ns
        self.book: list[tuple[FaultKind, str]] = []  # (kind, instId or "") to apply to book updates
        self.applied: list[str] = []

    # -- arming and firing ----------------------------------------------------------------------

    def arm(self, faults: list[Fault], now_ns: int, msgs: int) -> None:
        self._armed.extend(_Armed(f, now_ns, msgs) for f in faults)

    @property
    def has_armed(self) -> bool:
        return bool(self._armed)

    def next_due_ns(self) -> int | None:
        """Earliest wall time an ``at_s`` fault fires (for a timer), None when none is armed."""
        times = [a.armed_ns + int(a.fault.at_s * _NS) for a in self._armed if a.fault.at_s is not None]
        return min(times) if times else None

    def fire_due(self, now_ns: int, msgs: int) -> list[Fault]:
        """Fire what is due: counters are set here; the returned faults the server must carry out
        now (``ACTION_KINDS``), in script order."""
        fired = [a for a in self._armed if a.due(now_ns, msgs)]
        if not fired:
            return []
        self._armed = [a for a in self._armed if not a.due(now_ns, msgs)]
        actions: list[Fault] = []
        for a in fired:
            f = a.fault
            p = f.params
            self.applied.append(f"{f.describe()}: fired")
            k = f.kind
            if k in ACTION_KINDS:
                actions.append(f)
            elif k is FaultKind.SILENCE:
                until = now_ns + int(p["seconds"] * _NS)
                for s in ("public", "private", "business") if p["socket"] == "any" else (p["socket"],):
                    self.silent_until[s] = max(self.silent_until.get(s, 0), until)
            elif k is FaultKind.DELAY_PRIVATE:
                self.delay.extend([p["ms"]] * p["count"])
            elif k is FaultKind.DUPLICATE_PRIVATE:
                self.duplicate_left += p["count"]
            elif k is FaultKind.REORDER_PRIVATE:
                self.reorder_left += p["count"]
            elif k is FaultKind.LOSE_ACK:
                self.lose_ack.extend([p["via"]] * p["count"])
            elif k is FaultKind.RATE_LIMIT:
                self.rate_limit_left += p["count"]
            elif k is FaultKind.SERVER_ERROR:
                self.server_error_left += p["count"]
                self.server_error_status = p["status"]
            elif k in BOOK_KINDS:
                self.book.append((k, p["instId"]))
        return actions

    # -- consulted per frame --------------------------------------------------------------------

    def silenced(self, socket: str, now_ns: int) -> bool:
        return self.silent_until.get(socket, 0) > now_ns

    def rest_fault(self) -> RestFault | None:
        """Consume one scripted answer for a REST call, if any is pending."""
        if self.rate_limit_left:
            self.rate_limit_left -= 1
            self.applied.append("rate_limit: one REST call answered 429 50011")
            return RestFault(429, "50011", "Too Many Requests")
        if self.server_error_left:
            self.server_error_left -= 1
            status = self.server_error_status
            self.applied.append(f"server_error: one REST call answered {status}")
            return RestFault(status, "50001", "Service temporarily unavailable. Please try again later")
        return None

    def take_lose_ack(self, via: str) -> bool:
        """True (consumed) when this order ack (``via`` "ws" or "rest") is to be lost."""
        for i, v in enumerate(self.lose_ack):
            if v in (via, "any"):
                del self.lose_ack[i]
                self.applied.append(f"lose_ack: an order ack over {via} was not sent")
                return True
        return False

    def private_action(self) -> PrivateAction:
        """What happens to the next private message (consumes at most one of each counter)."""
        if not (self.delay or self.duplicate_left or self.reorder_left):
            return _NONE
        delay = self.delay.pop(0) if self.delay else 0.0
        dup = self.duplicate_left > 0
        if dup:
            self.duplicate_left -= 1
        reorder = self.reorder_left > 0
        if reorder:
            self.reorder_left -= 1
        return PrivateAction(delay, dup, reorder)

    def take_book_fault(self, inst_id: str) -> FaultKind | None:
        """The fault to apply to this instrument's next books update, if one is pending."""
        for i, (kind, inst) in enumerate(self.book):
            if inst in ("", inst_id):
                del self.book[i]
                self.applied.append(f"{kind.value}: applied to a books update of {inst_id}")
                return kind
        return None

    def snapshot(self) -> dict[str, Any]:
        """For ``GET /admin/state``."""
        return {
            "armed": [a.fault.to_json() for a in self._armed],
            "pending": {
                "rate_limit": self.rate_limit_left,
                "server_error": self.server_error_left,
                "lose_ack": list(self.lose_ack),
                "delay_private_ms": list(self.delay),
                "duplicate_private": self.duplicate_left,
                "reorder_private": self.reorder_left,
                "book": [f"{k.value}:{i or '*'}" for k, i in self.book],
                "silent_until_ns": dict(self.silent_until),
            },
            "applied": list(self.applied),
        }
