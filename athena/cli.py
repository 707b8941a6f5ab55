"""The ``athena`` command line: parses arguments, calls ``athena.app``, prints.

Owns: the commands (record, backtest, live, scenarios, data import|ls|verify, sim-server), their
options and help, the global ``--log-level`` / ``--json-logs``, and the contract with
``AthenaError``: ``main()`` prints ``athena: <message>`` as one line on stderr and exits with the
error's exit code (1), never a traceback for a user mistake. A traceback means a bug of ours.
Never: holds trading logic or builds engines itself (that is ``athena.app``); nothing imports it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from athena import __version__
from athena.config.models import LogLevel
from athena.core.logs import setup_logging
from athena.errors import AthenaError


class ImportSource(StrEnum):
    """What ``athena data import`` reads."""

    TARDIS = "tardis"
    OKX_TRADES = "okx-trades"
    OKX_WS = "okx-ws"


class BookChecksum(StrEnum):
    """What the emulator sends in the books ``checksum`` field."""

    ZERO = "zero"
    CRC32 = "crc32"


@dataclass(frozen=True, slots=True)
class GlobalOptions:
    """Options given before the command; ``log_level`` None means "as configured"."""

    log_level: LogLevel | None
    json_logs: bool


def _iso(value: str | datetime | None) -> datetime | None:
    """ISO 8601 date or time on the command line; no zone means UTC."""
    if value is None or isinstance(value, datetime):
        return value
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"{value!r} is not an ISO 8601 date or time; write e.g. 2024-05-01 or 2024-05-01T08:00:00Z"
        ) from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"athena {__version__}")
        raise typer.Exit(0)


app = typer.Typer(
    name="athena",
    help="Athena: a backtest-first trading system for OKX perpetual swaps. "
    "Record market data, backtest on it, run the same code live.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
data_app = typer.Typer(
    help="Manage the Parquet catalog: import files, list and verify what is stored.",
    no_args_is_help=True,
)
app.add_typer(data_app, name="data")

# ---- option types shared by commands ---------------------------------------------------------

FromOpt = Annotated[
    datetime | None,
    typer.Option(
        "--from", parser=_iso, metavar="ISO", help="first instant, ISO 8601 (UTC if no zone); default: start of data"
    ),
]
ToOpt = Annotated[
    datetime | None,
    typer.Option(
        "--to", parser=_iso, metavar="ISO", help="end instant, ISO 8601 (UTC if no zone); default: end of data"
    ),
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", metavar="FILE", help="extra JSON config layer over config/local.json (env vars still win)"
    ),
]
StrategyOpt = Annotated[str, typer.Option("--strategy", help="strategy to run, by its config name")]
EndpointOpt = Annotated[
    str | None,
    typer.Option(
        "--endpoint",
        metavar="production|demo|URL",
        help="OKX production, OKX demo trading, or the http(s) URL of `athena sim-server`; "
        "default: config okx.endpoint",
    ),
]


@app.callback()
def _global(
    ctx: typer.Context,
    log_level: Annotated[
        LogLevel | None,
        typer.Option("--log-level", case_sensitive=False, help="log threshold; default: config log_level"),
    ] = None,
    json_logs: Annotated[bool, typer.Option("--json-logs", help="log as JSON lines instead of key=value text")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="print the version and exit")
    ] = False,
) -> None:
    setup_logging(log_level.value if log_level else LogLevel.INFO.value, json=json_logs)
    ctx.obj = GlobalOptions(log_level=log_level, json_logs=json_logs)


@app.command()
def record(
    inst: Annotated[
        list[str] | None,
        typer.Option(
            "--inst",
            help="instruments to record, e.g. BTC-USDT-SWAP,ETH-USDT-SWAP (comma list, or repeat the option); "
            "default: config symbols",
        ),
    ] = None,
    channels: Annotated[
        str,
        typer.Option(
            "--channels",
            help="comma list of channels: trades, books, bbo, tickers, funding, mark_price, candles",
        ),
    ] = "trades,books,funding,mark_price",
    data: Annotated[
        Path | None, typer.Option("--data", metavar="DIR", help="catalog root to write; default: config catalog_root")
    ] = None,
    endpoint: EndpointOpt = None,
) -> None:
    """Record OKX public market data into the Parquet catalog, loss-aware and crash-safe (runs until Ctrl-C)."""
    from athena.app.record import run_record

    insts = [i.strip() for item in inst for i in item.split(",") if i.strip()] if inst else None
    report = run_record(insts, channels, data, endpoint, status=sys.stderr.isatty())
    if report is not None:
        for line in report.lines():
            typer.echo(line)


@app.command()
def backtest(
    start: FromOpt = None,
    end: ToOpt = None,
    inst: Annotated[
        str | None, typer.Option("--inst", help="instrument to replay; default: config backtest.inst")
    ] = None,
    strategy: StrategyOpt = "scalper_v1",
    config: ConfigOpt = None,
    data: Annotated[
        Path | None,
        typer.Option("--data", metavar="DIR", help="catalog root to replay; default: the embedded sample, data/sample"),
    ] = None,
    venue: Annotated[
        str, typer.Option("--venue", help="venue directory of the catalog: okx, or an imported source's name")
    ] = "okx",
    seed: Annotated[
        int | None, typer.Option("--seed", metavar="N", help="seed of the latency draws; default: config backtest.seed")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", metavar="DIR", help="run folder to write (config, metrics, fills, report); default: under runs/"
        ),
    ] = None,
) -> None:
    """Replay the catalog through the simulated exchange with the live engine, OMS and strategy; write a run folder."""
    _run_backtest(start=start, end=end, inst=inst, strategy=strategy, config=config, data=data,
                  venue=venue, seed=seed, out=out)


def _sample_root(configured: Path) -> Path:
    """The embedded sample: as configured relative to the working directory, else beside the package."""
    if configured.is_dir() or configured.is_absolute():
        return configured
    beside = Path(__file__).resolve().parent.parent / configured
    return beside if beside.is_dir() else configured


def _run_backtest(*, start: datetime | None, end: datetime | None, inst: str | None, strategy: str,
                  config: Path | None, data: Path | None, venue: str, seed: int | None, out: Path | None) -> None:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from athena.app.backtest import BacktestRequest, default_run_dir, run_backtest
    from athena.config.loader import load_config
    from athena.report.run_folder import summary_table

    cfg = load_config(files=[config] if config else ())
    bt = cfg.backtest
    start = start or bt.start
    end = end or bt.end
    root = data if data is not None else _sample_root(cfg.sample_root)
    inst_id = inst or bt.inst
    out_dir = out if out is not None else default_run_dir(Path("runs"), strategy, inst_id)
    req = BacktestRequest(
        config=cfg, data_root=root, venue=venue, inst_ids=(inst_id,),
        start_ns=None if start is None else int(start.timestamp()) * 1_000_000_000 + start.microsecond * 1000,
        end_ns=None if end is None else int(end.timestamp()) * 1_000_000_000 + end.microsecond * 1000,
        strategy=strategy, seed=bt.seed if seed is None else seed, out_dir=out_dir,
    )
    console = Console(stderr=True)
    wall0 = time.perf_counter()
    with Progress(TextColumn("[bold]backtest"), BarColumn(), TextColumn("{task.description}"),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task("starting", total=None)
        first: list[int] = []

        def progress(rows: int, sim_ns: int) -> None:
            if not first:
                first.append(sim_ns)
            el = time.perf_counter() - wall0
            speed = rows / el if el > 0 else 0.0
            sim = datetime.fromtimestamp(sim_ns / 1e9, tz=UTC).strftime("%Y-%m-%d %H:%M:%S")
            bar.update(task, description=f"{rows:,} events  sim {sim}Z  {speed:,.0f} ev/s")

        result = run_backtest(req, progress=progress)
    out_console = Console()
    m = result.manifest
    out_console.print(f"[bold]Athena backtest[/bold] {strategy} on {inst_id} ({venue}) "
                      f"{m['range']['from']} .. {m['range']['to']}")
    for key in ("book_channel", "queue_model", "latency_model", "fee_tier", "data_gaps", "clock_shift"):
        out_console.print(f"  {key.replace('_', ' ')}: {m[key]}")
    out_console.print(summary_table(result.metrics))
    out_console.print(f"{result.stats.rows:,} events in {result.wall_s:.2f} s "
                      f"({result.events_per_s:,.0f} events/s); fingerprint {result.fingerprint[:16]}")
    if result.run_dir is not None:
        out_console.print(f"run folder: {result.run_dir}  (report: {result.run_dir / 'report.html'})")


@app.command()
def live(
    strategy: StrategyOpt = "scalper_v1",
    config: ConfigOpt = None,
    endpoint: EndpointOpt = None,
    flatten: Annotated[
        bool,
        typer.Option(
            "--flatten",
            help="run the kill switch and exit: block new orders, cancel every order, close every position",
        ),
    ] = False,
) -> None:
    """Trade live on OKX (demo or production) or against `athena sim-server`, with the backtested code."""
    from athena.app.live import run_live

    res = run_live(strategy, [config] if config else [], endpoint, flatten)
    typer.echo(f"athena live: {res.strategy} on {', '.join(res.instruments)} via {res.endpoint}, "
               f"stopped by {res.stopped_by.value} after {res.wall_s:.1f} s")
    typer.echo(f"  orders {res.orders_submitted}, fills {len(res.fills)}, open orders {res.open_orders}, "
               f"positions {res.positions or 'flat'}{', flattened' if res.flattened else ''}")
    ex = "n/a" if res.exchange_equity is None else f"{res.exchange_equity:,.2f}"
    typer.echo(f"  equity {res.equity:,.2f} USDT (exchange {ex}), realized {res.realized_pnl:+,.2f}, "
               f"fees {res.fees:+,.2f}, errors {res.errors}, ghosts canceled {res.ghosts_canceled}")


@app.command()
def scenarios(
    names: Annotated[list[str] | None, typer.Argument(help="scenarios to run, by folder name; default: all")] = None,
    directory: Annotated[
        Path, typer.Option("--dir", metavar="DIR", help="folder holding one folder per scenario")
    ] = Path("scenarios"),
) -> None:
    """Replay captured incidents (disconnects, ghost orders, ...) deterministically and check their invariants."""
    from rich.console import Console

    from athena.app.scenarios import run_scenarios

    folder = directory if directory.is_dir() else _sample_root(directory)
    console = Console()
    results = run_scenarios(folder, names or None)
    for res in results:
        mark = "[green]PASS[/green]" if res.passed else "[red]FAIL[/red]"
        console.print(f"{mark} {res.name}  fingerprint {res.fingerprint[:16]}")
        for inv in res.invariants:
            sign = "ok  " if inv.passed else "FAIL"
            console.print(f"    {sign} {inv.name}: {inv.detail}")
    failed = [r.name for r in results if not r.passed]
    console.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@app.command("sim-server")
def sim_server(
    data: Annotated[
        Path | None,
        typer.Option("--data", metavar="DIR", help="catalog root whose market data is served; default: data/sample"),
    ] = None,
    start: FromOpt = None,
    end: ToOpt = None,
    speed: Annotated[
        float, typer.Option("--speed", min=0.0, help="replay speed, 1 = real time, 0 = as fast as clients read")
    ] = 1.0,
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="port on 127.0.0.1; 0 picks a free one (printed)")
    ] = 8443,
    faults: Annotated[
        Path | None,
        typer.Option("--faults", metavar="FILE", help="fault plan to inject (drops, delays, duplicates, ghost orders)"),
    ] = None,
    book_checksum: Annotated[
        BookChecksum,
        typer.Option(
            "--book-checksum", case_sensitive=False, help="books checksum field: zero (OKX since 2026-06) or crc32"
        ),
    ] = BookChecksum.ZERO,
) -> None:
    """Serve the OKX REST and WebSocket protocol on 127.0.0.1 over the simulated exchange (for live-path tests)."""
    from athena.app.sim_server import serve

    serve(data, start, end, speed, port, faults, book_checksum.value)


DataDirOpt = Annotated[
    Path | None, typer.Option("--data", metavar="DIR", help="catalog root; default: config catalog_root")
]


@data_app.command("import")
def data_import(
    source: Annotated[ImportSource, typer.Argument(help="format of the files: tardis, okx-trades or okx-ws")],
    files: Annotated[list[Path], typer.Argument(metavar="FILE...", help="files to import")],
    data: DataDirOpt = None,
) -> None:
    """Import Tardis files, OKX trade-history CSVs or raw OKX WebSocket logs into the catalog."""
    from athena.app.data import import_files

    result = import_files(source.value, files, _catalog_root(data), progress=sys.stderr.isatty())
    for line in result.lines():
        typer.echo(line)


def _catalog_root(data: Path | None) -> Path:
    if data is not None:
        return data
    from athena.config.loader import load_config

    return load_config().catalog_root


@data_app.command("ls")
def data_ls(data: DataDirOpt = None) -> None:
    """List what the catalog holds: venue, channel, instrument, days, rows, gaps."""
    from rich.console import Console
    from rich.table import Table

    from athena.app.data import ls

    rows = ls(_catalog_root(data))
    table = Table(title=f"catalog {_catalog_root(data)}")
    for col in ("venue", "channel", "inst", "from .. to (UTC, ts_recv)", "rows", "files", "gaps"):
        table.add_column(col, justify="right" if col in ("rows", "files") else "left")
    for r in rows:
        gaps = ", ".join(d.isoformat() for d in r.gaps) or "none"
        table.add_row(r.venue, r.channel.dirname, r.inst, r.date_range, f"{r.rows:,}", str(r.files), gaps)
    Console().print(table if rows else "the catalog is empty")


@data_app.command("verify")
def data_verify(data: DataDirOpt = None) -> None:
    """Check the catalog: book seq continuity and checksums, time order, gaps; exit 1 on any failure."""
    from athena.app.data import verify

    report = verify(_catalog_root(data))
    for line in report.lines():
        typer.echo(line)
    if not report.ok:
        raise typer.Exit(1)


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``athena`` script: run the app, print an AthenaError as one line."""
    try:
        app(args=list(argv) if argv is not None else None, prog_name="athena")
    except AthenaError as err:
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"athena: {message}", file=sys.stderr)
        sys.exit(err.exit_code)
