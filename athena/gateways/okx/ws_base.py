"""The WebSocket connection every OKX socket shares: connect, keep alive, reconnect, resubscribe.

Owns: ``WsBaseGateway`` — one connection to one OKX WebSocket URL with an ``asyncio.Lock``
against double connects; the text ``ping`` after ``ping_interval_s`` of silence (OKX drops a
socket idle for 30 s); a watchdog that reconnects after ``watchdog_s`` without any frame; one
receive loop in which every exception ends in a reconnect with exponential backoff and seeded
jitter (never a dead loop, never a log flood: warnings are rate-limited); the subscription set,
re-sent in full after every reconnect; the ``notice`` 64008 (service upgrade: reconnect now);
CONNECTION events (up / down) to the bus; and cancellation of every task it started on ``stop``.
Subclasses add what happens after the socket opens (``_on_open``: login) and what a parsed
message means (``_on_message``).
Never: maps market or order data (subclasses do), blocks the loop, retries a connection without
backoff, or lets a credential reach a log (the ``websockets`` library's frame-level debug log,
which would print the login frame, is capped at INFO).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Any, Final

import msgspec
from websockets.asyncio.client import ClientConnection, connect

from athena.core.events import ConnectionEvent, ErrorEvent, Event
from athena.errors import GatewayError
from athena.gateways.okx.parsers import (
    OkxParseError,
    Pong,
    WsChannelConnCountError,
    WsError,
    WsMessage,
    WsNotice,
    WsSubscribe,
    WsUnsubscribe,
    parse_ws,
)
from athena.model.enums import ConnectionStatus

__all__ = ["LogThrottle", "WsBaseGateway", "WsFatalError"]

log = logging.getLogger(__name__)

# websockets logs every frame at DEBUG, the login frame (API key, passphrase, signature) included.
# Its logger for our connections never goes below INFO, whatever the root level is.
_WIRE_LOG: Final = logging.getLogger("athena.gateways.okx.wire")
_WIRE_LOG.setLevel(logging.INFO)

NOTICE_SERVICE_UPGRADE: Final = "64008"
_ENCODE: Final = msgspec.json.Encoder()


class WsFatalError(GatewayError):
    """A failure reconnecting cannot fix (login refused: wrong key, passphrase or signature).
    The socket stops instead of hammering OKX; the message says what to fix."""


class _Reconnect(Exception):
    """Raised inside the receive loop to leave it and reconnect (silence, notice, resubscribe)."""

    def __init__(self, reason: str, immediate: bool = False) -> None:
        super().__init__(reason)
        self.immediate = immediate


class LogThrottle:
    """At most one log line per key per ``interval_s``; the next one says how many were dropped."""

    __slots__ = ("_clock", "_interval", "_last", "_logger", "_suppressed")

    def __init__(self, logger: logging.Logger, interval_s: float, clock: Callable[[], float]) -> None:
        self._logger = logger
        self._interval = interval_s
        self._clock = clock
        self._last: dict[str, float] = {}
        self._suppressed: dict[str, int] = {}

    def log(self, level: int, key: str, msg: str, *args: Any) -> bool:
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self._interval:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return False
        self._last[key] = now
        dropped = self._suppressed.pop(key, 0)
        if dropped:
            msg += " (%d similar messages suppressed)"
            args = (*args, dropped)
        self._logger.log(level, msg, *args)
        return True


def _arg_key(arg: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((k, str(v)) for k, v in arg.items()))


class WsBaseGateway:
    """One OKX WebSocket, kept alive and subscribed, publishing what it receives.

    ``publish`` hands events to the bus (called on the loop's thread); ``now_ns`` stamps them
    (the LiveClock's). Timing parameters are seconds; ``rng`` seeds the backoff jitter."""

    def __init__(
        self,
        url: str,
        *,
        name: str,
        publish: Callable[[Event], None],
        now_ns: Callable[[], int],
        ping_interval_s: float = 20.0,
        watchdog_s: float = 60.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        open_timeout_s: float = 10.0,
        log_interval_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        if not 0 < ping_interval_s < watchdog_s:
            raise ValueError(f"{name}: need 0 < ping_interval_s ({ping_interval_s}) < watchdog_s ({watchdog_s})")
        self.url = url
        self.name = name
        self._publish = publish
        self._now_ns = now_ns
        self.ping_interval_s = ping_interval_s
        self.watchdog_s = watchdog_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.open_timeout_s = open_timeout_s
        self._rng = rng or random.Random(0x5EED)
        self._lock = asyncio.Lock()
        self._ws: ClientConnection | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._subs: dict[tuple[tuple[str, str], ...], dict[str, Any]] = {}
        self._stopping = False
        self._ready = asyncio.Event()
        self._throttle = LogThrottle(log, log_interval_s, self._mono)
        self.attempts = 0  # connection attempts, successful or not
        self.connects = 0  # successful connections (tests and metrics)
        self.pings_sent = 0
        self.fatal: WsFatalError | None = None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r}, {self.url!r}, connected={self.connected})"

    # -- lifecycle ------------------------------------------------------------------------------

    @staticmethod
    def _mono() -> float:
        return asyncio.get_running_loop().time()

    @property
    def connected(self) -> bool:
        return self._ws is not None and self._ready.is_set()

    async def start(self) -> None:
        """Start the connection loop (idempotent: the lock makes a second call a no-op)."""
        async with self._lock:
            if self._run_task is not None and not self._run_task.done():
                return
            self._stopping = False
            self.fatal = None
            self._run_task = asyncio.get_running_loop().create_task(self._run(), name=f"{self.name}.run")

    async def wait_ready(self, timeout_s: float) -> bool:
        """Wait until connected (logged in and subscribed); False on timeout or fatal failure."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        except TimeoutError:
            return False
        return self.fatal is None

    async def stop(self) -> None:
        """Close the socket and cancel every task this gateway started; returns when all ended."""
        self._stopping = True
        was_up = self.connected
        tasks = [t for t in (self._run_task, *self._tasks) if t is not None and not t.done()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
        self._tasks.clear()
        self._run_task = None
        ws = self._ws
        self._ws = None
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        if was_up:
            self._connection(ConnectionStatus.DOWN, "stopped")

    def spawn(self, coro: Any, name: str) -> asyncio.Task[Any]:
        """A background task owned by this gateway (kept referenced, cancelled on ``stop``)."""
        task = asyncio.get_running_loop().create_task(coro, name=f"{self.name}.{name}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    # -- subscriptions --------------------------------------------------------------------------

    def subscriptions(self) -> list[dict[str, Any]]:
        return list(self._subs.values())

    async def subscribe(self, args: list[dict[str, Any]]) -> None:
        """Add subscriptions (kept across reconnects); sent now when connected."""
        new = []
        for arg in args:
            k = _arg_key(arg)
            if k not in self._subs:
                self._subs[k] = dict(arg)
                new.append(arg)
        if new and self.connected:
            await self.send({"op": "subscribe", "args": new})

    async def unsubscribe(self, args: list[dict[str, Any]]) -> None:
        for arg in args:
            self._subs.pop(_arg_key(arg), None)
        if self.connected:
            await self.send({"op": "unsubscribe", "args": args})

    async def resubscribe(self, arg: dict[str, Any]) -> None:
        """Unsubscribe and subscribe again (a book channel answers with a fresh snapshot)."""
        if not self.connected:
            return  # the reconnect subscribes everything afresh anyway
        await self.send({"op": "unsubscribe", "args": [arg]})
        await self.send({"op": "subscribe", "args": [arg]})

    # -- sending --------------------------------------------------------------------------------

    async def send(self, obj: Any) -> None:
        """Send one JSON request; raises ``GatewayError`` when not connected."""
        ws = self._ws
        if ws is None:
            raise GatewayError(f"{self.name}: not connected to {self.url}; the request was not sent")
        await ws.send(_ENCODE.encode(obj).decode())

    # -- hooks for subclasses -------------------------------------------------------------------

    async def _on_open(self, ws: ClientConnection) -> None:
        """After the socket opened, before subscribing (private sockets log in here)."""

    def _on_message(self, msg: WsMessage) -> None:
        """A parsed frame that the base did not consume (data pushes, op answers)."""

    def _on_down(self, reason: str) -> None:
        """The connection ended (before the reconnect): fail what waited on it."""

    # -- events ---------------------------------------------------------------------------------

    def _connection(self, status: ConnectionStatus, detail: str, channel: str | None = None) -> None:
        now = self._now_ns()
        self._publish(ConnectionEvent(status, channel or self.name, detail, now, now))

    def _error(self, source: str, message: str, code: str = "") -> None:
        now = self._now_ns()
        self._publish(ErrorEvent(source, message, now, now, code=code))

    # -- the loop -------------------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        base = min(self.backoff_max_s, self.backoff_initial_s * (1 << min(attempt, 16)))
        return base * (0.5 + 0.5 * self._rng.random())  # jitter: reconnects of many sockets spread out

    async def _run(self) -> None:
        attempt = 0
        while not self._stopping:
            immediate = False
            was_up = False
            reason = ""
            try:
                self.attempts += 1
                async with self._lock:  # one connect at a time, even if start() raced
                    ws = await connect(
                        self.url,
                        ping_interval=None,  # OKX wants its own text "ping", not protocol pings
                        open_timeout=self.open_timeout_s,
                        close_timeout=2,
                        max_size=None,
                        logger=_WIRE_LOG,
                    )
                self._ws = ws
                await self._on_open(ws)
                if self._subs:
                    await self.send({"op": "subscribe", "args": list(self._subs.values())})
                self.connects += 1
                was_up = True
                self._ready.set()
                self._connection(ConnectionStatus.UP, f"connected to {self.url} (connection {self.connects})")
                attempt = 0
                await self._receive(ws)
                reason = "closed by the server"
            except asyncio.CancelledError:
                raise
            except WsFatalError as err:
                self.fatal = err
                self._ready.set()  # wake waiters: they read .fatal
                self._error(self.name, str(err), code="login_failed")
                log.error("%s: %s", self.name, err)
                reason = str(err)
                self._stopping = True
            except _Reconnect as sig:
                reason = str(sig)
                immediate = sig.immediate
            except Exception as err:  # every failure ends in a reconnect, never in a dead loop
                reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
                self._throttle.log(logging.WARNING, "fail", "%s: connection failed: %s", self.name, reason)
            finally:
                self._ready.clear()
                ws_now = self._ws
                self._ws = None
                if ws_now is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(ws_now.close(), 2)
            self._on_down(reason)
            if was_up:
                self._connection(ConnectionStatus.DOWN, reason)
            if self._stopping:
                break
            delay = 0.0 if immediate else self._backoff(attempt)
            attempt += 1
            if delay:
                await asyncio.sleep(delay)

    async def _receive(self, ws: ClientConnection) -> None:
        loop = asyncio.get_running_loop()
        last_rx = loop.time()
        last_tx = last_rx
        # Checked per frame: under a continuous stream wait_for may swallow stop()'s cancellation
        # (CPython 3.11), so the loop must see the flag itself.
        while not self._stopping:
            now = loop.time()
            wait = min(last_rx + self.watchdog_s, max(last_rx, last_tx) + self.ping_interval_s) - now
            try:
                frame = await asyncio.wait_for(ws.recv(), timeout=max(wait, 0.0))
            except TimeoutError:
                now = loop.time()
                if now - last_rx >= self.watchdog_s:
                    raise _Reconnect(f"no frame for {now - last_rx:.1f} s (watchdog {self.watchdog_s:g} s)") from None
                if now - max(last_rx, last_tx) >= self.ping_interval_s:
                    await ws.send("ping")
                    self.pings_sent += 1
                    last_tx = now
                continue
            last_rx = loop.time()
            self._dispatch(frame)

    def _dispatch(self, frame: str | bytes) -> None:
        try:
            msg = parse_ws(frame)
        except OkxParseError as err:
            self._throttle.log(logging.WARNING, "parse", "%s: unreadable frame skipped: %s", self.name, err)
            return
        if type(msg) is Pong:
            return
        if isinstance(msg, WsNotice):
            if msg.code == NOTICE_SERVICE_UPGRADE:
                log.info("%s: OKX notice %s (%s): reconnecting now", self.name, msg.code, msg.msg)
                raise _Reconnect(f"OKX notice {msg.code}: {msg.msg}", immediate=True)
            log.info("%s: OKX notice %s: %s", self.name, msg.code, msg.msg)
            return
        if isinstance(msg, (WsSubscribe, WsUnsubscribe)):
            return
        if isinstance(msg, WsError):
            if self._throttle.log(
                logging.WARNING, f"err{msg.code}", "%s: OKX error %s: %s", self.name, msg.code, msg.msg
            ):
                self._error(self.name, f"OKX error {msg.code}: {msg.msg}", code=str(msg.code))
            return
        if isinstance(msg, WsChannelConnCountError):
            self._error(self.name, f"OKX dropped a {msg.channel} subscription: over the connection limit")
            return
        try:
            self._on_message(msg)
        except _Reconnect:
            raise
        except Exception as err:  # a mapping failure costs one message, not the connection
            kind = type(err).__name__
            if self._throttle.log(logging.ERROR, f"map:{kind}", "%s: message dropped: %s: %s", self.name, kind, err):
                self._error(self.name, f"message dropped: {kind}: {err}", code="map_failed")
