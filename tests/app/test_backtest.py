from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from athena.app.backtest import BacktestRequest, run_backtest
from athena.cli import app
from athena.config.loader import load_config
from athena.errors import CatalogError, SimulationError
from tests.app.tiny_catalog import T0, make_tiny_catalog
from tests.conftest import ROOT

NS = 1_000_000_000


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_catalog(tmp_path_factory.mktemp("cat"), seconds=90)


def request(root: Path, **kw) -> BacktestRequest:
    kw.setdefault("config", load_config(root=ROOT, env="test"))
    return BacktestRequest(data_root=root, **kw)


def test_two_runs_give_the_same_fingerprint_and_the_same_fills(tiny):
    a = run_backtest(request(tiny))
    b = run_backtest(request(tiny))
    assert a.fills, "the example strategy must trade on the tiny catalog"
    assert a.fingerprint == b.fingerprint
    assert a.fills == b.fills
    assert a.metrics.to_dict() == b.metrics.to_dict()


def test_a_different_latency_changes_the_run(tiny):
    a = run_backtest(request(tiny))
    b = run_backtest(request(tiny, config=load_config(root=ROOT, env="test",
                                                         overrides={"backtest": {"entry_latency_ms": 40}})))
    assert a.fingerprint != b.fingerprint


def test_run_folder_holds_every_file_with_consistent_contents(tiny, tmp_path):
    out = tmp_path / "run"
    res = run_backtest(request(tiny, out_dir=out))
    names = {p.name for p in out.iterdir()}
    assert {"config.json", "manifest.json", "metrics.json", "orders.parquet", "fills.parquet",
            "equity.parquet", "report.html"} <= names
    metrics = json.loads((out / "metrics.json").read_text())
    fills = pl.read_parquet(out / "fills.parquet")
    orders = pl.read_parquet(out / "orders.parquet")
    equity = pl.read_parquet(out / "equity.parquet")
    assert fills.height == metrics["trades"] == len(res.fills)
    assert orders.height == len(res.orders)
    assert equity.height >= 89  # one sample per simulated second
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["fingerprint"] == res.fingerprint
    for key in ("queue_model", "latency_model", "fee_tier", "data_gaps", "book_channel"):
        assert manifest[key]
    html = (out / "report.html").read_text()
    assert "<script src=" not in html and "Equity" in html
    assert "api_secret" not in (out / "config.json").read_text() or "***" in (out / "config.json").read_text()


def test_a_range_outside_the_data_is_a_clear_error(tiny):
    with pytest.raises(SimulationError, match="holds none of it"):
        run_backtest(request(tiny, start_ns=T0 + 10_000 * NS, end_ns=T0 + 20_000 * NS))


def test_a_missing_catalog_is_a_clear_error(tmp_path):
    with pytest.raises(CatalogError, match="is not a directory"):
        run_backtest(request(tmp_path / "nothing"))


def test_a_sub_range_starts_from_the_same_book(tiny):
    full = run_backtest(request(tiny))
    part = run_backtest(request(tiny, start_ns=T0 + 30 * NS, end_ns=T0 + 60 * NS))
    assert part.stats.warmup_rows > 0
    assert part.stats.rows < full.stats.rows
    assert all(T0 + 30 * NS <= f.ts_event < T0 + 61 * NS for f in part.fills)


def test_cli_backtest_prints_the_summary_and_writes_the_report(tiny, tmp_path):
    out = tmp_path / "cli-run"
    res = CliRunner().invoke(app, ["backtest", "--data", str(tiny), "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "Net PnL" in res.output or "net" in res.output.lower()
    assert "fingerprint" in res.output
    assert (out / "report.html").is_file()


def test_cli_backtest_with_an_unknown_strategy_is_one_line(tiny, tmp_path):
    res = CliRunner().invoke(app, ["backtest", "--data", str(tiny), "--strategy", "nope", "--out", str(tmp_path / "x")])
    assert res.exit_code != 0
    assert "unknown strategy 'nope'" in str(res.exception) or "unknown strategy" in res.output
