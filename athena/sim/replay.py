"""The backtest loop of DESIGN.md §10: windows of catalog rows → both books, the heap, dispatch.

Owns: walking the merged rows on two timelines. The exchange side applies each row at its
exchange time ``te`` to the exchange-side book and, only when our orders could be touched,
calls the instrument's ``SimMarket`` hooks. The local side applies the same rows (a lagging
index over the same lists, rule 8) to the local book at ``tl`` and dispatches one BOOK_EVENT per
book message and one TICK per trade through the bus. Between rows it runs the SimClock's heap
(exchange responses, order arrivals, timers). At one instant: the exchange row, then due heap
items, then the local row (§1). The clock is set only when control leaves the loop (rule 7).
Never: builds an object per row, reads the wall clock (progress gets sim time and row counts; the
caller measures speed), or lets the local side see a row before the exchange side applied it
(``tl >= te`` is enforced by the merge, so the lagging index can never pass the leading one).

Book rows are applied in place (rule 3) by the same few lines on both sides; they are written
out twice on purpose, since a call per row would cost more than the rest of the row's work.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from athena.catalog.stream import (
    F_EOM,
    F_SNAP,
    INST_SHIFT,
    K_BOOK,
    K_CHECKPOINT,
    K_FUNDING,
    K_MARK,
    KIND_MASK,
    Window,
)
from athena.core.bus import EventBus
from athena.core.clock import SimClock
from athena.core.events import BookEvent, FundingEvent, MarkPriceEvent, TickEvent
from athena.core.ports import NO_ASK, NO_BID
from athena.model.enums import Side

_SCAN = 32  # empty ticks scanned for the next best level before falling back to max()/min()
_INF = 1 << 62
_SIDES = (Side.BUY, Side.SELL)


class KindLevels:
    """ChangedLevels over a slice of the current window (side from the packed kind). Reused."""

    __slots__ = ("_kd", "_lt", "_start", "_stop", "_tk")

    def __init__(self) -> None:
        self._kd: list[int] = []
        self._tk: list[int] = []
        self._lt: list[int] = []
        self._start = 0
        self._stop = 0

    def __len__(self) -> int:
        return self._stop - self._start

    def side(self, i: int) -> int:
        return self._kd[self._start + i] & 1

    def ticks(self, i: int) -> int:
        return self._tk[self._start + i]

    def lots(self, i: int) -> int:
        return self._lt[self._start + i]


@dataclass(slots=True)
class ReplayStats:
    rows: int = 0
    book_messages: int = 0
    trades: int = 0
    warmup_rows: int = 0
    first_tl: int = 0
    last_tl: int = 0


Progress = Callable[[int, int], None]  # (rows done, sim time ns)
Checkpoint = Callable[[int, Any], None]  # (message count, local book)


class Replay:
    """Drives one backtest: ``run(windows, start_ns, end_ns)``.

    ``books[i]`` is the local book and ``markets[i]`` the SimMarket (with the exchange-side book
    as ``.book``) of the instrument with index ``i`` in the catalog sources; ``markets[i]`` may
    be None for a replay with no simulated exchange (data checks, benchmarks of the data path).
    """

    def __init__(
        self,
        clock: SimClock,
        bus: EventBus,
        books: list[Any],
        markets: list[Any],
        *,
        exchange_books: list[Any] | None = None,
        progress: Progress | None = None,
        checkpoint: Checkpoint | None = None,
        checkpoint_every: int = 1000,
    ) -> None:
        self.clock = clock
        self.bus = bus
        self.books = books
        self.markets = markets
        self.ex_books = exchange_books or [m.book for m in markets]
        if len(self.ex_books) != len(books):
            raise ValueError("one exchange-side book per local book")
        self.progress = progress
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.stats = ReplayStats()
        self._levels = [KindLevels() for _ in books]
        self._events = [BookEvent(b.inst_id, b, lv, False, 0, 0) for b, lv in zip(books, self._levels, strict=True)]
        self._ex_snap = [False] * len(books)
        self._lo_snap = [False] * len(books)
        self._ex_ready = [False] * len(books)  # a book has had a snapshot (a checkpoint may seed it)
        self._lo_ready = [False] * len(books)
        self._msg_start = -1
        self._msg_count = 0

    # -- public -------------------------------------------------------------------------------

    def run(self, windows: Iterable[Window], start_ns: int, end_ns: int = _INF) -> ReplayStats:
        carry: Window | None = None
        for w in windows:
            if carry is not None and len(carry):
                w = Window(
                    tl=carry.tl + w.tl,
                    te=carry.te + w.te,
                    tr=carry.tr + w.tr,
                    kd=carry.kd + w.kd,
                    tk=carry.tk + w.tk,
                    lt=carry.lt + w.lt,
                    tid=carry.tid + w.tid,
                    aux={**{k: v for k, v in carry.aux.items()}, **{k + len(carry): v for k, v in w.aux.items()}},
                )
                first_new = len(carry)
            else:
                first_new = 0
            j = self._window(w, first_new, start_ns, end_ns)
            carry = Window(w.tl[j:], w.te[j:], w.tr[j:], w.kd[j:], w.tk[j:], w.lt[j:], w.tid[j:],
                           {k - j: v for k, v in w.aux.items() if k >= j})
            if self._msg_start >= 0:
                self._msg_start -= j
            if self.progress is not None:
                self.progress(self.stats.rows, self.clock.now_ns())
        if carry is not None and len(carry):
            # the data has ended: drain the last local rows (and the heap up to them)
            last = carry.tl[-1] + 1
            self._window(carry, len(carry), start_ns, min(end_ns, last), flush=True)
        # everything due before the end of the range: late responses, timers
        if end_ns < _INF:
            self.clock.run_due(end_ns)
            if self.clock.now_ns() < end_ns:
                self.clock.advance_to(end_ns)
        return self.stats

    # -- the loop -----------------------------------------------------------------------------

    def _window(self, w: Window, first_new: int, start_ns: int, end_ns: int, flush: bool = False) -> int:
        """Process exchange rows ``first_new..`` and local rows up to what the exchange side
        allows; returns the index of the first local row not yet processed."""
        tl, te, tr, kd, tk, lt, tid, aux = w.tl, w.te, w.tr, w.kd, w.tk, w.lt, w.tid, w.aux
        n = len(kd)
        clock = self.clock
        heap = clock.heap
        run_due = clock.run_due
        publish = self.bus.publish
        books = self.books
        ex_books = self.ex_books
        markets = self.markets
        events = self._events
        levels = self._levels
        ex_snap = self._ex_snap
        lo_snap = self._lo_snap
        ex_ready = self._ex_ready
        lo_ready = self._lo_ready
        stats = self.stats
        checkpoint = self.checkpoint
        cp_every = self.checkpoint_every
        msg_start = self._msg_start
        msg_count = self._msg_count

        # Warm-up: rows before the start build both books without dispatch, hooks or heap. Only a
        # window with no carried rows can hold them (tl is non-decreasing).
        j = 0
        i = first_new
        if first_new == 0 and n and tl[0] < start_ns:
            while i < n and tl[i] < start_ns:
                i += 1
            self._warm(w, 0, i)
            stats.warmup_rows += i
            j = i
        i_first = i
        stop_ex = n
        if end_ns < _INF:
            while stop_ex > i and te[stop_ex - 1] >= end_ns:
                stop_ex -= 1
        drain = flush or stop_ex < n
        fired = False  # a local row dispatched: handlers may have scheduled heap items
        hooked = False  # an exchange hook ran: it may have scheduled heap items

        while True:
            h = heap[0][0] if heap else _INF
            t_lo = tl[j] if j < n else _INF
            if t_lo >= end_ns:
                t_lo = _INF
            barrier = h if h < t_lo else t_lo
            # A. exchange rows up to the next heap item or local row, ties included (exchange first)
            if i < stop_ex and te[i] <= barrier:
                i2 = bisect_right(te, barrier, i, stop_ex)
                while i < i2:
                    t_ex = te[i]
                    # 2. exchange row i
                    k = kd[i]
                    inst = k >> INST_SHIFT
                    kk = k & KIND_MASK
                    if K_BOOK <= kk < K_CHECKPOINT:
                        m = markets[inst]
                        book = ex_books[inst]
                        if kk & F_SNAP and not ex_snap[inst]:
                            book.bids.clear()
                            book.asks.clear()
                            book.best_bid = NO_BID
                            book.best_ask = NO_ASK
                            ex_snap[inst] = True
                            ex_ready[inst] = True
                        p = tk[i]
                        q = lt[i]
                        side = kk & 1
                        if side:
                            lv = book.asks
                            old = lv.get(p, 0)
                            if q:
                                lv[p] = q
                                if p < book.best_ask:
                                    book.best_ask = p
                            elif old and p == book.best_ask:
                                del lv[p]
                                if lv:
                                    x = p + 1
                                    lim = p + _SCAN
                                    while x < lim and x not in lv:
                                        x += 1
                                    book.best_ask = x if x < lim else min(lv)
                                else:
                                    book.best_ask = NO_ASK
                            elif old:
                                del lv[p]
                        else:
                            lv = book.bids
                            old = lv.get(p, 0)
                            if q:
                                lv[p] = q
                                if p > book.best_bid:
                                    book.best_bid = p
                            elif old and p == book.best_bid:
                                del lv[p]
                                if lv:
                                    x = p - 1
                                    lim = p - _SCAN
                                    while x > lim and x not in lv:
                                        x -= 1
                                    book.best_bid = x if x > lim else max(lv)
                                else:
                                    book.best_bid = NO_BID
                            elif old:
                                del lv[p]
                        if m is not None and m.active:
                            if (
                                p in m.resting[side]
                                or p in m.consumed[side]
                                or (q and (p <= m.our_best_bid if side else p >= m.our_best_ask))
                            ):
                                clock._now = t_ex
                                hooked = True
                                m.on_book_level(side, p, old, q, tr[i])
                            if kk & F_EOM and ex_snap[inst]:
                                clock._now = t_ex
                                hooked = True
                                m.on_book_reset()
                        if kk & F_EOM:
                            ex_snap[inst] = False
                    elif kk < K_BOOK:
                        m = markets[inst]
                        if m is not None and m.watch_trades:
                            clock._now = t_ex
                            hooked = True
                            m.on_trade(tk[i], lt[i], kk & 1, tid[i], tr[i])
                    elif kk < K_MARK:
                        if not ex_ready[inst]:
                            self._seed(ex_books[inst], kk, tk[i], lt[i])
                            if kk & F_EOM:
                                ex_ready[inst] = True
                    elif kk == K_MARK:
                        m = markets[inst]
                        if m is not None:
                            clock._now = t_ex
                            hooked = True
                            m.on_mark_price(tk[i])
                    elif kk == K_FUNDING:
                        m = markets[inst]
                        if m is not None:
                            clock._now = t_ex
                            hooked = True
                            m.on_funding_rate(aux.get(i, 0.0), tid[i])
                    i += 1
                    if hooked:  # re-evaluate the barrier: the hook may have scheduled work
                        hooked = False
                        break
                continue
            if i < stop_ex:
                t_ex = te[i]
            elif drain:
                t_ex = end_ns  # the range ends inside this window: run everything before its end
            else:
                break  # what is left is at or after the last exchange time: wait for the next window
            # B. a heap item due before the next exchange row, and not after the next local row
            if h < t_ex and h <= t_lo:
                run_due(h)
                continue
            # C. local rows strictly before the next exchange row and the next heap item
            lim = t_ex if t_ex < h else h
            if lim > end_ns:
                lim = end_ns
            j2 = bisect_left(tl, lim, j, n)
            if j2 <= j:
                break
            while j < j2:
                t_lo = tl[j]
                # ---- local row j ----
                k = kd[j]
                inst = k >> INST_SHIFT
                kk = k & KIND_MASK
                if K_BOOK <= kk < K_CHECKPOINT:
                    book = books[inst]
                    if kk & F_SNAP and not lo_snap[inst]:
                        book.bids.clear()
                        book.asks.clear()
                        book.best_bid = NO_BID
                        book.best_ask = NO_ASK
                        lo_snap[inst] = True
                        lo_ready[inst] = True
                    if msg_start < 0:
                        msg_start = j
                    p = tk[j]
                    q = lt[j]
                    if kk & 1:
                        lv = book.asks
                        if q:
                            lv[p] = q
                            if p < book.best_ask:
                                book.best_ask = p
                        elif lv.pop(p, None) is not None and p == book.best_ask:
                            if lv:
                                x = p + 1
                                lim = p + _SCAN
                                while x < lim and x not in lv:
                                    x += 1
                                book.best_ask = x if x < lim else min(lv)
                            else:
                                book.best_ask = NO_ASK
                    else:
                        lv = book.bids
                        if q:
                            lv[p] = q
                            if p > book.best_bid:
                                book.best_bid = p
                        elif lv.pop(p, None) is not None and p == book.best_bid:
                            if lv:
                                x = p - 1
                                lim = p - _SCAN
                                while x > lim and x not in lv:
                                    x -= 1
                                book.best_bid = x if x > lim else max(lv)
                            else:
                                book.best_bid = NO_BID
                    if kk & F_EOM:
                        clock._now = t_lo  # rule 7: set only when control leaves the loop
                        ev = events[inst]
                        lvs = levels[inst]
                        lvs._kd = kd
                        lvs._tk = tk
                        lvs._lt = lt
                        lvs._start = msg_start
                        lvs._stop = j + 1
                        ev.ts_event = tr[j]
                        ev.ts_recv = t_lo
                        ev.is_snapshot = lo_snap[inst]
                        lo_snap[inst] = False
                        msg_start = -1
                        msg_count += 1
                        fired = True
                        publish(ev)
                        if checkpoint is not None and msg_count % cp_every == 0:
                            checkpoint(msg_count, book)
                elif kk < K_BOOK:
                    clock._now = t_lo
                    stats.trades += 1
                    fired = True
                    publish(TickEvent(books[inst].inst_id, tid[j], tk[j], lt[j], _SIDES[kk & 1], tr[j], t_lo))
                elif kk < K_MARK:  # checkpoint: seeds a book that has none, else only confirms it
                    if not lo_ready[inst]:
                        self._seed(books[inst], kk, tk[j], lt[j])
                        if kk & F_EOM:
                            lo_ready[inst] = True
                elif kk == K_MARK:
                    clock._now = t_lo
                    fired = True
                    publish(MarkPriceEvent(books[inst].inst_id, tk[j], tr[j], t_lo))
                elif kk == K_FUNDING:
                    clock._now = t_lo
                    fired = True
                    publish(FundingEvent(books[inst].inst_id, aux.get(j, 0.0), tid[j], tr[j], t_lo))
                j += 1
                if fired:  # handlers ran: an earlier heap item may now cut the run short
                    fired = False
                    if heap and heap[0][0] < lim:
                        lim = heap[0][0]
                        j2 = bisect_left(tl, lim, j, j2)

        stats.rows += stop_ex - i_first
        if n:
            stats.last_tl = tl[j - 1] if j else stats.last_tl
            if not stats.first_tl:
                stats.first_tl = tl[0]
        self._msg_start = msg_start
        self._msg_count = msg_count
        stats.book_messages = msg_count
        return j

    def _warm(self, w: Window, a: int, b: int) -> None:
        """Apply rows [a, b) to both books: no dispatch, no hooks, no heap (§5's start)."""
        for books, snap, ready in ((self.ex_books, self._ex_snap, self._ex_ready),
                                   (self.books, self._lo_snap, self._lo_ready)):
            for r in range(a, b):
                k = w.kd[r]
                kk = k & KIND_MASK
                if kk < K_BOOK or kk >= K_MARK:
                    continue
                inst = k >> INST_SHIFT
                book = books[inst]
                if kk >= K_CHECKPOINT:
                    if ready[inst]:
                        continue
                    self._seed(book, kk, w.tk[r], w.lt[r])
                    if kk & F_EOM:
                        ready[inst] = True
                    continue
                if kk & F_SNAP and not snap[inst]:
                    book.clear()
                    snap[inst] = True
                    ready[inst] = True
                book.set_level(kk & 1, w.tk[r], w.lt[r])
                if kk & F_EOM:
                    snap[inst] = False

    @staticmethod
    def _seed(book: Any, kk: int, ticks: int, lots: int) -> None:
        book.set_level(kk & 1, ticks, lots)
