"""Benchmark of ``athena record``: sustained ingest from the emulator at max speed, and peak RSS; JSON lines out.

Owns: the figures ``{"bench": "recorder_ingest", "msgs_per_s": ...}`` — frames received, journaled,
mapped and written to the catalog per second by one recorder process pinned to one core, fed by
``athena sim-server`` at ``--speed 0`` (unpaced) in a subprocess pinned to another core; the
recorder's CPU share says which side limits it (below 100 %: the emulator) —,
``{"bench": "recorder_ceiling", "msgs_per_s": ...}`` — the frames just recorded fed again through
the same socket code path (``RecordingSocket.feed``: stamp, journal, parse, book checks, rows,
hand-offs to the two writer threads) as fast as one core allows, no socket: the recorder's own
limit — and ``{"bench": "recorder_rss", "peak_rss_mb": ...}`` (the recorder process's peak
resident set while recording from the emulator, and before it: Python + pyarrow + the gateway).
Data: ``--data DIR`` or the embedded sample (``data/sample``), looping; recordings go to a
temporary directory.
Never: talks to OKX, or keeps what it recorded. Run from the project root:
``.venv/bin/python bench/bench_recorder.py [--seconds 20] [--data DIR]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psutil

from athena.model.enums import Channel
from athena.model.instrument import BTC_USDT_SWAP
from recorder.journal import journal_files, read_journal
from recorder.service import Recorder, RecorderSettings

ROOT = Path(__file__).resolve().parents[1]
CHANNELS = (Channel.TRADES, Channel.BOOKS, Channel.BBO, Channel.TICKERS, Channel.MARK_PRICE, Channel.FUNDING)
_EMULATOR = """
import os, sys
os.sched_setaffinity(0, {{{cpu}}})
from pathlib import Path
from athena.app.sim_server import serve
data = Path(sys.argv[1]) if sys.argv[1] else None
serve(data, None, None, 0.0, 0, None, "crc32", ready=lambda i: print(i.url, flush=True), loop=True)
"""


def _cpus() -> tuple[int, int]:
    cpus = sorted(os.sched_getaffinity(0))
    return cpus[0], cpus[-1]  # the same core when there is only one


def _rss_mb() -> float:
    return psutil.Process().memory_info().rss / 2**20


async def run(seconds: float, data: Path | None, out: Path) -> dict[str, float]:
    rec_cpu, emu_cpu = _cpus()
    os.sched_setaffinity(0, {rec_cpu})
    emu = subprocess.Popen(
        [sys.executable, "-c", _EMULATOR.format(cpu=emu_cpu), str(data) if data else ""],
        cwd=ROOT, stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    try:
        assert emu.stdout is not None
        url = (await asyncio.to_thread(emu.stdout.readline)).decode().strip()
        if not url.startswith("http://"):
            raise RuntimeError(f"the emulator did not start (said {url!r})")
        ws = url.replace("http://", "ws://")
        settings = RecorderSettings(("BTC-USDT-SWAP",), CHANNELS, out, ws + "/ws/v5/public", ws + "/ws/v5/business",
                                    status_interval_s=3600, log_every_s=3600)  # fmt: skip
        baseline = _rss_mb()
        rec = Recorder(settings, {"BTC-USDT-SWAP": BTC_USDT_SWAP})
        stop = asyncio.Event()
        task = asyncio.create_task(rec.run(stop))
        await asyncio.wait_for(rec.running.wait(), 30)
        await asyncio.sleep(2.0)  # warm-up: connection, snapshot, the emulator's first windows
        me = psutil.Process()
        f0, r0, t0, c0 = rec.stats.frames, sum(c.rows for c in rec.stats.channels.values()), time.perf_counter(), \
            me.cpu_times()  # fmt: skip
        await asyncio.sleep(seconds)
        f1, r1, t1, c1 = rec.stats.frames, sum(c.rows for c in rec.stats.channels.values()), time.perf_counter(), \
            me.cpu_times()  # fmt: skip
        stop.set()
        report = await asyncio.wait_for(task, 120)
    finally:
        emu.terminate()
        try:
            emu.wait(10)
        except subprocess.TimeoutExpired:
            emu.kill()
    elapsed = t1 - t0
    cpu = (c1.user + c1.system - c0.user - c0.system) / elapsed
    return {
        "msgs_per_s": (f1 - f0) / elapsed,
        "rows_per_s": (r1 - r0) / elapsed,
        "seconds": elapsed,
        "recorder_cpu_share": cpu,
        "frames": report.frames,
        "journal_dropped": report.journal_dropped,
        "rows_dropped": report.rows_dropped,
        "bytes_written": report.bytes_written,
        "baseline_rss_mb": baseline,
    }


def ceiling(recorded: Path, out: Path) -> dict[str, float]:
    """Feed the recorded public frames through a fresh recorder's socket as fast as possible."""
    frames = [ln.raw for p in journal_files(recorded) if p.name.startswith("public-") for ln in read_journal(p)]
    settings = RecorderSettings(("BTC-USDT-SWAP",), CHANNELS, out, "ws://127.0.0.1:1/ws/v5/public",
                                "ws://127.0.0.1:1/ws/v5/business")  # fmt: skip
    rec = Recorder(settings, {"BTC-USDT-SWAP": BTC_USDT_SWAP})
    rec.open()
    sock = rec.add_socket("public")
    feed = sock.feed
    me = psutil.Process()
    c0, t0 = me.cpu_times(), time.perf_counter()
    next_handoff = t0 + settings.handoff_interval_s
    for i, f in enumerate(frames):
        feed(f)
        if i & 255 == 0 and time.perf_counter() >= next_handoff:
            rec.handoff()
            next_handoff += settings.handoff_interval_s
    rec.handoff()
    t1, c1 = time.perf_counter(), me.cpu_times()
    report = rec.close()
    elapsed = t1 - t0
    return {"msgs_per_s": len(frames) / elapsed, "frames": len(frames), "seconds": elapsed,
            "cpu_share": (c1.user + c1.system - c0.user - c0.system) / elapsed, "rows_dropped": report.rows_dropped,
            "journal_dropped": report.journal_dropped}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--data", type=Path, default=None, help="catalog root to serve (default: data/sample)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="athena-bench-record-") as tmp:
        r = asyncio.run(run(args.seconds, args.data, Path(tmp) / "live"))
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
        c = ceiling(Path(tmp) / "live", Path(tmp) / "ceiling")
    print(json.dumps({"bench": "recorder_ingest", "msgs_per_s": round(r["msgs_per_s"]),
                      "rows_per_s": round(r["rows_per_s"]), "seconds": round(r["seconds"], 1),
                      "recorder_cpu_share": round(r["recorder_cpu_share"], 2), "frames": r["frames"],
                      "journal_dropped": r["journal_dropped"], "rows_dropped": r["rows_dropped"],
                      "bytes_written": r["bytes_written"]}))  # fmt: skip
    print(json.dumps({"bench": "recorder_ceiling", "msgs_per_s": round(c["msgs_per_s"]), "frames": c["frames"],
                      "seconds": round(c["seconds"], 1), "cpu_share": round(c["cpu_share"], 2),
                      "rows_dropped": c["rows_dropped"], "journal_dropped": c["journal_dropped"]}))  # fmt: skip
    print(json.dumps({"bench": "recorder_rss", "peak_rss_mb": round(peak, 1),
                      "baseline_rss_mb": round(r["baseline_rss_mb"], 1)}))  # fmt: skip


if __name__ == "__main__":
    main()
