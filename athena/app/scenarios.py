"""Composition root of `athena scenarios`: replay a captured incident with faults and check invariants.

Owns: reading ``scenarios/<name>/scenario.toml`` (format below), building one backtest the way
``app/backtest.py`` does — catalog slice → Replay → SimExchange behind SimGateway → OMS → strategy —
but with the scenario's seeded ``FaultPlan`` and with the slice's ``sessions`` channel driving the
gateway's link, then a settle phase, the invariant checks and a determinism fingerprint.
Never: holds trading logic, reads the wall clock (a scenario is judged on simulated time only), or
depends on the user's config layers (a regression test must mean the same on every machine: the
venue settings below are fixed, and the scenario file may override them).

scenario.toml::

    name = "ghost_order"                 # defaults to the folder's name
    description = "one paragraph"
    data = "data"                        # a catalog root inside the scenario folder
    venue = "okx"
    instrument = "BTC-USDT-SWAP"
    seed = 7                             # the fault plan's seed (its probabilistic draws)
    link_follows_sessions = false        # true: the slice's sessions rows stop/start SimGateway
    flatten_at_end = true                # after the range, the OMS's kill switch flattens the position
    [range]                              # optional: ISO-8601 UTC; default the slice's book data
    from = "2024-01-02T01:00:00Z"
    to = "2024-01-02T01:01:15Z"
    [strategy]
    name = "maker"
    config = { quote_lots = 100 }
    [oms]                                # optional: order_ttl_s, sync_interval_s, capital_usdt, leverage,
    sync_interval_s = 15.0               #   entry_latency_ms, response_latency_ms, settle_s
    [[faults]]                           # SimGateway's fault vocabulary (athena/sim/faults.py)
    kind = "ghost_order"                 # duplicate_fill | fill_before_ack | lose_ack | delay_responses
    at_s = 20.0                          #   | reorder_response | ghost_order | shift_position
    side = "buy"                         # times (at_s, start_s, end_s) are seconds after the range
    price_ticks = 419000                 #   start; delays (delay_ms, extra_ms) milliseconds; other
    size_lots = 100                      #   fields keep the dataclass's names (nth, probability, ...)
    [invariants]
    final_position_matches_exchange = true
    no_open_orders_when_flat = true      # checked at every positions answer while flat, and at the end
    sync_healthy_at_end = true           # the last sync was answered: no failure streak left
    no_double_counted_fill = true
    no_duplicate_placement = true
    ghost_orders_canceled = true
    faults_applied = true
    min_fills = 1
    errors_reported = { ghost_order = 1 } # per ERROR code, at least; or an int: ERROR events in all
    commands_sent = { "order-status" = 1 } # per command name, at least

The sessions channel (DESIGN.md §5) is what the recorder saw of its own link. The replay does not
dispatch it; here, with ``link_follows_sessions``, each row becomes a CONNECTION event at its
``ts_recv`` and a ``disconnect`` stops SimGateway (every command and request refused with an ERROR)
until the next ``connect``/``reconnect`` starts it again — the slice itself holds no market rows
in that stretch and a resync snapshot after it. So a scenario replays a recorder outage as an
outage of the whole link: no market data, and the exchange unreachable for the same time.

After the range ends the strategy is stopped (no new orders), with ``flatten_at_end`` the OMS's
kill switch (§6a: cancel everything, close-position with autoCxl, repeat until a snapshot shows
flat) flattens the position through the same faulty link, and the clock runs ``settle_s`` (default
two sync intervals + 1 s) so answers in flight land and two position syncs complete; the
invariants are checked after that. ``no_open_orders_when_flat`` fails when no positions answer
ever came while flat (nothing would have been checked): flatten at the end to make it bite.
"""

from __future__ import annotations

import tomllib
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from athena.app.backtest import REPLAY_CHANNELS
from athena.app.core import build_core
from athena.book.l2 import L2Book
from athena.catalog.reader import Catalog
from athena.catalog.stream import merge_windows, sources_for
from athena.core.bus import EventBus, Priority
from athena.core.clock import SimClock
from athena.core.engine import Engine
from athena.core.events import (
    ConnectionEvent,
    ErrorEvent,
    Event,
    EventType,
    OrderFilled,
    OrderReport,
    PositionSource,
    PositionUpdate,
    ReportSource,
)
from athena.core.fingerprint import Fingerprint
from athena.errors import AthenaError, ConfigError
from athena.gateways.sim.gateway import SimGateway
from athena.model.enums import Channel, ConnectionStatus, Side
from athena.model.instrument import InstrumentSpec
from athena.oms.orders import OrderManager
from athena.oms.positions import PositionManager
from athena.sim.exchange import SimExchange, SimExchangeConfig
from athena.sim.faults import (
    DelayResponses,
    DuplicateFill,
    Fault,
    FaultPlan,
    FillBeforeAck,
    GhostOrder,
    LoseAck,
    ReorderResponse,
    ShiftPosition,
)
from athena.sim.latency import ConstantLatency
from athena.sim.replay import Replay

__all__ = [
    "SCENARIO_FILE",
    "InvariantResult",
    "Scenario",
    "ScenarioInfo",
    "ScenarioResult",
    "list_scenarios",
    "load_scenario",
    "run_scenario",
    "run_scenarios",
]

SCENARIO_FILE = "scenario.toml"
_NS = 1_000_000_000
_MS = 1_000_000

# Fixed venue settings of every scenario (not the user's config: see the module docstring).
_DEFAULTS: dict[str, float] = {
    "capital_usdt": 10_000.0,
    "leverage": 3.0,
    "entry_latency_ms": 10.0,
    "response_latency_ms": 5.0,
    "order_ttl_s": 10.0,
    "sync_interval_s": 15.0,
}

# What FaultPlan.applied says when each kind fires (DelayResponses is not recorded there).
_APPLIED_PREFIX: dict[type, str] = {
    DuplicateFill: "duplicate fill",
    FillBeforeAck: "hold ack",
    LoseAck: "lose ack",
    ReorderResponse: "reorder",
    GhostOrder: "GhostOrder",
    ShiftPosition: "ShiftPosition",
}

_SESSION_STATUS: dict[str, ConnectionStatus] = {
    "connect": ConnectionStatus.UP,
    "reconnect": ConnectionStatus.UP,
    "disconnect": ConnectionStatus.DOWN,
    "resync": ConnectionStatus.RESYNCED,
    "gap": ConnectionStatus.GAP,
    "seq_gap": ConnectionStatus.GAP,
    "checksum_fail": ConnectionStatus.CHECKSUM_FAILED,
}


# -- the file -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    """One scenario as read from its folder (fault times still relative to the range start)."""

    name: str
    description: str
    folder: Path
    data_root: Path
    venue: str
    instrument: str
    seed: int
    start_ns: int | None
    end_ns: int | None
    strategy: str
    strategy_config: dict[str, Any]
    oms: dict[str, float]
    faults: tuple[dict[str, Any], ...]
    invariants: dict[str, Any]
    link_follows_sessions: bool
    flatten_at_end: bool


@dataclass(frozen=True, slots=True)
class ScenarioInfo:
    name: str
    description: str
    path: Path
    instrument: str
    strategy: str
    seed: int
    faults: tuple[str, ...]  # each fault's kind
    invariants: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class InvariantResult:
    name: str
    passed: bool
    detail: str


@dataclass(slots=True)
class ScenarioResult:
    name: str
    passed: bool
    invariants: list[InvariantResult] = field(default_factory=list)
    fingerprint: str = ""
    messages: list[str] = field(default_factory=list)


_FAULT_KINDS: dict[str, type] = {
    "duplicate_fill": DuplicateFill,
    "fill_before_ack": FillBeforeAck,
    "lose_ack": LoseAck,
    "delay_responses": DelayResponses,
    "reorder_response": ReorderResponse,
    "ghost_order": GhostOrder,
    "shift_position": ShiftPosition,
}

_INVARIANTS = (
    "final_position_matches_exchange",
    "no_open_orders_when_flat",
    "sync_healthy_at_end",
    "no_double_counted_fill",
    "no_duplicate_placement",
    "ghost_orders_canceled",
    "faults_applied",
    "min_fills",
    "errors_reported",
    "commands_sent",
)


def _iso_ns(text: Any, where: str) -> int:
    if isinstance(text, datetime):
        dt = text if text.tzinfo is not None else text.replace(tzinfo=UTC)
    else:
        try:
            dt = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(f"{where}: {text!r} is not an ISO-8601 time such as 2024-01-02T01:00:00Z") from None
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp()) * _NS + dt.microsecond * 1000


def load_scenario(folder: Path) -> Scenario:
    """Read and check ``folder/scenario.toml``; a mistake is a ConfigError naming file and key."""
    path = folder / SCENARIO_FILE
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no {SCENARIO_FILE} in this scenario folder") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    known = {"name", "description", "data", "venue", "instrument", "seed", "range", "strategy", "oms",
             "faults", "invariants", "link_follows_sessions", "flatten_at_end"}
    extra = sorted(set(raw) - known)
    if extra:
        raise ConfigError(f"{path}: unknown key(s) {', '.join(extra)}; known: {', '.join(sorted(known))}")
    strategy = raw.get("strategy") or {}
    if not isinstance(strategy, dict) or "name" not in strategy:
        raise ConfigError(f"{path}: [strategy] needs a name (e.g. name = \"maker\")")
    rng = raw.get("range") or {}
    start = _iso_ns(rng["from"], f"{path} [range] from") if "from" in rng else None
    end = _iso_ns(rng["to"], f"{path} [range] to") if "to" in rng else None
    oms = dict(_DEFAULTS)
    for k, v in (raw.get("oms") or {}).items():
        if k not in _DEFAULTS and k != "settle_s":
            raise ConfigError(f"{path}: [oms] {k} is unknown; known: {', '.join(sorted([*_DEFAULTS, 'settle_s']))}")
        oms[k] = float(v)
    faults = tuple(raw.get("faults") or ())
    for i, f in enumerate(faults):
        if f.get("kind") not in _FAULT_KINDS:
            raise ConfigError(
                f"{path}: faults[{i}] kind {f.get('kind')!r} is unknown; known: {', '.join(_FAULT_KINDS)}"
            )
    invariants = dict(raw.get("invariants") or {})
    bad = sorted(set(invariants) - set(_INVARIANTS))
    if bad:
        raise ConfigError(f"{path}: unknown invariant(s) {', '.join(bad)}; known: {', '.join(_INVARIANTS)}")
    if not invariants:
        raise ConfigError(f"{path}: [invariants] is empty: a scenario must check something")
    return Scenario(
        name=str(raw.get("name", folder.name)),
        description=str(raw.get("description", "")).strip(),
        folder=folder,
        data_root=folder / str(raw.get("data", "data")),
        venue=str(raw.get("venue", "okx")),
        instrument=str(raw.get("instrument", "BTC-USDT-SWAP")),
        seed=int(raw.get("seed", 0)),
        start_ns=start,
        end_ns=end,
        strategy=str(strategy["name"]),
        strategy_config=dict(strategy.get("config") or {}),
        oms=oms,
        faults=faults,
        invariants=invariants,
        link_follows_sessions=bool(raw.get("link_follows_sessions", False)),
        flatten_at_end=bool(raw.get("flatten_at_end", False)),
    )


def build_faults(entries: Sequence[dict[str, Any]], start_ns: int, inst_id: str, where: str = "") -> list[Fault]:
    """The FaultPlan entries of a scenario, times made absolute from the range start."""
    out: list[Fault] = []
    for i, e in enumerate(entries):
        cls = _FAULT_KINDS[e["kind"]]
        kw: dict[str, Any] = {}
        for k, v in e.items():
            if k == "kind":
                continue
            if k in ("at_s", "start_s", "end_s"):
                kw[k[:-2] + "_ns"] = start_ns + round(float(v) * _NS)
            elif k in ("delay_ms", "extra_ms"):
                kw[k[:-3] + "_ns"] = round(float(v) * _MS)
            elif k == "side":
                kw[k] = Side(str(v))
            else:
                kw[k] = v
        if cls in (GhostOrder, ShiftPosition):
            kw.setdefault("inst_id", inst_id)
        try:
            out.append(cls(**kw))
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{where}faults[{i}] ({e['kind']}): {exc}") from None
    return out


def _folders(root: Path) -> list[Path]:
    if not root.is_dir():
        raise ConfigError(f"{root}: no scenarios folder here; pass the folder that holds <name>/{SCENARIO_FILE}")
    return sorted(p for p in root.iterdir() if (p / SCENARIO_FILE).is_file())


def list_scenarios(root: Path) -> list[ScenarioInfo]:
    """Every scenario folder under ``root`` (sorted by folder name)."""
    out = []
    for folder in _folders(Path(root)):
        s = load_scenario(folder)
        out.append(ScenarioInfo(
            name=s.name, description=s.description, path=folder, instrument=s.instrument, strategy=s.strategy,
            seed=s.seed, faults=tuple(str(f["kind"]) for f in s.faults), invariants=tuple(s.invariants),
        ))
    return out


def run_scenarios(root: Path, names: Sequence[str] | None = None) -> list[ScenarioResult]:
    """Run the named scenarios (all by default) in name order; an unknown name is a ConfigError.
    A scenario that cannot even be built (bad file, missing data) is a failed result, not an
    exception, so one broken folder does not hide the others' results."""
    folders = {f.name: f for f in _folders(Path(root))}
    if names:
        unknown = [n for n in names if n not in folders]
        if unknown:
            raise ConfigError(
                f"unknown scenario(s) {', '.join(unknown)} under {root}; known: {', '.join(sorted(folders)) or 'none'}"
            )
        picked = [folders[n] for n in names]
    else:
        picked = [folders[n] for n in sorted(folders)]
    results = []
    for folder in picked:
        try:
            results.append(run_scenario(load_scenario(folder)))
        except AthenaError as exc:
            results.append(ScenarioResult(folder.name, False, messages=[str(exc)]))
    return results


# -- the run --------------------------------------------------------------------------------------


class _Watch:
    """What the invariants need, observed on the bus (after the OMS) and at the exchange's emit.

    The flat check runs at every positions answer (each sync's, and the kill switch's): when the
    ledger is flat there, no order that was open when the position went flat may still rest at the
    exchange from the second answer after that moment on (the first one's sweep sends the cancels),
    and no reduce-only order or stop may rest on two answers in a row."""

    def __init__(self, bus: EventBus, oms: OrderManager, positions: PositionManager, market: Any,
                 inst_id: str, ghost_ids: set[str]) -> None:
        self.oms = oms
        self.pm = positions
        self.market = market
        self.inst_id = inst_id
        self.ghost_ids = ghost_ids
        self.answers = 0  # exchange positions answers seen
        self.flat_checks = 0
        self.flat_since: list[tuple[int, set[str]]] = []  # (answers seen when it went flat, open then)
        self.violations: list[str] = []
        self._prev_ro: set[str] = set()
        self._prev_algos: set[str] = set()
        self.published: Counter[tuple[int, int]] = Counter()  # (trade id, lots) -> times published
        self.exchange_fills: set[tuple[int, int]] = set()
        self.errors: Counter[str] = Counter()
        self.open_when_flat: set[str] = set()
        self.flat_count = 0
        self.connection: list[str] = []
        self._last_lots = 0
        bus.subscribe(EventType.ORDER_FILLED, self._on_fill, Priority.OBSERVER)
        bus.subscribe(EventType.POSITION_UPDATE, self._on_position, Priority.OBSERVER)
        bus.subscribe(EventType.ERROR, self._on_error, Priority.OBSERVER)

    def exchange_tap(self, emit: Callable[[Event], None]) -> Callable[[Event], None]:
        """Wrap the exchange's emit: every fill it makes for us, before any fault touches it."""

        def tap(ev: Event) -> None:
            if (isinstance(ev, OrderReport) and ev.source is ReportSource.PUSH and ev.fill_lots > 0
                    and ev.trade_id is not None and ev.cl_ord_id not in self.ghost_ids):
                self.exchange_fills.add((ev.trade_id, ev.fill_lots))
            emit(ev)

        return tap

    def _on_fill(self, ev: OrderFilled) -> None:
        if ev.fill.inst_id == self.inst_id:
            self.published[(ev.fill.trade_id, ev.fill.lots)] += 1

    def _on_position(self, ev: PositionUpdate) -> None:
        if ev.source is PositionSource.EXCHANGE:
            if ev.snapshot_end:
                self._check_flat(ev.ts_recv)
            return
        if ev.inst_id != self.inst_id:
            return
        if self._last_lots != 0 and ev.lots == 0:
            self.flat_count += 1
            open_now = {o.cl_ord_id for o in self.oms.open_orders(self.inst_id)}
            self.open_when_flat |= open_now
            self.flat_since.append((self.answers, open_now))
        self._last_lots = ev.lots

    def _check_flat(self, now: int) -> None:
        self.answers += 1
        if self.pm.lots(self.inst_id) != 0:
            self._prev_ro = set()
            self._prev_algos = set()
            return
        self.flat_checks += 1
        resting = {o.cl_ord_id: o for o in self.market.orders.values() if not o.foreign}
        for seen, open_then in self.flat_since:
            if self.answers >= seen + 2:
                for cl in sorted(open_then & set(resting)):
                    self.violations.append(f"{cl} open when the position went flat, still resting at {now}")
        ro = {cl for cl, o in resting.items() if o.reduce_only}
        algos = set(self.market.algos)
        for cl in sorted(ro & self._prev_ro):
            self.violations.append(f"reduce-only {cl} resting with a flat position on two syncs (at {now})")
        for a in sorted(algos & self._prev_algos):
            self.violations.append(f"stop {a} resting with a flat position on two syncs (at {now})")
        self._prev_ro = ro
        self._prev_algos = algos

    def _on_error(self, ev: ErrorEvent) -> None:
        self.errors[ev.code or "error"] += 1


def _data_range(catalog: Catalog, venue: str, inst: str) -> tuple[int, int]:
    for s in catalog.summary(venue):
        if s.inst == inst and s.channel is Channel.BOOKS and s.first_ts_recv is not None and s.last_ts_recv:
            return s.first_ts_recv, s.last_ts_recv + 1
    raise ConfigError(f"{catalog.root / venue}: no book data for {inst} in this scenario's data slice")


def run_scenario(sc: Scenario) -> ScenarioResult:
    """Build, run and judge one scenario."""
    catalog = Catalog(sc.data_root)
    first, last = _data_range(catalog, sc.venue, sc.instrument)
    start_ns = sc.start_ns if sc.start_ns is not None else first
    end_ns = sc.end_ns if sc.end_ns is not None else last
    if end_ns <= start_ns:
        raise ConfigError(f"{sc.folder / SCENARIO_FILE}: [range] is empty")
    inst = sc.instrument
    sources, specs = sources_for(catalog, sc.venue, (inst,), REPLAY_CHANNELS, start_ns, end_ns)
    o = sc.oms
    faults = build_faults(sc.faults, start_ns, inst, f"{sc.folder / SCENARIO_FILE}: ")
    plan = FaultPlan(faults, sc.seed)

    clock = SimClock(start_ns)
    bus = EventBus(clock.now_ns)
    engine = Engine(clock, bus)
    fp = Fingerprint()
    bus.tap(fp.event)
    latency = ConstantLatency(round(o["entry_latency_ms"] * _MS), round(o["response_latency_ms"] * _MS))
    capital_usdt = o["capital_usdt"]
    exchange = SimExchange(clock, list(specs.values()),
                           config=SimExchangeConfig(initial_balance=capital_usdt, leverage=o["leverage"]))
    commands: Counter[str] = Counter()
    placed: Counter[str] = Counter()

    def log_command(t: int, name: str, args: tuple[Any, ...]) -> None:
        commands[name] += 1
        if name == "order":
            placed[str(args[1])] += 1
        fp.command(name, t, args=args)

    gateway = SimGateway(clock, bus, exchange, latency, plan, command_log=log_command)
    books = {i: L2Book(spec) for i, spec in specs.items()}
    for i, spec in specs.items():
        engine.add_instrument(spec, books[i])
    sid = sc.strategy
    core = build_core(
        clock, bus, gateway, specs, books, strategy_id=sid, strategy_config=sc.strategy_config,
        total_capital=capital_usdt, leverage=o["leverage"], order_ttl_s=o["order_ttl_s"],
        position_sync_s=o["sync_interval_s"],
    )
    oms, positions, strategy = core.oms, core.positions, core.strategy
    ghost_ids = {f.cl_ord_id for f in faults if isinstance(f, GhostOrder)}
    watch = _Watch(bus, oms, positions, exchange.markets[inst], inst, ghost_ids)
    exchange.emit = watch.exchange_tap(exchange.emit)
    for c in (gateway, oms, positions, strategy):
        engine.add(c)

    messages: list[str] = []
    if sc.link_follows_sessions:
        n = _follow_sessions(catalog, sc.venue, inst, start_ns, end_ns, clock, bus, gateway, watch)
        messages.append(f"link follows {n} sessions rows of the slice")

    replay = Replay(clock, bus, [books[inst]], [exchange.markets[inst]], checkpoint=fp.book)
    engine.start()
    stats = replay.run(merge_windows(sources, end_ns=end_ns), start_ns, end_ns)
    strategy.stop()  # settle: no new orders; answers in flight land, two syncs complete
    if sc.flatten_at_end:
        oms.kill_switch(inst)
        messages.append(f"kill switch engaged at the range end with {positions.lots(inst)} lots")
    settle_s = o.get("settle_s", 2 * o["sync_interval_s"] + 1.0)
    clock.run_due(end_ns + round(settle_s * _NS))
    engine.stop()
    fp.book(stats.book_messages, books[inst])
    digest = fp.hexdigest()

    market = exchange.markets[inst]
    ctx_inv = _Judge(sc, watch, positions, market, plan, faults, commands, placed, specs[inst])
    results = [ctx_inv.check(name, want) for name, want in sc.invariants.items()]
    messages += [
        f"range {_iso(start_ns)} .. {_iso(end_ns)}: {stats.rows} rows, {stats.book_messages} book messages",
        f"fills {sum(watch.published.values())}, final position {positions.lots(inst)} lots,"
        f" syncs ok {positions.syncs_ok}",
        f"errors by code: {dict(sorted(watch.errors.items())) or 'none'}",
        f"faults applied: {'; '.join(plan.applied) or 'none'}",
    ]
    if watch.connection:
        messages.append("connection: " + ", ".join(watch.connection))
    kill = oms.kill_state(inst)
    if kill is not None:
        messages.append(f"kill switch: {kill.rounds} rounds, done {kill.done}")
    return ScenarioResult(sc.name, all(r.passed for r in results), results, digest, messages)


def _follow_sessions(catalog: Catalog, venue: str, inst: str, start_ns: int, end_ns: int, clock: SimClock,
                     bus: EventBus, gateway: SimGateway, watch: _Watch) -> int:
    """Schedule each sessions row of the range as a CONNECTION event; disconnect stops the gateway,
    connect/reconnect starts it."""
    rows = catalog.scan(venue, Channel.SESSIONS, inst, start_ns, end_ns).collect().to_dicts()

    def fire(row: dict[str, Any]) -> None:
        kind = str(row["kind"])
        if kind == "disconnect":
            gateway.stop()
        elif kind in ("connect", "reconnect"):
            gateway.start()
        status = _SESSION_STATUS.get(kind)
        now = clock.now_ns()
        watch.connection.append(f"{kind} at +{(now - start_ns) / _NS:g} s")
        if status is not None:
            bus.publish(ConnectionEvent(status, str(row["channel"] or ""), str(row["detail"]), row["ts_event"], now))

    for row in rows:
        clock.schedule(int(row["ts_recv"]), fire, row)
    return len(rows)


class _Judge:
    """One method per invariant: (passed, detail) from what the run left behind."""

    def __init__(self, sc: Scenario, watch: _Watch, positions: PositionManager, market: Any, plan: FaultPlan,
                 faults: list[Fault], commands: Counter[str], placed: Counter[str], spec: InstrumentSpec) -> None:
        self.sc = sc
        self.watch = watch
        self.pm = positions
        self.market = market
        self.plan = plan
        self.faults = faults
        self.commands = commands
        self.placed = placed
        self.spec = spec

    def check(self, name: str, want: Any) -> InvariantResult:
        ok, detail = getattr(self, name)(want)
        return InvariantResult(name, ok, detail)

    def final_position_matches_exchange(self, want: Any) -> tuple[bool, str]:
        ledger, ex = self.pm.lots(self.spec.inst_id), self.market.position.lots
        return (ledger == ex) == bool(want), f"ledger {ledger} lots, exchange {ex} lots"

    def no_open_orders_when_flat(self, want: Any) -> tuple[bool, str]:
        w = self.watch
        bad = list(w.violations)
        lots = self.pm.lots(self.spec.inst_id)
        if lots == 0:  # and at the very end, after the settle phase's two syncs
            ours = [o for o in self.market.orders.values() if not o.foreign]
            bad += [f"{o.cl_ord_id} open when the position went flat, resting at the end"
                    for o in ours if o.cl_ord_id in w.open_when_flat]
            bad += [f"reduce-only {o.cl_ord_id} resting at the end" for o in ours if o.reduce_only]
            bad += [f"stop {a} resting at the end" for a in self.market.algos]
        detail = (f"went flat {w.flat_count} times; {w.flat_checks} of {w.answers} positions answers came"
                  f" while flat; final position {lots} lots; violations: {'; '.join(bad[:5]) or 'none'}")
        if w.flat_checks == 0:
            return False, detail + " (nothing was checked: set flatten_at_end = true)"
        return (not bad) == bool(want), detail

    def sync_healthy_at_end(self, want: Any) -> tuple[bool, str]:
        ok = self.pm.failures == 0 and self.pm.syncs_ok > 0
        return ok == bool(want), f"{self.pm.failures} failures in a row at the end, {self.pm.syncs_ok} syncs answered"

    def no_double_counted_fill(self, want: Any) -> tuple[bool, str]:
        w = self.watch
        twice = sorted(k for k, n in w.published.items() if n > 1)
        missing = sorted(w.exchange_fills - set(w.published))
        extra = sorted(set(w.published) - w.exchange_fills)
        ok = not twice and not missing and not extra
        return ok == bool(want), (
            f"{len(w.exchange_fills)} fills at the exchange, {sum(w.published.values())} published;"
            f" twice {twice or 'none'}, never published {missing or 'none'}, unknown {extra or 'none'}"
        )

    def no_duplicate_placement(self, want: Any) -> tuple[bool, str]:
        dup = sorted(cl for cl, n in self.placed.items() if n > 1)
        return (not dup) == bool(want), f"{len(self.placed)} placements, sent twice: {dup or 'none'}"

    def ghost_orders_canceled(self, want: Any) -> tuple[bool, str]:
        ghosts = self.watch.ghost_ids
        if not ghosts:
            return False, "no ghost_order fault in the plan: nothing to check"
        resting = sorted(o.cl_ord_id for o in self.market.orders.values() if o.cl_ord_id in ghosts)
        reported = self.watch.errors["ghost_order"]
        ok = not resting and reported >= len(ghosts)
        detail = f"{len(ghosts)} planted, {reported} reported as ghost_order, still resting {resting or 'none'}"
        return ok == bool(want), detail

    def faults_applied(self, want: Any) -> tuple[bool, str]:
        missing = []
        for f in self.faults:
            prefix = _APPLIED_PREFIX.get(type(f))
            if prefix is not None and not any(a.startswith(prefix) for a in self.plan.applied):
                missing.append(type(f).__name__)
        return (not missing) == bool(want), f"{len(self.plan.applied)} applied; never fired: {missing or 'none'}"

    def min_fills(self, want: Any) -> tuple[bool, str]:
        n = sum(self.watch.published.values())
        return n >= int(want), f"{n} fills published (at least {int(want)})"

    def errors_reported(self, want: Any) -> tuple[bool, str]:
        errors = self.watch.errors
        if isinstance(want, int):
            total = sum(errors.values())
            return total >= want, f"{total} ERROR events (at least {want})"
        short = {code: errors[code] for code in want if errors[code] < int(want[code])}
        got = ", ".join(f"{code} {errors[code]} (≥ {int(want[code])})" for code in sorted(want))
        return not short, got

    def commands_sent(self, want: Any) -> tuple[bool, str]:
        short = [name for name in want if self.commands[name] < int(want[name])]
        got = ", ".join(f"{name} {self.commands[name]} (≥ {int(want[name])})" for name in sorted(want))
        return not short, got


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / _NS, tz=UTC).isoformat().replace("+00:00", "Z")
