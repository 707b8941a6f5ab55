"""The single-file offline HTML report of a backtest.

Owns: `write_report` — one self-contained HTML file (plotly's JS embedded once, no CDN, readable
with no internet) holding the metrics table, the charts (equity and drawdown, price with our fills,
position) and the run's assumption manifest (DESIGN.md §6: every report states its assumptions);
and `downsample_indices`, the deterministic thinning that keeps each series <= `MAX_POINTS`.
Never: fetches or links anything online, computes a metric (`metrics.py` does), or draws random
numbers (the same inputs give a byte-identical file: plotly div ids are fixed, not uuids).
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from athena.model.enums import Side
from athena.report.metrics import DEFINITIONS, Metrics, drawdown_series, metric_rows

if TYPE_CHECKING:  # the rows live beside the writer; imported for types only (no import cycle)
    from athena.report.run_folder import EquitySample, FillRow

MAX_POINTS = 5_000  # per series; keeps a long run's report a few MB (plotly's JS is ~4.7 MB of it)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TEMPLATE = "plotly_white"
# the assumptions every report states (DESIGN.md §6, §1); a manifest without one shows "(not stated)"
ASSUMPTION_KEYS = (
    "book_channel",
    "book_depth",
    "queue_model",
    "latency_model",
    "fee_tier",
    "data_gaps",
    "clock_shift",
    "seed",
    "cpython",
)
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; }
td, th { border: 1px solid #ccc; padding: 4px 10px; text-align: left; vertical-align: top; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f4f4f4; }
.note { color: #666; font-size: 90%; }
"""


def write_report(
    path: str | Path,
    metrics: Metrics,
    equity: Sequence[EquitySample],
    fills: Sequence[FillRow],
    manifest: Mapping[str, Any],
) -> Path:
    """Write the report to `path` (parent folders must exist) and return it.

    `manifest` is shown as given: pass it secrets-free (`write_run_folder` strips secrets first).
    Its top-level keys should include `ASSUMPTION_KEYS`; any missing one is shown as "(not stated)".
    """
    eq = sorted(equity, key=lambda s: s.ts)
    fl = sorted(fills, key=lambda f: f.ts_event)
    figures = [
        ("equity", _equity_figure(eq, metrics.initial_equity)),
        ("price", _price_figure(eq, fl)),
        ("position", _position_figure(eq)),
    ]
    charts: list[str] = []
    for i, (name, fig) in enumerate(figures):
        charts.append(
            fig.to_html(
                include_plotlyjs=i == 0,  # the library once, embedded; the other charts reuse it
                full_html=False,
                div_id=f"athena-{name}",
                config={"displaylogo": False, "responsive": True},
            )
        )
    page = _page(metrics, manifest, charts, n_equity=len(eq), n_fills=len(fl))
    out = Path(path)
    out.write_text(page, encoding="utf-8")
    return out


def downsample_indices(values: Sequence[float], max_points: int = MAX_POINTS) -> list[int]:
    """Indices to keep so that at most `max_points` remain: the first, the last, and the min and
    max of each of (max_points − 2) // 2 equal buckets — peaks and troughs survive, deterministically."""
    n = len(values)
    if n <= max_points:
        return list(range(n))
    buckets = max(1, (max_points - 2) // 2)
    keep = {0, n - 1}
    for b in range(buckets):
        lo = b * n // buckets
        hi = (b + 1) * n // buckets
        if lo >= hi:
            continue
        i_min = i_max = lo
        for i in range(lo + 1, hi):
            v = values[i]
            if v < values[i_min]:
                i_min = i
            if v > values[i_max]:
                i_max = i
        keep.add(i_min)
        keep.add(i_max)
    return sorted(keep)


def _stride(n: int, max_points: int = MAX_POINTS) -> list[int]:
    if n <= max_points:
        return list(range(n))
    return [k * (n - 1) // (max_points - 1) for k in range(max_points)]


def _time(ts_ns: int) -> datetime:
    # exact to the microsecond (a float of the ns would round); plotly shows UTC
    return _EPOCH + timedelta(microseconds=ts_ns // 1000)


def _equity_figure(eq: Sequence[EquitySample], initial_equity: float) -> go.Figure:
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, subplot_titles=("Equity", "Drawdown"), row_heights=[0.65, 0.35]
    )
    values = [s.equity for s in eq]
    idx = downsample_indices(values)
    fig.add_trace(
        go.Scatter(x=[_time(eq[i].ts) for i in idx], y=[values[i] for i in idx], name="equity", mode="lines"),
        row=1,
        col=1,
    )
    dd = drawdown_series(eq, initial_equity)
    idx = downsample_indices(dd)
    fig.add_trace(
        go.Scatter(
            x=[_time(eq[i].ts) for i in idx],
            y=[dd[i] for i in idx],
            name="drawdown",
            mode="lines",
            fill="tozeroy",
            line={"color": "#c0392b"},
        ),
        row=2,
        col=1,
    )
    fig.update_yaxes(title_text="USDT", row=1, col=1)
    fig.update_yaxes(title_text="USDT from peak", row=2, col=1)
    fig.update_layout(title_text="Equity and drawdown", template=_TEMPLATE, height=600)
    return _mark_empty(fig, not eq, "no equity samples in this run")


def _price_figure(eq: Sequence[EquitySample], fills: Sequence[FillRow]) -> go.Figure:
    fig = go.Figure()
    prices = [s.price for s in eq]
    idx = downsample_indices(prices)
    fig.add_trace(go.Scatter(x=[_time(eq[i].ts) for i in idx], y=[prices[i] for i in idx], name="price", mode="lines"))
    for side, symbol, color in ((Side.BUY, "triangle-up", "#27ae60"), (Side.SELL, "triangle-down", "#c0392b")):
        own = [f for f in fills if f.side == side]
        keep = _stride(len(own))
        fig.add_trace(
            go.Scatter(
                x=[_time(own[i].ts_event) for i in keep],
                y=[own[i].price for i in keep],
                name=f"{side.value} fills",
                mode="markers",
                marker={"symbol": symbol, "color": color, "size": 9},
                text=[f"{own[i].inst_id} {own[i].size:g} @ {own[i].price:g} ({own[i].liquidity})" for i in keep],
                hoverinfo="x+text",
            )
        )
    fig.update_layout(title_text="Price and fills", template=_TEMPLATE, height=450, yaxis_title="price")
    return _mark_empty(fig, not eq and not fills, "no prices or fills in this run")


def _position_figure(eq: Sequence[EquitySample]) -> go.Figure:
    fig = go.Figure()
    pos = [s.position for s in eq]
    idx = downsample_indices(pos)
    fig.add_trace(
        go.Scatter(
            x=[_time(eq[i].ts) for i in idx], y=[pos[i] for i in idx], name="position", mode="lines", line_shape="hv"
        )
    )
    fig.update_layout(title_text="Position (contracts)", template=_TEMPLATE, height=350, yaxis_title="contracts")
    return _mark_empty(fig, not eq, "no equity samples in this run")


def _mark_empty(fig: go.Figure, empty: bool, text: str) -> go.Figure:
    if empty:
        fig.add_annotation(text=text, showarrow=False, xref="paper", yref="paper", x=0.5, y=0.5)
    return fig


def _flatten(obj: Any, prefix: str = "") -> list[tuple[str, str]]:
    """Nested mappings as dotted keys (in the manifest's own order); lists and scalars as JSON text."""
    if isinstance(obj, Mapping):
        out: list[tuple[str, str]] = []
        for k, v in obj.items():
            out.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        if not obj and prefix:
            out.append((prefix, "{}"))
        return out
    if isinstance(obj, str):
        return [(prefix, obj)]
    try:
        text = json.dumps(obj, sort_keys=True, default=str)
    except (TypeError, ValueError):
        text = str(obj)
    return [(prefix, text)]


def _assumption_rows(manifest: Mapping[str, Any]) -> list[tuple[str, str]]:
    missing = [(k, "(not stated)") for k in ASSUMPTION_KEYS if k not in manifest]
    return _flatten(manifest) + missing


def _table(rows: Sequence[tuple[str, str]], header: tuple[str, str], numeric: bool = False) -> str:
    cls = ' class="num"' if numeric else ""
    body = "\n".join(f"<tr><th>{html.escape(k)}</th><td{cls}>{html.escape(v)}</td></tr>" for k, v in rows)
    return f"<table>\n<tr><th>{html.escape(header[0])}</th><th>{html.escape(header[1])}</th></tr>\n{body}\n</table>"


def _page(metrics: Metrics, manifest: Mapping[str, Any], charts: Sequence[str], *, n_equity: int, n_fills: int) -> str:
    if metrics.start_ns is not None and metrics.end_ns is not None:
        span = f"{_time(metrics.start_ns).isoformat()} → {_time(metrics.end_ns).isoformat()} (UTC)"
    else:
        span = "no events in this run"
    note = (
        f"Charts show at most {MAX_POINTS:,} points per series (first, last, and each bucket's min and max); "
        f"{n_equity:,} equity samples and {n_fills:,} fills in this run. Times are UTC."
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        '<head><meta charset="utf-8"><title>Athena backtest report</title>',
        f"<style>{_STYLE}</style></head>",
        "<body>",
        "<h1>Athena backtest report</h1>",
        f"<p>{html.escape(span)}</p>",
        "<h2>Metrics</h2>",
        _table(metric_rows(metrics), ("metric", "value"), numeric=True),
        "<h2>Charts</h2>",
        f'<p class="note">{html.escape(note)}</p>',
        *charts,
        "<h2>Assumptions</h2>",
        '<p class="note">What this run assumed about the market and the simulator (DESIGN.md §6).</p>',
        _table(_assumption_rows(manifest), ("assumption", "value")),
        "<h2>Definitions</h2>",
        _table(list(DEFINITIONS.items()), ("term", "definition")),
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(parts)
