"""athena/app/live.py: `athena live` composed and run end to end against `athena sim-server`.

The emulator runs in a thread of its own on 127.0.0.1 port 0 (``run_live`` is the blocking entry
and owns its event loop); the configuration comes the way a user gives it: a JSON file with the
endpoint, the API key in OKX_API_KEY / OKX_API_SECRET / OKX_API_PASSPHRASE.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from athena.app.live import LiveError, StopReason, run_live
from athena.app.sim_server import SimServerInfo, build_source, run_sim_server
from athena.core.events import ReportSource
from athena.errors import AthenaError, ConfigError
from athena.gateways.okx.auth import OkxCredentials
from athena.model.enums import OrderState, OrderType, Side
from athena.sim.server import Credentials
from tests.app.tiny_catalog import make_tiny_catalog
from tests.oms.fakes import INST, PX, make_rig, report
from tests.sim.test_server import rest

# Fake credentials the emulator is told to accept: the test checks they never reach a log line.
KEY = "FAKEKEY-live-7f3a9c"
SECRET = "FAKESECRETlive0123456789ABCDEF0"
PASSPHRASE = "FakeLivePass!42"


@pytest.fixture(scope="module")
def catalog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_catalog(tmp_path_factory.mktemp("live"), seconds=60)


@dataclass
class Emulator:
    info: SimServerInfo
    config: Path  # the JSON config file pointing at it

    # what tests.sim.test_server.rest needs of a rig
    @property
    def url(self) -> str:
        return self.info.url

    @property
    def okx_creds(self) -> OkxCredentials:
        return OkxCredentials(api_key=KEY, secret_key=SECRET, passphrase=PASSPHRASE)

    def rest(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        """A signed REST call from the test's thread."""

        async def call() -> dict[str, Any]:
            async with aiohttp.ClientSession() as s:
                status, out = await rest(s, self, method, path, body)  # type: ignore[arg-type]
            assert status == 200, out
            return out

        return asyncio.run(call())


@pytest.fixture
def emulator(catalog: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Emulator]:
    """sim-server in a thread, the environment holding its key, the cwd a folder with no config/ or .env."""
    got: list[SimServerInfo] = []
    box: dict[str, Any] = {}

    async def serve() -> None:
        box["loop"] = asyncio.get_running_loop()
        box["stop"] = asyncio.Event()
        await run_sim_server(build_source(catalog, loop=True), speed=10, book_checksum="crc32",
                             credentials=Credentials(KEY, SECRET, PASSPHRASE), ready=got.append, stop=box["stop"])

    thread = threading.Thread(target=lambda: asyncio.run(serve()), name="sim-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not got:
        assert time.monotonic() < deadline, "sim-server did not start"
        time.sleep(0.01)
    monkeypatch.chdir(tmp_path)
    for var, value in (("OKX_API_KEY", KEY), ("OKX_API_SECRET", SECRET), ("OKX_API_PASSPHRASE", PASSPHRASE)):
        monkeypatch.setenv(var, value)
    cfg = tmp_path / "live.json"
    cfg.write_text(json.dumps({"okx": {"endpoint": got[0].url}, "symbols": [INST]}))
    try:
        yield Emulator(got[0], cfg)
    finally:
        box["loop"].call_soon_threadsafe(box["stop"].set)
        thread.join(10)
        assert not thread.is_alive()


def fast(**kw: Any) -> dict[str, Any]:
    """run_live options that keep a test to seconds."""
    return {"ready_timeout_s": 5.0, "flatten_timeout_s": 10.0, "oms_options": {"kill_retry_s": 0.3}, **kw}


def net_lots(fills: list[Any]) -> int:
    return sum(f.signed_lots for f in fills)


# -- running --------------------------------------------------------------------------------------


def test_maker_trades_through_the_real_oms_for_its_duration_and_logs_status(emulator, caplog):
    caplog.set_level(logging.INFO, "athena.app.live")
    res = run_live("maker", [emulator.config], None, False, duration_s=2.5, status_interval_s=0.5, **fast())
    assert res.stopped_by is StopReason.DURATION and 2.5 <= res.wall_s < 6
    assert (res.strategy, res.instruments, res.endpoint) == ("maker", (INST,), emulator.url)
    assert res.orders_submitted > 0 and res.fills, "the maker must quote and be filled at speed 10"
    assert {f.strategy_id for f in res.fills} == {"maker"} and all(f.cl_ord_id.startswith("maker") for f in res.fills)
    # the shadow ledger is the sum of the fills; every fill the OMS published is one of the
    # exchange's, with its fee
    assert res.positions[INST] == net_lots(res.fills)
    # (quotes left open keep filling after the stop: read positions between two equal fills answers)
    for _ in range(20):
        rows = emulator.rest("GET", f"/api/v5/trade/fills?instId={INST}&limit=100")["data"]
        listed = emulator.rest("GET", f"/api/v5/account/positions?instId={INST}")["data"]
        if emulator.rest("GET", f"/api/v5/trade/fills?instId={INST}&limit=100")["data"] == rows:
            break
    assert len(rows) < 100
    ex_fills = {int(f["tradeId"]): f for f in rows}
    for f in res.fills:
        assert float(ex_fills[f.trade_id]["fee"]) == pytest.approx(f.fee, abs=1e-9)
    # the exchange's position is the ledger's plus the fills of quotes left open that filled after the stop
    exchange_lots = round(float(listed[0]["pos"]) * 100) if listed else 0  # 0.01 contract a lot
    mine = {f.trade_id for f in res.fills}
    later = sum(round(float(r["fillSz"]) * 100) * (1 if r["side"] == "buy" else -1)
                for t, r in ex_fills.items() if t not in mine)
    assert exchange_lots == res.positions[INST] + later
    status = [r.getMessage() for r in caplog.records if r.getMessage().startswith("status: ")]
    assert len(status) >= 3 and all("open orders" in s and "equity" in s and INST in s for s in status)
    assert res.errors == 0


def test_flatten_cancels_every_open_order_and_closes_the_position(emulator):
    # A previous run's state: a long of 0.5 contract and two resting orders this process never saw.
    emulator.rest("POST", "/api/v5/trade/order", {"instId": INST, "tdMode": "cross", "side": "buy",
                                                  "ordType": "market", "sz": "0.5"})
    for cl, px in (("old1", "41000"), ("old2", "40900")):
        emulator.rest("POST", "/api/v5/trade/order", {"instId": INST, "tdMode": "cross", "side": "buy",
                                                      "ordType": "limit", "px": px, "sz": "0.1", "clOrdId": cl})
    assert len(emulator.rest("GET", "/api/v5/trade/orders-pending")["data"]) == 2
    res = run_live("maker", [emulator.config], None, True, **fast())
    assert res.flattened and res.stopped_by is StopReason.FLATTENED and res.wall_s < 10
    assert res.ghosts_canceled == 2 and res.open_orders == 0
    assert emulator.rest("GET", "/api/v5/account/positions")["data"] == []
    assert emulator.rest("GET", "/api/v5/trade/orders-pending")["data"] == []
    for cl in ("old1", "old2"):
        state = emulator.rest("GET", f"/api/v5/trade/order?instId={INST}&clOrdId={cl}")["data"][0]["state"]
        assert state == "canceled"


def test_flatten_of_an_account_already_flat_returns_at_once(emulator):
    res = run_live("maker", [emulator.config], None, True, **fast())
    assert res.flattened and res.ghosts_canceled == 0 and res.fills == []
    assert res.wall_s < 5


def test_a_stop_event_ends_the_run_cleanly(emulator):
    stop = threading.Event()
    threading.Timer(1.0, stop.set).start()
    res = run_live("maker", [emulator.config], None, False, stop_event=stop, **fast())
    assert res.stopped_by is StopReason.STOP_EVENT and 1.0 <= res.wall_s < 5


def test_ctrl_c_stops_strategy_oms_and_gateway_without_a_traceback(emulator):
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    res = run_live("maker", [emulator.config], None, False, duration_s=8, **fast())
    timer.join()
    assert res.stopped_by is StopReason.SIGNAL and res.wall_s < 5
    # the default Ctrl-C behaviour is back once run_live returned
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


# -- user errors ----------------------------------------------------------------------------------


def test_missing_credentials_are_one_clear_error_naming_the_variables(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var in ("OKX_API_KEY", "OKX_API_SECRET", "OKX_API_PASSPHRASE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OKX_API_KEY", KEY)
    cfg = tmp_path / "live.json"
    cfg.write_text(json.dumps({"okx": {"endpoint": "http://127.0.0.1:9"}}))
    with pytest.raises(ConfigError) as err:
        run_live("maker", [cfg], None, False, duration_s=1)
    text = str(err.value)
    assert "OKX_API_SECRET, OKX_API_PASSPHRASE are not set" in text and ".env" in text
    assert KEY not in text


def test_a_wrong_secret_is_a_refused_login_saying_which_variables_to_check(emulator, monkeypatch):
    wrong = "WRONGSECRET0123456789ABCDEF0123"
    monkeypatch.setenv("OKX_API_SECRET", wrong)
    with pytest.raises(LiveError) as err:
        run_live("maker", [emulator.config], None, False, duration_s=1, **fast())
    text = str(err.value)
    assert "OKX refused the login" in text and "OKX_API_SECRET" in text and "not reconnecting" in text
    assert wrong not in text and PASSPHRASE not in text


def test_an_unknown_strategy_fails_before_connecting(emulator):
    with pytest.raises(AthenaError, match=r"unknown strategy 'nope'; known strategies: .*maker"):
        run_live("nope", [emulator.config], None, False, duration_s=1)


def test_an_unreachable_endpoint_is_a_live_error_saying_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for var, value in (("OKX_API_KEY", KEY), ("OKX_API_SECRET", SECRET), ("OKX_API_PASSPHRASE", PASSPHRASE)):
        monkeypatch.setenv(var, value)
    where = r"could not start the OKX gateway at http://127\.0\.0\.1:9 \(.*ClientConnectorError.*check okx.endpoint"
    with pytest.raises(LiveError, match=where):
        run_live("maker", [], "http://127.0.0.1:9", False, duration_s=1, ready_timeout_s=2)


def test_a_known_fake_secret_never_appears_in_logs_output_or_result(emulator, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    res = run_live("maker", [emulator.config], None, False, duration_s=1.5, status_interval_s=0.5, **fast())
    assert res.fills  # the key was used: logins and signed REST calls happened
    out = capsys.readouterr()
    texts = [caplog.text, out.out, out.err, repr(res)]
    texts += [r.getMessage() for r in caplog.records] + [repr(r.args) for r in caplog.records]
    for secret in (SECRET, PASSPHRASE, KEY):
        assert not [t for t in texts if secret in t], f"{secret[:8]}... leaked"
    assert len(caplog.records) > 10  # the run did log (DEBUG included)


# -- OMS bugs found by the flatten path (athena/oms/orders.py; not this file's to fix) -------------------


def test_a_refused_close_position_does_not_stay_open():
    rig = make_rig()
    rig.om.kill_switch(INST)
    close = rig.port.last("close_position")
    rig.feed(report(close["cl_ord_id"], "", None, ReportSource.ACK, side=None, ord_type=OrderType.MARKET,
                    s_code="51023", s_msg="Position does not exist"))
    assert rig.om.get(close["cl_ord_id"]).state is OrderState.REJECTED
    assert rig.om.open_orders() == []


def test_a_close_position_fill_larger_than_the_ledger_knows_is_published():
    rig = make_rig()
    rig.om.kill_switch(INST)
    close = rig.port.last("close_position")
    cl = close["cl_ord_id"]
    rig.feed(report(cl, "", None, ReportSource.ACK, side=None, ord_type=OrderType.MARKET))
    rig.feed(report(cl, "77", OrderState.FILLED, side=Side.SELL, size=50, acc=50, fill_px=PX, fill_sz=50,
                    trade_id=9, ord_type=OrderType.MARKET, reduce_only=True))
    assert rig.filled_lots_published(cl) == 50
