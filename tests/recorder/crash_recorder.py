"""A recorder process for tests/recorder/test_crash.py: ``python -m tests.recorder.crash_recorder ROOT URL``.

Runs ``athena.app.record.run_record`` (the CLI's blocking entry) against the emulator at URL, writing
under ROOT, until SIGINT / SIGTERM (a clean stop: prints the report as one JSON line, exits 0) or
SIGKILL (the crash the test makes). ``--part-max-age S`` shortens the catalog's part age so that a
short run leaves parts behind.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from athena.app.record import run_record
from athena.config.models import AthenaConfig

FAST_WS = {"backoff_initial_s": 0.05, "backoff_max_s": 0.2, "ping_interval_s": 5.0, "watchdog_s": 10.0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("root", type=Path)
    ap.add_argument("url")
    ap.add_argument("--inst", default="BTC-USDT-SWAP")
    ap.add_argument("--channels", default="trades,books")
    ap.add_argument("--part-max-age", type=float, default=1.0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    report = run_record(args.inst, args.channels, args.root, args.url, AthenaConfig(), status=False,
                        limits={"ws_options": FAST_WS, "part_max_age_s": args.part_max_age})  # fmt: skip
    if report is None:
        return 130
    print(json.dumps({"frames": report.frames, "journal_lines": report.journal_lines,
                      "rows": {ch.dirname: n for ch, n in report.rows.items()},
                      "sessions": {k.value: n for k, n in report.sessions.items()}}), flush=True)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
