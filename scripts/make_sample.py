"""Regenerate the embedded sample, ``data/sample/``, byte for byte.

Owns: running ``athena.sim.synthetic.generate`` with its defaults (seed 20240101, 2024-01-01T22:45Z
→ 2024-01-02T01:15Z, BTC-USDT-SWAP under venue ``okx``) into a fresh ``<out>/okx`` directory, and
removing the writer's empty lock files afterwards, so two runs with the same pyarrow give the same
bytes (part names and numbers, Parquet footers and ``_meta`` json all depend only on the rows).
Prints rows per channel, the size on disk and how long it took (a script may read the wall clock;
the generator never does).
Never: touches anything under ``<out>`` but the venue directory it writes.

Run from the project root: ``.venv/bin/python scripts/make_sample.py [--out DIR] [--seed N]``.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from a checkout: athena is the package beside it
    sys.path.insert(0, str(ROOT))

from athena.catalog.meta import META_DIR  # noqa: E402
from athena.sim.synthetic import DEFAULT_END_NS, DEFAULT_SEED, DEFAULT_START_NS, generate  # noqa: E402

VENUE = "okx"


def make_sample(out: Path, *, seed: int = DEFAULT_SEED, start_ns: int = DEFAULT_START_NS,
                end_ns: int = DEFAULT_END_NS) -> dict[str, int]:  # fmt: skip
    """Write the sample into ``out`` (replacing ``out/okx``); returns rows per channel."""
    venue_dir = out / VENUE
    if venue_dir.exists():
        shutil.rmtree(venue_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = generate(out, start_ns=start_ns, end_ns=end_ns, seed=seed, venue=VENUE)
    for lock in (venue_dir / META_DIR).glob("*lock"):
        lock.unlink()  # empty lock files: recreated by any writer that opens the venue
    return {ch.dirname: n for ch, n in sorted(summary.rows.items())}


def _du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=ROOT / "data" / "sample", help="catalog root (default data/sample)")
    ap.add_argument("--seed", type=int, default=DEFAULT_SEED)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    rows = make_sample(args.out, seed=args.seed)
    took = time.perf_counter() - t0
    for ch, n in rows.items():
        print(f"{ch:<12} {n:>10,} rows")
    print(f"{_du(args.out / VENUE) / 1e6:.2f} MB in {args.out / VENUE}, generated in {took:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
