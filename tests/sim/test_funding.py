"""Funding: the 8-hour schedule, the rate in force, the payment formula and its sign."""

from __future__ import annotations

import pytest

from athena.model.instrument import BTC_USDT_SWAP
from athena.sim.funding import HOUR_NS, FundingRates, FundingSchedule, funding_payment

DAY = 1_704_067_200_000_000_000  # 2024-01-01 00:00:00 UTC


def test_default_schedule_settles_at_00_08_16_utc():
    s = FundingSchedule()
    assert s.next_after(DAY + 7 * HOUR_NS + 59 * 60 * 10**9) == DAY + 8 * HOUR_NS
    assert s.next_after(DAY + 8 * HOUR_NS) == DAY + 16 * HOUR_NS  # at the instant: not held through it
    assert s.next_after(DAY + 20 * HOUR_NS) == DAY + 24 * HOUR_NS


def test_a_four_hour_schedule_settles_every_four_hours():
    assert FundingSchedule(interval_ns=4 * HOUR_NS).next_after(DAY + HOUR_NS) == DAY + 4 * HOUR_NS


def test_the_rate_in_force_is_the_last_published_before_the_funding_time():
    r = FundingRates(default_rate=0.00005)
    t = DAY + 8 * HOUR_NS
    r.publish(0.0001, t, now_ns=t - 60 * 10**9)
    r.publish(0.00012, t, now_ns=t - 10**9)
    r.publish(0.0009, t, now_ns=t)  # published at the settlement: too late
    assert r.rate_for(t) == 0.00012
    assert r.rate_for(t + 8 * HOUR_NS) == 0.00005  # nothing published: the configured constant


def test_a_long_of_two_contracts_pays_12_cents_at_rate_one_basis_point():
    # 2 contracts × 0.01 BTC × 60000 × 0.0001 = 0.12 USDT
    assert round(funding_payment(BTC_USDT_SWAP, 200, 600_000, 0.0001), 2) == -0.12
    assert funding_payment(BTC_USDT_SWAP, 200, 600_000, 0.0001) == pytest.approx(-0.12, abs=1e-12)


def test_a_short_receives_a_positive_rate_and_pays_a_negative_one():
    assert funding_payment(BTC_USDT_SWAP, -200, 600_000, 0.0001) == pytest.approx(0.12, abs=1e-12)
    assert funding_payment(BTC_USDT_SWAP, -200, 600_000, -0.0001) == pytest.approx(-0.12, abs=1e-12)
