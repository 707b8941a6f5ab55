"""Helper process for the writer's crash test (not a test module): flush small parts forever.

Usage: ``python crash_writer.py ROOT VENUE ROWS_PER_PART [HANG_AT]``. Writes trades with
``trade_id`` 0, 1, 2 … in parts of ROWS_PER_PART rows (one flush per write) and prints the part
count after each flush. With HANG_AT, the HANG_AT-th part's temp file is written and fsynced but
its rename never happens: the process prints ``hanging`` and sleeps, so the parent's SIGKILL is
certain to land mid-write. The parent kills it; it never exits by itself.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from athena.catalog.writer import CatalogWriter
from athena.model.enums import Channel
from athena.model.instrument import BTC_USDT_SWAP

T0 = 1_719_360_000_000_000_000  # 2024-06-26 00:00:00 UTC


def main() -> None:
    root, venue, rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
    hang_at = int(sys.argv[4]) if len(sys.argv) > 4 else -1
    real_replace = os.replace
    parts = 0

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        if str(src).endswith(".parquet.tmp") and parts + 1 == hang_at:
            print("hanging", flush=True)
            time.sleep(3600)
        real_replace(src, dst)

    os.replace = replace  # type: ignore[assignment]
    w = CatalogWriter(root, venue, max_rows=rows, instruments=[BTC_USDT_SWAP])
    i = 0
    while True:
        ids = list(range(i, i + rows))
        w.write(
            Channel.TRADES,
            "BTC-USDT-SWAP",
            {
                "ts_event": [T0 + k * 1_000_000 for k in ids],
                "ts_recv": [T0 + k * 1_000_000 + 3_000_000 for k in ids],
                "trade_id": ids,
                "price": [600_000 + k % 1000 for k in ids],
                "size": [1 + k % 50 for k in ids],
                "side": [k % 2 for k in ids],
            },
        )
        i += rows
        parts += 1
        print(parts, flush=True)


if __name__ == "__main__":
    main()
