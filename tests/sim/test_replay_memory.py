"""Memory stays flat in the length of the replayed range (DESIGN.md §10 rule 1)."""

from __future__ import annotations

from pathlib import Path

import psutil
import pyarrow as pa

from athena.book.l2 import L2Book
from athena.catalog.reader import Catalog
from athena.catalog.stream import merge_windows, sources_for
from athena.catalog.writer import CatalogWriter
from athena.core.bus import EventBus
from athena.core.clock import SimClock
from athena.model.enums import Channel
from athena.model.instrument import BTC_USDT_SWAP
from athena.sim.replay import Replay

DAY = 86_400_000_000_000
T0 = 1_704_067_200_000_000_000  # 2024-01-01T00:00:00Z
ROWS_PER_DAY = 40_000


def write_days(root: Path, days: int) -> None:
    """A book of 200 levels per side, rewritten level by level, 40,000 rows a day."""
    step = DAY // ROWS_PER_DAY
    with CatalogWriter(root, "okx", instruments=[BTC_USDT_SWAP], max_rows=20_000) as w:
        for d in range(days):
            n = ROWS_PER_DAY
            ts = [T0 + d * DAY + k * step for k in range(n)]
            cols = {
                "ts_event": ts,
                "ts_recv": [t + 5_000_000 for t in ts],
                "msg_id": [d * n + k // 10 for k in range(n)],
                "action": [1 if (k < 400 and d == 0) else 0 for k in range(n)],
                "side": [(k // 200) % 2 for k in range(n)],
                "price": [420_000 - 1 - (k % 200) if (k // 200) % 2 == 0 else 420_000 + (k % 200) for k in range(n)],
                "size": [1 + (k * 7919) % 500 for k in range(n)],
                "seq_id": [None] * n,
                "prev_seq_id": [None] * n,
                "checksum": [None] * n,
                "last_in_msg": [k % 10 == 9 or (d == 0 and k == 399) for k in range(n)],
            }
            # the first day starts with a 400-row snapshot message: msg ids of its rows agree
            if d == 0:
                cols["msg_id"] = [0 if k < 400 else d * n + k // 10 + 1 for k in range(n)]
                cols["last_in_msg"] = [k == 399 if k < 400 else k % 10 == 9 for k in range(n)]
            w.write(Channel.BOOKS, BTC_USDT_SWAP.inst_id, cols)


def replay_peaks(root: Path) -> tuple[int, int, int]:
    """(rows, peak Arrow bytes, peak RSS growth) over a whole replay of the catalog."""
    sources, specs = sources_for(Catalog(root), "okx", [BTC_USDT_SWAP.inst_id], [Channel.BOOKS], None, None)
    spec = specs[BTC_USDT_SWAP.inst_id]
    clock = SimClock(0)
    proc = psutil.Process()
    base_rss = proc.memory_info().rss
    peaks = [0, 0]

    def progress(rows: int, _now: int) -> None:
        peaks[0] = max(peaks[0], pa.total_allocated_bytes())
        peaks[1] = max(peaks[1], proc.memory_info().rss - base_rss)

    replay = Replay(clock, EventBus(clock.now_ns), [L2Book(spec)], [None], exchange_books=[L2Book(spec)],
                    progress=progress)
    stats = replay.run(merge_windows(sources, batch_rows=8_192), start_ns=0)
    return stats.rows, peaks[0], peaks[1]


def test_a_four_times_longer_range_needs_no_more_memory(tmp_path):
    write_days(tmp_path / "one", 1)
    write_days(tmp_path / "four", 4)
    rows1, arrow1, _ = replay_peaks(tmp_path / "one")
    rows4, arrow4, rss4 = replay_peaks(tmp_path / "four")
    assert (rows1, rows4) == (ROWS_PER_DAY, 4 * ROWS_PER_DAY)
    # Arrow buffers in flight are a few batches, whatever the range: bounded, and not 4x
    assert arrow4 < 16 * 1024 * 1024
    assert arrow4 <= arrow1 * 1.5 + 1024 * 1024
    # and the process grows by far less than the data it replayed would take as Python objects
    assert rss4 < 64 * 1024 * 1024
