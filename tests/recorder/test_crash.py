"""recorder/ crash safety: ``kill -9`` a recording process mid-stream, restart it, stop it with Ctrl-C.

The emulator runs in the test's event loop; the recorder is a real subprocess
(tests/recorder/crash_recorder.py, through ``athena.app.record.run_record``), so the kill is a real one.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from athena.catalog.reader import Catalog
from athena.model.enums import Channel
from recorder.journal import journal_files, read_journal
from tests.app.tiny_catalog import make_tiny_catalog
from tests.recorder.test_e2e_emulator import INST, emulator, rebuild_books, rows

REPO = Path(__file__).resolve().parents[2]
S = 1_000_000_000


async def spawn(root: Path, url: str) -> asyncio.subprocess.Process:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.recorder.crash_recorder", str(root), url, "--part-max-age", "1",
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip


def journal_lines(root: Path, name: str) -> int:
    """Lines in the journal files called ``name`` (e.g. public-2.jsonl), 0 when none yet."""
    n = 0
    for p in journal_files(root):
        if p.name == name:
            with open(p, "rb") as f:
                n += sum(1 for _ in f)
    return n


async def wait_for(pred: Callable[[], bool], timeout: float, what: str) -> None:
    end = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_catalog(tmp_path_factory.mktemp("crashsrc"), seconds=60)


async def test_kill_9_loses_at_most_a_second_and_the_restart_is_recorded(source: Path, tmp_path: Path):
    gate = threading.Event()
    gate.set()
    async with emulator(source, gate, speed=4, loop=True) as server:
        # -- first run: record ~2.5 s, then SIGKILL ------------------------------------------------
        proc = await spawn(tmp_path, server.url)
        try:
            await wait_for(lambda: journal_lines(tmp_path, "public-1.jsonl") > 20, 20, "the first run's journal")
            await asyncio.sleep(2.5)
            assert proc.returncode is None, (await proc.stderr.read()).decode()  # type: ignore[union-attr]
            killed_ns = time.time_ns()
            proc.send_signal(signal.SIGKILL)
            assert await asyncio.wait_for(proc.wait(), 10) == -signal.SIGKILL
        finally:
            if proc.returncode is None:
                proc.kill()
        first = [ln for p in journal_files(tmp_path) if p.name == "public-1.jsonl" for ln in read_journal(p)]
        gaps = [(b.ts_recv - a.ts_recv) / S for a, b in itertools.pairwise(first)]
        assert len(first) > 100 and max(gaps) < 0.5  # frames kept coming: the window below means something
        loss_s = (killed_ns - first[-1].ts_recv) / S
        assert 0 <= loss_s <= 1.0, f"the journal's last frame is {loss_s:.3f} s before the kill"

        # the catalog is readable as the crash left it: whole parts only, each one readable
        assert not list(tmp_path.rglob("*.tmp"))
        for s in Catalog(tmp_path).summary():
            assert s.rows > 0
        parts_before = sorted(tmp_path.joinpath("okx", "books").rglob("*.parquet"))
        assert parts_before  # parts older than --part-max-age 1 s were written before the kill
        for p in parts_before:
            pq.read_table(p)
        trades_before = len(rows(tmp_path, Channel.TRADES).get("trade_id", []))

        # -- second run: restart, record ~1.5 s, Ctrl-C ------------------------------------------------
        proc = await spawn(tmp_path, server.url)
        try:
            await wait_for(lambda: journal_lines(tmp_path, "public-2.jsonl") > 20, 20, "the second run's journal")
            await asyncio.sleep(1.5)
            proc.send_signal(signal.SIGINT)
            out, err = await asyncio.wait_for(proc.communicate(), 15)
        finally:
            if proc.returncode is None:
                proc.kill()
        assert proc.returncode == 0, err.decode()
        report = json.loads(out.decode().strip().splitlines()[-1])
        assert report["sessions"]["restart"] == 1 and report["frames"] == report["journal_lines"] > 20

    # sessions: the crash shows as a restart with no clean stop before it; the Ctrl-C as a clean stop
    s = rows(tmp_path, Channel.SESSIONS)
    kinds = s["kind"]
    assert kinds.count("restart") == 2 and kinds[0] == "restart"
    second = kinds.index("restart", 1)
    assert "disconnect" not in kinds[:second]  # the killed run never said goodbye
    assert kinds[-1] == "disconnect" and "stopped" in s["detail"][-1]
    assert kinds[second:].count("connect") == 1
    assert s["ts_recv"] == sorted(s["ts_recv"])
    assert s["ts_recv"][second] > killed_ns

    # the books across the crash: msg_id keeps increasing, the restart starts from a snapshot, and every
    # recorded checksum reproduces on the rebuilt book
    book, seen = rebuild_books(tmp_path)
    assert seen["snapshot"] == 2 and seen["checksums"] == seen["update"] + seen["snapshot"] and book.synced
    # the second run's journal is a new file: the killed run's file is never appended to
    assert {p.name for p in journal_files(tmp_path)} == {"public-1.jsonl", "public-2.jsonl"}
    assert all(ln.conn == "public-1" for ln in read_journal(next(p for p in journal_files(tmp_path)
                                                                 if p.name == "public-2.jsonl")))
    assert INST in Catalog(tmp_path).instruments("okx", Channel.BOOKS)

    # the restart took back from the journal what the kill kept from the catalog: the first run's trades in the
    # catalog are exactly the journal's, up to its last trades frame — the catalog loses no more than the journal
    journaled = [(ln.ts_recv, int(t["tradeId"])) for ln in first if ln.raw.startswith('{"arg":{"channel":"trades"')
                 for t in json.loads(ln.raw)["data"]]  # fmt: skip
    t = rows(tmp_path, Channel.TRADES)
    restart_ns = s["ts_recv"][second]
    mine = [(ts, tid) for ts, tid in zip(t["ts_recv"], t["trade_id"], strict=True) if ts < restart_ns]
    assert mine == journaled and journaled
    assert (killed_ns - mine[-1][0]) / S <= 1.0  # the catalog's last first-run trade is within 1 s of the kill
    assert len(set(t["trade_id"])) == len(t["trade_id"])  # recovered, never duplicated
    detail = s["detail"][second]
    m = re.search(r"(\d+) rows recovered from the raw journal \(([^;]*);", detail)
    per = dict(re.findall(r"(\w+) (\d+)", m.group(2))) if m else {}
    assert int(per.get("trades", 0)) == len(journaled) - trades_before, detail
    assert m is not None or "nothing to recover from the raw journal" in detail
    # the first restart (an empty catalog, no journal) had nothing to recover
    assert "nothing to recover from the raw journal (0 file(s) read)" in s["detail"][0]
