"""Token buckets hold requests to OKX's per-endpoint limits (reference §6.5) on an injected clock."""

from __future__ import annotations

import pytest

from athena.gateways.okx.ratelimit import OKX_LIMITS, Endpoint, RateLimiter, TokenBucket


class FakeTime:
    def __init__(self) -> None:
        self.t = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.sleeps.append(s)
        self.t += s


def test_okx_limits_are_the_published_ones():
    assert OKX_LIMITS[Endpoint.PLACE_ORDER] == (60, 2.0)
    assert OKX_LIMITS[Endpoint.BATCH_ORDERS] == (300, 2.0)
    assert OKX_LIMITS[Endpoint.ALGO_ORDER] == (20, 2.0)
    assert OKX_LIMITS[Endpoint.POSITIONS] == (10, 2.0)
    assert OKX_LIMITS[Endpoint.ACCOUNT_CONFIG] == (5, 2.0)


def test_full_bucket_passes_a_burst_then_asks_for_one_refill_interval():
    b = TokenBucket(60, 2.0, now=0.0)
    assert [b.take(0.0) for _ in range(60)] == [0.0] * 60
    assert b.take(0.0) == pytest.approx(2.0 / 60)  # refill: 30 tokens/s
    assert b.take(2.0 / 60) == 0.0


def test_batch_bigger_than_capacity_waits_for_a_full_bucket_not_forever():
    b = TokenBucket(5, 2.0, now=0.0)
    assert b.take(0.0, n=5) == 0.0
    assert b.take(0.0, n=20) == pytest.approx(2.0)  # 5 tokens at 2.5/s


async def test_twenty_first_algo_order_in_two_seconds_waits_a_tenth_of_a_second():
    ft = FakeTime()
    lim = RateLimiter(clock=ft.clock, sleep=ft.sleep)
    waits = [await lim.acquire(Endpoint.ALGO_ORDER, "BTC-USDT-SWAP") for _ in range(21)]
    assert waits[:20] == [0.0] * 20
    assert waits[20] == pytest.approx(0.1)  # 20 per 2 s -> one token per 0.1 s
    assert ft.sleeps == [pytest.approx(0.1)]


async def test_trade_limits_are_per_instrument():
    ft = FakeTime()
    lim = RateLimiter(clock=ft.clock, sleep=ft.sleep)
    for _ in range(60):
        await lim.acquire(Endpoint.PLACE_ORDER, "BTC-USDT-SWAP")
    assert await lim.acquire(Endpoint.PLACE_ORDER, "ETH-USDT-SWAP") == 0.0
    assert await lim.acquire(Endpoint.PLACE_ORDER, "BTC-USDT-SWAP") == pytest.approx(2.0 / 60)


async def test_batch_counts_its_orders():
    ft = FakeTime()
    lim = RateLimiter(clock=ft.clock, sleep=ft.sleep)
    for _ in range(15):
        await lim.acquire(Endpoint.BATCH_ORDERS, "BTC-USDT-SWAP", n=20)  # 300 orders
    assert await lim.acquire(Endpoint.BATCH_ORDERS, "BTC-USDT-SWAP", n=20) == pytest.approx(20 / 150)
    assert lim.waited_s == pytest.approx(20 / 150)


async def test_waiting_always_makes_progress_despite_float_rounding():
    # 60 per 2 s at t=100.0: refill arithmetic leaves the bucket a rounding error short of a
    # token; the limiter must still hand it out after the computed wait instead of spinning.
    ft = FakeTime()
    lim = RateLimiter(clock=ft.clock, sleep=ft.sleep)
    for _ in range(200):
        await lim.acquire(Endpoint.PLACE_ORDER, "BTC-USDT-SWAP")
    assert len(ft.sleeps) == 140  # 60 free, then one wait per request
    assert ft.t - 100.0 == pytest.approx(140 * 2.0 / 60)
