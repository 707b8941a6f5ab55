"""Composition root of `athena live`: config → LiveClock, EventBus, OkxGateway → books → OMS → strategy.

Owns: building one live session from the configuration with the *same* core objects the backtest
wires (EventBus, Engine, CapitalCommander, PreTradeCheck with RiskLimits/RiskProfile,
OrderManager, PositionManager, the strategy through ``StrategyContext``), only with a
``LiveClock`` and an ``OkxGateway`` where the backtest has a SimClock and a SimGateway; the start
order (gateway connected, instruments known and every book synced → OMS → strategy) and the
reverse stop (strategy → OMS → gateway, awaited); Ctrl-C / SIGTERM, a stop event or a duration as
the end of the run; ``--flatten`` (kill switch on every configured instrument, plus a sweep of
open orders this process never placed, until a positions answer is flat and an open-orders answer
is empty, or a timeout with a clear message); a periodic status line; and the run's summary
(``LiveResult``).
Never: holds trading logic, re-implements an OMS loop, logs or returns a credential (they stay
``SecretStr`` until the gateway signs with them), or lets the sync core see asyncio.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from athena.app.core import build_core
from athena.book.l2 import L2Book
from athena.config.loader import load_config
from athena.config.models import AthenaConfig
from athena.core.bus import EventBus, Priority
from athena.core.clock import LiveClock, TimerFired
from athena.core.engine import Engine
from athena.core.events import (
    AccountUpdate,
    ConnectionEvent,
    ErrorEvent,
    EventType,
    OrderFilled,
    OrderSubmitted,
)
from athena.errors import AthenaError, ConfigError
from athena.gateways.okx.auth import OkxCredentials
from athena.gateways.okx.gateway import OkxGateway
from athena.model.enums import Channel, ConnectionStatus
from athena.model.instrument import InstrumentSpec
from athena.model.orders import Fill, Order
from athena.oms.capital import CapitalCommander
from athena.oms.orders import TAG_CLOSE, OrderManager
from athena.oms.positions import PositionManager
from athena.oms.risk import RiskLimits
from athena.strategies.base import BaseStrategy, strategy_class

__all__ = ["LIVE_CHANNELS", "OPERATOR", "LiveError", "LiveResult", "LiveSession", "StopReason", "credentials_for_live",
           "run_live"]

log = logging.getLogger(__name__)

# The channels the backtest replays, subscribed live for every configured instrument.
LIVE_CHANNELS: Final = (Channel.BOOKS, Channel.TRADES, Channel.MARK_PRICE, Channel.FUNDING)
STATUS_TIMER: Final = "live.status"
OPERATOR: Final = "operator"  # the capital owner of a session without a strategy (flatten, tests)
_NS: Final = 1_000_000_000
_POLL_S: Final = 0.05  # how often the run loop looks at the stop conditions
_CREDENTIAL_VARS: Final = (
    ("api_key", "OKX_API_KEY"),
    ("api_secret", "OKX_API_SECRET"),
    ("api_passphrase", "OKX_API_PASSPHRASE"),
)


class LiveError(AthenaError):
    """A live session that cannot start or finish as asked (no connection, login refused, not flat)."""


class StopReason(StrEnum):
    """Why a live run ended."""

    DURATION = "duration"
    SIGNAL = "signal"  # Ctrl-C / SIGTERM
    STOP_EVENT = "stop_event"
    FLATTENED = "flattened"


@dataclass(slots=True)
class LiveResult:
    """What one live run did, for the CLI's summary (no credential in it)."""

    strategy: str
    endpoint: str
    instruments: tuple[str, ...]
    stopped_by: StopReason
    wall_s: float
    orders_submitted: int
    fills: list[Fill]
    positions: dict[str, int]  # the shadow ledger's net lots per instrument at the end
    open_orders: int
    equity: float  # CapitalCommander's equity (configured capital + PnL + fees + funding)
    exchange_equity: float | None  # the exchange's own figure from its last account push
    realized_pnl: float
    fees: float
    errors: int
    flattened: bool = False
    ghosts_canceled: int = 0
    error_codes: dict[str, int] = field(default_factory=dict)


def credentials_for_live(config: AthenaConfig) -> OkxCredentials:
    """The API key `athena live` trades with; a ``ConfigError`` naming the missing variables when
    the key is not complete (live always needs the private channels)."""
    okx = config.okx
    missing = [var for attr, var in _CREDENTIAL_VARS if getattr(okx, attr) is None]
    if missing:
        raise ConfigError(
            f"athena live needs an OKX API key for {okx.endpoint!r}, and {', '.join(missing)} "
            f"{'is' if len(missing) == 1 else 'are'} not set: set OKX_API_KEY, OKX_API_SECRET and "
            "OKX_API_PASSPHRASE in the environment or in .env (for `athena sim-server`, the values it prints)"
        )
    assert okx.api_key is not None and okx.api_secret is not None and okx.api_passphrase is not None
    return OkxCredentials(api_key=okx.api_key, secret_key=okx.api_secret, passphrase=okx.api_passphrase)


class LiveSession:
    """One live session: the gateway, the books, the OMS and (unless ``strategy`` is None) a strategy.

    ``astart`` brings it up in order, ``astop`` takes it down in reverse; ``flatten`` runs the kill
    switch. ``gateway_options`` go to ``OkxGateway`` (``order_transport``, ``rest``, ``ws_options``…);
    ``oms_options`` to ``OrderManager`` (``kill_retry_s``…), over the strategy's own settings."""

    def __init__(
        self,
        config: AthenaConfig,
        strategy: str | None,
        *,
        credentials: OkxCredentials | None = None,
        strategy_config: Mapping[str, Any] | None = None,
        gateway_options: Mapping[str, Any] | None = None,
        oms_options: Mapping[str, Any] | None = None,
        status_interval_s: float = 10.0,
        ready_timeout_s: float = 15.0,
    ) -> None:
        self.config = config
        self.strategy_id = strategy
        self.credentials = credentials if credentials is not None else credentials_for_live(config)
        self.strategy_config = {**(config.strategies.get(strategy, {}) if strategy else {}),
                                **(strategy_config or {})}
        self.gateway_options = dict(gateway_options or {})
        self.oms_options = dict(oms_options or {})
        self.status_interval_s = status_interval_s
        self.ready_timeout_s = ready_timeout_s
        self.clock = LiveClock()
        self.bus = EventBus(self.clock.now_ns)
        self.engine = Engine(self.clock, self.bus)
        self.gateway: OkxGateway | None = None
        self.specs: dict[str, InstrumentSpec] = {}
        self.books: dict[str, L2Book] = {}
        self.capital: CapitalCommander | None = None
        self.oms: OrderManager | None = None
        self.positions: PositionManager | None = None
        self.strategy: BaseStrategy | None = None
        self.fills: list[Fill] = []
        self.orders_submitted = 0
        self.exchange_equity: float | None = None
        self.error_codes: dict[str, int] = {}
        self.errors = 0
        self.ghosts_canceled = 0
        self.gateway_stopped = False
        self._started = False

    # -- lifecycle ------------------------------------------------------------------------------

    async def astart(self) -> None:
        """Gateway up (instruments known, every book synced), then the OMS, then the strategy."""
        cfg = self.config
        symbols = list(cfg.symbols)
        log.info("athena live: endpoint %s, instruments %s, strategy %s", cfg.okx.endpoint, ", ".join(symbols),
                 self.strategy_id or "none (flatten)")
        self._observe()
        gw = self.gateway = OkxGateway(cfg.okx, self.bus, self.clock, inst_ids=symbols,
                                       credentials=self.credentials,
                                       **{"ready_timeout_s": self.ready_timeout_s, **self.gateway_options})
        try:
            ready = await gw.astart()
        except Exception as err:  # connection refused, DNS, HTTP errors: say where and what to check
            await self._stop_gateway()
            what = str(err) if isinstance(err, AthenaError) else f"{type(err).__name__}: {err}"
            raise LiveError(
                f"could not start the OKX gateway at {cfg.okx.endpoint} ({what}); check okx.endpoint "
                "(or --endpoint) and the network"
            ) from None
        if not ready:
            fatal = gw.private.fatal if gw.private is not None else None
            await self._stop_gateway()
            if fatal is not None:
                raise LiveError(str(fatal))
            raise LiveError(
                f"the OKX WebSockets at {cfg.okx.ws_public_url.rsplit('/', 1)[0]} were not connected within "
                f"{self.ready_timeout_s:g} s; check okx.endpoint and the network"
            )
        self.specs = gw.instruments()
        missing = [s for s in symbols if s not in self.specs]
        if missing:
            await self._stop_gateway()
            raise ConfigError(
                f"symbols: OKX at {cfg.okx.endpoint} does not list {', '.join(missing)} as a SWAP instrument; "
                "fix `symbols` (or ATHENA_SYMBOLS)"
            )
        assert gw.public is not None
        for inst, spec in self.specs.items():
            # The public socket updates this very object before each BOOK_EVENT (DESIGN.md §4);
            # the OMS and the strategy hold it read-only.
            key = (gw.book_channel, inst)
            self.books[inst] = gw.public.books.setdefault(key, L2Book(spec))
            self.engine.add_instrument(spec, self.books[inst])
            gw.subscribe(inst, LIVE_CHANNELS)
        await self._wait_books()
        self._build_core()
        self.engine.start()
        self._started = True
        self.clock.set_timer(STATUS_TIMER, self._status, interval_ns=int(self.status_interval_s * _NS))
        log.info("athena live: started (%s)", self.status_line())

    async def _wait_books(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.ready_timeout_s
        while not all(b.synced for b in self.books.values()):
            if loop.time() >= deadline:
                waiting = [i for i, b in self.books.items() if not b.synced]
                await self._stop_gateway()
                raise LiveError(
                    f"no order book snapshot for {', '.join(waiting)} within {self.ready_timeout_s:g} s "
                    f"from {self.config.okx.ws_public_url}; is the market open and the endpoint right?"
                )
            await asyncio.sleep(_POLL_S)

    def _build_core(self) -> None:
        """The OMS and the strategy, wired exactly as ``athena.app.backtest.run_backtest`` wires them."""
        cfg = self.config
        gw = self.gateway
        assert gw is not None
        specs = self.specs
        sid = self.strategy_id
        strat_cfg = self.strategy_config
        owner = sid or OPERATOR
        # Live has no leverage setting of its own: the margin model is the backtest's, so a strategy
        # is refused live exactly where it was refused in its backtest.
        core = build_core(
            self.clock, self.bus, gw, specs, self.books, strategy_id=sid, strategy_config=strat_cfg,
            total_capital=float(cfg.capital.total_usdt), leverage=cfg.backtest.leverage,
            allocation=(cfg.capital.allocations or {}).get(owner, 1.0), owner=owner,
            risk_limits=RiskLimits.from_config(cfg.risk), oms_options=self.oms_options,
        )
        self.capital, self.oms, self.positions, self.strategy = core.capital, core.oms, core.positions, core.strategy
        for component in core.components():
            self.engine.add(component)

    async def astop(self) -> None:
        """Strategy → OMS → gateway; returns once every socket and the REST session are closed."""
        self.clock.cancel_timer(STATUS_TIMER)
        if self._started:
            log.info("athena live: stopping (%s)", self.status_line())
        self.engine.stop()  # reverse order of start: the strategy first, the OMS last
        await self._stop_gateway()
        left = self._open_orders() if self._started and self.oms is not None else []
        if left:
            log.warning("athena live: %d order(s) left open on the exchange; `athena live --flatten` cancels them "
                        "and closes the positions", len(left))
        self._started = False

    async def _stop_gateway(self) -> None:
        gw = self.gateway
        if gw is None or self.gateway_stopped:
            return
        self.gateway_stopped = True
        await gw.astop()

    # -- observing ------------------------------------------------------------------------------

    def _observe(self) -> None:
        bus = self.bus
        bus.subscribe(EventType.ORDER_FILLED, self._on_fill, Priority.OBSERVER)
        bus.subscribe(EventType.ORDER_SUBMITTED, self._on_submitted, Priority.OBSERVER)
        bus.subscribe(EventType.ACCOUNT_UPDATE, self._on_account, Priority.OBSERVER)
        bus.subscribe(EventType.CONNECTION, self._on_connection, Priority.OBSERVER)
        bus.subscribe(EventType.ERROR, self._on_error, Priority.OBSERVER)

    def _on_fill(self, ev: OrderFilled) -> None:
        self.fills.append(ev.fill)

    def _on_submitted(self, ev: OrderSubmitted) -> None:
        self.orders_submitted += 1

    def _on_account(self, ev: AccountUpdate) -> None:
        self.exchange_equity = ev.equity

    def _on_connection(self, ev: ConnectionEvent) -> None:
        level = logging.INFO if ev.status in (ConnectionStatus.UP, ConnectionStatus.RESYNCED) else logging.WARNING
        log.log(level, "connection %s: %s (%s)", ev.channel, ev.status.value, ev.detail)

    def _on_error(self, ev: ErrorEvent) -> None:
        self.errors += 1
        code = ev.code or "error"
        self.error_codes[code] = self.error_codes.get(code, 0) + 1
        if code == "ghost_order" and ev.message.endswith(": canceled"):
            self.ghosts_canceled += 1
        log.warning("%s [%s]: %s", ev.source, code, ev.message)

    def status_line(self) -> str:
        parts = []
        for inst, spec in self.specs.items():
            lots = self.positions.lots(inst) if self.positions is not None else 0
            parts.append(f"{inst} pos {spec.lots_to_contracts(lots):g} ct")
        n_open = len(self.oms.open_orders()) if self.oms is not None else 0
        parts.append(f"open orders {n_open}")
        parts.append(f"fills {len(self.fills)}")
        if self.capital is not None:
            parts.append(f"equity {self.capital.equity():.2f} USDT")
        if self.exchange_equity is not None:
            parts.append(f"exchange equity {self.exchange_equity:.2f} USDT")
        return " | ".join(parts)

    def _status(self, fired: TimerFired) -> None:
        log.info("status: %s", self.status_line())

    # -- flatten --------------------------------------------------------------------------------

    async def flatten(self, timeout_s: float = 30.0) -> None:
        """Kill switch on every configured instrument, and cancel every open order this process
        does not know (a previous run's); returns when a positions answer shows each instrument flat
        with nothing pending and an open-orders answer is empty. Raises ``LiveError`` on timeout."""
        oms = self.oms
        assert oms is not None, "flatten needs a started session"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout_s
        insts = sorted(self.specs)
        log.info("flatten: kill switch on %s", ", ".join(insts))
        oms.kill_switch()
        last = "no answer yet"
        while loop.time() < deadline:
            ghosts_before = len(oms.ghosts)
            answered = await self._open_orders_answer(min(5.0, max(0.1, deadline - loop.time())))
            found = len(oms.ghosts) - ghosts_before
            killed = all((k := oms.kill_state(i)) is not None and k.done for i in insts)
            still_open = self._open_orders()
            if answered and found == 0 and killed and not still_open:
                log.info("flatten: done, every instrument flat and no order open (%s)", self.status_line())
                return
            if answered and found:
                last = f"{found} open order(s) unknown to this process were found and canceled"
                # a foreign order may have filled before its cancel: the kill switch checks again
                oms.reset_kill()
                oms.kill_switch()
            elif not killed:
                pending = [i for i in insts if not ((k := oms.kill_state(i)) is not None and k.done)]
                last = f"{', '.join(pending)} not yet confirmed flat with nothing pending"
            elif still_open:
                last = f"{len(still_open)} order(s) still open: {', '.join(o.cl_ord_id for o in still_open)}"
            await asyncio.sleep(0.2)
        raise LiveError(
            f"flatten: not confirmed within {timeout_s:g} s ({last}); the kill switch stopped retrying with this "
            "process: check the account on the exchange and run `athena live --flatten` again"
        )

    def _open_orders(self) -> list[Order]:
        """The OMS's open orders that can still trade. Close-position orders are left out: they are
        reduce-only market orders, so once a positions answer shows flat they can do nothing, and
        the OMS keeps a refused one (51023 on a flat account) open forever (see tests/app/test_live.py)."""
        assert self.oms is not None
        return [o for o in self.oms.open_orders() if o.tag != TAG_CLOSE]

    async def _open_orders_answer(self, timeout_s: float) -> bool:
        """One open-orders sync (unknown orders are canceled by the OMS); True once answered."""
        oms = self.oms
        assert oms is not None
        done = asyncio.get_running_loop().create_future()
        req = oms.ids.new_req()

        def on_done(_: str) -> None:
            if not done.done():
                done.set_result(True)

        oms.sync_open_orders(req, None, on_done=on_done)
        try:
            await asyncio.wait_for(done, timeout_s)
        except TimeoutError:
            oms.abandon_request(req)
            return False
        return True

    # -- result ---------------------------------------------------------------------------------

    def result(self, stopped_by: StopReason, wall_s: float, *, flattened: bool = False) -> LiveResult:
        positions = {i: (self.positions.lots(i) if self.positions is not None else 0) for i in self.specs}
        cap = self.capital
        return LiveResult(
            strategy=self.strategy_id or "",
            endpoint=self.config.okx.endpoint,
            instruments=tuple(self.specs),
            stopped_by=stopped_by,
            wall_s=wall_s,
            orders_submitted=self.orders_submitted,
            fills=list(self.fills),
            positions=positions,
            open_orders=len(self._open_orders()) if self.oms is not None else 0,
            equity=cap.equity() if cap is not None else float(self.config.capital.total_usdt),
            exchange_equity=self.exchange_equity,
            realized_pnl=cap.realized_pnl() if cap is not None else 0.0,
            fees=cap.fees() if cap is not None else 0.0,
            errors=self.errors,
            flattened=flattened,
            ghosts_canceled=self.ghosts_canceled,
            error_codes=dict(self.error_codes),
        )


# -- the blocking entry ---------------------------------------------------------------------------


class _Wake:
    """The run loop's wake-up: set by SIGINT/SIGTERM on the loop's thread."""

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.signal: int | None = None

    def fire(self, signum: int) -> None:
        self.signal = signum
        self.event.set()


@contextlib.contextmanager
def _signals(wake: _Wake) -> Any:
    """Ctrl-C and SIGTERM end the run cleanly (main thread only; elsewhere the caller stops it)."""
    loop = asyncio.get_running_loop()
    installed = []
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, wake.fire, int(sig))
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # not supported here (Windows)
                pass
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def _run(session: LiveSession, *, flatten: bool, stop_event: threading.Event | None,
               duration_s: float | None, flatten_timeout_s: float) -> LiveResult:
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    wake = _Wake()
    with _signals(wake):
        try:
            await session.astart()
        except BaseException:
            await session.astop()
            raise
        try:
            if flatten:
                await session.flatten(flatten_timeout_s)
                reason = StopReason.FLATTENED
            else:
                deadline = None if duration_s is None else t0 + duration_s
                while True:
                    if wake.event.is_set():
                        reason = StopReason.SIGNAL
                        log.info("athena live: signal %s received", wake.signal)
                        break
                    if stop_event is not None and stop_event.is_set():
                        reason = StopReason.STOP_EVENT
                        break
                    if deadline is not None and loop.time() >= deadline:
                        reason = StopReason.DURATION
                        break
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wake.event.wait(), _POLL_S)
        finally:
            await session.astop()
    return session.result(reason, loop.time() - t0, flattened=flatten)


def run_live(
    strategy: str,
    config_files: list[Path],
    endpoint: str | None,
    flatten: bool,
    *,
    stop_event: threading.Event | None = None,
    duration_s: float | None = None,
    root: Path | None = None,
    status_interval_s: float = 10.0,
    flatten_timeout_s: float = 30.0,
    ready_timeout_s: float = 15.0,
    gateway_options: Mapping[str, Any] | None = None,
    oms_options: Mapping[str, Any] | None = None,
) -> LiveResult:
    """Blocking entry of `athena live`: trade ``strategy`` until Ctrl-C (or SIGTERM), ``stop_event``
    or ``duration_s``; with ``flatten``, run the kill switch instead and return once the account
    is flat with no open order. ``endpoint`` ('production', 'demo' or a URL) overrides the config.

    Raises ``ConfigError`` for a bad configuration or a missing API key (naming the variables to
    set) and ``LiveError`` when the session cannot connect or cannot confirm the flatten."""
    overrides = {"okx": {"endpoint": endpoint}} if endpoint else None
    config = load_config(root, overrides=overrides, files=list(config_files))
    credentials = credentials_for_live(config)
    if strategy and not flatten:
        strategy_class(strategy)  # an unknown name fails here, before any connection
    session = LiveSession(
        config,
        None if flatten else strategy,
        credentials=credentials,
        gateway_options=gateway_options,
        oms_options=oms_options,
        status_interval_s=status_interval_s,
        ready_timeout_s=ready_timeout_s,
    )
    t0 = time.perf_counter()
    result = asyncio.run(_run(session, flatten=flatten, stop_event=stop_event, duration_s=duration_s,
                              flatten_timeout_s=flatten_timeout_s))
    log.info("athena live: ended by %s after %.1f s: %d orders, %d fills", result.stopped_by.value,
             time.perf_counter() - t0, result.orders_submitted, len(result.fills))
    return result
