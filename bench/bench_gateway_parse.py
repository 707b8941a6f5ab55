"""Benchmark of the live public gateway's per-message path on real OKX frames, JSON lines out.

Owns: the figures ``{"bench": "gateway_books", "msgs_per_s": ...}`` and ``{"bench":
"gateway_trades", ...}``: one received text frame through ``OkxPublicWsGateway._dispatch`` —
``parse_ws``, ticks/lots mapping, the L2 book's snapshot/update with seq and checksum checks, and
the event handed to a no-op publish — on the 2022 capture in ../shared/data/real/okx (books
snapshot + 290 checksummed updates — and the same with checksum 0, as OKX sends since 2026-06-23 —, 74 trades
pushes). Instrument specs are made from the
capture's own decimals. Books are replayed from their snapshots each round.
Never: opens a socket, writes files. Prints ``{"bench": ..., "skipped": reason}`` without the capture.
Run from the project root: ``.venv/bin/python bench/bench_gateway_parse.py``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from athena.gateways.okx.ws_public import OkxPublicWsGateway
from athena.model.instrument import InstrumentSpec

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ATHENA_SHARED", ROOT.parent / "shared")).resolve()
CAPTURE = SHARED / "data" / "real" / "okx" / "okx_v5_ws_2022-05-13_books_trades_tickers.jsonl"


def _decimals(s: str) -> int:
    return len(s.split(".")[1]) if "." in s else 0


def load() -> tuple[list[str], list[str], dict[str, InstrumentSpec]]:
    books: list[str] = []
    trades: list[str] = []
    px_dec: dict[str, int] = {}
    sz_dec: dict[str, int] = {}
    for line in CAPTURE.read_text().splitlines():
        rec = json.loads(line)
        msg = rec.get("msg")
        if rec.get("dir") != "in" or not isinstance(msg, dict) or "data" not in msg:
            continue
        channel, inst = msg["arg"]["channel"], msg["arg"]["instId"]
        if channel == "books":
            books.append(json.dumps(msg, separators=(",", ":")))
            levels = [lv for d in msg["data"] for lv in d["bids"] + d["asks"]]
        elif channel == "trades":
            trades.append(json.dumps(msg, separators=(",", ":")))
            levels = [[d["px"], d["sz"]] for d in msg["data"]]
        else:
            continue
        for px, sz, *_ in levels:
            px_dec[inst] = max(px_dec.get(inst, 0), _decimals(px))
            sz_dec[inst] = max(sz_dec.get(inst, 0), _decimals(sz))
    specs = {
        i: InstrumentSpec(
            i,
            tick_sz=Decimal(1).scaleb(-px_dec[i]),
            lot_sz=Decimal(1).scaleb(-sz_dec[i]),
            min_sz=Decimal(1).scaleb(-sz_dec[i]),
        )
        for i in px_dec
    }
    return books, trades, specs


def rate(gw: OkxPublicWsGateway, frames: list[str], min_msgs: int) -> float:
    rounds = max(1, min_msgs // len(frames))
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(rounds):
            for f in frames:
                gw._dispatch(f)
        best = min(best, time.perf_counter() - t0)
    return rounds * len(frames) / best


def main() -> None:
    if not CAPTURE.exists():
        for name in ("gateway_books", "gateway_trades"):
            print(json.dumps({"bench": name, "skipped": f"{CAPTURE} not found"}))
        return
    books, trades, specs = load()
    sink: list[object] = []
    gw = OkxPublicWsGateway("ws://unused", specs, publish=lambda e: None, now_ns=time.time_ns)
    gw._connection = lambda *a, **k: sink.append(a)  # type: ignore[method-assign]
    # Since 2026-06-23 OKX sends checksum 0 ("not provided"): the same frames without the CRC check.
    no_crc = [f.replace('"checksum":', '"checksum":0,"_c":') for f in books]
    for name, frames in (("gateway_books", books), ("gateway_books_checksum_0", no_crc), ("gateway_trades", trades)):
        r = rate(gw, frames, 20_000)
        print(
            json.dumps({"bench": name, "frames": len(frames), "msgs_per_s": round(r), "us_per_msg": round(1e6 / r, 2)})
        )
    if sink:
        print(json.dumps({"bench": "gateway_books", "error": f"{len(sink)} book checks failed", "first": str(sink[0])}))


if __name__ == "__main__":
    main()
