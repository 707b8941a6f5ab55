"""The L2 order book of one instrument, in int ticks and int lots, with OKX's seq and checksum rules.

Owns: ``L2Book`` (a dict per side, ticks -> lots, with the best bid/ask kept incrementally; it
satisfies ``core.ports.BookView``), the OKX books-channel maintenance rules (snapshot / update,
``seqId``/``prevSeqId`` continuity, checksum) and ``okx_checksum`` over raw OKX strings.
Never: reads a clock, parses JSON, does I/O, or repairs itself after an error — after any
``BookError`` the book must be reset by a snapshot (the caller resubscribes or fetches one).

Protocol facts followed here: okx-v5-reference.md §3.1-3.3 (books channel, maintenance rules,
checksum algorithm); best-price maintenance: DESIGN.md §10 rule 4.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Iterable, Sequence

from athena.core.ports import ASK, BID, NO_ASK, NO_BID
from athena.errors import BookChecksumError, BookSequenceError
from athena.model.instrument import InstrumentSpec

__all__ = ["CHECKSUM_DEPTH", "SCAN_LIMIT", "L2Book", "okx_checksum"]

CHECKSUM_DEPTH: int = 25  # OKX: top 25 bids and top 25 asks (reference §3.3 step 1)

# How many empty ticks a deleted best level is scanned past before falling back to max()/min()
# over the dict. Scanning is ~10 ns a tick on a dense book, max() over 1,000 levels ~430 ns, so
# a few dozen ticks is where the scan stops paying (DESIGN.md §10 rule 4).
SCAN_LIMIT: int = 32

# Token caches grow with the distinct prices/sizes seen; a long live session could see many
# sizes, so a cache is dropped (and rebuilt lazily) when it gets this big.
_TOKEN_CACHE_MAX: int = 65_536


def _signed32(crc: int) -> int:
    return crc - (1 << 32) if crc >= (1 << 31) else crc


def okx_checksum(bids: Sequence[Sequence[str]], asks: Sequence[Sequence[str]], depth: int = CHECKSUM_DEPTH) -> int:
    """OKX's book checksum over the strings as received (live frames; reference §3.3).

    ``bids``/``asks`` are best first (bids descending, asks ascending); each level's first two
    items are the price and size strings (a raw ``[px, sz, "0", n]`` level works as is). Tokens
    ``bid1px:bid1sz:ask1px:ask1sz:...`` over the top ``depth`` of each side; when one side runs
    out the other continues alone; CRC-32 (zlib) of the ASCII bytes as a signed int32."""
    parts: list[str] = []
    nb = min(depth, len(bids))
    na = min(depth, len(asks))
    for i in range(max(nb, na)):
        if i < nb:
            b = bids[i]
            parts.append(b[0])
            parts.append(b[1])
        if i < na:
            a = asks[i]
            parts.append(a[0])
            parts.append(a[1])
    return _signed32(zlib.crc32(":".join(parts).encode("ascii")))


class L2Book:
    """An L2 book keyed by int ticks: ``bids``/``asks`` map ticks -> lots (never a 0 value).

    ``best_bid``/``best_ask`` are kept in step by ``set_level`` (NO_BID / NO_ASK when a side is
    empty). The replay loop may write ``bids``/``asks``/``best_bid``/``best_ask`` directly; the dict
    objects are never replaced (a snapshot refills them in place), so a loop may keep them in
    locals. After direct writes that may break the best prices, call ``recompute_best()``.

    ``synced`` is True between a snapshot and the next error: an update on an unsynced book
    raises ``BookSequenceError``, so a book that lost its thread is never updated silently.
    """

    __slots__ = (
        "_px_tok",
        "_sz_tok",
        "asks",
        "best_ask",
        "best_bid",
        "bids",
        "checksum_depth",
        "inst_id",
        "seq_id",
        "spec",
        "synced",
        "ts_event",
    )

    def __init__(self, spec: InstrumentSpec, checksum_depth: int = CHECKSUM_DEPTH) -> None:
        self.inst_id: str = spec.inst_id
        self.spec: InstrumentSpec = spec
        self.checksum_depth: int = checksum_depth
        self.bids: dict[int, int] = {}
        self.asks: dict[int, int] = {}
        self.best_bid: int = NO_BID
        self.best_ask: int = NO_ASK
        self.seq_id: int | None = None
        self.ts_event: int = 0
        self.synced: bool = False
        self._px_tok: dict[int, str] = {}
        self._sz_tok: dict[int, str] = {}

    def __repr__(self) -> str:
        return (
            f"L2Book({self.inst_id!r}, bids={len(self.bids)}, asks={len(self.asks)}, "
            f"best_bid={self.best_bid}, best_ask={self.best_ask}, seq_id={self.seq_id})"
        )

    # -- levels -------------------------------------------------------------------------------

    def set_level(self, side: int, ticks: int, lots: int) -> None:
        """Set one level (``side`` BID=0 / ASK=1); ``lots`` 0 deletes it, present or not."""
        if side == BID:
            bids = self.bids
            if lots:
                bids[ticks] = lots
                if ticks > self.best_bid:
                    self.best_bid = ticks
            else:
                # pop(p, None): real feeds delete levels that were never there.
                bids.pop(ticks, None)
                if ticks == self.best_bid:
                    self.best_bid = self._next_bid(ticks)
        else:
            asks = self.asks
            if lots:
                asks[ticks] = lots
                if ticks < self.best_ask:
                    self.best_ask = ticks
            else:
                asks.pop(ticks, None)
                if ticks == self.best_ask:
                    self.best_ask = self._next_ask(ticks)

    def _next_bid(self, ticks: int) -> int:
        """The best bid below a deleted best at ``ticks``: a bounded scan, then max()."""
        bids = self.bids
        if not bids:
            return NO_BID
        p = ticks - 1
        stop = ticks - SCAN_LIMIT
        while p >= stop:
            if p in bids:
                return p
            p -= 1
        return max(bids)

    def _next_ask(self, ticks: int) -> int:
        """The best ask above a deleted best at ``ticks``: a bounded scan, then min()."""
        asks = self.asks
        if not asks:
            return NO_ASK
        p = ticks + 1
        stop = ticks + SCAN_LIMIT
        while p <= stop:
            if p in asks:
                return p
            p += 1
        return min(asks)

    def recompute_best(self) -> None:
        """Rebuild best bid/ask from the dicts (after direct writes to ``bids``/``asks``)."""
        self.best_bid = max(self.bids) if self.bids else NO_BID
        self.best_ask = min(self.asks) if self.asks else NO_ASK

    def clear(self) -> None:
        """Empty both sides and forget the sequence: the book needs a snapshot again."""
        self.bids.clear()
        self.asks.clear()
        self.best_bid = NO_BID
        self.best_ask = NO_ASK
        self.seq_id = None
        self.synced = False

    # -- OKX messages (reference §3.2) ------------------------------------------------------------

    def apply_snapshot(
        self,
        bids: Iterable[tuple[int, int]],
        asks: Iterable[tuple[int, int]],
        *,
        seq_id: int | None = None,
        checksum: int | None = None,
        ts_event: int | None = None,
    ) -> None:
        """Replace the book with a snapshot's (ticks, lots) levels (rule 1: prevSeqId is -1).

        A snapshot is accepted whatever its seqId, lower ones included: after maintenance OKX
        may restart the sequence, and a snapshot is where any sequence starts afresh.
        Raises ``BookChecksumError`` (book left unsynced) when ``checksum`` is given, non-zero
        and differs from ``checksum()`` over the new book."""
        book_bids = self.bids
        book_asks = self.asks
        book_bids.clear()
        book_asks.clear()
        for ticks, lots in bids:
            if lots:
                book_bids[ticks] = lots
        for ticks, lots in asks:
            if lots:
                book_asks[ticks] = lots
        self.recompute_best()
        self.seq_id = seq_id
        if ts_event is not None:
            self.ts_event = ts_event
        self.synced = True
        self._verify(checksum, "snapshot", seq_id)

    def apply_update(
        self,
        bids: Iterable[tuple[int, int]],
        asks: Iterable[tuple[int, int]],
        *,
        seq_id: int | None = None,
        prev_seq_id: int | None = None,
        checksum: int | None = None,
        ts_event: int | None = None,
    ) -> None:
        """Apply one incremental message's (ticks, lots) levels; lots 0 deletes.

        Sequence (reference §3.2): rule 3 — accepted iff ``prev_seq_id`` equals the book's
        ``seq_id``, otherwise ``BookSequenceError`` before any level is touched. Rule 4 — a
        keep-alive with ``seq_id == prev_seq_id`` (== the book's seqId) passes rule 3 and
        changes nothing. Rule 5 — after maintenance an update may carry ``seq_id < prev_seq_id``
        (e.g. prev 15 -> seq 3); it is valid when its ``prev_seq_id`` equals the book's seqId, and
        later messages continue from the new, lower value; "seqId went down" is not an error.
        Data from before OKX added seqIds (2021-2022 captures) passes ``None`` for both: no check.

        Checksum (rule 2, §3.3): all levels are applied first, then a given non-zero
        ``checksum`` (OKX sends 0 since 2026-06-23, meaning "not provided") is compared with
        ``checksum()``; a mismatch raises ``BookChecksumError``.

        After either error the book is unsynced and refuses updates until ``apply_snapshot``."""
        if not self.synced:
            raise BookSequenceError(
                f"{self.inst_id}: books update (seqId {seq_id}, prevSeqId {prev_seq_id}) on a book "
                f"with no snapshot since it was created or last failed; expected a snapshot first — "
                f"resubscribe or fetch a fresh snapshot"
            )
        if prev_seq_id is not None and prev_seq_id != self.seq_id:
            self.synced = False
            raise BookSequenceError(
                f"{self.inst_id}: books update prevSeqId {prev_seq_id} does not continue the book "
                f"(expected prevSeqId {self.seq_id}, got {prev_seq_id}; seqId {seq_id}): messages "
                f"were missed — resubscribe or fetch a fresh snapshot"
            )
        set_level = self.set_level
        for ticks, lots in bids:
            set_level(BID, ticks, lots)
        for ticks, lots in asks:
            set_level(ASK, ticks, lots)
        if seq_id is not None:
            self.seq_id = seq_id
        if ts_event is not None:
            self.ts_event = ts_event
        self._verify(checksum, "update", seq_id)

    def _verify(self, checksum: int | None, what: str, seq_id: int | None) -> None:
        # 0 means "not provided": OKX retired the value on 2026-06-23 (reference §0, §3.3 step 5).
        if checksum is None or checksum == 0:
            return
        mine = self.checksum()
        if mine != checksum:
            self.synced = False
            raise BookChecksumError(
                f"{self.inst_id}: books {what} (seqId {seq_id}) checksum mismatch: expected "
                f"{checksum} (OKX), got {mine} (local book) — the local book has drifted; "
                f"resubscribe or fetch a fresh snapshot"
            )

    # -- checksum (reference §3.3) -----------------------------------------------------------------

    def checksum(self) -> int:
        """OKX's CRC32 (signed int32) over the top ``checksum_depth`` levels of each side.

        Tokens are rebuilt from the integers as OKX writes them — plain decimals, no exponent,
        no trailing zeros (``InstrumentSpec.format_price``/``format_size``) — and cached per
        tick / lot value, so repeated checksums cost a dict lookup per token."""
        n = self.checksum_depth
        top_bids = heapq.nlargest(n, self.bids)
        top_asks = heapq.nsmallest(n, self.asks)
        px_tok = self._px_tok
        sz_tok = self._sz_tok
        if len(px_tok) > _TOKEN_CACHE_MAX:
            px_tok.clear()
        if len(sz_tok) > _TOKEN_CACHE_MAX:
            sz_tok.clear()
        fmt_px = self.spec.format_price
        fmt_sz = self.spec.format_size
        bids = self.bids
        asks = self.asks
        parts: list[str] = []
        nb = len(top_bids)
        na = len(top_asks)
        for i in range(max(nb, na)):
            if i < nb:
                t = top_bids[i]
                s = px_tok.get(t)
                if s is None:
                    s = px_tok[t] = fmt_px(t)
                parts.append(s)
                lots = bids[t]
                s = sz_tok.get(lots)
                if s is None:
                    s = sz_tok[lots] = fmt_sz(lots)
                parts.append(s)
            if i < na:
                t = top_asks[i]
                s = px_tok.get(t)
                if s is None:
                    s = px_tok[t] = fmt_px(t)
                parts.append(s)
                lots = asks[t]
                s = sz_tok.get(lots)
                if s is None:
                    s = sz_tok[lots] = fmt_sz(lots)
                parts.append(s)
        return _signed32(zlib.crc32(":".join(parts).encode("ascii")))

    # -- BookView ---------------------------------------------------------------------------------

    def bid_size(self, ticks: int) -> int:
        """Lots resting on the bid at ``ticks`` (0 when no level)."""
        return self.bids.get(ticks, 0)

    def ask_size(self, ticks: int) -> int:
        """Lots resting on the ask at ``ticks`` (0 when no level)."""
        return self.asks.get(ticks, 0)

    def depth(self, n: int) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
        """Top ``n`` levels of each side as (ticks, lots), best first (O(len · log n))."""
        if n <= 0:
            return [], []
        bids = self.bids
        asks = self.asks
        return (
            [(t, bids[t]) for t in heapq.nlargest(n, bids)],
            [(t, asks[t]) for t in heapq.nsmallest(n, asks)],
        )

    def mid_ticks(self) -> float | None:
        """(best_bid + best_ask) / 2 in ticks; None when either side is empty."""
        if self.best_bid == NO_BID or self.best_ask == NO_ASK:
            return None
        return (self.best_bid + self.best_ask) / 2

    def spread_ticks(self) -> int | None:
        """best_ask - best_bid in ticks (≤ 0 when crossed); None when either side is empty."""
        if self.best_bid == NO_BID or self.best_ask == NO_ASK:
            return None
        return self.best_ask - self.best_bid

    def imbalance(self, n: int) -> float | None:
        """B / (B + A), B and A the lots of the top ``n`` bid and ask levels: 1 all bids, 0 all
        asks, 0.5 balanced; None when both are empty."""
        top_bids, top_asks = self.depth(n)
        b = sum(lots for _, lots in top_bids)
        a = sum(lots for _, lots in top_asks)
        total = b + a
        if total == 0:
            return None
        return b / total

    def is_crossed(self) -> bool:
        """Both sides present and best bid >= best ask (legal only in a call auction, §3.2 rule 7)."""
        return self.best_bid != NO_BID and self.best_ask != NO_ASK and self.best_bid >= self.best_ask
