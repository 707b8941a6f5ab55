"""The raw-message journal of ``athena record``: every frame OKX sent, as received, on disk within a second.

Owns: ``RawJournal`` — append-only JSON-lines files under
``<root>/<venue>/_raw/date=<YYYY-MM-DD>/<socket>-<n>.jsonl`` (the UTC day of the frame's raw
``ts_recv``; ``n`` grows with every run, so a restart never appends to a file a crash may have cut),
one line per frame in the format ``recorder.okx_ws_import`` reads back::

    {"ts_recv": <int ns>, "conn": "<socket>-<connection number>", "raw": "<the frame as received>"}

its repair at start (a line a crash cut short is removed, so the file stays importable),
``journal_tail`` — per socket, the files of the previous run(s) that may hold frames newer than a
time (what a restart replays into the catalog, ``Recorder.recover``), and
``JournalThread`` — the one thread that encodes, writes and ``os.fsync``s those files: every batch
is written to the OS as soon as it arrives and fsynced at least every ``fsync_interval_s``, which
is what bounds the loss of a crash (``kill -9``: what was handed over; power loss: one interval).
Never: runs on the event loop (the loop only appends to a list and hands it over), blocks its
caller (the hand-off is a queue put; the caller reads ``backlog_bytes`` and decides what to drop),
parses or changes a frame, or writes anywhere but under ``_raw/``.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Final

import msgspec

from athena.catalog.meta import fsync_dir
from athena.catalog.writer import day_of

__all__ = [
    "RAW_DIR",
    "JournalLine",
    "JournalThread",
    "RawJournal",
    "iter_journal",
    "journal_files",
    "journal_tail",
    "read_journal",
]

log = logging.getLogger(__name__)

RAW_DIR: Final = "_raw"
_FILE_RE: Final = re.compile(r"^(?P<name>.+)-(?P<n>\d+)\.jsonl$")
_DATE_RE: Final = re.compile(r"^date=\d{4}-\d{2}-\d{2}$")


class JournalLine(msgspec.Struct, gc=False):
    """One line of the journal; field order is the line's key order."""

    ts_recv: int
    conn: str
    raw: str


_ENCODER: Final = msgspec.json.Encoder()
_DECODER: Final = msgspec.json.Decoder(JournalLine)

Entry = tuple[int, str, str, str]
"""(ts_recv ns, socket name — the file —, conn — the line's ``conn`` —, frame text)."""


def journal_files(root: str | Path, venue: str = "okx") -> list[Path]:
    """Every journal file of a venue, by date then socket then run number."""
    base = Path(root) / venue / RAW_DIR
    if not base.is_dir():
        return []
    out: list[tuple[str, str, int, Path]] = []
    for d in base.iterdir():
        if not (d.is_dir() and _DATE_RE.match(d.name)):
            continue
        for p in d.iterdir():
            m = _FILE_RE.match(p.name)
            if m is not None and p.is_file():
                out.append((d.name, m.group("name"), int(m.group("n")), p))
    return [p for *_, p in sorted(out)]


def read_journal(path: str | Path) -> list[JournalLine]:
    """All lines of one journal file (tests, tools)."""
    with open(path, "rb") as f:
        return [_DECODER.decode(line) for line in f if line.strip()]


def iter_journal(path: str | Path) -> Iterator[JournalLine]:
    """The lines of one journal file, one at a time (a file may be a day of frames)."""
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                yield _DECODER.decode(line)


def _first_ts(path: Path) -> int | None:
    with open(path, "rb") as f:
        for line in f:
            if line.strip():
                return _DECODER.decode(line).ts_recv
    return None


def journal_tail(root: str | Path, venue: str, since_ns: int | None) -> dict[str, list[Path]]:
    """Per socket name, the journal files (in write order) that may hold frames received after
    ``since_ns``: the newest file, and the earlier ones back to the first that starts at or before
    ``since_ns`` (a run that crossed midnight wrote two). ``None``: the newest file only."""
    by_socket: dict[str, list[Path]] = {}
    for p in journal_files(root, venue):
        m = _FILE_RE.match(p.name)
        assert m is not None  # journal_files lists matching names only
        by_socket.setdefault(m.group("name"), []).append(p)
    out: dict[str, list[Path]] = {}
    for socket, files in by_socket.items():
        i = len(files) - 1
        while i > 0 and since_ns is not None:
            first = _first_ts(files[i])
            if first is None or first <= since_ns:
                break
            i -= 1
        out[socket] = files[i:]
    return out


class RawJournal:
    """The journal files of one venue; used by one thread at a time (``JournalThread``'s)."""

    def __init__(self, root: str | Path, venue: str = "okx") -> None:
        self.base = Path(root) / venue / RAW_DIR
        self._files: dict[tuple[str, str], IO[bytes]] = {}  # (date, socket) -> open file
        self._dirty: set[tuple[str, str]] = set()
        self.bytes_written = 0
        self.lines_written = 0
        self.last_synced_ts = 0  # ts_recv of the newest line known to be on disk (fsynced)
        self._last_written_ts = 0
        self.repaired = self.repair()

    def repair(self) -> int:
        """Cut a partial last line (a crash mid-write) from every journal file; returns how many
        files were cut. Whole lines are never touched."""
        if not self.base.is_dir():
            return 0
        cut = 0
        for day in self.base.iterdir():
            if not (day.is_dir() and _DATE_RE.match(day.name)):
                continue
            for p in day.iterdir():
                if not _FILE_RE.match(p.name) or not p.is_file():
                    continue
                size = p.stat().st_size
                if size == 0:
                    continue
                with open(p, "r+b") as f:
                    f.seek(size - 1)
                    if f.read(1) == b"\n":
                        continue
                    keep = _last_newline_end(f, size)
                    f.truncate(keep)
                    f.flush()
                    os.fsync(f.fileno())
                cut += 1
                log.warning("%s: removed a partial last line (%d bytes) left by a crash", p, size - keep)
        return cut

    def _open(self, day: str, socket: str) -> IO[bytes]:
        d = self.base / f"date={day}"
        new_dir = not d.is_dir()
        d.mkdir(parents=True, exist_ok=True)
        if new_dir:
            fsync_dir(d.parent)
        n = 1 + max(
            (int(m.group("n")) for p in d.iterdir() if (m := _FILE_RE.match(p.name)) and m.group("name") == socket),
            default=0,
        )
        f = open(d / f"{socket}-{n}.jsonl", "ab")  # noqa: SIM115 - kept open for the run
        fsync_dir(d)
        return f

    def write(self, entries: Sequence[Entry]) -> int:
        """Append entries (in receive order) and hand them to the OS; returns bytes written."""
        if not entries:
            return 0
        groups: dict[tuple[str, str], list[JournalLine]] = {}
        day_cache: dict[int, str] = {}
        for ts, socket, conn, raw in entries:
            d = ts // 86_400_000_000_000
            day = day_cache.get(d)
            if day is None:
                day = day_cache[d] = day_of(ts)
            groups.setdefault((day, socket), []).append(JournalLine(ts, conn, raw))
        n = 0
        for key, lines in groups.items():
            f = self._files.get(key)
            if f is None:
                self._rotate(key)
                f = self._files[key] = self._open(*key)
            data = _ENCODER.encode_lines(lines)
            f.write(data)
            f.flush()  # to the OS now: a killed process loses nothing already handed over
            self._dirty.add(key)
            n += len(data)
        self.bytes_written += n
        self.lines_written += len(entries)
        self._last_written_ts = max(self._last_written_ts, entries[-1][0])
        return n

    def _rotate(self, key: tuple[str, str]) -> None:
        """A new day for a socket: close its files of earlier days (fsynced)."""
        day, socket = key
        for k in [k for k in self._files if k[1] == socket and k[0] < day]:
            f = self._files.pop(k)
            self._sync_file(k, f)
            f.close()

    def _sync_file(self, key: tuple[str, str], f: IO[bytes]) -> None:
        if key in self._dirty:
            f.flush()
            os.fsync(f.fileno())
            self._dirty.discard(key)

    def sync(self) -> None:
        """fsync every file written since the last sync."""
        for key, f in list(self._files.items()):
            self._sync_file(key, f)
        self.last_synced_ts = self._last_written_ts

    def close(self) -> None:
        self.sync()
        for f in self._files.values():
            f.close()
        self._files.clear()


def _last_newline_end(f: IO[bytes], size: int) -> int:
    """Offset just after the last ``\\n`` of a file (0 when none), reading backwards in blocks."""
    pos = size
    while pos > 0:
        start = max(0, pos - 65_536)
        f.seek(start)
        block = f.read(pos - start)
        i = block.rfind(b"\n")
        if i >= 0:
            return start + i + 1
        pos = start
    return 0


_STOP: Final = object()


class JournalThread:
    """Writes the batches handed to ``submit`` on its own thread; fsyncs every ``fsync_interval_s``.

    ``backlog_bytes`` is what was submitted and not yet written (the caller's drop policy reads
    it); ``error`` the last failure (a full disk: the batch is lost, counted in ``lost_lines``, and
    the thread goes on)."""

    def __init__(self, journal: RawJournal, *, fsync_interval_s: float = 0.5) -> None:
        if not 0 < fsync_interval_s <= 1.0:
            raise ValueError(
                f"fsync_interval_s must be in (0, 1] to bound a crash's loss to 1 s, got {fsync_interval_s}"
            )
        self.journal = journal
        self.fsync_interval_s = fsync_interval_s
        self._q: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._submitted = 0  # bytes, written by the submitting thread only
        self._done = 0  # bytes, written by the journal thread only
        self.lost_lines = 0
        self.syncs = 0
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="recorder-journal", daemon=True)
        self._thread.start()

    @property
    def backlog_bytes(self) -> int:
        return self._submitted - self._done

    def submit(self, entries: list[Entry], nbytes: int) -> None:
        """Hand over a batch (never blocks); ``nbytes`` is its approximate size for the backlog."""
        self._submitted += nbytes
        self._q.put((entries, nbytes))

    def _run(self) -> None:
        last_sync = time.monotonic()
        while True:
            wait = max(0.0, last_sync + self.fsync_interval_s - time.monotonic())
            try:
                item = self._q.get(timeout=wait)
            except queue.Empty:
                item = None
            if item is _STOP:
                break
            if item is not None:
                entries, nbytes = item  # type: ignore[misc]
                try:
                    self.journal.write(entries)
                except Exception as err:  # a full or broken disk: count it, keep going
                    self.lost_lines += len(entries)
                    if self.error is None or type(err) is not type(self.error):
                        log.error("raw journal: %d lines lost: %s: %s", len(entries), type(err).__name__, err)
                    self.error = err
                self._done += nbytes
            if time.monotonic() - last_sync >= self.fsync_interval_s:
                self._sync()
                last_sync = time.monotonic()
        self._sync()

    def _sync(self) -> None:
        try:
            self.journal.sync()
            self.syncs += 1
        except Exception as err:
            self.error = err
            log.error("raw journal: fsync failed: %s: %s", type(err).__name__, err)

    def close(self, timeout_s: float = 30.0) -> None:
        """Write what was submitted, fsync, close the files (idempotent)."""
        if self._thread.is_alive():
            self._q.put(_STOP)
            self._thread.join(timeout_s)
        if not self._thread.is_alive():
            self.journal.close()
