"""A tiny, seeded BTC-USDT-SWAP catalog for end-to-end tests of the backtest (minutes, not hours).

The book is a random walk of a few hundred levels with multi-level update messages; trades hit the
touch and shrink it. It is deliberately simple: the realistic generator is athena/sim/synthetic.py.
"""

from __future__ import annotations

import random
from pathlib import Path

from athena.catalog.writer import CatalogWriter
from athena.model.enums import Channel
from athena.model.instrument import BTC_USDT_SWAP
from athena.sim.synthetic import toy_book_step

T0 = 1_704_153_600_000_000_000 - 300 * 1_000_000_000  # 2024-01-01T23:55:00Z


def make_tiny_catalog(root: Path, seconds: int = 120, seed: int = 7, msgs_per_s: int = 10) -> Path:
    rng = random.Random(seed)
    inst = BTC_USDT_SWAP.inst_id
    mid = 420_000  # 42000.0 in ticks
    bids = {mid - i: rng.randint(1, 400) for i in range(1, 60)}
    asks = {mid + i: rng.randint(1, 400) for i in range(1, 60)}
    books: dict[str, list] = {k: [] for k in ("ts_event", "ts_recv", "msg_id", "action", "side", "price",
                                              "size", "seq_id", "prev_seq_id", "checksum", "last_in_msg")}
    trades: dict[str, list] = {k: [] for k in ("ts_event", "ts_recv", "trade_id", "price", "size", "side")}
    msg = 0
    seq = 100

    def emit(ts: int, action: int, rows: list[tuple[int, int, int]]) -> None:
        nonlocal msg, seq
        msg += 1
        recv = ts + rng.randint(2, 20) * 1_000_000
        prev = -1 if action == 1 else seq
        seq += 1
        for k, (side, px, sz) in enumerate(rows):
            books["ts_event"].append(ts)
            books["ts_recv"].append(recv)
            books["msg_id"].append(msg)
            books["action"].append(action)
            books["side"].append(side)
            books["price"].append(px)
            books["size"].append(sz)
            books["seq_id"].append(seq)
            books["prev_seq_id"].append(prev)
            books["checksum"].append(None)
            books["last_in_msg"].append(k == len(rows) - 1)

    snapshot = [(0, p, s) for p, s in sorted(bids.items(), reverse=True)]
    emit(T0, 1, snapshot + [(1, p, s) for p, s in sorted(asks.items())])
    trade_id = 1
    step = 1_000_000_000 // msgs_per_s
    for n in range(1, seconds * msgs_per_s):
        ts = T0 + n * step
        rows, step_trades = toy_book_step(rng, bids, asks)
        for side, touch, take, delay_ms in step_trades:
            trades["ts_event"].append(ts - 500_000)
            trades["ts_recv"].append(ts - 500_000 + delay_ms * 1_000_000)
            trades["trade_id"].append(trade_id)
            trades["price"].append(touch)
            trades["size"].append(take)
            trades["side"].append(side)
            trade_id += 1
        if rows:
            emit(ts, 0, rows)
    with CatalogWriter(root, "okx", instruments=[BTC_USDT_SWAP]) as w:
        w.write(Channel.BOOKS, inst, books)
        w.write(Channel.TRADES, inst, trades)
    return root
