"""OKX public market data over WebSocket: trades, books, tickers, funding, mark price, candles.

Owns: ``OkxPublicWsGateway`` — the subscriptions of the public socket (and, as a second instance
on the business URL, the candle channels), the local ``L2Book`` per book channel and instrument,
updated *before* its BOOK_EVENT is dispatched (DESIGN.md §4), and the book's resync: a seq gap or
checksum mismatch publishes CONNECTION ``gap`` / ``checksum_failed``, re-subscribes that one
channel for a fresh snapshot and publishes no BOOK_EVENT for it until the snapshot is in
(CONNECTION ``resynced``). Every other push is mapped by ``mapping`` and published as is:
one TICK per trade (a trade worth >= 10,000 USDT is logged as large), TICKER for tickers and
bbo-tbt, CANDLE_EVENT (at most ``max_candles`` rows of one push), FUNDING, MARK_PRICE.
Never: publishes a book that failed a check, builds a copy of a book for an event, or places
orders (public socket).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final

from athena.book.l2 import L2Book
from athena.core.events import BookEvent, Event
from athena.core.ports import ASK, BID, ListLevels
from athena.errors import BookChecksumError, BookError, BookSequenceError
from athena.gateways.okx.mapping import (
    LARGE_TRADE_USDT,
    bbo_ticker,
    book_levels,
    candle_event,
    funding_event,
    mark_price_event,
    ms_to_ns,
    tick_event,
    ticker_event,
)
from athena.gateways.okx.parsers import (
    BooksPush,
    CandlesPush,
    FundingRatePush,
    MarkPricePush,
    OkxChannel,
    TickersPush,
    TradesPush,
    WsMessage,
)
from athena.gateways.okx.ws_base import WsBaseGateway
from athena.model.enums import ConnectionStatus
from athena.model.instrument import InstrumentSpec

__all__ = ["BOOK_CHANNELS", "OkxPublicWsGateway"]

log = logging.getLogger(__name__)

BOOK_CHANNELS: Final = frozenset(
    {OkxChannel.BOOKS, OkxChannel.BOOKS5, OkxChannel.BOOKS_L2_TBT, OkxChannel.BOOKS50_L2_TBT}
)
_BBO: Final = OkxChannel.BBO_TBT.value
_CANDLE: Final = "candle"


RESYNC_RETRY_NS = 1_000_000_000  # a book still waiting for its snapshot after 1 s asks again

class OkxPublicWsGateway(WsBaseGateway):
    """Public (or business, for candles) market data of the instruments in ``specs``."""

    def __init__(
        self,
        url: str,
        specs: Mapping[str, InstrumentSpec],
        *,
        publish: Callable[[Event], None],
        now_ns: Callable[[], int],
        name: str = "okx.public",
        large_trade_usdt: float = LARGE_TRADE_USDT,
        max_candles: int = 50,
        **kw: Any,
    ) -> None:
        super().__init__(url, name=name, publish=publish, now_ns=now_ns, **kw)
        self.specs = specs
        self.large_trade_usdt = large_trade_usdt
        self.max_candles = max_candles
        self.books: dict[tuple[str, str], L2Book] = {}
        self._resyncing: set[tuple[str, str]] = set()
        # when each waiting book last asked for its snapshot: a snapshot that never comes (lost on the
        # wire while updates flow again) is asked for again after RESYNC_RETRY_NS
        self._resync_asked: dict[tuple[str, str], int] = {}
        self.resyncs = 0

    async def subscribe_channel(self, channel: str, inst_id: str) -> None:
        await self.subscribe([{"channel": channel, "instId": inst_id}])

    def book(self, inst_id: str, channel: str = OkxChannel.BOOKS) -> L2Book | None:
        """The local book of ``inst_id`` on ``channel`` (None before its first snapshot)."""
        return self.books.get((channel, inst_id))

    # -- dispatch -------------------------------------------------------------------------------

    def _spec(self, inst_id: str) -> InstrumentSpec | None:
        spec = self.specs.get(inst_id)
        if spec is None:
            self._throttle.log(
                logging.WARNING, f"nospec:{inst_id}", "%s: no instrument spec for %s", self.name, inst_id
            )
        return spec

    def _on_message(self, msg: WsMessage) -> None:
        t = type(msg)
        if t is TradesPush:
            self._on_trades(msg)  # type: ignore[arg-type]
        elif t is BooksPush:
            self._on_books(msg)  # type: ignore[arg-type]
        elif t is TickersPush:
            spec = self._spec(msg.arg.inst_id)  # type: ignore[union-attr]
            if spec is not None:
                now = self._now_ns()
                for tk in msg.data:  # type: ignore[union-attr]
                    self._publish(ticker_event(spec, tk, now))
        elif t is MarkPricePush:
            spec = self._spec(msg.arg.inst_id)  # type: ignore[union-attr]
            if spec is not None:
                now = self._now_ns()
                for m in msg.data:  # type: ignore[union-attr]
                    self._publish(mark_price_event(spec, m, now))
        elif t is FundingRatePush:
            now = self._now_ns()
            for f in msg.data:  # type: ignore[union-attr]
                self._publish(funding_event(f, now))
        elif t is CandlesPush:
            self._on_candles(msg)  # type: ignore[arg-type]

    def _on_trades(self, push: TradesPush) -> None:
        spec = self._spec(push.arg.inst_id)
        if spec is None:
            return
        now = self._now_ns()
        for tr in push.data:
            ev = tick_event(spec, tr, now)
            value = spec.notional(ev.ticks, ev.lots)
            if value >= self.large_trade_usdt:
                log.info(
                    "large trade %s %s %s x %s = %.0f %s (tradeId %s)",
                    tr.inst_id,
                    tr.side.value,
                    tr.sz,
                    tr.px,
                    value,
                    spec.settle_ccy,
                    tr.trade_id,
                )
            self._publish(ev)

    def _on_candles(self, push: CandlesPush) -> None:
        spec = self._spec(push.arg.inst_id)
        if spec is None:
            return
        bar = push.arg.channel[len(_CANDLE) :]
        rows = push.data
        if len(rows) > self.max_candles:
            self._throttle.log(
                logging.WARNING,
                "candles",
                "%s: %d candle rows in one push; the newest %d are kept",
                self.name,
                len(rows),
                self.max_candles,
            )
            rows = rows[-self.max_candles :]
        now = self._now_ns()
        for c in rows:
            self._publish(candle_event(spec, bar, c, now))

    # -- books ----------------------------------------------------------------------------------

    def _on_books(self, push: BooksPush) -> None:
        channel = push.arg.channel
        inst_id = push.arg.inst_id or (push.data[0].inst_id if push.data else "")
        spec = self._spec(inst_id)
        if spec is None:
            return
        now = self._now_ns()
        if channel == _BBO:
            for d in push.data:
                self._publish(bbo_ticker(spec, d, now))
            return
        key = (channel, inst_id)
        book = self.books.get(key)
        if book is None:
            book = self.books[key] = L2Book(spec)
        snapshot = push.is_snapshot
        for d in push.data:
            if not snapshot and key in self._resyncing:
                # stale updates of a book waiting for its fresh snapshot; ask again if it is late
                if now - self._resync_asked.get(key, now) >= RESYNC_RETRY_NS:
                    self._ask_snapshot(key, now)
                continue
            bids = book_levels(spec, d.bids)
            asks = book_levels(spec, d.asks)
            ts_event = ms_to_ns(d.ts)
            checksum = d.checksum or None  # 0 = not provided (OKX retired it on 2026-06-23)
            try:
                if snapshot:
                    book.apply_snapshot(bids, asks, seq_id=d.seq_id, checksum=checksum, ts_event=ts_event)
                else:
                    book.apply_update(
                        bids, asks, seq_id=d.seq_id, prev_seq_id=d.prev_seq_id, checksum=checksum, ts_event=ts_event
                    )
            except BookError as err:
                self._book_failed(key, push, err)
                return
            if snapshot and key in self._resyncing:
                self._resyncing.discard(key)
                self._resync_asked.pop(key, None)
                self._connection(ConnectionStatus.RESYNCED, f"fresh snapshot, seqId {d.seq_id}", f"{channel}:{inst_id}")
            n_b = len(bids)
            sides = [BID] * n_b + [ASK] * len(asks)
            ticks = [p for p, _ in bids] + [p for p, _ in asks]
            lots = [q for _, q in bids] + [q for _, q in asks]
            self._publish(BookEvent(inst_id, book, ListLevels(sides, ticks, lots), snapshot, ts_event, now))

    def _book_failed(self, key: tuple[str, str], push: BooksPush, err: BookError) -> None:
        """Book can't be trusted: say so, drop it, and ask OKX for a fresh snapshot of that channel."""
        channel, inst_id = key
        status = ConnectionStatus.CHECKSUM_FAILED if isinstance(err, BookChecksumError) else ConnectionStatus.GAP
        if not isinstance(err, (BookChecksumError, BookSequenceError)):
            status = ConnectionStatus.GAP
        self.books[key].clear()
        first = key not in self._resyncing
        self._resyncing.add(key)
        self._connection(status, str(err), f"{channel}:{inst_id}")
        if first:
            self.resyncs += 1
            log.warning("%s: %s %s: %s; resubscribing for a fresh snapshot", self.name, channel, inst_id, err)
            self._ask_snapshot(key, self._now_ns())

    def _ask_snapshot(self, key: tuple[str, str], now: int) -> None:
        channel, inst_id = key
        self._resync_asked[key] = now
        self.spawn(self.resubscribe({"channel": channel, "instId": inst_id}), f"resync:{channel}:{inst_id}")

    def _on_down(self, reason: str) -> None:
        # The reconnect subscribes afresh: every book starts again from a snapshot, and that
        # snapshot is reported as the resync it is.
        for key, book in self.books.items():
            if book.synced:
                book.clear()
                self._resyncing.add(key)
                self._resync_asked[key] = self._now_ns()  # the reconnect's subscribe asks for it
