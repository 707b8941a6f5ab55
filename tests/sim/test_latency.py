"""Latency models: constant values, seeded reproducible draws, honest manifest lines."""

from __future__ import annotations

import pytest

from athena.sim.latency import ConstantLatency, LogNormalLatency


def test_constant_latency_returns_its_two_figures():
    lat = ConstantLatency(10_000_000, 5_000_000)
    assert [lat.entry_ns(), lat.response_ns(), lat.entry_ns()] == [10_000_000, 5_000_000, 10_000_000]
    assert lat.describe() == "latency constant: entry 10000000 ns, response 5000000 ns"


def test_constant_latency_refuses_negative_figures():
    with pytest.raises(ValueError, match=">= 0"):
        ConstantLatency(-1, 0)


def test_lognormal_latency_with_the_same_seed_draws_the_same_sequence():
    a = LogNormalLatency(seed=42)
    b = LogNormalLatency(seed=42)
    draws_a = [a.entry_ns() if i % 2 else a.response_ns() for i in range(50)]
    draws_b = [b.entry_ns() if i % 2 else b.response_ns() for i in range(50)]
    assert draws_a == draws_b
    c = LogNormalLatency(seed=43)
    assert [c.entry_ns() if i % 2 else c.response_ns() for i in range(50)] != draws_a


def test_lognormal_latency_centres_on_its_median_and_respects_its_floor():
    lat = LogNormalLatency(
        seed=1, entry_median_ns=5_000_000, response_median_ns=5_000_000, sigma=0.3, floor_ns=1_000_000
    )
    draws = sorted(lat.entry_ns() for _ in range(2001))
    assert draws[0] >= 1_000_000
    assert 4_600_000 < draws[1000] < 5_400_000  # the sample median near 5 ms


def test_lognormal_latency_says_cross_machine_identity_is_not_promised():
    assert "cross-machine identity is not promised" in LogNormalLatency(seed=3).describe()
