"""Backtest metrics: the figures a run is judged by, computed once from the runner's rows.

Owns: `compute_metrics` (PnL, fees, funding, trades and round trips, win rate, drawdown, Sharpe,
turnover, maker/taker share, fill ratio, holding time), the `Metrics` record, the drawdown series
the report plots, and `metric_rows` (the labels and formatting shared by the HTML report and the
CLI summary, so both say the same thing).
Never: reads the clock or files, uses the built-in `sum()` on floats (math.fsum, DESIGN.md §1) or
`**` / `math.pow` / `log`; raises on empty inputs (an empty run gives zeros and None).

Definitions (stated in the report too, `DEFINITIONS`):
- gross PnL = Σ fill realized PnL; fees = Σ fill fees with OKX's sign (negative = paid);
  funding = Σ payments (positive = received); net PnL = gross + fees + funding (realized only —
  `equity_change`, last equity sample − initial equity, also counts a position still open).
- a round trip runs per instrument from flat to flat; a fill that flips the position closes one
  and opens the next, its fee split between them by size; it is a win when its realized PnL plus
  its fees is > 0. Funding is not attributed to round trips.
- drawdown is measured on the sampled equity curve from the running peak (the initial equity
  counts as the first peak); the % is of that peak. Absolute and % maxima are taken separately.
- Sharpe: equity is read as-of on a grid anchored at the first sample (every hour; every day when
  the samples span >= 2 days), simple returns between grid points, a trailing partial period is
  dropped; mean ÷ sample standard deviation (n − 1) × √(24·365) hourly or √365 daily, risk-free
  rate 0. `math.sqrt` is correctly rounded by IEEE-754, so this stays deterministic. None with
  fewer than 2 returns or zero variance.
- turnover = Σ |contracts × ctVal × price| ÷ initial equity; maker/taker shares are by that notional.
- fill ratio = orders with any fill ÷ orders the exchange accepted (rejected orders, and orders
  never acknowledged nor filled, excluded).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from athena.model.enums import Liquidity, OrderState, Side

if TYPE_CHECKING:  # the rows live beside the writer; imported for types only (no import cycle)
    from athena.report.run_folder import EquitySample, FillRow, FundingRow, OrderRow

HOUR_NS = 3_600_000_000_000
DAY_NS = 24 * HOUR_NS
ANNUALIZE_HOURLY = math.sqrt(24.0 * 365.0)
ANNUALIZE_DAILY = math.sqrt(365.0)
# sizes are floats of lots × lotSz (3 × 0.1 = 0.30000000000000004); positions are summed as
# decimals rounded to this step so that a round trip closes at exactly zero
_SIZE_STEP = Decimal("1e-10")
# a standard deviation this small relative to the mean is rounding noise of equal returns
_ZERO_STD_REL = 1e-12

DEFINITIONS: dict[str, str] = {
    "net PnL": "gross PnL + fees + funding, realized only (equity change also counts an open position)",
    "fees": "sum of fill fees, OKX sign: negative = paid, positive = rebate",
    "funding": "sum of funding payments, positive = received",
    "round trip": "per instrument, flat to flat; a flip closes one and opens the next (fee split by size)",
    "win rate": "closed round trips whose realized PnL + fees > 0 ÷ closed round trips",
    "max drawdown": "largest fall of sampled equity from its running peak (initial equity is the first peak)",
    "Sharpe": (
        "mean ÷ sample std of simple returns on an as-of grid anchored at the first equity sample, "
        "× sqrt(24·365) hourly or sqrt(365) daily (daily only when >= 2 days), risk-free 0"
    ),
    "turnover": "sum of |contracts × ctVal × price| of fills ÷ initial equity",
    "maker / taker share": "share of traded notional by liquidity flag",
    "fill ratio": "orders with any fill ÷ orders accepted by the exchange (rejected excluded)",
    "holding time": "mean duration of closed round trips, first fill to the fill that made it flat",
}


@dataclass(frozen=True, slots=True)
class Metrics:
    """The figures of one run. Money in USDT; None where a figure is undefined for this run."""

    initial_equity: float
    final_equity: float | None
    start_ns: int | None
    end_ns: int | None
    net_pnl: float
    gross_pnl: float
    fees: float
    funding: float
    equity_change: float | None
    return_pct: float | None
    trades: int
    round_trips: int
    open_round_trips: int
    wins: int
    losses: int
    win_rate: float | None  # fraction 0..1
    max_drawdown: float
    max_drawdown_pct: float  # percent of the peak
    sharpe_hourly: float | None
    sharpe_daily: float | None
    hourly_returns: int
    daily_returns: int
    notional: float
    turnover: float | None
    maker_share: float | None
    taker_share: float | None
    orders_total: int
    orders_rejected: int
    orders_accepted: int
    orders_filled: int
    fill_ratio: float | None
    avg_holding_s: float | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(slots=True)
class _Trip:
    start_ns: int
    pnl: list[float]
    fees: list[float]


def compute_metrics(
    fills: Sequence[FillRow],
    equity: Sequence[EquitySample],
    orders: Sequence[OrderRow],
    funding: Sequence[FundingRow],
    initial_equity: float,
    *,
    ct_val: Mapping[str, float] | None = None,
) -> Metrics:
    """Every figure of the run, deterministically (fixed order, math.fsum).

    `ct_val` maps each traded instrument to its contract value (BTC-USDT-SWAP: 0.01); it is required
    as soon as there are fills, because notionals without it would be off by that factor.
    """
    fills_sorted = sorted(fills, key=lambda f: f.ts_event)  # stable: ties keep the runner's order
    eq = sorted(equity, key=lambda s: s.ts)

    gross = math.fsum(f.realized_pnl for f in fills_sorted)
    fees = math.fsum(f.fee for f in fills_sorted)
    fund = math.fsum(p.payment for p in funding)
    net = math.fsum((gross, fees, fund))

    closed, open_trips = _round_trips(fills_sorted)
    wins = 0
    holding_ns = 0
    for start, end, pnl in closed:
        if pnl > 0.0:
            wins += 1
        holding_ns += end - start
    n_trips = len(closed)

    notionals: list[float] = []
    maker: list[float] = []
    for f in fills_sorted:
        if ct_val is None or f.inst_id not in ct_val:
            raise ValueError(f"compute_metrics: no ct_val for {f.inst_id!r}; pass ct_val={{inst_id: contract value}}")
        value = abs(f.size * ct_val[f.inst_id] * f.price)
        notionals.append(value)
        if f.liquidity == Liquidity.MAKER:
            maker.append(value)
    notional = math.fsum(notionals)
    maker_notional = math.fsum(maker)
    maker_share = maker_notional / notional if notional > 0.0 else None
    taker_share = (notional - maker_notional) / notional if notional > 0.0 else None

    rejected = 0
    accepted = 0
    filled = 0
    for o in orders:
        has_fill = o.filled > 0.0
        if o.state == OrderState.REJECTED and not has_fill:
            rejected += 1
            continue
        if o.state in (OrderState.INITIALIZED, OrderState.SUBMITTED) and not has_fill:
            continue  # never reached (or never answered by) the exchange
        accepted += 1
        if has_fill:
            filled += 1

    final = float(eq[-1].equity) if eq else None
    change = final - initial_equity if final is not None else None
    ret_pct = change / initial_equity * 100.0 if change is not None and initial_equity > 0.0 else None
    dd_abs, dd_pct = _max_drawdown(eq, initial_equity)

    hourly = _grid_returns(eq, HOUR_NS)
    spans_two_days = len(eq) >= 2 and eq[-1].ts - eq[0].ts >= 2 * DAY_NS
    daily = _grid_returns(eq, DAY_NS) if spans_two_days else []

    times = [s.ts for s in eq] + [f.ts_event for f in fills_sorted]
    return Metrics(
        initial_equity=float(initial_equity),
        final_equity=final,
        start_ns=min(times) if times else None,
        end_ns=max(times) if times else None,
        net_pnl=net,
        gross_pnl=gross,
        fees=fees,
        funding=fund,
        equity_change=change,
        return_pct=ret_pct,
        trades=len(fills_sorted),
        round_trips=n_trips,
        open_round_trips=open_trips,
        wins=wins,
        losses=n_trips - wins,
        win_rate=wins / n_trips if n_trips else None,
        max_drawdown=dd_abs,
        max_drawdown_pct=dd_pct,
        sharpe_hourly=sharpe(hourly, ANNUALIZE_HOURLY),
        sharpe_daily=sharpe(daily, ANNUALIZE_DAILY) if spans_two_days else None,
        hourly_returns=len(hourly),
        daily_returns=len(daily),
        notional=notional,
        turnover=notional / initial_equity if initial_equity > 0.0 else None,
        maker_share=maker_share,
        taker_share=taker_share,
        orders_total=len(orders),
        orders_rejected=rejected,
        orders_accepted=accepted,
        orders_filled=filled,
        fill_ratio=filled / accepted if accepted else None,
        avg_holding_s=holding_ns / n_trips / 1e9 if n_trips else None,
    )


def sharpe(returns: Sequence[float], annualize: float) -> float | None:
    """mean ÷ sample standard deviation × `annualize`; None with < 2 returns or zero variance."""
    n = len(returns)
    if n < 2:
        return None
    mean = math.fsum(returns) / n
    var = math.fsum((r - mean) * (r - mean) for r in returns) / (n - 1)
    std = math.sqrt(var)
    if std == 0.0 or std <= _ZERO_STD_REL * abs(mean):
        return None
    return mean / std * annualize


def drawdown_series(equity: Sequence[EquitySample], initial_equity: float) -> list[float]:
    """Drawdown (USDT, <= 0) of each sample from the running peak, in the order given."""
    out: list[float] = []
    peak = initial_equity
    for i, s in enumerate(equity):
        if i == 0 and not initial_equity > 0.0:
            peak = s.equity
        if s.equity > peak:
            peak = s.equity
        out.append(s.equity - peak)
    return out


def metric_rows(m: Metrics) -> list[tuple[str, str]]:
    """(label, formatted value) pairs, in the order the summary and the report show them."""
    return [
        ("Net PnL (realized)", _usdt(m.net_pnl)),
        ("Gross PnL", _usdt(m.gross_pnl)),
        ("Fees (negative = paid)", _usdt(m.fees)),
        ("Funding (positive = received)", _usdt(m.funding)),
        ("Equity change", _usdt(m.equity_change)),
        ("Return", _pct(m.return_pct)),
        ("Trades (fills)", str(m.trades)),
        ("Round trips (closed / open)", f"{m.round_trips} / {m.open_round_trips}"),
        ("Win rate", _pct(None if m.win_rate is None else m.win_rate * 100.0)),
        ("Max drawdown", f"{_usdt(0.0 - m.max_drawdown)} ({_pct(0.0 - m.max_drawdown_pct)})"),
        ("Sharpe (hourly, annualized)", _num(m.sharpe_hourly)),
        ("Sharpe (daily, annualized)", _num(m.sharpe_daily)),
        ("Turnover (× initial equity)", _num(m.turnover)),
        ("Maker / taker share", f"{_pct(_times100(m.maker_share))} / {_pct(_times100(m.taker_share))}"),
        ("Fill ratio", f"{_pct(_times100(m.fill_ratio))} ({m.orders_filled} of {m.orders_accepted} accepted)"),
        ("Orders (total / rejected)", f"{m.orders_total} / {m.orders_rejected}"),
        ("Average holding time", "n/a" if m.avg_holding_s is None else f"{m.avg_holding_s:,.1f} s"),
    ]


def _round_trips(fills: Sequence[FillRow]) -> tuple[list[tuple[int, int, float]], int]:
    """Closed round trips as (start_ns, end_ns, realized PnL + fees), and how many are still open."""
    pos: dict[str, Decimal] = {}
    trips: dict[str, _Trip] = {}
    closed: list[tuple[int, int, float]] = []
    for f in fills:
        size = Decimal(repr(float(f.size))).quantize(_SIZE_STEP)
        if size == 0:
            continue
        signed = size if f.side == Side.BUY else -size
        before = pos.get(f.inst_id, Decimal(0))
        after = before + signed
        trip = trips.get(f.inst_id)
        if trip is None:  # flat before this fill: it opens a trip
            trip = trips[f.inst_id] = _Trip(f.ts_event, [], [])
        trip.pnl.append(f.realized_pnl)
        if before != 0 and after != 0 and (before > 0) != (after > 0):
            # a flip: the closing part takes the fill's PnL and its share of the fee
            close_fee = f.fee * float(abs(before) / size)
            trip.fees.append(close_fee)
            closed.append((trip.start_ns, f.ts_event, math.fsum(trip.pnl) + math.fsum(trip.fees)))
            trips[f.inst_id] = _Trip(f.ts_event, [], [f.fee - close_fee])
        else:
            trip.fees.append(f.fee)
            if after == 0:
                closed.append((trip.start_ns, f.ts_event, math.fsum(trip.pnl) + math.fsum(trip.fees)))
                del trips[f.inst_id]
        pos[f.inst_id] = after
    return closed, len(trips)


def _max_drawdown(eq: Sequence[EquitySample], initial_equity: float) -> tuple[float, float]:
    dd_abs = 0.0
    dd_pct = 0.0
    peak = initial_equity
    for i, s in enumerate(eq):
        if i == 0 and not initial_equity > 0.0:
            peak = s.equity
        if s.equity > peak:
            peak = s.equity
        fall = peak - s.equity
        if fall > dd_abs:
            dd_abs = fall
        if peak > 0.0 and fall / peak * 100.0 > dd_pct:
            dd_pct = fall / peak * 100.0
    return dd_abs, dd_pct


def _grid_returns(eq: Sequence[EquitySample], period_ns: int) -> list[float]:
    """Simple returns of equity read as-of at first_ts + k × period (k = 0, 1, …, whole periods only)."""
    if len(eq) < 2:
        return []
    first = eq[0].ts
    steps = (eq[-1].ts - first) // period_ns
    values: list[float] = []
    j = 0
    for k in range(steps + 1):
        t = first + k * period_ns
        while j + 1 < len(eq) and eq[j + 1].ts <= t:
            j += 1
        values.append(eq[j].equity)
    return [values[i] / values[i - 1] - 1.0 for i in range(1, len(values)) if values[i - 1] != 0.0]


def _times100(x: float | None) -> float | None:
    return None if x is None else x * 100.0


def _usdt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:+,.2f} USDT"


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.2f} %"


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:,.3f}"
