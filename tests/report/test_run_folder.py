"""The run folder: every file written, readable back with the right columns, and no secret in it."""

from __future__ import annotations

import json

import polars as pl
import pyarrow.parquet as pq
import pytest
from pydantic import SecretStr
from rich.console import Console

from athena.errors import AthenaError
from athena.report.metrics import compute_metrics
from athena.report.run_folder import (
    EQUITY_SCHEMA,
    FILLS_SCHEMA,
    FUNDING_SCHEMA,
    ORDERS_SCHEMA,
    drop_secrets,
    summary_table,
    write_run_folder,
)
from tests.report.test_metrics import CT, EQUITY, FILLS, FUNDING, ORDERS

FILES = (
    "config.json",
    "manifest.json",
    "metrics.json",
    "orders.parquet",
    "fills.parquet",
    "equity.parquet",
    "funding.parquet",
    "report.html",
)
CONFIG = {
    "capital": 1000.0,
    "okx": {"api_key": "k-123", "API_SECRET": "s-456", "passphrase": "p-789", "rest_url": "https://www.okx.com"},
    "strategies": [{"name": "scalper_v1", "password": "x", "flow_window_s": 5}],
    "token_like": SecretStr("hidden-value"),
}
MANIFEST = {"seed": 7, "cpython": "3.11", "queue_model": "risk_averse", "strategy": {"okx_api_key": "leak-0q9z"}}


def write(tmp_path, *, fills=FILLS, equity=EQUITY, orders=ORDERS, funding=FUNDING):
    m = compute_metrics(fills, equity, orders, funding, 1000.0, ct_val=CT)
    out = write_run_folder(
        tmp_path / "run",
        config=CONFIG,
        manifest=MANIFEST,
        metrics=m,
        orders=orders,
        fills=fills,
        equity=equity,
        funding=funding,
    )
    return out, m


def test_every_file_is_written_and_reads_back_with_its_rows(tmp_path):
    out, m = write(tmp_path)
    assert sorted(p.name for p in out.iterdir()) == sorted(FILES)
    orders = pl.read_parquet(out / "orders.parquet")
    fills = pl.read_parquet(out / "fills.parquet")
    equity = pl.read_parquet(out / "equity.parquet")
    funding = pl.read_parquet(out / "funding.parquet")
    assert orders.columns == ORDERS_SCHEMA.names and orders.height == 5
    assert fills.columns == FILLS_SCHEMA.names and fills.height == 4
    assert equity.columns == EQUITY_SCHEMA.names and equity.height == 6
    assert funding.columns == FUNDING_SCHEMA.names and funding.height == 1
    assert fills["side"].to_list() == ["buy", "sell", "sell", "buy"]  # enums written as OKX's strings
    assert fills["liquidity"].to_list() == ["M", "T", "M", "T"]
    assert fills["fee"].sum() == pytest.approx(-1.2745)
    assert orders.filter(pl.col("state") == "rejected")["reject_code"].to_list() == ["51008"]
    assert orders["ord_id"].null_count() == 1
    assert json.loads((out / "metrics.json").read_text()) == m.to_dict()
    assert json.loads((out / "manifest.json").read_text())["seed"] == 7
    assert "Athena backtest report" in (out / "report.html").read_text(encoding="utf-8")


def test_an_empty_run_writes_valid_files_with_the_right_columns(tmp_path):
    out, m = write(tmp_path, fills=[], equity=[], orders=[], funding=[])
    for name, schema in (
        ("orders", ORDERS_SCHEMA),
        ("fills", FILLS_SCHEMA),
        ("equity", EQUITY_SCHEMA),
        ("funding", FUNDING_SCHEMA),
    ):
        table = pq.read_table(out / f"{name}.parquet")
        assert table.num_rows == 0
        assert table.schema.equals(schema)
    assert json.loads((out / "metrics.json").read_text())["trades"] == 0
    assert m.win_rate is None


def test_secret_looking_keys_never_reach_the_folder(tmp_path):
    out, _ = write(tmp_path)
    config = json.loads((out / "config.json").read_text())
    assert config == {
        "capital": 1000.0,
        "okx": {"rest_url": "https://www.okx.com"},
        "strategies": [{"name": "scalper_v1", "flow_window_s": 5}],
    }
    assert json.loads((out / "manifest.json").read_text())["strategy"] == {}
    for name in FILES:
        text = (out / name).read_bytes()
        for secret in (b"k-123", b"s-456", b"p-789", b"hidden-value", b"leak-0q9z"):
            assert secret not in text, (name, secret)


def test_drop_secrets_matches_key_names_case_insensitively_at_any_depth():
    cleaned = drop_secrets({"a": {"b": [{"ApiKey": 1, "keep": 2}], "Secret_Key": 3}, "passphrase": 4, "x": 5})
    assert cleaned == {"a": {"b": [{"keep": 2}]}, "x": 5}


def test_an_existing_run_folder_is_never_overwritten(tmp_path):
    write(tmp_path)
    before = (tmp_path / "run" / "metrics.json").read_bytes()
    with pytest.raises(AthenaError, match="never overwritten"):
        write(tmp_path, fills=[])
    assert (tmp_path / "run" / "metrics.json").read_bytes() == before


def test_summary_table_lists_the_headline_figures():
    m = compute_metrics(FILLS, EQUITY, ORDERS, FUNDING, 1000.0, ct_val=CT)
    console = Console(record=True, width=120)
    console.print(summary_table(m))
    text = console.export_text()
    for label, value in (
        ("Net PnL (realized)", "+4.03 USDT"),
        ("Fees (negative = paid)", "-1.27 USDT"),
        ("Funding (positive = received)", "+0.30 USDT"),
        ("Trades (fills)", "4"),
        ("Win rate", "50.00 %"),
        ("Max drawdown", "-30.00 USDT (-2.91 %)"),
        ("Sharpe (hourly, annualized)", "27.019"),
        ("Turnover (× initial equity)", "3.635"),
        ("Maker / taker share", "49.79 % / 50.21 %"),
        ("Fill ratio", "66.67 % (2 of 3 accepted)"),
    ):
        line = next(row for row in text.splitlines() if label in row)
        assert value in line, (label, line)
