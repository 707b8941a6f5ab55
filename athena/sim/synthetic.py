"""A seeded generator of realistic synthetic OKX BTC-USDT-SWAP market data, written to a catalog.

Owns: ``generate`` — from one ``random.Random(seed)`` and nothing else (no wall clock, no hash
order, no global state), the same catalog rows every run: a mid price random walk with volatility
clustering (a Markov chain of calm / normal / hot regimes times a GARCH-like multiplier);
trades arriving in bursts (a discretised Hawkes process: every trade raises the intensity, which
decays), the taker side leaning with the short-term drift, sizes heavy-tailed (Pareto) in lots,
each taker order consuming the touch level by level (one trade row per price, as OKX's trades
channel pushes) and moving the mid; an L2 book of ~130–170 levels per side whose update
messages — pushed on OKX's ``books`` 100 ms cadence, more often when the market is busy — carry
the net change of tens of levels each (never one row per message: DESIGN.md §5), with a seqId
chain (prevSeqId = the previous seqId, steps of several units as OKX's are) and OKX's real CRC32
checksum of the book after the message (``L2Book.checksum``); a varying feed latency (mostly
2–30 ms, sometimes 50–250 ms) on one connection, so ``ts_recv`` never runs backwards across
channels; ``funding`` rows about once a minute with the rate in force for the next settlement;
``mark_price`` rows about once a second; a snapshot message at the start and a flagged checkpoint
of the book at the start of every later ``date=`` partition.
Never: reads the clock, uses an unseeded random source, or writes anything but through
``CatalogWriter`` (so the files follow the catalog's schema and layout exactly).

The default window, 2024-01-01T22:45:00Z → 2024-01-02T01:15:00Z, crosses 00:00 UTC: a funding
time and a ``date=`` partition boundary at once. ``scripts/make_sample.py`` writes it to
``data/sample/``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from pathlib import Path

from athena.book.l2 import L2Book
from athena.catalog.importers import BOOK_COLUMNS, BookTrack, checkpoint_rows
from athena.catalog.schema import BookRowAction, TakerSide
from athena.catalog.writer import NS_PER_DAY, CatalogWriter
from athena.core.ports import ASK, BID
from athena.model.enums import Channel
from athena.model.instrument import BTC_USDT_SWAP, InstrumentSpec

__all__ = ["DEFAULT_END_NS", "DEFAULT_SEED", "DEFAULT_START_NS", "SyntheticSummary", "generate", "toy_book_step"]

MS = 1_000_000
SECOND = 1_000 * MS
HOUR = 3_600 * SECOND
DEFAULT_START_NS = 1_704_149_100 * SECOND  # 2024-01-01T22:45:00Z
DEFAULT_END_NS = 1_704_158_100 * SECOND  # 2024-01-02T01:15:00Z
DEFAULT_SEED = 20_240_101
FUNDING_INTERVAL_NS = 8 * HOUR

SLOT_NS = 100 * MS  # OKX books channel cadence
_FLUSH_ROWS = 200_000  # rows buffered here before they are handed to the writer

# Regimes: calm, normal, hot. Per 100 ms slot: mid σ (ticks), chance the book pushes, mean
# number of away-from-touch level changes; per second: baseline trade intensity.
_SIGMA = (1.2, 2.4, 5.0)
_PUBLISH = (0.35, 0.5, 0.8)
_CHURN = (7.0, 10.0, 16.0)
_MU_TRADES = (0.9, 2.2, 6.0)
_REGIME_STAY = 0.985  # per second
_HAWKES_JUMP = 0.9  # intensity added per trade (1/s)
_HAWKES_DECAY = 2.0  # 1/s; branching ratio 0.45
_MIN_LEVELS, _MAX_LEVELS = 130, 170


@dataclass(slots=True)
class SyntheticSummary:
    """Rows written per channel, book messages and their level changes, the window and seed."""

    rows: dict[Channel, int] = field(default_factory=dict)
    book_messages: int = 0
    book_update_rows: int = 0
    checkpoints: int = 0
    start_ns: int = 0
    end_ns: int = 0
    seed: int = 0

    @property
    def mean_levels_per_update(self) -> float:
        updates = self.book_messages - 1  # the first message is the snapshot
        return self.book_update_rows / updates if updates > 0 else 0.0


class _Gen:
    """The generator's state; one instance per run (all randomness from ``self.rng``)."""

    def __init__(self, writer: CatalogWriter, spec: InstrumentSpec, seed: int, start_ns: int, end_ns: int) -> None:
        self.w = writer
        self.spec = spec
        self.inst = spec.inst_id
        self.rng = random.Random(seed)
        self.start_ns = start_ns
        self.end_ns = end_ns
        self.book = L2Book(spec)
        self.summary = SyntheticSummary(start_ns=start_ns, end_ns=end_ns, seed=seed)
        self.mid = 421_503.0  # 42,150.3 USDT in ticks
        self.regime = 1
        self.vol = 1.0  # GARCH-like multiplier
        self.hawkes = 0.0
        self.recent: list[float] = [self.mid] * 11  # mid at the last 11 slot ends (1 s of drift)
        self.trade_id = 1_051_234_567
        self.seq_id = 3_701_234_567
        self.msg_id = 0
        self.last_recv = 0
        self.last_book_te = start_ns
        self.pending: dict[tuple[int, int], int] = {}  # (side, ticks) -> size at the last push
        self.book_day: int | None = None
        self.basis = 0.0
        self.rate = 0.000_102_5
        self.books: dict[str, list[object]] = {k: [] for k in BOOK_COLUMNS}
        self.trades: dict[str, list[object]] = {k: [] for k in ("ts_event", "ts_recv", "trade_id", "price", "size",
                                                                "side")}  # fmt: skip
        self.marks: dict[str, list[object]] = {"ts_event": [], "ts_recv": [], "mark_price": []}
        self.funding: dict[str, list[object]] = {k: [] for k in ("ts_event", "ts_recv", "funding_rate",
                                                                 "next_funding_rate", "funding_time",
                                                                 "next_funding_time")}  # fmt: skip

    # -- random pieces ----------------------------------------------------------------------------

    def latency(self) -> int:
        rng = self.rng
        if rng.random() < 0.004:
            return rng.randint(50_000, 250_000) * 1_000  # a stall: 50–250 ms
        return min(30_000, 2_000 + int(rng.lognormvariate(8.4, 0.55))) * 1_000  # mostly 2–30 ms (µs grain)

    def recv(self, ts_event: int) -> int:
        """One connection: arrival order is push order, so ts_recv never runs backwards."""
        t = max(self.last_recv, ts_event + self.latency())
        self.last_recv = t
        return t

    def poisson(self, lam: float) -> int:
        limit = math.exp(-lam)
        k = 0
        p = self.rng.random()
        while p > limit:
            k += 1
            p *= self.rng.random()
        return k

    def level_size(self, distance: int) -> int:
        """Lots resting at a level ``distance`` ticks behind the touch (grows with depth)."""
        return 1 + int(self.rng.lognormvariate(7.2 + min(distance, 400) * 0.005, 1.1))

    # -- book edits (each remembers the level's size at the last push) -----------------------------

    def set(self, side: int, ticks: int, lots: int) -> None:
        book = self.book
        key = (side, ticks)
        if key not in self.pending:
            self.pending[key] = (book.asks if side else book.bids).get(ticks, 0)
        book.set_level(side, ticks, lots)

    def fill_gap(self, side: int, frm: int, to: int) -> None:
        """New levels between the old touch and the new one (the market moved away from it)."""
        step = 1 if to >= frm else -1
        for p in range(frm, to + step, step):
            if p == to or self.rng.random() < 0.8:
                self.set(side, p, self.level_size(abs(to - p)))

    def align_touch(self) -> None:
        """Make the book's touch follow the mid: cancel levels the mid crossed, add new ones."""
        book = self.book
        spread = 1 if self.regime < 2 or self.rng.random() < 0.7 else self.rng.randint(2, 4)
        bid_t = math.floor(self.mid - (spread - 1) / 2)
        ask_t = bid_t + spread
        while book.bids and book.best_bid > bid_t:
            self.set(BID, book.best_bid, 0)
        while book.asks and book.best_ask < ask_t:
            self.set(ASK, book.best_ask, 0)
        if not book.bids or book.best_bid < bid_t:
            self.fill_gap(BID, book.best_bid + 1 if book.bids else bid_t, bid_t)
        if not book.asks or book.best_ask > ask_t:
            self.fill_gap(ASK, book.best_ask - 1 if book.asks else ask_t, ask_t)

    def churn(self, n: int) -> None:
        """``n`` changes away from and at the touch: new orders, cancels, partial cancels."""
        rng = self.rng
        book = self.book
        for _ in range(n):
            side = BID if rng.random() < 0.5 else ASK
            d = min(int(rng.expovariate(1 / 14.0)), 320)
            lv = book.asks if side else book.bids
            if not lv:
                continue
            p = book.best_ask + d if side else book.best_bid - d
            cur = lv.get(p, 0)
            if cur:
                r = rng.random()
                if r < 0.4 and d > 0:
                    self.set(side, p, 0)
                elif r < 0.7:
                    self.set(side, p, cur + self.level_size(d) // 3 + 1)
                else:
                    self.set(side, p, max(1, int(cur * rng.uniform(0.2, 0.95))))
            else:
                self.set(side, p, self.level_size(d))

    def keep_depth(self) -> None:
        """Hold ~130–170 levels a side: far levels leave the pushed depth or come into it."""
        book = self.book
        for side in (BID, ASK):
            lv = book.asks if side else book.bids
            if len(lv) > _MAX_LEVELS:
                far = sorted(lv, reverse=side == ASK)[: len(lv) - _MAX_LEVELS + 10]
                for p in far:
                    self.set(side, p, 0)
            elif len(lv) < _MIN_LEVELS:
                edge = max(lv) if side == ASK else min(lv)
                step = 1 if side == ASK else -1
                p = edge
                while len(lv) < _MIN_LEVELS + 10:
                    p += step * (1 + int(self.rng.expovariate(0.7)))
                    self.set(side, p, self.level_size(abs(p - (book.best_ask if side else book.best_bid))))

    # -- trades -----------------------------------------------------------------------------------

    def take(self, ts: int, side: TakerSide) -> None:
        """One taker order: consumes the touch level by level; one trade row per price."""
        rng = self.rng
        book = self.book
        want = min(int(40 * rng.paretovariate(1.3)), 400_000)
        lv_side = ASK if side is TakerSide.BUY else BID
        lv = book.asks if lv_side else book.bids
        recv = self.recv(ts)
        levels = 0
        while want > 0 and lv and levels < 4:
            p = book.best_ask if lv_side else book.best_bid
            avail = lv[p]
            q = min(want, avail)
            t = self.trades
            t["ts_event"].append(ts)
            t["ts_recv"].append(recv)
            t["trade_id"].append(self.trade_id)
            t["price"].append(p)
            t["size"].append(q)
            t["side"].append(int(side))
            self.trade_id += 1
            self.set(lv_side, p, avail - q)
            want -= q
            levels += 1
        # Price impact: the mid leans towards the side that was taken.
        sign = 1.0 if side is TakerSide.BUY else -1.0
        self.mid += sign * min(3.0, 0.15 + 0.4 * levels)

    def trade_slot(self, t0: int) -> None:
        rng = self.rng
        lam = (_MU_TRADES[self.regime] + self.hawkes) * (SLOT_NS / SECOND)
        n = self.poisson(lam)
        self.hawkes *= math.exp(-_HAWKES_DECAY * SLOT_NS / SECOND)
        if not n:
            return
        drift = (self.mid - self.recent[0]) / (_SIGMA[self.regime] * 3.2)
        p_buy = min(0.85, max(0.15, 1 / (1 + math.exp(-1.2 * drift))))
        offsets = sorted(rng.randrange(0, SLOT_NS // MS) for _ in range(n))
        for off in offsets:
            side = TakerSide.BUY if rng.random() < p_buy else TakerSide.SELL
            self.take(t0 + off * MS, side)
            self.hawkes += _HAWKES_JUMP

    # -- pushes -----------------------------------------------------------------------------------

    def push_book(self, ts: int, snapshot: bool = False) -> None:
        book = self.book
        if snapshot:
            rows = [(BID, p, book.bids[p]) for p in sorted(book.bids, reverse=True)]
            rows += [(ASK, p, book.asks[p]) for p in sorted(book.asks)]
        else:
            rows = []
            for (side, p), before in self.pending.items():
                now = (book.asks if side else book.bids).get(p, 0)
                if now != before:
                    rows.append((side, p, now))
            rows.sort(key=lambda r: (r[0], -r[1] if r[0] == BID else r[1]))
        if not rows:
            self.pending.clear()
            return
        recv = self.recv(ts)
        day = recv // NS_PER_DAY
        if self.book_day is not None and day != self.book_day and not snapshot:
            self.checkpoint(recv)
        self.book_day = day
        prev = -1 if snapshot else self.seq_id
        self.seq_id += self.rng.randint(3, 60)
        self.msg_id += 1
        cs = book.checksum()
        n = len(rows)
        b = self.books
        b["ts_event"] += [ts] * n
        b["ts_recv"] += [recv] * n
        b["msg_id"] += [self.msg_id] * n
        b["action"] += [int(BookRowAction.SNAPSHOT if snapshot else BookRowAction.UPDATE)] * n
        b["side"] += [r[0] for r in rows]
        b["price"] += [r[1] for r in rows]
        b["size"] += [r[2] for r in rows]
        b["seq_id"] += [self.seq_id] * n
        b["prev_seq_id"] += [prev] * n
        b["checksum"] += [None] * (n - 1) + [cs]
        b["last_in_msg"] += [False] * (n - 1) + [True]
        self.summary.book_messages += 1
        if not snapshot:
            self.summary.book_update_rows += n
        self.pending.clear()
        self.last_book_te = ts
        self.flush_if_big()

    def checkpoint(self, recv: int) -> None:
        """The book as of the last push (the live book minus this push's pending changes), flagged,
        at the head of the new partition."""
        book = self.book
        bids, asks = dict(book.bids), dict(book.asks)
        for (side, p), before in self.pending.items():
            lv = asks if side else bids
            if before:
                lv[p] = before
            else:
                lv.pop(p, None)
        check = L2Book(self.spec)
        check.apply_snapshot(bids.items(), asks.items())
        track = BookTrack(bids=bids, asks=asks, ready=True, seq_id=self.seq_id, ts_event=self.last_book_te,
                          next_msg_id=self.msg_id + 1)  # fmt: skip
        rows = checkpoint_rows(track, recv, checksum=check.checksum())
        self.msg_id = track.next_msg_id - 1
        for k, v in rows.items():
            self.books[k] += v
        self.summary.checkpoints += 1

    def push_mark(self, ts: int) -> None:
        self.basis = 0.98 * self.basis + self.rng.gauss(0, 0.6)
        self.marks["ts_event"].append(ts)
        self.marks["ts_recv"].append(self.recv(ts))
        self.marks["mark_price"].append(round(self.mid + self.basis))

    def push_funding(self, ts: int) -> None:
        self.rate = min(0.000_375, max(-0.000_375, self.rate + self.rng.gauss(0, 0.000_000_8)))
        f = self.funding
        funding_time = (ts // FUNDING_INTERVAL_NS + 1) * FUNDING_INTERVAL_NS
        f["ts_event"].append(ts)
        f["ts_recv"].append(self.recv(ts))
        f["funding_rate"].append(float(f"{self.rate:.8f}"))  # OKX publishes rates as short decimals
        f["next_funding_rate"].append(None)
        f["funding_time"].append(funding_time)
        f["next_funding_time"].append(funding_time + FUNDING_INTERVAL_NS)

    # -- the run ----------------------------------------------------------------------------------

    def initial_book(self) -> None:
        bid_t = math.floor(self.mid)
        for side, touch in ((BID, bid_t), (ASK, bid_t + 1)):
            step = -1 if side == BID else 1
            p = touch
            for i in range(150):
                self.book.set_level(side, p, self.level_size(abs(p - touch)))
                p += step * (1 if i < 25 else 1 + int(self.rng.expovariate(0.6)))

    def run(self) -> SyntheticSummary:
        rng = self.rng
        self.initial_book()
        self.push_funding(self.start_ns + 3 * MS)
        self.push_book(self.start_ns, snapshot=True)
        t = self.start_ns
        next_mark = self.start_ns + SECOND + 200 * MS
        next_funding = self.start_ns + 60 * SECOND
        slot = 0
        while t + SLOT_NS <= self.end_ns:
            if slot % 10 == 0 and rng.random() > _REGIME_STAY:  # once a second: regime switching
                self.regime = max(0, min(2, self.regime + (1 if rng.random() < 0.5 else -1)))
            self.trade_slot(t)
            r = rng.gauss(0, _SIGMA[self.regime] * self.vol)
            self.vol = min(3.0, max(0.5, 0.97 * self.vol + 0.03 * (0.4 + 0.6 * abs(r) / _SIGMA[self.regime])))
            self.mid += r
            self.align_touch()
            self.churn(self.poisson(_CHURN[self.regime]))
            self.keep_depth()
            t += SLOT_NS
            self.recent = [*self.recent[1:], self.mid]
            if self.pending and rng.random() < _PUBLISH[self.regime]:
                self.push_book(t)
            while next_mark <= t:
                self.push_mark(next_mark)
                next_mark += SECOND + rng.randint(-40, 40) * MS
            while next_funding <= t:
                self.push_funding(next_funding)
                next_funding += 60 * SECOND + rng.randint(-20_000, 20_000) * MS
            slot += 1
        self.flush()
        return self.summary

    def flush_if_big(self) -> None:
        if len(self.books["ts_event"]) >= _FLUSH_ROWS:
            self.flush()

    def flush(self) -> None:
        for channel, cols in ((Channel.BOOKS, self.books), (Channel.TRADES, self.trades),
                              (Channel.MARK_PRICE, self.marks), (Channel.FUNDING, self.funding)):  # fmt: skip
            n = len(cols["ts_event"])
            if n:
                self.w.write(channel, self.inst, cols)
                self.summary.rows[channel] = self.summary.rows.get(channel, 0) + n
                for v in cols.values():
                    v.clear()


def generate(
    root: str | Path,
    *,
    start_ns: int = DEFAULT_START_NS,
    end_ns: int = DEFAULT_END_NS,
    seed: int = DEFAULT_SEED,
    venue: str = "okx",
    spec: InstrumentSpec = BTC_USDT_SWAP,
) -> SyntheticSummary:
    """Write ``[start_ns, end_ns)`` of synthetic ``spec`` data under ``root/venue``; the same
    arguments give the same rows (and, with the same pyarrow, the same bytes). One part file per
    (channel, day): the writer buffers everything until it closes."""
    if end_ns <= start_ns + SLOT_NS:
        raise ValueError(f"window too short: {start_ns} .. {end_ns} ns (at least one 100 ms slot)")
    with CatalogWriter(root, venue, instruments=[spec], max_rows=50_000_000, max_age_ns=2 * NS_PER_DAY) as w:
        return _Gen(w, spec, seed, start_ns, end_ns).run()


ToyTrade = tuple[int, int, int, int]  # (taker side 0 buy / 1 sell, ticks, lots, receive delay in ms)


def toy_book_step(
    rng: random.Random, bids: dict[int, int], asks: dict[int, int]
) -> tuple[list[tuple[int, int, int]], list[ToyTrade]]:
    """One step of the toy walk behind small test slices (not the realistic generator above).

    The touch moves one tick half of the time: one to three trades take the touched level, which
    goes, a new level appears on the other side and one far away; then 3-12 levels churn within
    40 ticks of the touch. Mutates ``bids``/``asks``; returns the book rows (side, ticks, lots;
    lots 0 deletes) and the trades, drawing from ``rng`` in a fixed order."""
    rows: list[tuple[int, int, int]] = []
    trades: list[ToyTrade] = []
    drift = rng.choice((-1, 0, 0, 1))
    if drift:
        side = 0 if drift > 0 else 1  # a buyer-taker lifts the ask
        touch = min(asks) if drift > 0 else max(bids)
        lots = (asks if drift > 0 else bids)[touch]
        for _ in range(rng.randint(1, 3)):
            trades.append((side, touch, max(1, lots // 3), rng.randint(2, 20)))
        if drift > 0:
            del asks[touch]
            rows.append((1, touch, 0))
            nb = touch - 1
            bids[nb] = rng.randint(1, 300)
            rows.append((0, nb, bids[nb]))
            far = max(asks) + 1
            asks[far] = rng.randint(1, 400)
            rows.append((1, far, asks[far]))
        else:
            del bids[touch]
            rows.append((0, touch, 0))
            na = touch + 1
            asks[na] = rng.randint(1, 300)
            rows.append((1, na, asks[na]))
            far = min(bids) - 1
            bids[far] = rng.randint(1, 400)
            rows.append((0, far, bids[far]))
    for _ in range(rng.randint(3, 12)):
        side = rng.randint(0, 1)
        book = asks if side else bids
        touch = min(asks) if side else max(bids)
        px = touch + rng.randint(1, 40) * (1 if side else -1)
        sz = rng.choice((0, rng.randint(1, 500)))
        if sz:
            book[px] = sz
        elif px in book:
            del book[px]
        else:
            continue
        rows.append((side, px, sz))
    return rows, trades
