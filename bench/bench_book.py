"""Benchmark of ``L2Book.set_level``: 1 M level changes around a wandering mid, one JSON line out.

Owns: the figure ``{"bench": "book_set_level", "rows_per_s": ...}`` (DESIGN.md §10: profile the
book before and after changing it). Never: writes files or touches the network.
Run from the project root: ``.venv/bin/python bench/bench_book.py [rows]``.
"""

from __future__ import annotations

import json
import random
import sys
import time
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from athena.book.l2 import L2Book
from athena.core.ports import ASK, BID, NO_ASK, NO_BID
from athena.model.instrument import InstrumentSpec

SPEC = InstrumentSpec(inst_id="BTC-USDT-SWAP", tick_sz=Decimal("0.1"), lot_sz=Decimal("0.01"), min_sz=Decimal("0.01"))


def make_rows(n: int, seed: int = 7) -> tuple[list[int], list[int], list[int], int]:
    """Level changes like a books feed's: mostly near the touch, ~30 % deletes, a drifting mid, and
    15 % of rows aimed at the current best level (60 % of those delete it, forcing the scan).
    Returns the three columns and how many rows delete a best level."""
    rng = random.Random(seed)
    shadow = L2Book(SPEC)  # generation only (not timed): knows the best levels the rows will hit
    sides: list[int] = []
    ticks: list[int] = []
    lots: list[int] = []
    best_deletes = 0
    mid = 600_000  # 60,000.0 at tick 0.1
    for _ in range(n):
        if rng.random() < 0.01:
            mid += rng.choice((-1, 1))
        side = BID if rng.random() < 0.5 else ASK
        best = shadow.best_bid if side == BID else shadow.best_ask
        if rng.random() < 0.15 and best not in (NO_BID, NO_ASK):
            p = best
            q = 0 if rng.random() < 0.6 else rng.randint(1, 5_000)
            best_deletes += q == 0
        else:
            off = 1 + min(int(rng.expovariate(0.08)), 400)  # mean ~12 ticks from mid, 400 levels at most
            p = mid - off if side == BID else mid + off
            q = 0 if rng.random() < 0.3 else rng.randint(1, 5_000)
        shadow.set_level(side, p, q)
        sides.append(side)
        ticks.append(p)
        lots.append(q)
    return sides, ticks, lots, best_deletes


def main(n: int = 1_000_000) -> dict[str, object]:
    sides, ticks, lots, best_deletes = make_rows(n)
    book = L2Book(SPEC)
    set_level = book.set_level
    t0 = time.perf_counter()
    for i in range(n):
        set_level(sides[i], ticks[i], lots[i])
    dt = time.perf_counter() - t0
    assert book.best_bid == max(book.bids) and book.best_ask == min(book.asks)
    return {
        "bench": "book_set_level",
        "rows": n,
        "seconds": round(dt, 4),
        "rows_per_s": round(n / dt),
        "ns_per_row": round(dt / n * 1e9, 1),
        "best_deletes": best_deletes,
        "levels": [len(book.bids), len(book.asks)],
        "python": sys.version.split()[0],
    }


if __name__ == "__main__":
    print(json.dumps(main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)))
