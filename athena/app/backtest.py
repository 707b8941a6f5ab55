"""Composition root of `athena backtest`: catalog → replay → SimExchange → engine, OMS, strategy → report.

Owns: building one backtest from config and arguments (which sources, specs, models, OMS parts
and strategy), running it, and collecting what the report needs (orders, fills, equity samples,
funding, the assumption manifest, the determinism fingerprint). Wall time is read here, for the
progress line and the speed figure only; it never reaches the core.
Never: holds trading logic, or lets the run's results depend on the wall clock.
"""

from __future__ import annotations

import logging
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from athena.app.core import build_core
from athena.book.l2 import L2Book
from athena.catalog.reader import Catalog
from athena.catalog.stream import merge_windows, sources_for
from athena.config.models import AthenaConfig, LatencyModel, QueueModel
from athena.core.bus import EventBus, Priority
from athena.core.clock import SimClock, TimerFired
from athena.core.engine import Engine
from athena.core.events import EventType, FundingEvent, OrderCancelled, OrderFilled, OrderUpdate
from athena.core.fingerprint import Fingerprint
from athena.core.ports import NO_ASK, NO_BID
from athena.errors import SimulationError
from athena.gateways.sim.gateway import SimGateway
from athena.model.enums import Channel
from athena.model.instrument import InstrumentSpec
from athena.model.orders import Order
from athena.oms.risk import RiskLimits
from athena.report.metrics import Metrics, compute_metrics
from athena.report.run_folder import EquitySample, FillRow, FundingRow, OrderRow, write_run_folder
from athena.sim.exchange import SimExchange, SimExchangeConfig
from athena.sim.fees import FeeModel
from athena.sim.latency import ConstantLatency, LogNormalLatency
from athena.sim.queue import PowerProbQueue, RiskAverseQueue
from athena.sim.replay import Replay, ReplayStats

log = logging.getLogger(__name__)

REPLAY_CHANNELS = (Channel.TRADES, Channel.BOOKS, Channel.MARK_PRICE, Channel.FUNDING)
EQUITY_SAMPLE_NS = 1_000_000_000
_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class BacktestRequest:
    config: AthenaConfig
    data_root: Path
    venue: str = "okx"
    inst_ids: tuple[str, ...] = ("BTC-USDT-SWAP",)
    start_ns: int | None = None
    end_ns: int | None = None
    strategy: str = "maker"
    strategy_config: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    out_dir: Path | None = None  # None: no run folder (tests, benchmarks)
    batch_rows: int = 65_536


@dataclass(slots=True)
class BacktestResult:
    run_dir: Path | None
    metrics: Metrics
    fingerprint: str
    stats: ReplayStats
    wall_s: float
    manifest: dict[str, Any]
    orders: list[OrderRow]
    fills: list[FillRow]

    @property
    def events_per_s(self) -> float:
        return self.stats.rows / self.wall_s if self.wall_s > 0 else 0.0


Progress = Callable[[int, int], None]  # (rows replayed, sim time ns)


class RunRecorder:
    """Collects the run's orders, fills, funding and a 1 s equity curve (an observer component).

    Equity is sampled on the clock, not per fill: a sample costs a full account valuation."""

    def __init__(self, clock: SimClock, bus: EventBus, exchange: SimExchange, books: dict[str, L2Book],
                 specs: dict[str, InstrumentSpec], strategy_id: str) -> None:
        self.clock = clock
        self.bus = bus
        self.exchange = exchange
        self.books = books
        self.specs = specs
        self.strategy_id = strategy_id
        self.orders: dict[str, Order] = {}
        self.fills: list[FillRow] = []
        self.funding: list[FundingRow] = []
        self.equity: list[EquitySample] = []

    def start(self) -> None:
        for etype in (EventType.ORDER_UPDATE, EventType.ORDER_CANCELLED):
            self.bus.subscribe(etype, self._on_order, Priority.OBSERVER)
        self.bus.subscribe(EventType.ORDER_FILLED, self._on_fill, Priority.OBSERVER)
        self.bus.subscribe(EventType.FUNDING, self._on_funding, Priority.OBSERVER)
        self.clock.set_timer("recorder:equity", self._sample, interval_ns=EQUITY_SAMPLE_NS)

    def stop(self) -> None:
        self.clock.cancel_timer("recorder:equity")
        self._sample(TimerFired("final", self.clock.now_ns()))

    def _on_order(self, ev: OrderUpdate | OrderCancelled) -> None:
        self.orders[ev.order.cl_ord_id] = ev.order

    def _on_fill(self, ev: OrderFilled) -> None:
        o, f = ev.order, ev.fill
        self.orders[o.cl_ord_id] = o
        spec = self.specs[f.inst_id]
        self.fills.append(FillRow(
            trade_id=str(f.trade_id), cl_ord_id=f.cl_ord_id, strategy_id=o.strategy_id, inst_id=f.inst_id,
            side=f.side, price=spec.ticks_to_float(f.ticks), size=spec.lots_to_contracts(f.lots), fee=f.fee,
            liquidity=f.liquidity, realized_pnl=f.fill_pnl, ts_event=f.ts_event,
        ))

    def _on_funding(self, ev: FundingEvent) -> None:
        if ev.payment is not None:
            self.funding.append(FundingRow(ts=ev.ts_recv, inst_id=ev.inst_id, payment=ev.payment))

    def _sample(self, fired: TimerFired) -> None:
        acct = self.exchange.account()
        pos = 0.0
        price = 0.0
        for p in self.exchange.positions():
            pos += self.specs[p.inst_id].lots_to_contracts(p.lots)
        for inst, book in self.books.items():
            if book.best_bid != NO_BID and book.best_ask != NO_ASK:
                price = self.specs[inst].ticks_to_float((book.best_bid + book.best_ask) / 2)
                break
        self.equity.append(EquitySample(ts=fired.at_ns, equity=acct.equity, balance=acct.balance,
                                        position=pos, price=price))


def _order_rows(orders: dict[str, Order], specs: dict[str, InstrumentSpec]) -> list[OrderRow]:
    rows = []
    for o in orders.values():
        spec = specs[o.inst_id]
        rows.append(OrderRow(
            cl_ord_id=o.cl_ord_id, ord_id=o.ord_id, strategy_id=o.strategy_id, inst_id=o.inst_id, side=o.side,
            ord_type=o.ord_type, price=None if o.price_ticks is None else spec.ticks_to_float(o.price_ticks),
            size=spec.lots_to_contracts(o.size_lots), filled=spec.lots_to_contracts(o.filled_lots),
            avg_px=o.avg_px, state=o.state, reduce_only=o.reduce_only, tag=o.tag, ts_created=o.ts_created,
            ts_last=o.ts_last, reject_code=o.reject_code,
        ))
    return rows


def _range(catalog: Catalog, req: BacktestRequest) -> tuple[int, int]:
    """The requested range, or the books data's own first/last receive time."""
    first: int | None = None
    last: int | None = None
    for s in catalog.summary(req.venue):
        if s.inst in req.inst_ids and s.channel is Channel.BOOKS and s.first_ts_recv is not None:
            first = s.first_ts_recv if first is None else min(first, s.first_ts_recv)
            last = s.last_ts_recv if last is None else max(last, s.last_ts_recv)  # type: ignore[type-var]
    if first is None or last is None:
        raise SimulationError(
            f"no book data for {', '.join(req.inst_ids)} under {catalog.root / req.venue}; "
            "import or record some first (`athena data ls --data DIR` lists what is there)"
        )
    start = req.start_ns if req.start_ns is not None else first
    end = req.end_ns if req.end_ns is not None else last + 1
    if end <= start:
        raise SimulationError(f"the range is empty: --to ({_iso(end)}) is not after --from ({_iso(start)})")
    if start > last or end <= first:
        raise SimulationError(
            f"the catalog has book data from {_iso(first)} to {_iso(last)}; "
            f"the range {_iso(start)} .. {_iso(end)} holds none of it"
        )
    return start, end


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / _NS, tz=UTC).isoformat().replace("+00:00", "Z")


def run_backtest(req: BacktestRequest, progress: Progress | None = None) -> BacktestResult:
    cfg = req.config
    bt = cfg.backtest
    catalog = Catalog(req.data_root)  # raises a clear CatalogError when the root is not there
    start_ns, end_ns = _range(catalog, req)
    sources, specs = sources_for(catalog, req.venue, req.inst_ids, REPLAY_CHANNELS, start_ns, end_ns)

    clock = SimClock(start_ns)
    bus = EventBus(clock.now_ns)
    engine = Engine(clock, bus)
    fp = Fingerprint()
    bus.tap(fp.event)

    queue = PowerProbQueue(bt.queue_power) if bt.queue_model is QueueModel.PROBABILISTIC else RiskAverseQueue()
    if bt.latency_model is LatencyModel.LOGNORMAL:
        latency: ConstantLatency | LogNormalLatency = LogNormalLatency(
            req.seed, int(bt.entry_latency_ms * 1e6), int(bt.response_latency_ms * 1e6), bt.latency_sigma)
    else:
        latency = ConstantLatency(int(bt.entry_latency_ms * 1e6), int(bt.response_latency_ms * 1e6))
    # The config speaks OKX's sign (negative = paid); the fee model takes the rate paid.
    fees = FeeModel(maker=-bt.maker_fee, taker=-bt.taker_fee)
    total = float(cfg.capital.total_usdt)
    exchange = SimExchange(
        clock, list(specs.values()),
        config=SimExchangeConfig(initial_balance=total, leverage=bt.leverage),
        queue_model=queue, fees=fees,
    )
    gateway = SimGateway(clock, bus, exchange, latency,
                         command_log=lambda t, name, args: fp.command(name, t, args=args))
    local_books = {inst: L2Book(spec) for inst, spec in specs.items()}
    for inst, spec in specs.items():
        engine.add_instrument(spec, local_books[inst])

    sid = req.strategy
    # The strategy trades the replayed instrument unless the request names another one itself.
    strat_cfg = {**cfg.strategies.get(sid, {}), "inst_id": req.inst_ids[0], **req.strategy_config}
    core = build_core(
        clock, bus, gateway, specs, local_books, strategy_id=sid, strategy_config=strat_cfg,
        total_capital=total, leverage=bt.leverage, allocation=(cfg.capital.allocations or {}).get(sid, 1.0),
        risk_limits=RiskLimits.from_config(cfg.risk),
    )
    recorder = RunRecorder(clock, bus, exchange, local_books, specs, sid)

    engine.add(gateway)
    oms, positions, strategy = core.oms, core.positions, core.strategy
    for component in (oms, positions, recorder, strategy):
        engine.add(component)

    inst_order = list(req.inst_ids)
    markets = [exchange.markets[i] for i in inst_order]
    replay = Replay(clock, bus, [local_books[i] for i in inst_order], markets, progress=progress,
                    checkpoint=fp.book)
    windows = merge_windows(sources, batch_rows=req.batch_rows, end_ns=end_ns)

    t0 = time.perf_counter()
    engine.start()
    stats = replay.run(windows, start_ns, end_ns)
    engine.stop()
    wall = time.perf_counter() - t0
    for inst in inst_order:
        fp.book(stats.book_messages, local_books[inst])
    digest = fp.hexdigest()

    orders = _order_rows(recorder.orders, specs)
    metrics = compute_metrics(recorder.fills, recorder.equity, orders, recorder.funding, total,
                              ct_val={i: float(s.ct_val) for i, s in specs.items()})
    manifest = _manifest(req, catalog, specs, start_ns, end_ns, exchange, latency, fees, queue, stats, wall, digest)
    run_dir = None
    if req.out_dir is not None:
        run_dir = write_run_folder(
            req.out_dir, config={**cfg.redacted_dict(), "strategy": sid, "strategy_config": strat_cfg},
            manifest=manifest, metrics=metrics, orders=orders, fills=recorder.fills, equity=recorder.equity,
            funding=recorder.funding,
        )
    return BacktestResult(run_dir, metrics, digest, stats, wall, manifest, orders, recorder.fills)


def _manifest(req: BacktestRequest, catalog: Catalog, specs: dict[str, InstrumentSpec], start_ns: int,
              end_ns: int, exchange: SimExchange, latency: Any, fees: FeeModel, queue: Any,
              stats: ReplayStats, wall: float, digest: str) -> dict[str, Any]:
    gaps = {f"{s.channel.dirname}/{s.inst}": [d.isoformat() for d in s.gaps]
            for s in catalog.summary(req.venue) if s.inst in req.inst_ids and s.gaps}
    shifts = {d: s.shift_ns for d, s in catalog.clock_shifts(req.venue).items()}
    return {
        "book_channel": "books: full-depth L2 level changes, one BOOK_EVENT per exchange message",
        "book_depth": "as recorded (every level in the catalog)",
        "queue_model": queue.describe(),
        "latency_model": latency.describe(),
        "fee_tier": fees.describe(),
        "data_gaps": gaps or "none",
        "clock_shift": shifts or "none",
        "seed": req.seed,
        "cpython": platform.python_version(),
        "exchange": exchange.describe(),
        "strategy": req.strategy,
        "instruments": {i: {"tick_sz": str(s.tick_sz), "lot_sz": str(s.lot_sz), "ct_val": str(s.ct_val)}
                        for i, s in specs.items()},
        "venue": req.venue,
        "data": str(req.data_root),
        "range": {"from": _iso(start_ns), "to": _iso(end_ns)},
        "rows": stats.rows,
        "book_messages": stats.book_messages,
        "trades": stats.trades,
        "warmup_rows": stats.warmup_rows,
        "wall_s": round(wall, 3),
        "events_per_s": round(stats.rows / wall) if wall > 0 else None,
        "fingerprint": digest,
    }


def default_run_dir(base: Path, strategy: str, inst: str) -> Path:
    """runs/<UTC now>-<strategy>-<inst>, never an existing folder (a run never overwrites another)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = base / f"{stamp}-{strategy}-{inst}"
    n = 1
    while path.exists():
        n += 1
        path = base / f"{stamp}-{strategy}-{inst}-{n}"
    return path
