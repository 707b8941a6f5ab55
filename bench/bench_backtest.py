"""Backtest throughput: market events/s (one catalog row = a trade or one book level change) and peak RSS.

Cases, each in its own process so peak RSS is its own:
  replay_sample    catalog → merge → both books → dispatch, a strategy that only listens (the data path)
  backtest_sample  the same through SimExchange, OMS and ScalperV1: the full stack
  maker_sample     the full stack with the example post-only maker, which requotes and fills
                   every second or so: the cost of a heavy order flow
  replay_real / backtest_real   the same on real Binance USDⓈ-M L2 data (../shared/data/real/tardis),
                   imported once into .bench/catalog
  rss_half_sample  the first half of the sample's range: peak RSS must not grow with the range

Prints one JSON line per case. `python bench/bench_backtest.py [--case NAME]`.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "data" / "sample"
SHARED = ROOT.parent / "shared"
TARDIS = SHARED / "data" / "real" / "tardis"
BENCH_CATALOG = ROOT / ".bench" / "catalog"
REAL_FILES = ("binance-futures_incremental_book_L2_BTCUSDT_2024-07-18.csv.gz",
              "binance-futures_trades_BTCUSDT_2024-07-18.csv.gz")
CASES = ("replay_sample", "backtest_sample", "maker_sample", "rss_half_sample", "replay_real", "backtest_real",
         "maker_real")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _listener() -> str:
    from athena.strategies.base import BaseStrategy, register

    @register
    class Listener(BaseStrategy):
        """Receives every book message and trade and does nothing: the cost of the data path."""

        name = "bench_listener"

        def on_book(self, event) -> None:  # type: ignore[no-untyped-def]
            pass

        def on_tick(self, event) -> None:  # type: ignore[no-untyped-def]
            pass

    return Listener.name


def _real_catalog() -> tuple[Path, str, str] | None:
    if not TARDIS.is_dir():
        return None
    if not (BENCH_CATALOG / "binance-futures").is_dir():
        from athena.app.data import import_files

        import_files("tardis", [TARDIS / f for f in REAL_FILES], BENCH_CATALOG)
    return BENCH_CATALOG, "binance-futures", "BTCUSDT"


def run_case(case: str) -> dict:
    from athena.app.backtest import BacktestRequest, run_backtest
    from athena.catalog.reader import Catalog
    from athena.config.loader import load_config

    cfg = load_config(root=ROOT, env="test")
    if case.endswith("_real"):
        real = _real_catalog()
        if real is None:
            return {"bench": case, "skipped": "../shared/data/real/tardis is not beside this checkout"}
        root, venue, inst = real
    else:
        if not any(SAMPLE.glob("*/books")):
            return {"bench": case, "skipped": "data/sample holds no catalog"}
        root, venue, inst = SAMPLE, "okx", "BTC-USDT-SWAP"
    strategy = _listener() if case.startswith("replay") else "maker" if case.startswith("maker") else "scalper_v1"
    start = end = None
    if case == "rss_half_sample":
        s = next(x for x in Catalog(root).summary(venue) if x.inst == inst and x.channel.dirname == "books")
        start, end = s.first_ts_recv, s.first_ts_recv + (s.last_ts_recv - s.first_ts_recv) // 2  # type: ignore[operator]
    # Binance's BTCUSDT stand-in has ctVal 1 (a contract is 1 BTC): trade 0.01 BTC, as 1 OKX contract is
    strat_cfg = {"order_size": 0.01} if case == "backtest_real" else {}
    req = BacktestRequest(config=cfg, data_root=root, venue=venue, inst_ids=(inst,), strategy=strategy,
                          start_ns=start, end_ns=end, strategy_config=strat_cfg)
    t0 = time.perf_counter()
    res = run_backtest(req)
    total = time.perf_counter() - t0
    return {
        "bench": case, "events": res.stats.rows, "book_messages": res.stats.book_messages,
        "trades": res.stats.trades, "seconds": round(res.wall_s, 3), "events_per_s": round(res.events_per_s),
        "with_setup_s": round(total, 3), "fills": len(res.fills), "orders": len(res.orders),
        "peak_rss_mb": round(_peak_rss_mb(), 1), "python": sys.version.split()[0],
    }


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--case":
        print(json.dumps(run_case(sys.argv[2])), flush=True)
        return
    for case in CASES:
        out = subprocess.run([sys.executable, __file__, "--case", case], capture_output=True, text=True, check=False)
        line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
        if out.returncode != 0 or not line:
            line = json.dumps({"bench": case, "error": out.stderr.strip().splitlines()[-1:] or "no output"})
        print(line, flush=True)


if __name__ == "__main__":
    main()
