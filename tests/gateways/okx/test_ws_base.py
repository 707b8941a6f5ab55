"""The shared socket: reconnects with resubscription, pings when idle, watchdog, notice, clean stop."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable

import pytest

from athena.core.events import ConnectionEvent, Event
from athena.gateways.okx.ws_base import LogThrottle, WsBaseGateway
from athena.model.enums import ConnectionStatus
from tests.conftest import load_fixture
from tests.gateways.okx.servers import OkxTestServer

TICKERS = {"channel": "tickers", "instId": "BTC-USDT-SWAP"}


async def until(pred: Callable[[], bool], timeout: float = 3.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not pred():
        if loop.time() > end:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)


@pytest.fixture
async def server() -> AsyncIterator[OkxTestServer]:
    s = OkxTestServer()
    await s.start()
    yield s
    await s.stop()


class Harness:
    def __init__(self, server: OkxTestServer, **kw: object) -> None:
        self.events: list[Event] = []
        opts = {"ping_interval_s": 5.0, "watchdog_s": 10.0, "backoff_initial_s": 0.01, "backoff_max_s": 0.05}
        opts.update(kw)
        self.gw = WsBaseGateway(
            f"ws://127.0.0.1:{server.port}/ws/v5/public",
            name="okx.public",
            publish=self.events.append,
            now_ns=lambda: 42,
            **opts,  # type: ignore[arg-type]
        )

    def statuses(self) -> list[ConnectionStatus]:
        return [e.status for e in self.events if isinstance(e, ConnectionEvent)]


async def test_reconnects_after_server_drop_and_restores_subscriptions(server):
    h = Harness(server)
    await h.gw.subscribe([TICKERS])
    await h.gw.start()
    assert await h.gw.wait_ready(2)
    side = server.ws["public"]
    await until(lambda: len(side.subscribes) == 1)
    await side.drop()
    await until(lambda: len(side.subscribes) == 2)
    await h.gw.stop()
    assert side.subscribes == [TICKERS, TICKERS]
    assert side.connects == 2
    assert h.statuses()[:3] == [ConnectionStatus.UP, ConnectionStatus.DOWN, ConnectionStatus.UP]
    down = [e for e in h.events if isinstance(e, ConnectionEvent)][1]
    assert (down.channel, down.ts_event) == ("okx.public", 42)


async def test_idle_socket_sends_ping_and_pong_keeps_it_open(server):
    h = Harness(server, ping_interval_s=0.1, watchdog_s=1.0)
    await h.gw.start()
    assert await h.gw.wait_ready(2)
    await until(lambda: server.ws["public"].pings >= 3)
    await h.gw.stop()
    assert server.ws["public"].connects == 1
    assert h.gw.pings_sent >= 3
    assert h.statuses() == [ConnectionStatus.UP, ConnectionStatus.DOWN]  # the DOWN is the stop's own
    assert h.events[-1].detail == "stopped"  # type: ignore[attr-defined]


async def test_watchdog_reconnects_a_silent_socket(server):
    server.ws["public"].answer_ping = False
    h = Harness(server, ping_interval_s=0.1, watchdog_s=0.3)
    await h.gw.start()
    await until(lambda: server.ws["public"].connects >= 2)
    await h.gw.stop()
    downs = [e for e in h.events if isinstance(e, ConnectionEvent) and e.status is ConnectionStatus.DOWN]
    assert "watchdog 0.3 s" in downs[0].detail
    assert server.ws["public"].pings >= 1  # it pinged before giving up


async def test_service_upgrade_notice_reconnects_at_once(server):
    h = Harness(server, backoff_initial_s=5.0, backoff_max_s=5.0)  # a backoff would blow the timeout
    await h.gw.subscribe([TICKERS])
    await h.gw.start()
    assert await h.gw.wait_ready(2)
    await server.ws["public"].send_all(load_fixture("ws_notice_service_upgrade.json"))
    await until(lambda: server.ws["public"].connects == 2, timeout=2.0)
    await until(lambda: len(server.ws["public"].subscribes) == 2)
    await h.gw.stop()
    downs = [e for e in h.events if isinstance(e, ConnectionEvent) and e.status is ConnectionStatus.DOWN]
    assert downs[0].detail.startswith("OKX notice 64008")


async def test_concurrent_starts_make_one_connection(server):
    h = Harness(server)
    await asyncio.gather(h.gw.start(), h.gw.start(), h.gw.start())
    assert await h.gw.wait_ready(2)
    await asyncio.sleep(0.05)
    await h.gw.stop()
    assert server.ws["public"].connects == 1


async def test_stop_cancels_every_task_and_closes_the_socket(server):
    h = Harness(server)
    await h.gw.start()
    assert await h.gw.wait_ready(2)
    h.gw.spawn(asyncio.sleep(30), "sleeper")
    run = h.gw._run_task
    await h.gw.stop()
    assert run is not None and run.done()
    assert h.gw._tasks == set() and not h.gw.connected
    await until(lambda: server.ws["public"].open == [])


async def test_unreachable_server_backs_off_without_flooding_the_log(caplog):
    caplog.set_level(logging.WARNING, logger="athena.gateways.okx.ws_base")
    events: list[Event] = []
    gw = WsBaseGateway("ws://127.0.0.1:9/ws/v5/public", name="okx.public", publish=events.append,
                       now_ns=lambda: 0, backoff_initial_s=0.01, backoff_max_s=0.02)  # fmt: skip
    await gw.start()
    await until(lambda: gw.attempts >= 5)
    await gw.stop()
    assert len([r for r in caplog.records if "connection failed" in r.getMessage()]) == 1
    assert events == []  # never up: no UP/DOWN flapping


def test_backoff_grows_exponentially_with_seeded_jitter():
    def make() -> WsBaseGateway:
        return WsBaseGateway("ws://x", name="n", publish=lambda e: None, now_ns=lambda: 0,
                             backoff_initial_s=0.5, backoff_max_s=4.0, rng=random.Random(7))  # fmt: skip

    a, b = make(), make()
    delays = [a._backoff(i) for i in range(6)]
    assert delays == [b._backoff(i) for i in range(6)]  # same seed, same delays
    caps = [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert all(c / 2 <= d <= c for d, c in zip(delays, caps, strict=True))


def test_log_throttle_counts_what_it_suppressed(caplog):
    t = [0.0]
    th = LogThrottle(logging.getLogger("throttle.test"), 10.0, lambda: t[0])
    with caplog.at_level(logging.WARNING, logger="throttle.test"):
        results = [th.log(logging.WARNING, "k", "boom %d", i) for i in range(5)]
        t[0] = 11.0
        th.log(logging.WARNING, "k", "boom %d", 5)
    assert results == [True, False, False, False, False]
    assert [r.getMessage() for r in caplog.records] == ["boom 0", "boom 5 (4 similar messages suppressed)"]
