"""The run folder a backtest leaves behind, and the rows the runner hands to the report layer.

Owns: the input rows the backtest runner collects during a run (`OrderRow`, `FillRow`,
`EquitySample`, `FundingRow` — plain frozen dataclasses, one per order / fill / equity sample /
funding payment), their Parquet schemas (explicit, so an empty run still writes valid files with
the right columns), `write_run_folder` (config.json, manifest.json, metrics.json, orders.parquet,
fills.parquet, equity.parquet, funding.parquet, report.html) and `summary_table`, the CLI's
end-of-run table.
Never: writes a secret (keys named like api_key / secret / passphrase / password, and pydantic
Secret values, are dropped from config.json and manifest.json however the caller built them),
overwrites an earlier run's folder, or computes a figure itself (that is `metrics.py`).

Units and signs of the rows (the runner's contract):
- sizes are contracts (``lots * lotSz``), prices floats in the quote currency (USDT);
- ``FillRow.fee`` keeps OKX's sign: negative = paid, positive = rebate;
- ``FillRow.realized_pnl`` is the USDT PnL that fill realized (0.0 for an opening fill), fees excluded;
- ``FundingRow.payment`` is USDT, positive = received, negative = paid;
- ``EquitySample.position`` is signed contracts (long > 0), ``price`` the mid (or last) used to mark it;
- every ``ts*`` is int nanoseconds since the epoch, UTC.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, is_dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from rich.table import Table

from athena.errors import AthenaError
from athena.model.enums import Liquidity, OrderState, OrderType, Side
from athena.report.html import write_report
from athena.report.metrics import Metrics, metric_rows


@dataclass(frozen=True, slots=True)
class OrderRow:
    """One order as it stood when it ended (or at the end of the run)."""

    cl_ord_id: str
    ord_id: str | None  # None when the exchange never assigned one (pre-trade refusal, no ack)
    strategy_id: str
    inst_id: str
    side: Side
    ord_type: OrderType
    price: float | None  # None for market orders
    size: float  # contracts
    filled: float  # contracts
    avg_px: float | None  # None while nothing filled
    state: OrderState
    reduce_only: bool
    tag: str
    ts_created: int
    ts_last: int
    reject_code: str | None  # Athena's RejectReason value or OKX's sCode; None unless rejected


@dataclass(frozen=True, slots=True)
class FillRow:
    """One fill of one of our orders."""

    trade_id: str
    cl_ord_id: str
    strategy_id: str
    inst_id: str
    side: Side
    price: float
    size: float  # contracts
    fee: float  # USDT, OKX sign: negative = paid
    liquidity: Liquidity
    realized_pnl: float  # USDT realized by this fill, fees excluded
    ts_event: int


@dataclass(frozen=True, slots=True)
class EquitySample:
    """The account sampled by the runner (e.g. every second of sim time and at each fill)."""

    ts: int
    equity: float  # USDT: balance + unrealized PnL
    balance: float  # USDT
    position: float  # signed contracts
    price: float  # the mid (or last) the position was marked at


@dataclass(frozen=True, slots=True)
class FundingRow:
    """One funding payment on an open position."""

    ts: int
    inst_id: str
    payment: float  # USDT, positive = received


ORDERS_SCHEMA = pa.schema(
    [
        ("cl_ord_id", pa.string()),
        ("ord_id", pa.string()),
        ("strategy_id", pa.string()),
        ("inst_id", pa.string()),
        ("side", pa.string()),
        ("ord_type", pa.string()),
        ("price", pa.float64()),
        ("size", pa.float64()),
        ("filled", pa.float64()),
        ("avg_px", pa.float64()),
        ("state", pa.string()),
        ("reduce_only", pa.bool_()),
        ("tag", pa.string()),
        ("ts_created", pa.int64()),
        ("ts_last", pa.int64()),
        ("reject_code", pa.string()),
    ]
)
FILLS_SCHEMA = pa.schema(
    [
        ("trade_id", pa.string()),
        ("cl_ord_id", pa.string()),
        ("strategy_id", pa.string()),
        ("inst_id", pa.string()),
        ("side", pa.string()),
        ("price", pa.float64()),
        ("size", pa.float64()),
        ("fee", pa.float64()),
        ("liquidity", pa.string()),
        ("realized_pnl", pa.float64()),
        ("ts_event", pa.int64()),
    ]
)
EQUITY_SCHEMA = pa.schema(
    [
        ("ts", pa.int64()),
        ("equity", pa.float64()),
        ("balance", pa.float64()),
        ("position", pa.float64()),
        ("price", pa.float64()),
    ]
)
FUNDING_SCHEMA = pa.schema([("ts", pa.int64()), ("inst_id", pa.string()), ("payment", pa.float64())])

_SECRET_KEY = re.compile(r"api[_-]?key|secret|passphrase|password|passwd|private[_-]?key", re.IGNORECASE)


def rows_to_table(rows: Sequence[Any], schema: pa.Schema) -> pa.Table:
    """Rows (dataclasses with the schema's field names) as a pyarrow table of exactly that schema.

    Enum values are written as their strings; an empty sequence gives an empty table with the columns.
    """
    columns: dict[str, list[Any]] = {}
    for name in schema.names:
        columns[name] = [_plain(getattr(r, name)) for r in rows]
    return pa.Table.from_pydict(columns, schema=schema)


def drop_secrets(value: Any) -> Any:
    """A copy of a JSON-like value with every secret-looking key (and pydantic Secret value) removed."""
    if isinstance(value, Mapping):
        return {
            str(k): drop_secrets(v)
            for k, v in value.items()
            if not _SECRET_KEY.search(str(k)) and not _is_secret_value(v)
        }
    if isinstance(value, list | tuple):
        return [drop_secrets(v) for v in value if not _is_secret_value(v)]
    return value


def write_run_folder(
    out_dir: str | Path,
    *,
    config: Mapping[str, Any],
    manifest: Mapping[str, Any],
    metrics: Metrics,
    orders: Sequence[OrderRow],
    fills: Sequence[FillRow],
    equity: Sequence[EquitySample],
    funding: Sequence[FundingRow],
) -> Path:
    """Write one backtest's run folder and return its path.

    `out_dir` must not exist yet or be empty: an earlier run's results are never overwritten.
    """
    out = Path(out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise AthenaError(
            f"{out} already exists and is not an empty folder; choose another output folder or move that one away "
            "(a run folder is never overwritten)"
        )
    out.mkdir(parents=True, exist_ok=True)
    clean_manifest = drop_secrets(_jsonable(manifest))
    _write_json(out / "config.json", drop_secrets(_jsonable(config)))
    _write_json(out / "manifest.json", clean_manifest)
    _write_json(out / "metrics.json", metrics.to_dict())
    pq.write_table(rows_to_table(orders, ORDERS_SCHEMA), out / "orders.parquet")
    pq.write_table(rows_to_table(fills, FILLS_SCHEMA), out / "fills.parquet")
    pq.write_table(rows_to_table(equity, EQUITY_SCHEMA), out / "equity.parquet")
    pq.write_table(rows_to_table(funding, FUNDING_SCHEMA), out / "funding.parquet")
    write_report(out / "report.html", metrics, equity, fills, clean_manifest)
    return out


def summary_table(metrics: Metrics) -> Table:
    """The end-of-run summary the CLI prints (the same figures and wording as the HTML report)."""
    table = Table(title="Backtest summary", show_header=True, header_style="bold")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for label, value in metric_rows(metrics):
        table.add_row(label, value)
    return table


def _is_secret_value(v: Any) -> bool:
    # pydantic's SecretStr / SecretBytes, recognised by name so this module need not import pydantic
    return type(v).__name__ in ("SecretStr", "SecretBytes", "Secret")


def _plain(v: Any) -> Any:
    return v.value if isinstance(v, Enum) else v


def _jsonable(value: Any) -> Any:
    """A JSON-ready copy: enums as values, paths and decimals as strings, NaN/inf as null."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=repr) if isinstance(value, set | frozenset) else value
        return [_jsonable(v) for v in items]
    if isinstance(value, Enum):
        return _jsonable(value.value)
    if isinstance(value, bool | int | str) or value is None:
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if _is_secret_value(value):
        return value  # dropped by drop_secrets; never stringified here
    if isinstance(value, Path | Decimal):
        return str(value)
    return str(value)


def _write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
