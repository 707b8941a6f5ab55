"""What ``athena record`` is doing, for a human: counters, a live status line and a periodic log line.

Owns: ``RecorderStats`` — counters the recording service bumps on the event loop (messages and rows
per channel, feed lag = receive time − exchange time, seq gaps, checksum failures, resyncs,
reconnects, lines and rows dropped by the backlog policy) and reads from its writer threads
(bytes written); ``Snapshot`` — rates over the last interval; ``StatusDisplay`` — the optional
rich live line (off in tests and when stdout is not a terminal) and the periodic log line.
Never: reads a socket or a file, decides anything (the service does), or prints unless asked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from athena.model.enums import Channel

__all__ = ["ChannelStats", "RecorderStats", "Snapshot", "StatusDisplay", "format_line"]

log = logging.getLogger(__name__)

_NS = 1_000_000_000


class ChannelStats:
    """Counters of one catalog channel (all instruments)."""

    __slots__ = ("lag_ns", "messages", "rows")

    def __init__(self) -> None:
        self.messages = 0
        self.rows = 0
        self.lag_ns = 0  # of the newest message: its receive time minus its exchange time


@dataclass(slots=True)
class RecorderStats:
    """Everything the status line shows; plain ints bumped on the event loop."""

    started_ns: int = 0
    channels: dict[Channel, ChannelStats] = field(default_factory=lambda: {c: ChannelStats() for c in Channel})
    frames: int = 0
    seq_gaps: int = 0
    checksum_failures: int = 0
    resyncs: int = 0
    reconnects: int = 0
    journal_dropped: int = 0  # frames not journaled (disk slower than the feed)
    rows_dropped: int = 0  # catalog rows not written (disk slower than the feed)
    map_failures: int = 0
    bytes_written: Callable[[], int] = lambda: 0  # journal + parquet, read from the writers

    @property
    def gaps(self) -> int:
        return self.seq_gaps + self.checksum_failures


@dataclass(frozen=True, slots=True)
class Snapshot:
    """Rates over one interval and totals at its end."""

    elapsed_s: float
    msgs_per_s: dict[Channel, float]
    lag_ms: dict[Channel, float]
    total_msgs: int
    gaps: int
    resyncs: int
    reconnects: int
    bytes_written: int
    journal_dropped: int
    rows_dropped: int

    @classmethod
    def take(cls, stats: RecorderStats, prev: dict[Channel, int], elapsed_s: float) -> Snapshot:
        rates: dict[Channel, float] = {}
        lags: dict[Channel, float] = {}
        for ch, cs in stats.channels.items():
            if ch is Channel.SESSIONS or cs.messages == 0:
                continue
            rates[ch] = (cs.messages - prev.get(ch, 0)) / elapsed_s if elapsed_s > 0 else 0.0
            lags[ch] = cs.lag_ns / 1e6
            prev[ch] = cs.messages
        return cls(
            elapsed_s,
            rates,
            lags,
            sum(cs.messages for ch, cs in stats.channels.items() if ch is not Channel.SESSIONS),
            stats.gaps,
            stats.resyncs,
            stats.reconnects,
            stats.bytes_written(),
            stats.journal_dropped,
            stats.rows_dropped,
        )


def _size(n: int) -> str:
    f = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if f < 1024 or unit == "GiB":
            return f"{f:.0f} {unit}" if unit == "B" else f"{f:.1f} {unit}"
        f /= 1024
    return f"{n} B"  # pragma: no cover - the loop always returns


def format_line(s: Snapshot) -> str:
    """One line: per-channel messages/s and lag, then gaps, resyncs, reconnects, bytes, drops."""
    parts = [f"{ch.dirname} {s.msgs_per_s[ch]:.0f}/s lag {s.lag_ms[ch]:.0f} ms" for ch in s.msgs_per_s]
    text = " | ".join(parts) if parts else "no data yet"
    text += (
        f" || {s.total_msgs:,} msgs, gaps {s.gaps}, resyncs {s.resyncs}, reconnects {s.reconnects}, "
        f"written {_size(s.bytes_written)}"
    )
    if s.journal_dropped or s.rows_dropped:
        text += f", DROPPED {s.journal_dropped:,} journal lines / {s.rows_dropped:,} rows (disk too slow)"
    return text


class StatusDisplay:
    """The live line (rich, optional) refreshed every ``tick``, and a log line every ``log_every_s``."""

    def __init__(self, stats: RecorderStats, *, live: bool, log_every_s: float = 60.0) -> None:
        self.stats = stats
        self.log_every_s = log_every_s
        self._prev: dict[Channel, int] = {}
        self._log_prev: dict[Channel, int] = {}
        self._since_log = 0.0
        self._live: Any = None
        if live:
            try:
                from rich.console import Console
                from rich.live import Live

                console = Console()
                if console.is_terminal:
                    self._live = Live("starting…", console=console, refresh_per_second=2, transient=True)
                    self._live.start()
            except ImportError:  # pragma: no cover - rich is a dependency; the log line remains
                self._live = None
        self.last: Snapshot | None = None

    def tick(self, elapsed_s: float) -> Snapshot:
        """Called every ``elapsed_s`` seconds by the service; returns the interval's snapshot."""
        snap = Snapshot.take(self.stats, self._prev, elapsed_s)
        self.last = snap
        if self._live is not None:
            self._live.update(format_line(snap))
        self._since_log += elapsed_s
        if self._since_log >= self.log_every_s:
            log.info("record: %s", format_line(Snapshot.take(self.stats, self._log_prev, self._since_log)))
            self._since_log = 0.0
        return snap

    def close(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
