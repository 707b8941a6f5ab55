"""Benchmark of ``parse_ws`` on real OKX frames: trades and books pushes, JSON lines out.

Owns: the figures ``{"bench": "parse_trades", "msgs_per_s": ...}`` and ``{"bench": "parse_books",
"msgs_per_s": ...}`` measured on the frames of the real captures in ../shared/data/real/okx (2022
``books`` and 2021 ``books-l2-tbt``), fed as text like a WebSocket delivers them; plus the same on
bytes, and the general (head-decode) dispatch path for comparison with the channel-prefix one.
Never: writes files or touches the network. Prints ``{"bench": ..., "skipped": reason}`` when the
captures are absent.
Run from the project root: ``.venv/bin/python bench/bench_parsers.py``.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make the project root importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from athena.gateways.okx.parsers import _parse_by_head, parse_ws

ROOT = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ATHENA_SHARED", ROOT.parent / "shared")).resolve()
CAPTURES = (
    "okx_v5_ws_2022-05-13_books_trades_tickers.jsonl",
    "okx_v5_ws_2021-07-22_books-l2-tbt_trades_tickers.jsonl",
)
BOOK_CHANNELS = frozenset({"books", "books-l2-tbt"})


def load_frames() -> tuple[list[str], list[str]]:
    """Received trades and books frames of the captures, re-serialised compactly (the captures store
    the message as a JSON object; SOURCES.md: re-serialising gives OKX's bytes back)."""
    trades: list[str] = []
    books: list[str] = []
    for name in CAPTURES:
        for line in (SHARED / "data" / "real" / "okx" / name).read_text().splitlines():
            record = json.loads(line)
            msg = record.get("msg")
            if record.get("dir") != "in" or "data" not in msg:
                continue
            frame = json.dumps(msg, separators=(",", ":"), ensure_ascii=False)
            channel = msg["arg"]["channel"]
            if channel == "trades":
                trades.append(frame)
            elif channel in BOOK_CHANNELS:
                books.append(frame)
    return trades, books


def rate(parse: Callable[[Any], object], frames: list[Any], min_msgs: int) -> float:
    """Messages per second, best of 5 runs of at least ``min_msgs`` messages each."""
    rounds = max(1, min_msgs // len(frames))
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            for frame in frames:
                parse(frame)
        best = min(best, time.perf_counter() - start)
    return rounds * len(frames) / best


def main() -> list[dict[str, object]]:
    if not all((SHARED / "data" / "real" / "okx" / name).exists() for name in CAPTURES):
        reason = f"real OKX captures not found under {SHARED.name}/data/real/okx (set ATHENA_SHARED)"
        return [{"bench": b, "skipped": reason} for b in ("parse_trades", "parse_books")]
    trades, books = load_frames()
    levels = sum(len(d["asks"]) + len(d["bids"]) for f in books for d in json.loads(f)["data"])
    trades_b = [f.encode() for f in trades]
    books_b = [f.encode() for f in books]
    book_rate = rate(parse_ws, books, 20_000)
    return [
        {"bench": "parse_trades", "msgs_per_s": round(rate(parse_ws, trades, 200_000)), "frames": len(trades)},
        {
            "bench": "parse_books",
            "msgs_per_s": round(book_rate),
            "levels_per_s": round(book_rate * levels / len(books)),
            "frames": len(books),
            "levels_per_frame": round(levels / len(books), 1),
        },
        {"bench": "parse_trades_bytes", "msgs_per_s": round(rate(parse_ws, trades_b, 200_000))},
        {"bench": "parse_books_bytes", "msgs_per_s": round(rate(parse_ws, books_b, 20_000))},
        {"bench": "parse_trades_head_dispatch", "msgs_per_s": round(rate(_parse_by_head, trades, 200_000))},
        {"bench": "parse_books_head_dispatch", "msgs_per_s": round(rate(_parse_by_head, books, 20_000))},
    ]


if __name__ == "__main__":
    for result in main():
        print(json.dumps(result))
