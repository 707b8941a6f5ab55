"""Per-venue facts of the catalog, kept in ``<root>/<venue>/_meta/``.

Owns: ``instruments.json`` (per instrument: the price/size decimals that scale the catalog's
integers, and the ``InstrumentSpec`` fields as exact decimal strings) and ``clock_shift.json``
(per UTC ``date=`` day: the smallest raw ``ts_recv − ts_event`` seen over all channels of the
venue, the base, and the shift DESIGN.md §6 derives from them: ``max(0, base − min delta)``).
Reading them, and writing them atomically (temp file + fsync + ``os.replace``) with a merge: a
day already present keeps the smaller min delta, an instrument keeps its record unless replaced.
Never: applies the shift to rows (raw ``ts_recv`` stays in the Parquet files), computes it from a
``--from/--to`` range, or reads the wall clock.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from athena.errors import CatalogError, InstrumentError
from athena.model.instrument import InstrumentSpec, decimals_of, format_decimal, to_decimal

try:  # POSIX: serialise read-merge-write of the json files between processes
    import fcntl
except ImportError:  # pragma: no cover - Windows is not a target; the merge is then best effort
    fcntl = None  # type: ignore[assignment]

META_DIR = "_meta"
INSTRUMENTS_FILE = "instruments.json"
CLOCK_SHIFT_FILE = "clock_shift.json"
DEFAULT_BASE_NS: int = 1_000_000  # 1 ms: the feed latency a slow-clock day is shifted up to (§6)

_SPEC_DECIMALS = ("tick_sz", "lot_sz", "min_sz", "ct_val", "ct_mult", "max_lmt_sz", "max_mkt_sz")
_REQUIRED = ("tick_sz", "lot_sz", "min_sz", "ct_val")


def meta_dir(root: str | Path, venue: str) -> Path:
    return Path(root) / venue / META_DIR


# -- atomic json --------------------------------------------------------------------------------


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as json so a reader sees the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    data = json.dumps(obj, indent=1, sort_keys=True).encode()
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)


def fsync_dir(path: Path) -> None:
    """Make a rename in ``path`` durable (POSIX; a no-op where directories cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_json(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        obj = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise CatalogError(f"{path}: cannot be read as json ({e}); restore it or delete it to re-measure") from None
    if not isinstance(obj, dict):
        raise CatalogError(f"{path}: expected a json object at the top level")
    return obj


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory/.lock`` for one read-merge-write."""
    directory.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover
        yield
        return
    with open(directory / ".lock", "a+b") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


# -- instruments --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InstrumentMeta:
    """How one venue's catalog scales an instrument, and its spec when the venue has one.

    ``price_decimals``/``size_decimals`` are the spec's (decimals of tickSz/lotSz) unless the data
    is finer than the spec (DESIGN.md §3: old captures, other sources), then the most decimals
    seen. ``spec`` is None for an imported instrument that has no OKX spec.
    """

    inst_id: str
    price_decimals: int
    size_decimals: int
    spec: InstrumentSpec | None = None

    @classmethod
    def from_spec(
        cls, spec: InstrumentSpec, *, price_decimals: int | None = None, size_decimals: int | None = None
    ) -> InstrumentMeta:
        pd = spec.price_decimals if price_decimals is None else price_decimals
        sd = spec.size_decimals if size_decimals is None else size_decimals
        if pd < spec.price_decimals or sd < spec.size_decimals:
            raise CatalogError(
                f"{spec.inst_id}: decimals {pd}/{sd} are coarser than tickSz {format_decimal(spec.tick_sz)} / "
                f"lotSz {format_decimal(spec.lot_sz)}; use at least {spec.price_decimals}/{spec.size_decimals}"
            )
        return cls(spec.inst_id, pd, sd, spec)

    def to_json(self) -> dict[str, Any]:
        rec: dict[str, Any] = {"price_decimals": self.price_decimals, "size_decimals": self.size_decimals}
        s = self.spec
        if s is not None:
            for name in _SPEC_DECIMALS:
                v = getattr(s, name)
                if v is not None:
                    rec[name] = format_decimal(v)
            rec.update(inst_type=s.inst_type, ct_type=s.ct_type, settle_ccy=s.settle_ccy, state=s.state)
            if s.inst_id_code is not None:
                rec["inst_id_code"] = s.inst_id_code
        return rec

    @classmethod
    def from_json(cls, inst_id: str, rec: Mapping[str, Any], *, where: str = INSTRUMENTS_FILE) -> InstrumentMeta:
        try:
            pd, sd = int(rec["price_decimals"]), int(rec["size_decimals"])
        except KeyError as e:
            raise CatalogError(f"{where}: {inst_id} lacks {e.args[0]!r}") from None
        except (TypeError, ValueError):
            raise CatalogError(f"{where}: {inst_id} decimals must be integers, got {rec!r:.200}") from None
        if not any(k in rec for k in _REQUIRED):
            return cls(inst_id, pd, sd, None)
        missing = [k for k in _REQUIRED if k not in rec]
        if missing:
            raise CatalogError(f"{where}: {inst_id} has a partial spec; missing {', '.join(missing)}")
        try:
            dec: dict[str, Decimal | None] = {
                k: to_decimal(rec[k], what=f"{inst_id} {k}") if rec.get(k) is not None else None for k in _SPEC_DECIMALS
            }
            code = rec.get("inst_id_code")
            spec = InstrumentSpec(
                inst_id=inst_id,
                tick_sz=dec["tick_sz"],  # type: ignore[arg-type]
                lot_sz=dec["lot_sz"],  # type: ignore[arg-type]
                min_sz=dec["min_sz"],  # type: ignore[arg-type]
                ct_val=dec["ct_val"],  # type: ignore[arg-type]
                ct_mult=dec["ct_mult"] or Decimal(1),
                inst_type=rec.get("inst_type", "SWAP"),
                ct_type=rec.get("ct_type", "linear"),
                settle_ccy=rec.get("settle_ccy", "USDT"),
                max_lmt_sz=dec["max_lmt_sz"],
                max_mkt_sz=dec["max_mkt_sz"],
                state=rec.get("state", "live"),
                inst_id_code=int(code) if code is not None else None,
            )
        except InstrumentError as e:
            raise CatalogError(f"{where}: {inst_id}: {e}") from None
        return cls.from_spec(spec, price_decimals=pd, size_decimals=sd)


def decimals_for(values: list[str]) -> int:
    """The most decimals among exchange decimal strings (for data without a spec, §3)."""
    return max((decimals_of(to_decimal(v)) for v in values), default=0)


def read_instruments(root: str | Path, venue: str) -> dict[str, InstrumentMeta]:
    path = meta_dir(root, venue) / INSTRUMENTS_FILE
    raw = read_json(path)
    return {inst: InstrumentMeta.from_json(inst, rec, where=str(path)) for inst, rec in raw.items()}


def write_instruments(
    root: str | Path, venue: str, instruments: Mapping[str, InstrumentMeta]
) -> dict[str, InstrumentMeta]:
    """Merge ``instruments`` into the venue's ``instruments.json`` (a given instrument replaces its
    record, others stay); returns the merged content. Refuses to change the decimals of an
    instrument already recorded: the integers already written would change meaning."""
    d = meta_dir(root, venue)
    path = d / INSTRUMENTS_FILE
    with _locked(d):
        raw = read_json(path)
        for inst, m in instruments.items():
            old = raw.get(inst)
            if old is not None:
                prev = InstrumentMeta.from_json(inst, old, where=str(path))
                if (prev.price_decimals, prev.size_decimals) != (m.price_decimals, m.size_decimals):
                    raise CatalogError(
                        f"{path}: {inst} is recorded with price/size decimals {prev.price_decimals}/"
                        f"{prev.size_decimals}, not {m.price_decimals}/{m.size_decimals}; the catalog's integers "
                        f"depend on them — write this data under another venue name"
                    )
            raw[inst] = m.to_json()
        write_json_atomic(path, raw)
    return {inst: InstrumentMeta.from_json(inst, rec, where=str(path)) for inst, rec in raw.items()}


# -- clock shift --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayShift:
    """One venue day's receive-clock correction (DESIGN.md §6)."""

    date: str  # YYYY-MM-DD, the date= partition
    min_delta_ns: int  # smallest raw ts_recv − ts_event over all channels of the day
    base_ns: int = DEFAULT_BASE_NS

    @property
    def shift_ns(self) -> int:
        """Added to the day's ts_recv at replay: 0 for a healthy day, so its real latency stays."""
        return max(0, self.base_ns - self.min_delta_ns)

    def to_json(self) -> dict[str, int]:
        return {"shift_ns": self.shift_ns, "min_delta_ns": self.min_delta_ns, "base_ns": self.base_ns}


def read_clock_shifts(root: str | Path, venue: str) -> dict[str, DayShift]:
    path = meta_dir(root, venue) / CLOCK_SHIFT_FILE
    out: dict[str, DayShift] = {}
    for day, rec in read_json(path).items():
        try:
            out[day] = DayShift(day, int(rec["min_delta_ns"]), int(rec["base_ns"]))
        except (KeyError, TypeError, ValueError):
            raise CatalogError(f"{path}: day {day} needs integer min_delta_ns and base_ns, got {rec!r:.200}") from None
    return out


def clock_shift_ns(root: str | Path, venue: str, day: str) -> int:
    """The shift of one day; 0 when nothing was measured for it (no rows, nothing to shift)."""
    s = read_clock_shifts(root, venue).get(day)
    return 0 if s is None else s.shift_ns


def update_clock_shift(
    root: str | Path, venue: str, min_deltas: Mapping[str, int], *, base_ns: int | None = None
) -> dict[str, DayShift]:
    """Merge per-day min deltas into ``clock_shift.json``: a day already present keeps the smaller
    min delta. ``base_ns`` None keeps a day's stored base (``DEFAULT_BASE_NS`` for a new day); an
    int sets it. Returns the merged content."""
    if base_ns is not None and base_ns < 0:
        raise CatalogError(f"clock-shift base must be >= 0 ns, got {base_ns}")
    d = meta_dir(root, venue)
    with _locked(d):
        current = read_clock_shifts(root, venue)
        for day, delta in min_deltas.items():
            old = current.get(day)
            base = base_ns if base_ns is not None else (old.base_ns if old is not None else DEFAULT_BASE_NS)
            best = delta if old is None else min(old.min_delta_ns, delta)
            current[day] = DayShift(day, int(best), base)
        write_json_atomic(d / CLOCK_SHIFT_FILE, {day: s.to_json() for day, s in sorted(current.items())})
    return current
