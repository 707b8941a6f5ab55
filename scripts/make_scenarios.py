"""Generate the data slice of every scenario under scenarios/ (deterministic: same bytes of data, same rows).

Owns: ``make_slice`` — a tiny seeded BTC-USDT-SWAP catalog (books as multi-level messages of a
random-walk book, trades that take the touch, and a ``sessions`` channel) written with the real
CatalogWriter — and ``SLICES``, the parameters of each scenario's slice. A slice may hold a recorder
outage: no market rows inside [gap_start_s, gap_end_s), a ``disconnect`` row at its start, then
``reconnect``, ``gap`` and ``resync`` rows at its end followed by a fresh book snapshot (the market
moved while nobody listened) — the "captured disconnect" shape DESIGN.md §5 describes.
Never: reads the wall clock or a global random state (one ``random.Random(seed)`` per slice).

Run from the project root: ``.venv/bin/python scripts/make_scenarios.py [NAME...]``. It replaces
``scenarios/<name>/data/`` of each named scenario (all by default); scenario.toml files are written
by hand and left alone.
"""

from __future__ import annotations

import random
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout: athena is the package beside it
    sys.path.insert(0, str(ROOT))

from athena.catalog.writer import CatalogWriter  # noqa: E402
from athena.model.enums import Channel  # noqa: E402
from athena.model.instrument import BTC_USDT_SWAP  # noqa: E402
from athena.sim.synthetic import toy_book_step  # noqa: E402

SCENARIOS = ROOT / "scenarios"
T0 = 1_704_157_200_000_000_000  # 2024-01-02T01:00:00Z: far from midnight and from a funding time
SEC = 1_000_000_000
MS = 1_000_000


@dataclass(frozen=True, slots=True)
class SliceSpec:
    seconds: int
    seed: int
    gap_start_s: float | None = None  # a recorder outage: no market rows in [start, end)
    gap_end_s: float | None = None
    msgs_per_s: int = 10


SLICES: dict[str, SliceSpec] = {
    "ghost_order": SliceSpec(seconds=75, seed=11),
    "lost_ack_and_duplicate_fill": SliceSpec(seconds=75, seed=12),
    "disconnect": SliceSpec(seconds=90, seed=13, gap_start_s=30.0, gap_end_s=52.0),
}


def make_slice(root: Path, spec: SliceSpec) -> Path:
    """Write one slice under ``root`` (a catalog root); returns ``root``."""
    rng = random.Random(spec.seed)
    inst = BTC_USDT_SWAP.inst_id
    mid = 420_000  # 42000.0 in ticks
    bids = {mid - i: rng.randint(1, 400) for i in range(1, 60)}
    asks = {mid + i: rng.randint(1, 400) for i in range(1, 60)}
    books: dict[str, list] = {k: [] for k in ("ts_event", "ts_recv", "msg_id", "action", "side", "price",
                                              "size", "seq_id", "prev_seq_id", "checksum", "last_in_msg")}
    trades: dict[str, list] = {k: [] for k in ("ts_event", "ts_recv", "trade_id", "price", "size", "side")}
    sessions: dict[str, list] = {k: [] for k in ("ts_event", "ts_recv", "kind", "channel", "detail")}
    state = {"msg": 0, "seq": 100}

    def session(ts: int, kind: str, channel: str | None, detail: str) -> None:
        for k, v in (("ts_event", ts), ("ts_recv", ts), ("kind", kind), ("channel", channel), ("detail", detail)):
            sessions[k].append(v)

    def emit(ts: int, action: int, rows: list[tuple[int, int, int]]) -> None:
        state["msg"] += 1
        recv = ts + rng.randint(2, 20) * MS
        prev = -1 if action == 1 else state["seq"]
        state["seq"] += 1
        for k, (side, px, sz) in enumerate(rows):
            for col, v in (("ts_event", ts), ("ts_recv", recv), ("msg_id", state["msg"]), ("action", action),
                           ("side", side), ("price", px), ("size", sz), ("seq_id", state["seq"]),
                           ("prev_seq_id", prev), ("checksum", None), ("last_in_msg", k == len(rows) - 1)):
                books[col].append(v)

    def snapshot(ts: int) -> None:
        rows = [(0, p, s) for p, s in sorted(bids.items(), reverse=True)]
        emit(ts, 1, rows + [(1, p, s) for p, s in sorted(asks.items())])

    session(T0 - 5 * MS, "connect", None, "public websocket connected")
    session(T0 - 4 * MS, "subscribe", "books", "books BTC-USDT-SWAP")
    snapshot(T0)
    gap = None
    if spec.gap_start_s is not None and spec.gap_end_s is not None:
        gap = (T0 + int(spec.gap_start_s * SEC), T0 + int(spec.gap_end_s * SEC))
        session(gap[0], "disconnect", None, "websocket closed (1006 abnormal closure); no pong for 30 s")
    in_gap = False
    trade_id = 1
    step = SEC // spec.msgs_per_s
    for n in range(1, spec.seconds * spec.msgs_per_s):
        ts = T0 + n * step
        was_in_gap = in_gap
        in_gap = gap is not None and gap[0] <= ts < gap[1]
        if was_in_gap and not in_gap:
            assert gap is not None
            secs = (gap[1] - gap[0]) / SEC
            session(ts, "reconnect", None, f"reconnected after {secs:g} s")
            session(ts, "gap", "books", f"no data for {secs:g} s")
            session(ts, "resync", "books", "fresh snapshot replaced the local book")
            snapshot(ts)
            continue
        rows, step_trades = toy_book_step(rng, bids, asks)
        for side, touch, take, delay_ms in step_trades:
            if not in_gap:
                for col, v in (("ts_event", ts - 500_000), ("ts_recv", ts - 500_000 + delay_ms * MS),
                               ("trade_id", trade_id), ("price", touch), ("size", take), ("side", side)):
                    trades[col].append(v)
            trade_id += 1
        if rows and not in_gap:
            emit(ts, 0, rows)
    with CatalogWriter(root, "okx", instruments=[BTC_USDT_SWAP]) as w:
        w.write(Channel.BOOKS, inst, books)
        w.write(Channel.TRADES, inst, trades)
        w.write(Channel.SESSIONS, inst, sessions)
    for lock in (root / "okx" / "_meta").glob("*lock"):  # empty flock files: not data, not committed
        if lock.stat().st_size == 0:
            lock.unlink()
    return root


def generate(names: list[str] | None = None, base: Path = SCENARIOS) -> list[Path]:
    """(Re)write ``<base>/<name>/data`` for each name (all of ``SLICES`` by default)."""
    out = []
    for name in names or sorted(SLICES):
        if name not in SLICES:
            raise SystemExit(f"no slice defined for {name!r}; known: {', '.join(sorted(SLICES))}")
        data = base / name / "data"
        if data.exists():
            shutil.rmtree(data)
        data.mkdir(parents=True)
        out.append(make_slice(data, SLICES[name]))
    return out


if __name__ == "__main__":
    for path in generate(sys.argv[1:] or None):
        size = sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
        print(f"{path.relative_to(ROOT)}: {size / 1024:.1f} KiB")
