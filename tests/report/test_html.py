"""The HTML report: one offline file with plotly embedded, the charts, the metrics and the assumptions."""

from __future__ import annotations

import re

from athena.report.html import MAX_POINTS, downsample_indices, write_report
from athena.report.metrics import compute_metrics
from athena.report.run_folder import EquitySample
from tests.report.test_metrics import CT, EQUITY, FILLS, FUNDING, ORDERS

MANIFEST = {
    "book_channel": "books",
    "book_depth": 400,
    "latency": {"entry_ms": 5, "response_ms": 10},
    "queue_model": "RiskAverse: ahead -= traded; ahead = min(ahead, level size)",
    "fee_tier": "VIP0 maker 0.02 % taker 0.05 %",
    "data_gaps": [],
    "seed": 7,
    "note": "<b>escaped</b>",
}


def report(tmp_path, fills=FILLS, equity=EQUITY, name="report.html") -> str:
    m = compute_metrics(fills, equity, ORDERS, FUNDING, 1000.0, ct_val=CT)
    path = write_report(tmp_path / name, m, equity, fills, MANIFEST)
    return path.read_text(encoding="utf-8")


def test_report_is_offline_with_plotly_embedded_once(tmp_path):
    page = report(tmp_path)
    assert re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE) is None  # nothing loaded from anywhere
    assert re.search(r"""src\s*=\s*["']https?://""", page, re.IGNORECASE) is None
    assert page.count("* plotly.js v") == 1  # the library itself, embedded in the file
    assert page.startswith("<!DOCTYPE html>")


def test_report_has_the_chart_titles_and_one_div_per_chart(tmp_path):
    page = report(tmp_path)
    for title in ("Equity and drawdown", '"Equity"', '"Drawdown"', "Price and fills", "Position (contracts)"):
        assert title in page
    for div in ("athena-equity", "athena-price", "athena-position"):
        assert f'id="{div}"' in page
    assert '"buy fills"' in page and '"sell fills"' in page
    assert '"triangle-up"' in page and '"triangle-down"' in page


def test_report_tables_show_metrics_and_the_escaped_manifest(tmp_path):
    page = report(tmp_path)
    assert '<th>Net PnL (realized)</th><td class="num">+4.03 USDT</td>' in page
    assert "<th>book_depth</th><td>400</td>" in page
    assert "<th>latency.entry_ms</th><td>5</td>" in page  # nested settings as dotted keys
    assert "<th>seed</th><td>7</td>" in page
    assert "<th>data_gaps</th><td>[]</td>" in page
    assert "&lt;b&gt;escaped&lt;/b&gt;" in page and "<b>escaped</b>" not in page


def test_report_with_no_fills_and_no_equity_still_renders(tmp_path):
    page = report(tmp_path, fills=[], equity=[])
    assert "no equity samples in this run" in page
    assert "Price and fills" in page
    assert '<th>Trades (fills)</th><td class="num">0</td>' in page


def test_report_is_byte_identical_for_the_same_inputs(tmp_path):
    assert report(tmp_path, name="a.html") == report(tmp_path, name="b.html")


def test_long_series_are_thinned_to_the_cap_keeping_first_last_min_and_max():
    n = 12_345
    values = [float((i * 7919) % 1000) for i in range(n)]
    values[4321] = -50.0  # the trough
    values[9876] = 5000.0  # the peak
    idx = downsample_indices(values)
    assert len(idx) <= MAX_POINTS
    assert idx == sorted(set(idx))
    assert idx[0] == 0 and idx[-1] == n - 1
    assert 4321 in idx and 9876 in idx
    assert downsample_indices(values) == idx  # deterministic
    assert downsample_indices(values[:100]) == list(range(100))  # short series untouched


def test_a_long_run_report_stays_small(tmp_path):
    equity = [
        EquitySample(i * 1_000_000_000, 1000.0 + (i % 97), 1000.0, float(i % 5), 60000.0 + (i % 89))
        for i in range(50_000)
    ]
    page = report(tmp_path, equity=equity)
    # plotly's JS is ~4.7 MB; three charts of <= 5,000 points each add well under 2 MB
    assert len(page.encode()) < 7_000_000
    assert page.count('"equity"') == 1


def test_assumptions_the_manifest_leaves_out_are_shown_as_not_stated(tmp_path):
    page = report(tmp_path)
    assert "<th>latency_model</th><td>(not stated)</td>" in page
    assert "<th>clock_shift</th><td>(not stated)</td>" in page
    assert "<th>queue_model</th><td>(not stated)</td>" not in page
