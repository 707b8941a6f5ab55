"""athena/app/sim_server.py: what the emulator serves, how it starts, what it prints."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import pytest

from athena.app.sim_server import SimServerInfo, build_source, run_sim_server, serve
from athena.errors import AthenaError, CatalogError, SimulationError
from athena.sim.server import Credentials
from tests.app.tiny_catalog import T0, make_tiny_catalog

S = 1_000_000_000


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_catalog(tmp_path_factory.mktemp("appsim"), seconds=20)


def test_a_catalog_without_books_is_refused_with_what_to_do(tmp_path: Path):
    with pytest.raises(SimulationError, match=r"no book data for venue 'okx'.*athena data ls"):
        build_source(tmp_path)
    with pytest.raises(CatalogError, match="is not a directory"):
        build_source(tmp_path / "missing")


def test_an_empty_range_is_refused(catalog: Path):
    with pytest.raises(SimulationError, match="--to must be after --from"):
        build_source(catalog, T0 + 5 * S, T0 + 5 * S)


def test_explicit_data_plays_once_and_the_sample_default_loops(catalog: Path):
    src = build_source(catalog, datetime.fromtimestamp(T0 // S + 5, tz=UTC))
    assert [s.inst_id for s in src.specs] == ["BTC-USDT-SWAP"]
    assert src.loop is False and src.start_ns == T0 + 5 * S
    assert build_source(catalog, loop=True).loop is True
    assert "BTC-USDT-SWAP" in src.describe


def test_info_banner_names_the_url_sockets_and_credentials():
    info = SimServerInfo("http://127.0.0.1:8443", "k", "SECRET", "pp")
    assert info.ws_private == "ws://127.0.0.1:8443/ws/v5/private"
    text = info.banner()
    assert "http://127.0.0.1:8443" in text and "OKX_API_KEY=k" in text and "OKX_API_SECRET=SECRET" in text
    assert "OKX_API_PASSPHRASE=pp" in text
    assert "SECRET" not in repr(info)


async def test_run_sim_server_listens_on_loopback_with_the_given_key_and_a_fault_file(catalog: Path,
                                                                                   tmp_path: Path):
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps([{"at_s": 0, "kind": "server_error", "params": {"status": 502}}]))
    got: list[SimServerInfo] = []
    stop = asyncio.Event()
    creds = Credentials("key1", "0123456789ABCDEF0123456789ABCDEF", "Pass1")
    task = asyncio.create_task(run_sim_server(build_source(catalog, loop=True), speed=10, faults=plan,
                                              book_checksum="crc32", credentials=creds, ready=got.append,
                                              stop=stop))
    while not got:
        await asyncio.sleep(0.01)
    info = got[0]
    assert info.url.startswith("http://127.0.0.1:") and (info.api_key, info.passphrase) == ("key1", "Pass1")
    await asyncio.sleep(0.1)  # the housekeeping fires the at_s 0 fault
    async with aiohttp.ClientSession() as s:
        codes = []
        for _ in range(2):
            async with s.get(info.url + "/api/v5/public/time") as r:
                codes.append(r.status)
        async with s.get(info.url + "/admin/state") as r:
            state = await r.json()
    stop.set()
    assert await asyncio.wait_for(task, 5) == info
    assert codes == [502, 200]
    assert state["book_checksum"] == "crc32" and state["speed"] == 10


def test_serve_blocks_until_interrupted_and_returns_the_endpoint(catalog: Path):
    seen: list[SimServerInfo] = []

    def ready(info: SimServerInfo) -> None:
        seen.append(info)
        raise KeyboardInterrupt  # what Ctrl-C does to the blocking serve

    result: list[SimServerInfo | None] = []
    t = threading.Thread(target=lambda: result.append(
        serve(catalog, None, None, 5.0, 0, None, "zero", ready=ready)))
    t.start()
    t.join(10)
    assert not t.is_alive()
    assert result == seen and seen[0].url.startswith("http://127.0.0.1:")


def test_negative_speed_is_a_user_error(catalog: Path):
    with pytest.raises(AthenaError, match="--speed is -1"):
        asyncio.run(run_sim_server(build_source(catalog), speed=-1))
